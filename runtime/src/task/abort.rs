//! `AbortHandle`: cancels a task without awaiting it.

use std::fmt;
use std::ptr::NonNull;

use super::raw::{self, Header};
use super::state::COMPLETE;
use super::waker;
use crate::loom::sync::atomic::Ordering;

/// Aborts a task without awaiting it. Clonable, `Send` and `Sync`.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let task = roost_runtime::spawn(std::future::pending::<()>());
///     let abort = task.abort_handle();
///     std::thread::spawn(move || abort.abort()).join().unwrap();
///     assert!(task.await.unwrap_err().is_cancelled());
/// });
/// ```
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: it only touches the atomic state word and schedules the task.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// # Safety
    ///
    /// The caller hands over one reference to the live task `raw`.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        Self { raw }
    }

    /// See [`JoinHandle::abort`].
    pub fn abort(&self) {
        // SAFETY: we hold a reference.
        unsafe { abort_raw(self.raw) }
    }

    /// See [`JoinHandle::is_finished`].
    pub fn is_finished(&self) -> bool {
        // SAFETY: we hold a reference.
        unsafe { self.raw.as_ref() }.state.load(Ordering::Acquire) & COMPLETE != 0
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        // SAFETY: we hold a reference.
        unsafe { self.raw.as_ref() }.state.ref_inc();
        Self { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { raw::release(self.raw) };
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// # Safety
///
/// The caller holds a reference to the live task.
pub(crate) unsafe fn abort_raw(ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    if unsafe { ptr.as_ref() }.state.cancel() {
        // SAFETY: as above.
        unsafe { waker::schedule(ptr) };
    }
}
