//! `Sleep`: a future that completes at a deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::wheel::TimerKey;
use crate::context;

/// Waits until `duration` has elapsed.
///
/// Millisecond resolution: it completes at the first worker tick at least
/// `duration` after the call, never earlier. The timer is registered with
/// the worker that first polls it, and cancelled when the `Sleep` is
/// dropped. Durations beyond about 2.2 years are clamped to that.
///
/// # Panics
///
/// Polling it outside a roost worker thread panics.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     roost_runtime::time::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(far_future_saturating(Instant::now(), duration))
}

/// Waits until `deadline`. See [`sleep`].
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
        fired: false,
    }
}

/// `now + d`, or a deadline about 30 years out if that overflows.
pub(crate) fn far_future_saturating(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

#[derive(Debug, Clone, Copy)]
struct Registered {
    worker: u64,
    key: TimerKey,
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It is `Send`, `Sync` and `Unpin`: it holds only its deadline and a key
/// into its worker's timer wheel. If it is polled on another worker later, it
/// registers there; a timer left on the first worker (or dropped on another
/// thread) is removed when its deadline comes, with a spurious wake-up at
/// worst.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Registered>,
    fired: bool,
}

impl Sleep {
    /// The instant at which it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether it has completed.
    pub fn is_elapsed(&self) -> bool {
        self.fired
    }

    /// Changes the deadline, whether or not it has completed.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.fired = false;
        let Some(reg) = self.entry else { return };
        let kept = context::with_current(|ctx| {
            let ctx = ctx.filter(|c| c.core.shared.uid == reg.worker)?;
            let mut timers = ctx.timers.try_borrow_mut().ok()?;
            let when = timers.tick_at_or_after(deadline);
            timers.wheel.reset(reg.key, when).ok()
        });
        match kept {
            Some(true) => {}
            // Due already, gone, or registered elsewhere: register afresh.
            _ => self.entry = None,
        }
    }

    /// `Pin`-taking form of [`reset`](Self::reset), for tokio-shaped callers.
    pub fn reset_pinned(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().reset(deadline);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.fired {
            return Poll::Ready(());
        }
        let (result, stale_waker) = context::with_current(|ctx| {
            let ctx = ctx.expect("roost_runtime::time::Sleep polled outside a roost worker thread");
            let uid = ctx.core.shared.uid;
            let mut timers = ctx.timers.borrow_mut();
            match this.entry {
                Some(reg) if reg.worker == uid => match timers.wheel.set_waker(reg.key, cx.waker()) {
                    Ok(old) => (Poll::Pending, old),
                    Err(_) => {
                        this.entry = None;
                        this.fired = true;
                        (Poll::Ready(()), None)
                    }
                },
                _ => match timers.insert(this.deadline, cx.waker().clone()) {
                    Ok(key) => {
                        this.entry = Some(Registered { worker: uid, key });
                        (Poll::Pending, None)
                    }
                    Err(waker) => {
                        this.fired = true;
                        (Poll::Ready(()), Some(waker))
                    }
                },
            }
        });
        drop(stale_waker);
        result
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(reg) = self.entry else { return };
        let waker = context::with_current(|ctx| {
            let ctx = ctx.filter(|c| c.core.shared.uid == reg.worker)?;
            let mut timers = ctx.timers.try_borrow_mut().ok()?;
            timers.wheel.remove(reg.key)
        });
        drop(waker);
    }
}
