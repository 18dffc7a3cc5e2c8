//! `roost::signal`: `ctrl_c` and `unix::signal` resolve on signals the test
//! raises in its own process, waking tasks on any worker.
//!
//! Its own test binary, since signal handlers are process-wide. The tests
//! take one lock so that one test's SIGINT cannot complete another's
//! waiters.

#[path = "support/rt.rs"]
mod support;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use roost::signal::unix::{signal, SignalKind};

const LIMIT: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn raise(signum: libc::c_int) {
    // SAFETY: raise(3) with a valid signal number whose handler the test
    // installed before (so the default action does not end the process).
    let rc = unsafe { libc::raise(signum) };
    assert_eq!(rc, 0, "raise({signum}) failed: {}", io::Error::last_os_error());
}

/// Wraps a future and sends on `pending` each time a poll of it returns
/// `Pending`: once received, the future has registered its waker, so a
/// signal raised after that must wake it.
struct ReportPending<F> {
    inner: Pin<Box<F>>,
    pending: mpsc::Sender<()>,
}

fn report_pending<F: Future>(inner: F) -> (ReportPending<F>, mpsc::Receiver<()>) {
    let (pending, rx) = mpsc::channel();
    let inner = Box::pin(inner);
    (ReportPending { inner, pending }, rx)
}

impl<F: Future> Future for ReportPending<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_pending() {
            let _ = self.pending.send(());
        }
        out
    }
}

fn runtime(workers: usize) -> roost::runtime::Runtime {
    roost::runtime::Runtime::builder()
        .worker_threads(workers)
        .pin_workers(false)
        .build()
        .expect("runtime builds")
}

#[test]
fn ctrl_c_resolves_on_sigint_raised_after_its_first_poll() {
    let _serial = serial();
    support::watchdog(LIMIT, "ctrl_c after SIGINT", || {
        let rt = runtime(1);
        let (waiting, pending) = report_pending(roost::signal::ctrl_c());
        let task = rt.spawn(waiting);
        pending.recv().expect("the task polled ctrl_c");
        raise(libc::SIGINT);
        rt.block_on(task).expect("task ran").expect("ctrl_c succeeded");
    });
}

#[test]
fn one_sigint_resolves_every_waiter_on_every_worker() {
    let _serial = serial();
    support::watchdog(LIMIT, "two ctrl_c waiters", || {
        let rt = runtime(2);
        let mut tasks = Vec::new();
        for worker in 0..2 {
            let (waiting, pending) = report_pending(roost::signal::ctrl_c());
            tasks.push(rt.handle().spawn_on(worker, waiting));
            pending.recv().expect("the task polled ctrl_c");
        }
        raise(libc::SIGINT);
        for task in tasks {
            rt.block_on(task).expect("task ran").expect("ctrl_c succeeded");
        }
    });
}

#[test]
fn a_later_sigint_resolves_a_new_ctrl_c() {
    let _serial = serial();
    support::watchdog(LIMIT, "second ctrl_c", || {
        let rt = runtime(1);
        for round in 0..2 {
            let (waiting, pending) = report_pending(roost::signal::ctrl_c());
            let task = rt.spawn(waiting);
            pending.recv().expect("the task polled ctrl_c");
            raise(libc::SIGINT);
            rt.block_on(task)
                .expect("task ran")
                .unwrap_or_else(|e| panic!("ctrl_c of round {round} failed: {e}"));
        }
    });
}

#[test]
fn ctrl_c_ignores_sigints_before_its_first_poll() {
    let _serial = serial();
    // Install the handler, then raise SIGINT before the new future is
    // polled: that delivery must not count for it.
    let early = signal(SignalKind::interrupt()).expect("listening for SIGINT");
    raise(libc::SIGINT);
    let mut late = Box::pin(roost::signal::ctrl_c());
    assert!(support::poll_once(&mut late).is_pending());
    drop(early);
}

#[test]
fn signal_recv_resolves_once_per_delivery_and_coalesces() {
    let _serial = serial();
    support::watchdog(LIMIT, "SIGUSR1 stream", || {
        let rt = runtime(1);
        let mut usr1 = signal(SignalKind::user_defined1()).expect("listening for SIGUSR1");
        // Two deliveries while nobody polls count as one.
        raise(libc::SIGUSR1);
        raise(libc::SIGUSR1);
        assert_eq!(support::poll_once(&mut Box::pin(usr1.recv())), Poll::Ready(Some(())));
        assert!(support::poll_once(&mut Box::pin(usr1.recv())).is_pending());
        // A delivery while a task waits wakes it.
        let (waiting, pending) = report_pending(async move {
            let got = usr1.recv().await;
            (got, usr1)
        });
        let task = rt.spawn(waiting);
        pending.recv().expect("the task polled recv");
        raise(libc::SIGUSR1);
        let (got, _usr1) = rt.block_on(task).expect("task ran");
        assert_eq!(got, Some(()));
    });
}

#[test]
fn signals_that_cannot_be_handled_are_errors() {
    for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -1, 1000] {
        let err = signal(SignalKind::from_raw(signum)).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "signal {signum}: {err}");
    }
}

#[test]
fn signal_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    send(&roost::signal::ctrl_c());
    let mut term = signal(SignalKind::terminate()).expect("listening for SIGTERM");
    send(&term.recv());
}
