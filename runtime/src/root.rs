//! Root futures: the future given to [`Runtime::block_on`](crate::Runtime::block_on)
//! or [`Builder::run`](crate::Builder::run), driven by an event loop on the
//! calling thread beside that loop's tasks.
//!
//! A root future is polled in place, never boxed into a task, so it may be
//! `!Send`, borrow from the caller's stack, and return a `!Send` value.
//!
//! # Two places a root runs
//!
//! - `Builder::run`: the calling thread *is* worker 0 of the runtime it
//!   builds (pinned, with its arena); the root is the program's main.
//! - `block_on`: the calling thread is not a worker, so it runs a guest
//!   loop of its own: a reactor, a timer wheel and a run queue for the
//!   tasks spawned inside (`roost::spawn` there runs on the calling thread,
//!   as on a worker). The guest is kept per thread and runtime between two
//!   `block_on` calls, so a listener bound in one call still gets its
//!   events in the next, and tasks it spawned resume there (between calls
//!   they wait, as with tokio's current-thread runtime). It is dropped,
//!   cancelling those tasks, when the thread calls `block_on` on another
//!   runtime, when the runtime is shut down (at once if the thread is in
//!   `block_on` or shuts the runtime down itself, otherwise at its next
//!   `block_on` or its exit: a thread's tasks can only be dropped on that
//!   thread), or when the thread exits. Sockets it registered that outlive
//!   it (returned out of `block_on`) report an error from then on. A
//!   graceful `shutdown_timeout` waits for the workers' tasks, not for a
//!   guest's.
//!
//! # Invariants
//!
//! - The root's waker only sets `woken` and nudges the loop's inbox (which
//!   unparks a sleeping loop), so a wake from any thread between the loop's
//!   last look and its sleep is never lost (see `sched/inbox.rs`).
//! - The loop polls the root only while `woken` was set, clearing it first:
//!   a wake during the poll schedules another poll.
//! - A guest's context is the thread's current context only inside
//!   `block_on` (and while it is dropped), never between calls.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use mio::Events;

use crate::compat;
use crate::context::{self, Context};
use crate::handle::Handle;
use crate::loom::sync::Arc;
use crate::runtime::RuntimeShared;
use crate::sched::WorkerShared;
use crate::worker::{self, Root};
use crate::BlockOnError;

/// The index a guest loop reports: no worker has it.
pub(crate) const GUEST_INDEX: usize = usize::MAX;

/// Sets the flag and makes the loop look at it.
struct RootWaker {
    woken: AtomicBool,
    worker: Arc<WorkerShared>,
}

impl Wake for RootWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        // From the loop's own thread (the root yielding, a local task or
        // timer waking it) the loop looks at `woken` before it would sleep:
        // no nudge needed. From elsewhere, the nudge makes it look.
        let on_loop = context::with_core(|core| core.is_some_and(|c| Arc::ptr_eq(&c.shared, &self.worker)));
        if !on_loop {
            self.worker.nudge();
        }
    }
}

/// A root future and its output once it is done.
pub(crate) struct RootFuture<'a, F: Future> {
    future: Pin<&'a mut F>,
    waker: std::sync::Arc<RootWaker>,
    task_waker: Waker,
    /// The output, or the panic of the poll that would have produced it.
    output: Option<std::thread::Result<F::Output>>,
}

impl<'a, F: Future> RootFuture<'a, F> {
    pub(crate) fn new(future: Pin<&'a mut F>, worker: Arc<WorkerShared>) -> Self {
        let waker = std::sync::Arc::new(RootWaker {
            woken: AtomicBool::new(true),
            worker,
        });
        Self {
            future,
            task_waker: Waker::from(waker.clone()),
            waker,
            output: None,
        }
    }

    /// The output once complete (`None` if the loop stopped first). A
    /// panic of the future was caught in the loop, so that the loop could
    /// stop in order, and resumes here.
    pub(crate) fn take_output(&mut self) -> Option<F::Output> {
        match self.output.take()? {
            Ok(out) => Some(out),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<F: Future> Root for RootFuture<'_, F> {
    fn poll_if_woken(&mut self) -> bool {
        if self.output.is_some() {
            return true;
        }
        if !self.waker.woken.swap(false, Ordering::Acquire) {
            return false;
        }
        let mut cx = TaskContext::from_waker(&self.task_waker);
        let future = self.future.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(&mut cx))) {
            Ok(Poll::Ready(out)) => {
                self.output = Some(Ok(out));
                true
            }
            Ok(Poll::Pending) => false,
            Err(panic) => {
                self.output = Some(Err(panic));
                true
            }
        }
    }

    fn is_woken(&self) -> bool {
        self.waker.woken.load(Ordering::Relaxed)
    }
}

/// A `block_on` thread's own event loop for one runtime.
struct Guest {
    /// Dropped before the reactor.
    ctx: Context,
    poll: crate::io::Poller,
    events: Events,
    /// Its entry in `RuntimeShared::guests`.
    key: usize,
}

impl Guest {
    /// The runtime whose loop this is (its context's handle).
    fn runtime(&self) -> &Arc<RuntimeShared> {
        &self
            .ctx
            .handle
            .as_ref()
            .expect("a guest has its runtime's handle")
            .shared
    }

    fn new(handle: &Handle) -> io::Result<Self> {
        let opened = crate::io::open_driver(handle.shared.loop_config.driver)?;
        let mut poll = opened.poller;
        let shared = Arc::new(WorkerShared::new(GUEST_INDEX, opened.unparker));
        let ctx = Context::new(shared.clone(), handle, &mut poll)?;
        let key = handle
            .shared
            .guests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(shared);
        Ok(Self {
            ctx,
            events: Events::with_capacity(handle.shared.loop_config.events_capacity.min(256)),
            poll,
            key,
        })
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        // Cancel what the guest still holds with it as the current context
        // (a future's drop may deregister I/O or spawn), even when this
        // thread is inside another runtime's loop (that context is put back
        // afterwards); then sockets that outlive it get errors, not hangs.
        context::enter_over(&self.ctx, || self.ctx.core.shutdown());
        self.ctx.stop_reactor();
        self.runtime()
            .guests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_remove(self.key);
    }
}

std::thread_local! {
    /// This thread's guest loop, if it has called `block_on`.
    static GUEST: RefCell<Option<Guest>> = const { RefCell::new(None) };
}

/// `Handle::try_block_on`: drives `future` on this thread's guest loop.
pub(crate) fn block_on<F: Future>(handle: &Handle, future: F) -> Result<F::Output, BlockOnError> {
    if context::on_worker() {
        return Err(BlockOnError::InsideRuntime);
    }
    if handle.is_shutting_down() {
        // A guest this thread kept for the runtime goes now, with its tasks.
        drop_guest(&handle.shared);
        return Err(BlockOnError::Shutdown);
    }
    let mine = GUEST.with(|g| g.borrow_mut().take());
    let mut guest = match mine {
        Some(g) if Arc::ptr_eq(g.runtime(), &handle.shared) => g,
        other => {
            // Another runtime's guest (or none): drop it first, then make ours.
            drop(other);
            Guest::new(handle).map_err(|e| BlockOnError::Io(e.kind()))?
        }
    };
    let mut future = std::pin::pin!(future);
    let mut root = RootFuture::new(future.as_mut(), guest.ctx.core.shared.clone());
    let lp = handle.shared.loop_config.clone();
    let done = {
        let Guest { ctx, poll, events, .. } = &mut guest;
        context::enter(ctx, || {
            let _tokio = compat::enter(&lp);
            worker::run(ctx, poll, events, &lp, handle, Some(&mut root))
        })
    };
    if done {
        // Kept, panic or not: the loop itself is in order.
        GUEST.with(|g| *g.borrow_mut() = Some(guest));
        return root.take_output().ok_or(BlockOnError::Shutdown);
    }
    // Not done: the runtime is shutting down, or the loop's reactor failed
    // for good (see `io/fault.rs`); the guest is dropped here, cancelling
    // its tasks, and the next `block_on` makes a fresh one.
    let failed = guest.ctx.io.as_ref().and_then(|io| io.faults.stopped());
    Err(failed.map_or(BlockOnError::Shutdown, BlockOnError::Io))
}

/// Drops this thread's guest of `runtime`, if it has one (its runtime is
/// shutting down).
pub(crate) fn drop_guest(runtime: &Arc<RuntimeShared>) {
    let guest = GUEST.with(|g| {
        let mut g = g.borrow_mut();
        if g.as_ref().is_some_and(|guest| Arc::ptr_eq(guest.runtime(), runtime)) {
            g.take()
        } else {
            None
        }
    });
    drop(guest);
}
