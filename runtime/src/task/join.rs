//! `JoinHandle`, `AbortHandle` and `JoinError`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::raw::{self, Header};
use super::state::{COMPLETE, JOIN_WAKER};
use super::waker;
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
        AbortHandle { raw: self.raw }
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
unsafe fn abort_raw(ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    if unsafe { ptr.as_ref() }.state.cancel() {
        // SAFETY: as above.
        unsafe { waker::schedule(ptr) };
    }
}

/// Why a task produced no output.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// let err = rt.block_on(async { roost_runtime::spawn(async { panic!("boom") }).await.unwrap_err() });
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "task panicked: boom");
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(PanicPayload),
}

/// A panic payload that is only ever moved out by value, or inspected
/// through `Any::type_id` and downcasts to `Sync` string types.
struct PanicPayload(Box<dyn Any + Send + 'static>);

// SAFETY: a shared `&PanicPayload` is only used to downcast to `&str` and
// `String` (both `Sync`); the payload itself leaves only by value.
unsafe impl Sync for PanicPayload {}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        Self { repr: Repr::Cancelled }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        Self {
            repr: Repr::Panic(PanicPayload(payload)),
        }
    }

    /// Whether the task was cancelled: aborted, refused at spawn because the
    /// runtime was shutting down, or dropped by the runtime's shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with
    /// `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// Panics if the task was cancelled rather than panicking.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic on a cancelled task")
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// # Errors
    ///
    /// `Err(self)` if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.0),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(p) => {
                p.0.downcast_ref::<&'static str>()
                    .copied()
                    .or_else(|| p.0.downcast_ref::<String>().map(String::as_str))
            }
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("JoinError::Cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "JoinError::Panic({msg:?})"),
            (Repr::Panic(_), None) => f.write_str("JoinError::Panic(..)"),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> Self {
        let kind = if e.is_cancelled() {
            io::ErrorKind::Interrupted
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(kind, e.to_string())
    }
}
