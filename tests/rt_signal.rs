//! `roost::signal`: `ctrl_c` and `unix::signal` resolve on signals the test
//! raises in its own process, waking tasks on any worker.
//!
//! Its own test binary, since signal handlers are process-wide. The tests
//! take one lock so that one test's SIGINT cannot complete another's
//! waiters. Every wait is under a generous `timeout`: a hang detector for a
//! lost wake-up, not a timing assertion.

#[path = "support/rt.rs"]
mod support;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use roost::signal::unix::{signal, SignalKind};
use roost::sync::{mpsc, Mutex, MutexGuard};

const LIMIT: Duration = Duration::from_secs(60);

/// Held by each test that raises a signal (an async lock: the tests hold
/// it across awaits).
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn raise(signum: libc::c_int) {
    // SAFETY: raise(3) with a valid signal number whose handler the test
    // installed before (so the default action does not end the process).
    let rc = unsafe { libc::raise(signum) };
    assert_eq!(rc, 0, "raise({signum}) failed: {}", io::Error::last_os_error());
}

/// Waits for `future`, failing the test if it is not done within [`LIMIT`].
async fn within_limit<F: Future>(what: &str, future: F) -> F::Output {
    match roost::time::timeout(LIMIT, future).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: no progress after {LIMIT:?} (lost wake-up?)"),
    }
}

/// Wraps a future and reports each poll of it that returns `Pending`: once
/// reported, the future has registered its waker, so a signal raised after
/// that must wake it.
struct ReportPending<F> {
    inner: Pin<Box<F>>,
    pending: mpsc::UnboundedSender<()>,
}

fn report_pending<F: Future>(inner: F) -> (ReportPending<F>, mpsc::UnboundedReceiver<()>) {
    let (pending, rx) = mpsc::unbounded_channel();
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

#[roost::test]
async fn ctrl_c_resolves_on_sigint_raised_after_its_first_poll() {
    let _serial = serial().await;
    let (waiting, mut pending) = report_pending(roost::signal::ctrl_c());
    let task = roost::spawn(waiting);
    within_limit("first poll", pending.recv()).await;
    raise(libc::SIGINT);
    within_limit("ctrl_c", task).await.unwrap().expect("ctrl_c succeeded");
}

#[roost::test(worker_threads = 2)]
async fn one_sigint_resolves_every_waiter_on_every_worker() {
    let _serial = serial().await;
    let mut tasks = Vec::new();
    for worker in 0..2 {
        let (waiting, mut pending) = report_pending(roost::signal::ctrl_c());
        tasks.push(roost::spawn_on(worker, waiting));
        within_limit("first poll", pending.recv()).await;
    }
    raise(libc::SIGINT);
    for task in tasks {
        within_limit("ctrl_c", task).await.unwrap().expect("ctrl_c succeeded");
    }
}

#[roost::test]
async fn a_later_sigint_resolves_a_new_ctrl_c() {
    let _serial = serial().await;
    for round in 0..2 {
        let (waiting, mut pending) = report_pending(roost::signal::ctrl_c());
        let task = roost::spawn(waiting);
        within_limit("first poll", pending.recv()).await;
        raise(libc::SIGINT);
        within_limit("ctrl_c", task)
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("ctrl_c of round {round} failed: {e}"));
    }
}

#[test]
fn ctrl_c_ignores_sigints_before_its_first_poll() {
    let _serial = SERIAL.blocking_lock();
    // Install the handler, then raise SIGINT before the new future is
    // polled: that delivery must not count for it.
    let early = signal(SignalKind::interrupt()).expect("listening for SIGINT");
    raise(libc::SIGINT);
    let mut late = Box::pin(roost::signal::ctrl_c());
    assert!(support::poll_once(&mut late).is_pending());
    drop(early);
}

#[roost::test]
async fn signal_recv_resolves_once_per_delivery_and_coalesces() {
    let _serial = serial().await;
    let mut usr1 = signal(SignalKind::user_defined1()).expect("listening for SIGUSR1");
    // Two deliveries while nobody polls count as one.
    raise(libc::SIGUSR1);
    raise(libc::SIGUSR1);
    assert_eq!(support::poll_once(&mut Box::pin(usr1.recv())), Poll::Ready(Some(())));
    assert!(support::poll_once(&mut Box::pin(usr1.recv())).is_pending());
    // A delivery while a task waits wakes it.
    let (waiting, mut pending) = report_pending(async move { usr1.recv().await });
    let task = roost::spawn(waiting);
    within_limit("first poll", pending.recv()).await;
    raise(libc::SIGUSR1);
    assert_eq!(within_limit("recv", task).await.unwrap(), Some(()));
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
