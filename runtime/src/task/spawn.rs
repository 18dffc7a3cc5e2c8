//! The spawn functions of the current worker: [`spawn`] (tokio's name,
//! thread-per-core meaning), [`spawn_local`], [`try_spawn_local`] and
//! [`spawn_on`].

use std::future::Future;

use crate::context;
use crate::handle::{self, Handle};
use crate::task::JoinHandle;
use crate::SpawnError;

/// Spawns a future on the **current worker**; it need not be `Send`.
///
/// This is where roost differs from tokio's multi-threaded runtime on
/// purpose: a thread-per-core runtime never moves a task, so `spawn` runs
/// the future on the worker that calls it (as monoio's does), and code
/// ported from tokio that moves a stream or an `Rc` into a task compiles
/// unchanged. To put `Send` work on another core, use [`spawn_on`] or
/// [`Handle::spawn`] (round-robin over the workers).
///
/// Same as [`spawn_local`].
///
/// # Panics
///
/// Panics outside a roost worker (or `block_on`). If the worker is shutting
/// down, the future is dropped and the handle yields a cancelled
/// [`JoinError`](crate::JoinError).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let shared = Rc::new(21);
///     let inner = shared.clone();
///     let doubled = roost_runtime::spawn(async move { *inner * 2 }).await.unwrap();
///     assert_eq!(doubled, 42);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local(future)
}

/// Spawns a `!Send` future on the current worker (the same as [`spawn`]).
///
/// # Panics
///
/// Panics outside a roost worker (see [`try_spawn_local`]). If the worker
/// is shutting down, the future is dropped and the handle yields a
/// cancelled [`JoinError`](crate::JoinError).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let shared = Rc::new(5);
///     let inner = shared.clone();
///     let doubled = roost_runtime::spawn_local(async move { *inner * 2 }).await.unwrap();
///     assert_eq!(doubled, 10);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::with_current(|ctx| {
        let Some(ctx) = ctx else { outside_worker("spawn") };
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
#[track_caller]
pub(crate) fn with_current_handle<R>(what: &str, f: impl FnOnce(&Handle) -> R) -> R {
    context::with_current(|ctx| match ctx.and_then(|c| c.handle.as_ref()) {
        Some(handle) => f(handle),
        None => outside_worker(what),
    })
}

/// The panic of a spawn off a roost worker thread, with the likely reason
/// when it happens on the tokio-compat thread: a task that tokio spawned
/// (a tokio-based server such as tonic's `transport::Server` runs its
/// handlers there).
#[track_caller]
fn outside_worker(what: &str) -> ! {
    if std::thread::current().name() == Some(crate::compat::THREAD_NAME) {
        panic!(
            "roost::{what} called on roost's tokio-compat thread, in a task that tokio spawned \
             (tokio::spawn, or a server on tokio's runtime such as tonic's transport::Server): \
             serve with roost::net::grpc or roost::net::http so that handlers run on roost's workers, \
             or use a Handle"
        );
    }
    panic!("roost::{what} called outside a roost worker thread (use a Handle from other threads)")
}

/// Spawns a `Send` future on worker `worker` of the current runtime: the
/// way to put work on another core.
///
/// # Panics
///
/// Panics off a roost worker thread, or if `worker` is out of range.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// let on = rt.block_on(async {
///     roost_runtime::spawn_on(1, async { roost_runtime::current_worker() }).await.unwrap()
/// });
/// assert_eq!(on, Some(1));
/// ```
#[track_caller]
pub fn spawn_on<F>(worker: usize, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    with_current_handle("spawn_on", |h| h.spawn_on(worker, future))
}
