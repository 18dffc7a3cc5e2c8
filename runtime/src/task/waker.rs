//! The task waker: one static vtable for every task.
//!
//! A waker is a counted reference to a task header. Waking picks one of two
//! paths:
//!
//! - **local**: the current thread runs the task's worker. The task is
//!   pushed on the worker's run queue unless it is already there or
//!   complete; that is a check of two plain fields and a `VecDeque` push, no
//!   atomic read-modify-write (the run queue owns no reference of its own:
//!   the worker's reference stays valid until the task is both complete and
//!   out of the queue).
//! - **from another worker of the same runtime**: as remote (below), but the
//!   task joins a per-destination batch that the waking worker pushes once at
//!   the end of its run of polls (see `sched/node.rs`).
//! - **remote**: any other thread. One compare-and-swap on the state word
//!   sets `NOTIFIED` and takes the inbox entry's reference (a waker woken by
//!   value hands over its own instead); a task already notified or complete
//!   costs that one load and nothing else. Then the task is pushed on the
//!   worker's inbox, and the worker is unparked only if it sleeps. Only that
//!   last case takes one more reference, for the duration of the unpark, so
//!   that the worker's shared half cannot be freed under the waker's feet.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable};

use super::raw::{self, Header};
use crate::context;
use crate::sched::inbox::Push;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A raw waker for `ptr` (it does not take a reference by itself).
pub(crate) fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr().cast_const().cast(), &VTABLE)
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: a waker's data is a live task header it holds a reference to.
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: as above.
    unsafe { ptr.as_ref() }.state.ref_inc();
    raw_waker(ptr)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: as in `clone`; this consumes the waker's reference.
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: we own one reference and hand it over.
    unsafe { schedule_owned(ptr) };
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: as in `clone`.
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: the waker's reference keeps the task alive during the call.
    unsafe { schedule(ptr) };
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: as in `clone`; dropping gives up the waker's reference.
    unsafe { raw::release(NonNull::new_unchecked(data.cast_mut().cast::<Header>())) };
}

/// Schedules the task (wake by reference).
///
/// # Safety
///
/// `ptr` is a live task and the caller holds a reference to it for the
/// duration of the call.
#[inline]
pub(crate) unsafe fn schedule(ptr: NonNull<Header>) {
    // SAFETY: live per the contract.
    let header = unsafe { ptr.as_ref() };
    let done = context::with_core(|core| match core {
        Some(core) if core.owns(header) => {
            // SAFETY: we are on the owner's thread and the task is live.
            unsafe { core.schedule_local(ptr) };
            true
        }
        // SAFETY: live; we keep our reference.
        Some(core) => unsafe { core.schedule_for_peer(ptr, false) },
        None => false,
    });
    if !done {
        // SAFETY: live per the contract; we keep our reference.
        unsafe { schedule_remote(ptr, false) };
    }
}

/// Schedules the task and gives up one reference (wake by value).
///
/// # Safety
///
/// The caller owns one reference to the live task `ptr` and hands it over.
pub(crate) unsafe fn schedule_owned(ptr: NonNull<Header>) {
    // SAFETY: live per the contract.
    let header = unsafe { ptr.as_ref() };
    let done = context::with_core(|core| match core {
        Some(core) if core.owns(header) => {
            // SAFETY: owner's thread, live task.
            unsafe { core.schedule_local(ptr) };
            // SAFETY: the reference we were handed.
            unsafe { raw::release(ptr) };
            true
        }
        // SAFETY: live; our reference goes to the batch (or is dropped).
        Some(core) => unsafe { core.schedule_for_peer(ptr, true) },
        None => false,
    });
    if !done {
        // SAFETY: live; our reference goes to the inbox.
        unsafe { schedule_remote(ptr, true) };
    }
}

/// The remote path (see the module documentation).
///
/// # Safety
///
/// `ptr` is live and the caller holds a reference; with `consume` that
/// reference is handed over, otherwise the caller keeps it.
pub(crate) unsafe fn schedule_remote(ptr: NonNull<Header>, consume: bool) {
    // SAFETY: live per the contract.
    let header = unsafe { ptr.as_ref() };
    // The inbox entry needs a reference: a consumed one serves, otherwise
    // take one in the same step as NOTIFIED.
    if !header.state.try_notify(usize::from(!consume)) {
        if consume {
            // SAFETY: the reference we were handed.
            unsafe { raw::release(ptr) };
        }
        return;
    }
    let owner = &header.owner;
    // After a successful push the entry's reference is the worker's to drop,
    // and with it (possibly) the task and its `owner`. Without `consume` the
    // caller's own reference keeps both alive until we return. With it, a
    // guard reference is taken, only when the push is about to wake a
    // sleeping worker, so that `owner` outlives the unpark.
    let guard = || {
        header.state.ref_inc();
        Guard(ptr)
    };
    // SAFETY: NOTIFIED is ours, so the task is in no inbox; the entry's
    // reference keeps it alive until the worker takes it.
    let (pushed, guard) = unsafe { owner.inbox.push_guarded(Header::as_node(ptr), guard) };
    match pushed {
        Push::Queued => {}
        Push::QueuedWake => owner.unpark(),
        Push::Closed => {
            // The worker is gone: drop the entry's reference. NOTIFIED stays
            // set, which is harmless: nothing will run the task again.
            // SAFETY: the entry's reference, still ours.
            unsafe { raw::release(ptr) };
        }
    }
    drop(guard);
}

/// A reference held across an unpark; released on drop.
struct Guard(NonNull<Header>);

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: the guard owns one reference.
        unsafe { raw::release(self.0) };
    }
}
