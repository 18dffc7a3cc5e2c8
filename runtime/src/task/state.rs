//! The task state word: flags and reference count in one atomic.
//!
//! ```text
//!  63 ..................... 6   5    4          3           2          1        0
//! [ reference count          | - | NOTIFIED | JOIN_WAKER | JOIN_INT. | CANCEL. | COMPLETE ]
//! ```
//!
//! - `COMPLETE`: the future is gone (finished, panicked or cancelled) and the
//!   output slot holds the result, or was consumed. Set once, by the owning
//!   worker (or by the spawner, for a task refused before it was shared).
//! - `CANCELLED`: an abort was requested. Set once, by any thread.
//! - `JOIN_INTEREST`: the `JoinHandle` is alive. Cleared once, by the handle.
//! - `JOIN_WAKER`: the join waker slot holds a waker the worker may read.
//!   While it is clear the handle owns the slot; while it is set the worker may
//!   read it (wake by reference) and only the handle may clear it, and only
//!   before `COMPLETE`. Once `COMPLETE` is set the slot is never written again
//!   until the task is freed.
//! - `NOTIFIED`: the task is in (or on its way into) its worker's inbox. Set
//!   by the thread that pushes it, cleared by the worker when it takes it out;
//!   this is what keeps a task in at most one inbox at a time.
//! - The reference count counts: the owning worker's reference (released once
//!   the task is complete and out of the run queue), the `JoinHandle`, every
//!   `Waker` and `AbortHandle`, every inbox entry, and the short guard a
//!   remote waker holds while it unparks a sleeping worker.
//!
//! Whoever brings the count to zero frees the task; by then the future and
//! the output have been dropped on a thread allowed to drop them.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};

pub(crate) const COMPLETE: usize = 1 << 0;
pub(crate) const CANCELLED: usize = 1 << 1;
pub(crate) const JOIN_INTEREST: usize = 1 << 2;
pub(crate) const JOIN_WAKER: usize = 1 << 3;
pub(crate) const NOTIFIED: usize = 1 << 4;
pub(crate) const REF_ONE: usize = 1 << 6;
const REF_MASK: usize = !(REF_ONE - 1);

/// See the module documentation.
pub(crate) struct State(AtomicUsize);

impl State {
    /// A task created on its own worker: worker and join handle references.
    pub(crate) fn new_local() -> Self {
        Self(AtomicUsize::new((2 * REF_ONE) | JOIN_INTEREST))
    }

    /// A task created elsewhere and sent through the inbox: the inbox entry
    /// carries the worker's reference.
    pub(crate) fn new_remote() -> Self {
        Self(AtomicUsize::new((2 * REF_ONE) | JOIN_INTEREST | NOTIFIED))
    }

    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> usize {
        self.0.load(order)
    }

    /// Adds one reference.
    #[inline]
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops `n` references; returns `true` if they were the last.
    #[inline]
    pub(crate) fn ref_dec_n(&self, n: usize) -> bool {
        let prev = self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel);
        debug_assert!(prev & REF_MASK >= n * REF_ONE, "task reference count underflow");
        prev & REF_MASK == n * REF_ONE
    }

    /// Remote scheduling: sets `NOTIFIED` and adds `refs` references in one
    /// step, unless the task is complete or already notified. Returns whether
    /// it did.
    #[inline]
    pub(crate) fn try_notify(&self, refs: usize) -> bool {
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            if s & (COMPLETE | NOTIFIED) != 0 {
                return false;
            }
            let new = (s | NOTIFIED) + refs * REF_ONE;
            match self
                .0
                .compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// The worker took a woken task out of its inbox: clears `NOTIFIED` and
    /// drops the inbox entry's reference. Returns the previous state.
    #[inline]
    pub(crate) fn unnotify_and_release(&self) -> usize {
        self.0.fetch_sub(NOTIFIED + REF_ONE, Ordering::AcqRel)
    }

    /// The worker took a new task out of its inbox: clears `NOTIFIED`; the
    /// entry's reference becomes the worker's.
    #[inline]
    pub(crate) fn unnotify(&self) {
        self.0.fetch_and(!NOTIFIED, Ordering::AcqRel);
    }

    /// Requests cancellation. Returns `true` if the task must be scheduled so
    /// that its worker sees the request (it was neither complete nor already
    /// cancelled).
    #[inline]
    pub(crate) fn cancel(&self) -> bool {
        let prev = self.0.fetch_or(CANCELLED, Ordering::AcqRel);
        prev & (COMPLETE | CANCELLED) == 0
    }

    /// Marks the task complete; returns the previous state.
    #[inline]
    pub(crate) fn complete(&self) -> usize {
        self.0.fetch_or(COMPLETE, Ordering::AcqRel)
    }

    /// Join handle dropped: clears `JOIN_INTEREST` unless the task is
    /// complete. `Ok` if cleared (the worker now owns the output), `Err` with
    /// the state if complete (the caller must drop the output).
    #[inline]
    pub(crate) fn drop_join_interest(&self) -> Result<(), usize> {
        self.update_unless_complete(|s| s & !JOIN_INTEREST)
    }

    /// Sets `JOIN_WAKER` unless complete. `Err` with the state if complete.
    #[inline]
    pub(crate) fn set_join_waker(&self) -> Result<(), usize> {
        self.update_unless_complete(|s| s | JOIN_WAKER)
    }

    /// Clears `JOIN_WAKER` unless complete. `Err` with the state if complete.
    #[inline]
    pub(crate) fn unset_join_waker(&self) -> Result<(), usize> {
        self.update_unless_complete(|s| s & !JOIN_WAKER)
    }

    #[inline]
    fn update_unless_complete(&self, f: impl Fn(usize) -> usize) -> Result<(), usize> {
        let mut s = self.0.load(Ordering::Acquire);
        loop {
            if s & COMPLETE != 0 {
                return Err(s);
            }
            match self
                .0
                .compare_exchange_weak(s, f(s), Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(actual) => s = actual,
            }
        }
    }
}
