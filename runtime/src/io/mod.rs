//! The reactor: each worker's mio `Poll` and the readiness of the sources
//! registered with it.
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

pub(crate) mod fault;
mod registration;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;

use slab::Slab;

#[doc(hidden)]
pub use fault::__inject_poll_errors;
pub use fault::{ReactorFault, MAX_REACTOR_BACKOFF, MAX_REACTOR_RETRIES};
pub use registration::Registration;

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
}

impl IoState {
    fn new() -> Self {
        Self {
            readiness: Cell::new(READ | WRITE),
            reader: Cell::new(None),
            writer: Cell::new(None),
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

/// One worker's reactor.
pub(crate) struct IoDriver {
    pub(crate) registry: mio::Registry,
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
    pub(crate) fn new(registry: mio::Registry, faults: fault::ReactorFaults) -> Self {
        Self {
            registry,
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
        state.readiness.set(state.readiness.get() | bits);
        if bits & READ != 0 {
            wake_in_place(&state.reader);
        }
        if bits & WRITE != 0 {
            wake_in_place(&state.writer);
        }
    }
}
