//! roost-runtime: a thread-per-core async executor on mio, each worker paired
//! with its roost-alloc buffer arena.
//!
//! # Model
//!
//! - One worker thread per core, pinned, never stealing. Each worker owns a
//!   mio `Poll` (its reactor), a run queue, a slab of tasks, a timer wheel
//!   and its arena ([`roost_alloc::Arena`], drained every tick).
//! - [`spawn_local`] runs a `!Send` future on the current worker;
//!   [`spawn_on`] sends a `Send` future to a given worker; [`spawn`] places
//!   one round-robin. All return a [`JoinHandle`].
//! - A wake from the task's own worker is a push on its run queue (no
//!   atomic read-modify-write beyond the waker's reference count); a wake
//!   from another thread goes through the worker's lock-free inbox and makes
//!   a syscall only if that worker sleeps. Wakes from one worker to another
//!   travel in batches, one atomic operation per batch.
//! - An idle worker watches its inbox for a few microseconds
//!   ([`Builder::spin_before_park`]) before it sleeps in its poll.
//! - [`io::Registration`] is the reactor interface for sockets; [`time`]
//!   has `sleep`, `timeout` and `interval`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use roost_runtime::Runtime;
//!
//! let rt = Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
//! let total = rt.block_on(async {
//!     let (tx, mut rx) = tokio::sync::mpsc::channel(16);
//!     for worker in 0..roost_runtime::worker_count().unwrap() {
//!         let tx = tx.clone();
//!         roost_runtime::spawn_on(worker, async move {
//!             roost_runtime::time::sleep(Duration::from_millis(1)).await;
//!             tx.send(worker + 1).await.unwrap();
//!         });
//!     }
//!     drop(tx);
//!     let mut total = 0;
//!     while let Some(v) = rx.recv().await {
//!         total += v;
//!     }
//!     total
//! });
//! assert_eq!(total, 3);
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod builder;
mod context;
mod handle;
pub mod io;
mod loom;
mod metrics;
mod runtime;
mod sched;
#[cfg(unix)]
pub mod signal;
mod sys;
pub mod task;
pub mod time;
mod worker;

use std::future::Future;

/// The mio version the reactor is built on, for the sources given to
/// [`io::Registration`].
pub use mio;

pub use builder::Builder;
pub use handle::{BlockOnError, Handle, SpawnError};
pub use metrics::{RuntimeMetrics, WorkerMetrics};
pub use runtime::{Runtime, ShutdownReport};
pub use task::{yield_now, AbortHandle, JoinError, JoinHandle};

/// Spawns a `!Send` future on the current worker.
///
/// # Panics
///
/// Panics off a roost worker thread (see [`try_spawn_local`]). If the
/// worker is shutting down, the future is dropped and the handle yields a
/// cancelled [`JoinError`].
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let shared = Rc::new(5);
///     let inner = shared.clone();
///     let doubled = roost_runtime::spawn_local(async move { *inner * 2 }).await.unwrap();
///     assert_eq!(doubled, 10);
/// });
/// ```
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    context::with_current(|ctx| {
        let ctx = ctx.expect("roost_runtime::spawn_local called outside a roost worker thread");
        if ctx.refuses_spawns() {
            return handle::refused(&ctx.core.shared, future);
        }
        match ctx.core.spawn_local(future) {
            Ok(handle) => handle,
            Err(future) => handle::refused(&ctx.core.shared, future),
        }
    })
}

/// Like [`spawn_local`], with refusals as errors.
///
/// # Errors
///
/// [`SpawnError::NoRuntime`] off a worker thread, [`SpawnError::Shutdown`]
/// while the worker shuts down.
pub fn try_spawn_local<F>(future: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + 'static,
{
    context::with_current(|ctx| match ctx {
        None => Err(SpawnError::NoRuntime),
        Some(ctx) if ctx.refuses_spawns() => Err(SpawnError::Shutdown),
        Some(ctx) => ctx.core.spawn_local(future).map_err(|_| SpawnError::Shutdown),
    })
}

/// Runs `f` with the current worker's runtime handle.
///
/// # Panics
///
/// Panics off a roost worker thread, naming `what` was called.
fn with_current_handle<R>(what: &str, f: impl FnOnce(&Handle) -> R) -> R {
    context::with_current(|ctx| match ctx.and_then(|c| c.handle.as_ref()) {
        Some(handle) => f(handle),
        None => panic!("roost_runtime::{what} called outside a roost worker thread; use a Handle"),
    })
}

/// Spawns a `Send` future on the current runtime, round-robin over its
/// workers (see [`Handle::spawn`]).
///
/// # Panics
///
/// Panics off a roost worker thread; from other threads use a [`Handle`].
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    with_current_handle("spawn", |h| h.spawn(future))
}

/// Spawns a `Send` future on worker `worker` of the current runtime.
///
/// # Panics
///
/// Panics off a roost worker thread, or if `worker` is out of range.
pub fn spawn_on<F>(worker: usize, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    with_current_handle("spawn_on", |h| h.spawn_on(worker, future))
}

/// The index of the worker running the current thread, or `None` off-worker.
pub fn current_worker() -> Option<usize> {
    context::with_core(|core| core.map(|c| c.shared.index))
}

/// The number of workers of the current thread's runtime, or `None`
/// off-worker.
pub fn worker_count() -> Option<usize> {
    context::with_current(|ctx| ctx.and_then(|c| c.handle.as_ref()).map(Handle::worker_count))
}

/// Compile-time promises about which handles cross threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Handle>();
    both::<JoinHandle<u32>>();
    both::<AbortHandle>();
    both::<JoinError>();
    both::<time::Sleep>();
    both::<time::Interval>();
    both::<time::Timeout<time::Sleep>>();
    both::<SpawnError>();
    both::<BlockOnError>();
    both::<RuntimeMetrics>();
    fn send<T: Send>() {}
    send::<Runtime>();
}
