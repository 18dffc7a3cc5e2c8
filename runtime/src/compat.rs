//! The tokio context that roost's event loops enter, so that libraries
//! which call tokio's runtime internally (`tokio::time::sleep`,
//! `tokio::time::timeout`, `tokio::spawn`, `tokio::net`) work when awaited
//! in a roost task.
//!
//! One small multi-threaded tokio runtime per process (one worker thread,
//! timers and I/O enabled), started by the first roost runtime that has
//! the compatibility on ([`Builder::tokio_compat`](crate::Builder::tokio_compat),
//! the default). Each roost worker, and each thread inside `block_on`,
//! enters its handle for as long as its event loop runs.
//!
//! # What it costs
//!
//! Work that goes through this context does not run on the roost worker:
//! a tokio timer fires on the tokio thread and wakes the roost task across
//! threads (through the worker's inbox), a `tokio::spawn`ed task runs on the
//! tokio thread, and a `tokio::net` socket is polled by tokio's reactor. It
//! is correct, but each such wake costs a cross-thread hand-off that roost's
//! own `roost::time` and `roost::net` avoid. Nothing is paid by code that
//! does not use tokio's runtime: entering the context is one thread-local
//! write per event loop, and the tokio thread sleeps when it has no work.

#[cfg(not(loom))]
use std::sync::OnceLock;

use crate::worker::LoopConfig;

// Under loom (`--cfg loom` reaches every crate, tokio included, whose
// runtime then builds for loom's model, not for real threads) there is no
// background runtime: the models never call tokio's runtime.
#[cfg(loom)]
pub(crate) fn start() {}

#[cfg(loom)]
pub(crate) fn enter(_: &LoopConfig) -> Option<()> {
    None
}

/// The name of the background runtime's threads.
pub(crate) const THREAD_NAME: &str = "roost-tokio-compat";

#[cfg(not(loom))]
static COMPAT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();

/// The process's background tokio runtime, started on first use; `None`
/// if it could not be started (then the compatibility is off).
///
/// Its threads widen their affinity to every allowed core when they start:
/// they may be created by a pinned worker (tokio's blocking threads are
/// made on demand), and must not all share that worker's core.
#[cfg(not(loom))]
fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    COMPAT
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(THREAD_NAME)
                .on_thread_start(|| {
                    let _ = crate::sys::affinity::unpin_current_thread();
                })
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// Starts the background runtime now (from an unpinned thread, ideally).
#[cfg(not(loom))]
pub(crate) fn start() {
    let _ = runtime();
}

/// Enters the tokio context on this thread (if the loop is configured to)
/// until the guard drops.
///
/// Always roost's own background runtime, even when `block_on` is called
/// from inside a tokio runtime: a current-thread one would never drive its
/// timers while its only thread is blocked in roost's loop.
#[cfg(not(loom))]
pub(crate) fn enter(lp: &LoopConfig) -> Option<tokio::runtime::EnterGuard<'static>> {
    if !lp.tokio_compat {
        return None;
    }
    runtime().map(|rt| rt.enter())
}
