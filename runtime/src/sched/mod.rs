//! Per-worker scheduling: the half other threads see ([`WorkerShared`]: the
//! inbox, the unparker, published metrics) and the half only the worker
//! touches ([`core::Core`]: the run queue and the slab of tasks), and the
//! idle policy of its event loop ([`idle_policy`]).
//!
//! # Invariants
//!
//! - Other threads reach a worker only through `WorkerShared`: they push on
//!   its inbox and, when the push says so, unpark it. They never touch its
//!   run queue or slab.
//! - `WorkerShared` outlives every task of the worker (each task holds an
//!   `Arc` to it), so a waker that outlives the runtime still finds a closed
//!   inbox rather than freed memory.

pub(crate) mod core;
/// What an idle event loop does (spin or park): not `roost_net::idle`,
/// which releases idle streams' buffers.
pub(crate) mod idle_policy;
pub(crate) mod inbox;
pub(crate) mod node;

#[cfg(all(test, loom))]
#[path = "tests/loom_inbox.rs"]
mod loom_inbox;

use std::ptr::NonNull;

use crate::loom::sync::Mutex;
use crate::metrics::WorkerMetricsCells;
use crate::task::raw::Header;
use inbox::{Inbox, Push};
use node::Node;

/// Wakes a worker blocked in its poll.
pub(crate) trait Unpark: Send + Sync + 'static {
    fn unpark(&self);
}

impl Unpark for mio::Waker {
    fn unpark(&self) {
        // A failed eventfd write means the counter is saturated, which means
        // a wake-up is pending anyway.
        let _ = self.wake();
    }
}

/// Keeps a value on cache lines of its own (128 bytes: the line and the
/// neighbour the adjacent-line prefetcher pulls in with it).
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The part of a worker that other threads may touch.
///
/// The inbox head (written by every waker and by the worker) and the
/// metrics (rewritten by the worker every tick) sit on lines of their own,
/// apart from each other and from the read-mostly fields, so that
/// publishing metrics never steals the inbox line from a producer.
pub(crate) struct WorkerShared {
    pub(crate) inbox: CachePadded<Inbox<Node>>,
    /// Empty batches this worker made, sent back by the workers they went
    /// to when those had spares enough (see `node.rs`, "Recycling").
    pub(crate) spare_batches: CachePadded<Inbox<Node>>,
    pub(crate) index: usize,
    /// Process-unique id (worker indexes repeat across runtimes).
    pub(crate) uid: u64,
    unparker: Box<dyn Unpark>,
    pub(crate) arena: Mutex<Option<roost_alloc::ArenaMonitor>>,
    pub(crate) metrics: CachePadded<WorkerMetricsCells>,
}

static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl WorkerShared {
    pub(crate) fn new(index: usize, unparker: Box<dyn Unpark>) -> Self {
        Self {
            index,
            uid: NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            inbox: CachePadded(Inbox::new()),
            spare_batches: CachePadded(Inbox::new()),
            unparker,
            metrics: CachePadded(WorkerMetricsCells::default()),
            arena: Mutex::new(None),
        }
    }

    pub(crate) fn unpark(&self) {
        self.unparker.unpark();
    }

    /// Makes the worker run one more tick soon (from any thread).
    pub(crate) fn nudge(&self) {
        if self.inbox.nudge() {
            self.unpark();
        }
    }

    /// Sends a task created elsewhere (state `new_remote`) to this worker.
    /// Returns `false` if the worker is gone; the task was not shared then.
    ///
    /// # Safety
    ///
    /// `ptr` is a fresh task of this worker, not shared with anyone yet.
    pub(crate) unsafe fn push_new(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: fresh, so in no inbox; its NOTIFIED bit is set from birth.
        match unsafe { self.inbox.push(Header::as_node(ptr)) } {
            Push::Queued => true,
            Push::QueuedWake => {
                self.unpark();
                true
            }
            Push::Closed => false,
        }
    }
}

impl Drop for WorkerShared {
    /// Frees the batches sent home after the worker stopped taking them.
    fn drop(&mut self) {
        for node in self.spare_batches.take_all() {
            // SAFETY: only empty batches are pushed here, each owned by the
            // stack until taken; `take_all` handed them to us.
            drop(unsafe { node::Batch::from_node(node) });
        }
    }
}
