//! The current thread's worker, if it is one.
//!
//! A worker thread points a thread-local at its [`Context`] for its whole
//! life (see `worker.rs`); everything that needs "the current worker" (the
//! local wake path, `spawn_local`, timers, I/O registration) reads it here.
//!
//! # Invariants
//!
//! - The pointer is set only by [`enter`] and [`enter_over`], which put the
//!   previous value back before the `Context` is dropped, so a non-null
//!   pointer always refers to a live `Context` owned by this thread.
//! - Fields of the `Context` that user code can reach again while they are
//!   borrowed (timers, I/O entries) sit in `RefCell`s and are borrowed only
//!   for short, non-reentrant spans.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::rc::Rc;

use crate::handle::Handle;
use crate::io::fault::ReactorFaults;
use crate::io::{Backend, Driver, IoDriver, Poller};
use crate::loom::sync::Arc;
use crate::sched::core::Core;
use crate::sched::WorkerShared;
use crate::time::TimerDriver;

/// Everything a worker thread owns, reachable from its tasks.
pub(crate) struct Context {
    pub(crate) core: Core,
    /// The runtime this worker belongs to (absent in loom models).
    pub(crate) handle: Option<Handle>,
    pub(crate) timers: RefCell<TimerDriver>,
    /// The reactor (absent in loom models).
    pub(crate) io: Option<Rc<IoDriver>>,
}

impl Context {
    /// The context of an event loop of `handle`'s runtime for `shared`, with
    /// `poll` as its reactor (a ring moves into the context's `IoDriver`).
    pub(crate) fn new(shared: Arc<WorkerShared>, handle: &Handle, poll: &mut Poller) -> std::io::Result<Self> {
        let backend = match poll {
            Poller::Epoll(poll) => Backend::Epoll(poll.registry().try_clone()?),
            #[cfg(target_os = "linux")]
            Poller::Uring(to_open) => {
                let to_open = to_open
                    .take()
                    .ok_or_else(|| std::io::Error::other("an io_uring ring serves one event loop"))?;
                // The ring is made and enabled here, by the thread it serves.
                match to_open.open()? {
                    Ok(ring) => Backend::Uring(ring),
                    Err(epoll) => {
                        let registry = epoll.registry().try_clone()?;
                        *poll = Poller::Epoll(epoll);
                        Backend::Epoll(registry)
                    }
                }
            }
        };
        // The driver the loop got; a fallback where it asked for io_uring.
        let used = match backend {
            Backend::Epoll(_) => Driver::Epoll,
            #[cfg(target_os = "linux")]
            Backend::Uring(_) => Driver::Uring,
        };
        let fell_back = handle.shared.loop_config.driver.driver == Driver::Uring && used == Driver::Epoll;
        shared.metrics.set_driver(used, fell_back);
        let faults = ReactorFaults::new(shared.clone(), handle.shared.reactor_faults.clone());
        Ok(Self {
            core: Core::new(shared, handle.shared.workers.to_vec().into_boxed_slice()),
            handle: Some(handle.clone()),
            timers: RefCell::new(TimerDriver::new()),
            io: Some(Rc::new(IoDriver::new(backend, faults))),
        })
    }

    /// Marks the reactor stopped (see `IoDriver::alive`).
    pub(crate) fn stop_reactor(&self) {
        if let Some(io) = &self.io {
            io.alive.set(false);
        }
    }

    /// Whether spawns must be refused: the runtime is shutting down.
    #[inline]
    pub(crate) fn refuses_spawns(&self) -> bool {
        self.handle.as_ref().is_some_and(Handle::is_shutting_down)
    }
}

// std's `const` initialiser makes the access a plain TLS load; loom needs its
// own thread-local so that each modelled thread has its own slot.
#[cfg(not(all(test, loom)))]
std::thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
}
#[cfg(all(test, loom))]
loom::thread_local! {
    static CURRENT: Cell<*const Context> = Cell::new(ptr::null());
}

/// Runs `f` with the current worker's context, or `None` off-worker.
#[inline(always)]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    let ctx = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer refers to a live context of this thread
    // (module invariants); the reference does not outlive `f`.
    f(unsafe { ctx.as_ref() })
}

/// Runs `f` with the current worker's scheduler core, or `None` off-worker.
#[inline(always)]
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    with_current(|ctx| f(ctx.map(|c| &c.core)))
}

/// Whether the current thread is a roost worker (of any runtime).
pub(crate) fn on_worker() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

/// Makes `ctx` the current thread's context while `f` runs.
///
/// # Panics
///
/// Panics if the thread already has a context.
pub(crate) fn enter<R>(ctx: &Context, f: impl FnOnce() -> R) -> R {
    CURRENT.with(|c| {
        assert!(c.get().is_null(), "a thread can be the worker of one runtime only");
    });
    enter_over(ctx, f)
}

/// Makes `ctx` the current thread's context while `f` runs, and gives the
/// thread back the context it had (if any) afterwards: for dropping a
/// `block_on` loop's tasks on their own context wherever the drop happens.
pub(crate) fn enter_over<R>(ctx: &Context, f: impl FnOnce() -> R) -> R {
    struct Reset(*const Context);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let previous = CURRENT.with(|c| c.replace(ctx));
    let _reset = Reset(previous);
    f()
}
