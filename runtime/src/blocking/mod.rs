//! `spawn_blocking`: run a closure that blocks on the runtime's blocking
//! pool, and await its result from a task.
//!
//! The closure runs on a pool thread (see `pool.rs`); its result travels
//! back through a one-shot channel that a small task on the calling worker
//! awaits, so the handle is an ordinary [`JoinHandle`]: awaiting it yields
//! the closure's value, or a [`JoinError`](crate::JoinError) carrying its
//! panic. As with tokio, aborting the handle of a closure that has not
//! started yet keeps it from running; one that is running runs to the end.

pub(crate) mod pool;

use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use tokio::sync::oneshot;

use crate::handle::Handle;
use crate::task::JoinHandle;

/// The most threads a runtime's blocking pool makes, by default (tokio's).
pub const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;

type Outcome<R> = std::thread::Result<R>;

/// Runs `f` on the current runtime's blocking pool and returns a handle to
/// its result.
///
/// Use it for work that would stall the worker's event loop: file I/O,
/// DNS resolution, compression, a synchronous library call. The pool makes
/// threads on demand up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)
/// and retires them after [`Builder::thread_keep_alive`](crate::Builder::thread_keep_alive)
/// without work; closures beyond the cap wait in a queue.
///
/// On a worker (or in `block_on`) the task that awaits the result runs on
/// the current worker, as with [`spawn`](crate::spawn).
///
/// # Panics
///
/// Panics when called outside a roost runtime (use
/// [`Handle::spawn_blocking`] from other threads). If the runtime is shutting
/// down, the closure is dropped and the handle yields a cancelled
/// [`JoinError`](crate::JoinError).
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// let sum = rt.block_on(async {
///     roost_runtime::task::spawn_blocking(|| (1..=10u64).sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 55);
/// ```
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let handle = Handle::try_current()
        .expect("roost_runtime::task::spawn_blocking called outside a roost runtime; use Handle::spawn_blocking");
    match submit(&handle, f) {
        Ok(rx) => crate::spawn(receive(rx)),
        Err(e) => crate::spawn(async move { panic!("roost: spawn_blocking could not run the closure: {e}") }),
    }
}

/// Queues `f` on the pool of `handle`'s runtime; the receiver gets its
/// outcome (or is closed if it was dropped unrun).
///
/// # Errors
///
/// As for [`pool::BlockingPool::submit`].
pub(crate) fn submit<F, R>(handle: &Handle, f: F) -> io::Result<oneshot::Receiver<Outcome<R>>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = oneshot::channel::<Outcome<R>>();
    let job = Box::new(move || {
        if tx.is_closed() {
            // Aborted before it started.
            return;
        }
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    handle.shared.blocking.submit(job)?;
    Ok(rx)
}

/// The task that waits for a blocking closure's outcome.
pub(crate) async fn receive<R>(rx: oneshot::Receiver<Outcome<R>>) -> R {
    match rx.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        // Dropped unrun: the pool lost its last thread to a failed thread
        // start (a shutdown cancels this task before the pool drops jobs).
        Err(_) => panic!("roost: the blocking closure was dropped before it ran: the pool could not start a thread"),
    }
}
