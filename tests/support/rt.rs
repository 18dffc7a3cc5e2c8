//! Shared helpers for the `rt_*` integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use roost_runtime::Runtime;

/// A runtime with `workers` pinned workers (pinning wraps around the cores
/// when there are more workers than cores).
pub fn pinned_runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime builds")
}

/// A runtime with `workers` unpinned workers: for tests that share the
/// machine with other tests and with the clients they run.
pub fn unpinned_runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .pin_workers(false)
        .build()
        .expect("runtime builds")
}

/// Runs `f` on a helper thread and fails the test if it has not finished
/// after `limit`: a hang here means a lost wake-up or a deadlock. This is a
/// hang detector, not a timing assertion; the limit is generous.
pub fn watchdog<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no progress after {limit:?} (lost wake-up?)"),
    }
}

/// A one-waiter binary signal built only on `Waker`, so that a lost wake
/// in the runtime shows up as a hang.
#[derive(Default)]
pub struct Signal {
    raised: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Raises the signal and wakes the waiter, if any.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }

    /// Waits until raised, and lowers it.
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        WaitSignal(self)
    }
}

struct WaitSignal<'a>(&'a Signal);

impl Future for WaitSignal<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.raised.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.0.raised.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Polls a future once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(f).poll(&mut cx)
}

/// How many cores the calling thread may run on (its affinity mask).
#[cfg(target_os = "linux")]
pub fn allowed_core_count() -> usize {
    // SAFETY: cpu_set_t is a plain bitmask; all-zero is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set outlives the call and its size is passed with it.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity: {}", std::io::Error::last_os_error());
    // SAFETY: a valid set.
    (unsafe { libc::CPU_COUNT(&set) }) as usize
}
