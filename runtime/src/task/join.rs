//! `JoinHandle`: an owned permission to await a task's output.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::abort::abort_raw;
use super::raw::{self, Header};
use super::state::{COMPLETE, JOIN_WAKER};
use super::{AbortHandle, JoinError};
use crate::loom::sync::atomic::Ordering;

/// An owned permission to await a task's result.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was cancelled (aborted, refused at spawn, or dropped at shutdown).
/// Dropping it detaches the task, which keeps running.
///
/// It is `Send` and `Sync` when the output is `Send`, so a `spawn_local`
/// task with a `!Send` output can only be awaited on its own worker.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// let sum = rt.block_on(async {
///     let a = roost_runtime::spawn(async { 20 });
///     let b = roost_runtime::spawn_local(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
///
/// A `!Send` output keeps the handle on its worker:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let h = roost_runtime::spawn_local(async { std::rc::Rc::new(1) });
///     assert_send(h);
/// });
/// ```
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle's shared state is atomic; the output it moves out is
// `T`, hence the bound.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the state word and requests aborts.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    ///
    /// `raw` is a task whose output is `T`, and the caller hands over the
    /// join handle's reference (the one `JOIN_INTEREST` stands for).
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        Self {
            raw,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { self.raw.as_ref() }
    }

    /// Requests cancellation. A task that has not finished is dropped on its
    /// worker at its next turn and its handle yields a cancelled
    /// [`JoinError`]; a task that already finished keeps its output. Calling
    /// it from any thread, any number of times, is harmless.
    pub fn abort(&self) {
        // SAFETY: we hold a reference.
        unsafe { abort_raw(self.raw) }
    }

    /// Whether the task has finished (completed, panicked or was cancelled).
    pub fn is_finished(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// A handle that can abort the task without awaiting it.
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        // SAFETY: the reference just taken is the abort handle's.
        unsafe { AbortHandle::from_raw(self.raw) }
    }

    fn take_output(&self) -> Result<T, JoinError> {
        // SAFETY: the caller saw COMPLETE with acquire ordering and holds
        // join interest: the output slot is ours now.
        let slot = unsafe { raw::output_slot::<T>(self.raw) };
        // SAFETY: as above.
        let out = slot.with_mut(|o| unsafe { (*o).take() });
        out.expect("JoinHandle polled after it returned its result")
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header();
        let s = header.state.load(Ordering::Acquire);
        if s & COMPLETE != 0 {
            return Poll::Ready(self.take_output());
        }
        if s & JOIN_WAKER != 0 {
            let same = header.join_waker.with(|w| {
                // SAFETY: while JOIN_WAKER is set the slot is only read.
                unsafe { (*w).as_ref() }.is_some_and(|w| w.will_wake(cx.waker()))
            });
            if same {
                return Poll::Pending;
            }
            if header.state.unset_join_waker().is_err() {
                return Poll::Ready(self.take_output());
            }
        }
        // JOIN_WAKER is clear: the slot is the handle's.
        let new = cx.waker().clone();
        // SAFETY: as above.
        header.join_waker.with_mut(|w| unsafe { *w = Some(new) });
        if header.state.set_join_waker().is_err() {
            return Poll::Ready(self.take_output());
        }
        Poll::Pending
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if self.header().state.drop_join_interest().is_err() {
            // Complete: the output is ours to drop, here, where `T` may live.
            // SAFETY: COMPLETE seen with acquire ordering; join interest is ours.
            let slot = unsafe { raw::output_slot::<T>(self.raw) };
            // SAFETY: as above.
            drop(slot.with_mut(|o| unsafe { (*o).take() }));
        }
        // SAFETY: the handle's reference.
        unsafe { raw::release(self.raw) };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
