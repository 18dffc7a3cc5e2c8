//! roost-runtime: a thread-per-core async executor on mio, each worker paired
//! with its roost-alloc buffer arena.
//!
//! # Model
//!
//! - One worker thread per core, never stealing; pinned to its core where the
//!   process's cores are its own, and otherwise left to the scheduler under
//!   `SCHED_BATCH` ([`Builder::pin_workers`], [`Builder::sched_batch`]).
//!   Each worker owns a
//!   mio `Poll` or, on Linux if asked for, an io_uring ring (its reactor:
//!   see [`io::Driver`]), a run queue, a slab of tasks, a timer wheel and
//!   its arena ([`roost_alloc::Arena`], drained every tick).
//! - [`spawn_local`] runs a `!Send` future on the current worker;
//!   [`spawn_on`] sends a `Send` future to a given worker; [`spawn`] places
//!   one round-robin. All return a [`JoinHandle`].
//! - A wake from the task's own worker is a push on its run queue (no
//!   atomic read-modify-write beyond the waker's reference count); a wake
//!   from another thread goes through the worker's lock-free inbox and makes
//!   a syscall only if that worker sleeps. Wakes from one worker to another
//!   travel in batches, one atomic operation per batch.
//! - An idle worker watches its inbox for a few microseconds before it
//!   sleeps in its poll, only as long as watching has been finding work
//!   ([`Builder::spin_before_park`]; [`Builder::busy_poll`] for users who
//!   own their cores).
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

mod blocking;
mod builder;
mod compat;
mod context;
mod error;
mod handle;
pub mod io;
mod loom;
mod metrics;
mod root;
mod runtime;
mod sched;
#[cfg(unix)]
pub mod signal;
mod sys;
pub mod task;
pub mod time;
mod worker;

#[doc(hidden)]
pub use libc as __libc;

/// The mio version the reactor is built on, for the sources given to
/// [`io::Registration`].
pub use mio;

pub use blocking::DEFAULT_MAX_BLOCKING_THREADS;
pub use builder::Builder;
pub use error::{BlockOnError, SpawnError};
pub use handle::Handle;
pub use io::Driver;
pub use metrics::{RuntimeMetrics, WorkerMetrics};
pub use runtime::{Runtime, ShutdownReport};
pub use task::{spawn, spawn_blocking, spawn_local, spawn_on, try_spawn_local};
pub use task::{yield_now, AbortHandle, JoinError, JoinHandle};

/// The index of the worker running the current thread, or `None` off-worker.
///
/// Inside [`Runtime::block_on`] the calling thread runs an event loop of its
/// own, not a worker: this returns `None` there.
pub fn current_worker() -> Option<usize> {
    context::with_core(|core| core.map(|c| c.shared.index).filter(|&i| i != root::GUEST_INDEX))
}

/// The number of workers of the current thread's runtime, or `None`
/// off-worker (inside `block_on` it is the number of the runtime's workers).
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
    both::<io::ReactorFault>();
    fn send<T: Send>() {}
    send::<Runtime>();
}
