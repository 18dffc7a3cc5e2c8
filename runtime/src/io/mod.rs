//! The reactor: each worker's event source (mio's `Poll`, or an io_uring
//! ring: see [`Driver`]) and the readiness of the sources registered with it.
//!
//! A source is registered with the worker whose thread creates its
//! [`Registration`]; its readiness and its two waiters (one task waiting to
//! read, one waiting to write) live in an `IoState` that only that thread
//! touches. The worker's event loop turns each mio event into readiness
//! bits and wakes the waiter of each direction that became ready.
//!
//! # Invariants
//!
//! - Readiness is set only by events and cleared only by the registration's
//!   user, after an operation reported `WouldBlock`. mio is edge-triggered:
//!   the kernel reports a direction once when it becomes ready, so clearing
//!   on anything but `WouldBlock` could lose the edge and hang the task.
//!   Clearing after `WouldBlock` cannot lose an edge: events are processed
//!   on the same thread between task polls, never between an operation and
//!   the clear that follows it in the same poll.
//! - A registration starts out ready in both directions, so the first
//!   operation is attempted without a round trip through epoll; if it would
//!   block, it clears and waits like any other.
//! - The worker's slab maps a token to the state while the registration
//!   lives; the registration deregisters its source and removes the entry
//!   when dropped.

mod driver;
pub(crate) mod fault;
mod registration;
#[cfg(target_os = "linux")]
pub(crate) mod uring;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;

use slab::Slab;

pub use driver::{Driver, DRIVER_ENV};
pub(crate) use driver::{DriverConfig, Poller};
#[doc(hidden)]
pub use fault::__inject_poll_errors;
pub use fault::{ReactorFault, MAX_REACTOR_BACKOFF, MAX_REACTOR_RETRIES};
pub use registration::Registration;
#[cfg(target_os = "linux")]
pub use uring::SendBuf;

pub(crate) use driver::open as open_driver;

pub(crate) const READ: u8 = 1;
pub(crate) const WRITE: u8 = 2;
/// Sticky: the peer closed its side (or the socket failed). Never cleared,
/// so that a user may clear READ after a short read without losing a FIN or
/// a reset that arrived with the data (it brings no new edge).
pub(crate) const READ_CLOSED: u8 = 4;
/// Sticky: writing can no longer block (closed or failed). Never cleared.
pub(crate) const WRITE_CLOSED: u8 = 8;

/// Whether `readiness` lets an operation of direction `bit` proceed.
#[inline]
pub(crate) fn is_ready(readiness: u8, bit: u8) -> bool {
    readiness & (bit | (bit << 2)) != 0
}

/// Readiness and waiters of one registered source.
pub(crate) struct IoState {
    pub(crate) readiness: Cell<u8>,
    pub(crate) reader: Cell<Option<Waker>>,
    pub(crate) writer: Cell<Option<Waker>>,
    /// The source's io_uring operations (unused on epoll).
    #[cfg(target_os = "linux")]
    pub(crate) uring: uring::UringIo,
}

impl IoState {
    fn new() -> Self {
        Self {
            readiness: Cell::new(READ | WRITE),
            reader: Cell::new(None),
            writer: Cell::new(None),
            #[cfg(target_os = "linux")]
            uring: uring::UringIo::default(),
        }
    }
}

/// Wakes the waiter in `slot` by reference and keeps it, unless a new one
/// was stored meanwhile (no borrow is held while the waker runs).
fn wake_in_place(slot: &Cell<Option<Waker>>) {
    let Some(waker) = slot.take() else { return };
    waker.wake_by_ref();
    let newer = slot.take();
    slot.set(newer.or(Some(waker)));
}

/// Where registrations go: the epoll instance, or the ring.
pub(crate) enum Backend {
    Epoll(mio::Registry),
    #[cfg(target_os = "linux")]
    Uring(Box<uring::Ring>),
}

/// One worker's reactor.
pub(crate) struct IoDriver {
    pub(crate) backend: Backend,
    pub(crate) entries: RefCell<Slab<Rc<IoState>>>,
    /// Cleared when the event loop that polls this reactor stops for good:
    /// a registration that outlives it (a socket returned out of a
    /// `block_on`) gets an error instead of waiting for events that can no
    /// longer come.
    pub(crate) alive: Cell<bool>,
    /// What happens when this reactor's wait fails (see `fault.rs`).
    pub(crate) faults: fault::ReactorFaults,
}

impl IoDriver {
    pub(crate) fn new(backend: Backend, faults: fault::ReactorFaults) -> Self {
        Self {
            backend,
            entries: RefCell::new(Slab::new()),
            alive: Cell::new(true),
            faults,
        }
    }

    /// Whether any source is registered.
    pub(crate) fn has_sources(&self) -> bool {
        !self.entries.borrow().is_empty()
    }

    /// How many sources are registered.
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Records a mio event and wakes the waiters it concerns.
    pub(crate) fn dispatch(&self, event: &mio::event::Event) {
        let Some(state) = self.entries.borrow().get(event.token().0).cloned() else {
            return;
        };
        let mut bits = 0;
        if event.is_readable() {
            bits |= READ;
        }
        if event.is_read_closed() || event.is_error() {
            bits |= READ | READ_CLOSED;
        }
        if event.is_writable() {
            bits |= WRITE;
        }
        if event.is_write_closed() || event.is_error() {
            bits |= WRITE | WRITE_CLOSED;
        }
        Self::wake(&state, bits);
    }

    /// Records readiness `bits` for the source of slab entry `key` and wakes
    /// the waiters they concern.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn wake_key(&self, key: usize, bits: u8) {
        let Some(state) = self.entries.borrow().get(key).cloned() else {
            return;
        };
        Self::wake(&state, bits);
    }

    fn wake(state: &IoState, bits: u8) {
        state.readiness.set(state.readiness.get() | bits);
        if bits & READ != 0 {
            wake_in_place(&state.reader);
        }
        if bits & WRITE != 0 {
            wake_in_place(&state.writer);
        }
    }

    /// Registers `source` (whose descriptor is `fd`) as slab entry `key`.
    pub(crate) fn register<S: mio::event::Source>(
        &self,
        source: &mut S,
        #[cfg_attr(not(target_os = "linux"), allow(unused_variables))] fd: std::os::fd::RawFd,
        key: usize,
        interest: mio::Interest,
    ) -> std::io::Result<()> {
        match &self.backend {
            Backend::Epoll(registry) => registry.register(source, mio::Token(key), interest),
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => ring.register(fd, key, interest),
        }
    }

    /// Changes the interest of slab entry `key`.
    pub(crate) fn reregister<S: mio::event::Source>(
        &self,
        source: &mut S,
        key: usize,
        interest: mio::Interest,
    ) -> std::io::Result<()> {
        match &self.backend {
            Backend::Epoll(registry) => registry.reregister(source, mio::Token(key), interest),
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => ring.reregister(key, interest),
        }
    }

    /// Stops watching `source`, slab entry `key`.
    pub(crate) fn deregister<S: mio::event::Source>(
        &self,
        source: &mut S,
        #[cfg_attr(not(target_os = "linux"), allow(unused_variables))] key: usize,
    ) -> std::io::Result<()> {
        match &self.backend {
            Backend::Epoll(registry) => registry.deregister(source),
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => {
                let state = self.entries.borrow().get(key).cloned();
                if let Some(state) = state {
                    ring.deregister(key, &state);
                }
                Ok(())
            }
        }
    }

    /// The ring, on the uring backend.
    #[cfg(target_os = "linux")]
    pub(crate) fn ring(&self) -> Option<&uring::Ring> {
        match &self.backend {
            Backend::Uring(ring) => Some(ring),
            Backend::Epoll(_) => None,
        }
    }

    /// Waits in the ring (uring backend only): see `uring::Ring::poll`.
    #[cfg(target_os = "linux")]
    pub(crate) fn poll_uring(&self, timeout: Option<std::time::Duration>) -> std::ops::ControlFlow<()> {
        match &self.backend {
            Backend::Uring(ring) => ring.poll(self, timeout),
            Backend::Epoll(_) => std::ops::ControlFlow::Continue(()),
        }
    }
}
