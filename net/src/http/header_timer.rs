//! The HTTP/1 header read timeout without an allocation per request.
//!
//! hyper arms its `header_read_timeout` each time it starts reading a
//! request head, with `Timer::sleep_until`, and drops that sleep once the
//! head is read: a `Pin<Box<dyn Sleep>>`, so one global allocation (and a
//! timer-wheel insert and removal) per request on a keep-alive connection.
//! [`HeaderTimer`] gives hyper a zero-sized sleep instead, whose state lives
//! in the connection's [`HeaderSlot`]: one roost [`Sleep`] per connection,
//! moved to each new deadline in place.
//!
//! A zero-sized sleep cannot say whose it is, so the connection's task
//! *enters* its slot around every poll of hyper's connection
//! ([`HeaderSlot::enter`]); hyper arms, polls and drops its header timer
//! only from inside that poll. The rules:
//!
//! - `sleep_until` inside an entered slot that is not armed arms it and
//!   returns a [`SlotSleep`]; anywhere else (no slot entered, or its slot
//!   already armed) it returns a boxed roost sleep, as
//!   [`RoostTimer`](crate::hyper::RoostTimer) does;
//! - a [`SlotSleep`] polled in its slot polls the slot's sleep; dropped
//!   there, it disarms the slot;
//! - a [`SlotSleep`] outside any slot (hyper's connection dropped after its
//!   task) does nothing: the slot goes with the task.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use roost_runtime::time::{sleep, Sleep};

thread_local! {
    /// The slot of the connection being polled on this thread, if any.
    static CURRENT: RefCell<Option<Rc<HeaderSlot>>> = const { RefCell::new(None) };
}

/// One connection's header timer (see the module documentation), and
/// whether its first bytes have decided its protocol (`conn.rs`'s
/// `Detect`, whose own deadline covers the time before): the connection's
/// one allocation for its header reading.
#[derive(Debug)]
pub(crate) struct HeaderSlot {
    sleep: RefCell<Sleep>,
    armed: Cell<bool>,
    decided: Cell<bool>,
}

impl HeaderSlot {
    pub(crate) fn new() -> Rc<Self> {
        Rc::new(Self {
            sleep: RefCell::new(sleep(Duration::MAX)),
            armed: Cell::new(false),
            decided: Cell::new(false),
        })
    }

    /// Notes that the connection's first bytes decided its protocol.
    pub(crate) fn decide(&self) {
        self.decided.set(true);
    }

    /// Whether they have.
    pub(crate) fn is_decided(&self) -> bool {
        self.decided.get()
    }

    /// Runs `f` (a poll of the connection) with this slot entered, then
    /// puts back whatever was entered before, also if `f` panics.
    pub(crate) fn enter<R>(self: &Rc<Self>, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Rc<HeaderSlot>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }

    /// Whether hyper's header timer is armed in this slot.
    #[cfg(test)]
    pub(crate) fn is_armed(&self) -> bool {
        self.armed.get()
    }
}

/// Calls `f` with the slot entered on this thread, if any.
fn with_current<R>(f: impl FnOnce(Option<&Rc<HeaderSlot>>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_ref()))
}

/// hyper's HTTP/1 timer for roost's server (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeaderTimer;

/// The zero-sized sleep of an armed [`HeaderSlot`].
#[derive(Debug)]
pub(crate) struct SlotSleep;

impl Future for SlotSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        with_current(|slot| match slot {
            Some(slot) => Pin::new(&mut *slot.sleep.borrow_mut()).poll(cx),
            // Not reached: hyper polls its timer only inside the
            // connection's poll, which enters the slot.
            None => Poll::Pending,
        })
    }
}

impl Drop for SlotSleep {
    fn drop(&mut self) {
        with_current(|slot| {
            if let Some(slot) = slot {
                slot.armed.set(false);
            }
        });
    }
}

impl ::hyper::rt::Sleep for SlotSleep {}

impl ::hyper::rt::Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        let armed = with_current(|slot| match slot {
            Some(slot) if !slot.armed.get() => {
                slot.sleep.borrow_mut().reset(deadline);
                slot.armed.set(true);
                true
            }
            _ => false,
        });
        if armed {
            // A zero-sized value: boxing it allocates nothing.
            Box::pin(SlotSleep)
        } else {
            ::hyper::rt::Timer::sleep_until(&crate::hyper::RoostTimer, deadline)
        }
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        if sleep.as_mut().downcast_mut_pin::<SlotSleep>().is_some() {
            let moved = with_current(|slot| slot.map(|slot| slot.sleep.borrow_mut().reset(new_deadline)).is_some());
            if moved {
                return;
            }
        }
        ::hyper::rt::Timer::reset(&crate::hyper::RoostTimer, sleep, new_deadline);
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use ::hyper::rt::Timer;

    #[test]
    fn an_entered_slot_lends_its_sleep_once_and_gets_it_back_on_drop() {
        let rt = roost_runtime::Runtime::builder()
            .worker_threads(1)
            .pin_workers(false)
            .build()
            .unwrap();
        rt.block_on(async {
            let slot = HeaderSlot::new();
            let (first, second) = slot.enter(|| {
                let first = HeaderTimer.sleep(Duration::from_millis(5));
                // Armed: a second timer of the same connection is boxed.
                let second = HeaderTimer.sleep(Duration::from_millis(5));
                (first, second)
            });
            assert!(slot.is_armed());
            assert!(first.as_ref().get_ref().is::<SlotSleep>());
            assert!(!second.as_ref().get_ref().is::<SlotSleep>());
            // It fires when polled inside the slot.
            let mut first = Some(first);
            std::future::poll_fn(|cx| slot.enter(|| first.as_mut().unwrap().as_mut().poll(cx))).await;
            slot.enter(|| drop(first.take()));
            assert!(!slot.is_armed());
            // Outside any slot: a boxed roost sleep that fires too.
            let outside = HeaderTimer.sleep(Duration::from_millis(1));
            assert!(!outside.as_ref().get_ref().is::<SlotSleep>());
            outside.await;
            drop(second);
        });
    }
}
