//! A worker's inbox: a lock-free, intrusive, many-producer single-consumer
//! list, fused with the worker's sleep/wake handshake.
//!
//! Other threads push nodes (tasks to run, tasks to wake); the owning worker
//! takes the whole list at once. The list head is one atomic word that also
//! says whether the worker sleeps, so one compare-and-swap both publishes a
//! node and learns whether a `mio::Waker` is needed: a producer pays for a
//! syscall only when the worker is asleep, never while it is busy.
//!
//! # States of the head word
//!
//! | head            | meaning                                                   |
//! |-----------------|-----------------------------------------------------------|
//! | null            | empty; the worker is running                              |
//! | `SLEEPING`      | empty; the worker is blocked (or about to block) in poll |
//! | `NUDGED`        | empty; the worker must run one more tick before sleeping  |
//! | `CLOSED`        | the worker has exited; pushes fail                        |
//! | a node pointer  | one or more nodes (never tagged)                          |
//!
//! # Invariants
//!
//! - Only the owning worker moves the head to null (`take_all`), to
//!   `SLEEPING` (`try_sleep`, and only from null) or to `CLOSED` (`close`).
//! - A producer that replaces `SLEEPING` (by a node or by `NUDGED`) is told
//!   to unpark the worker, and exactly one producer is told per sleep: every
//!   transition is a read-modify-write of the same word, so they are totally
//!   ordered and no push can slip between the worker's decision to sleep and
//!   its announcement (no lost wakeup, no `SeqCst` fence needed).
//! - A node is in at most one inbox at a time and is not touched by its
//!   pusher after the publishing compare-and-swap; its `next` link is written
//!   before that release and read by the worker after its acquire swap.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicPtr, Ordering};

const TAG_SLEEPING: usize = 1;
const TAG_NUDGED: usize = 2;
const TAG_CLOSED: usize = 3;
const TAG_MASK: usize = 3;

/// A node type that carries its own inbox link.
///
/// # Safety
///
/// `link` must always return the same cell, reserved for the inbox, and the
/// type's alignment must be at least 4 (the head word uses two tag bits).
pub(crate) unsafe trait Linked: Sized {
    /// The node's inbox link.
    fn link(&self) -> &UnsafeCell<*mut Self>;
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Push {
    /// Queued; the worker is awake and will see it.
    Queued,
    /// Queued; the worker sleeps and the caller must unpark it.
    QueuedWake,
    /// The inbox is closed; the node was not queued and is the caller's again.
    Closed,
}

/// See the module documentation.
pub(crate) struct Inbox<T: Linked> {
    head: AtomicPtr<T>,
    _marker: PhantomData<*mut T>,
}

// SAFETY: the inbox only moves node pointers between threads; the node types
// used with it are themselves shared across threads (tasks are `Sync` by
// their own invariants), and all access to the head is atomic.
unsafe impl<T: Linked> Send for Inbox<T> {}
// SAFETY: as above.
unsafe impl<T: Linked> Sync for Inbox<T> {}

fn tag<T>(t: usize) -> *mut T {
    ptr::without_provenance_mut(t)
}

fn is_tag<T>(p: *mut T) -> bool {
    (p.addr() & !TAG_MASK) == 0
}

impl<T: Linked> Inbox<T> {
    pub(crate) fn new() -> Self {
        const { assert!(std::mem::align_of::<T>() >= 4) };
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            _marker: PhantomData,
        }
    }

    /// Pushes `node` (from any thread).
    ///
    /// # Safety
    ///
    /// `node` is live, in no inbox, and stays live until the worker has taken
    /// it (or, if `Push::Closed` is returned, it was never shared).
    #[inline]
    pub(crate) unsafe fn push(&self, node: NonNull<T>) -> Push {
        // SAFETY: forwarded contract.
        unsafe { self.push_guarded(node, || ()) }.0
    }

    /// Like [`push`](Self::push), for a caller that needs something kept
    /// alive across the unpark that `Push::QueuedWake` asks for: `guard` is
    /// called (at most once) just before the push that replaces `SLEEPING`,
    /// while the caller still owns the node, and its value is returned with
    /// `QueuedWake` (and dropped otherwise). The busy path never calls it.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push).
    #[inline]
    pub(crate) unsafe fn push_guarded<G>(&self, node: NonNull<T>, mut guard: impl FnMut() -> G) -> (Push, Option<G>) {
        let mut held = None;
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            if head.addr() == TAG_CLOSED {
                return (Push::Closed, None);
            }
            if head.addr() == TAG_SLEEPING && held.is_none() {
                held = Some(guard());
            }
            let next = if is_tag(head) { ptr::null_mut() } else { head };
            // SAFETY: the node is ours until the CAS below publishes it.
            unsafe { node.as_ref() }.link().with_mut(|p| {
                // SAFETY: exclusive access per the contract.
                unsafe { *p = next }
            });
            match self
                .head
                .compare_exchange_weak(head, node.as_ptr(), Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if head.addr() == TAG_SLEEPING => return (Push::QueuedWake, held),
                Ok(_) => return (Push::Queued, None),
                Err(actual) => head = actual,
            }
        }
    }

    /// Asks the worker to run one more tick without queueing anything (from
    /// any thread). Returns `true` if the caller must unpark the worker.
    pub(crate) fn nudge(&self) -> bool {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let new = match head.addr() {
                0 => tag(TAG_NUDGED),
                TAG_SLEEPING => tag(TAG_NUDGED),
                // Nudged already, closed, or nodes that will make it run:
                // rewrite the head with itself all the same, so that what
                // the caller wrote before nudging is released to the
                // worker's next acquire of the head (a plain load here
                // would let the worker take the nodes, miss that write and
                // sleep: the store-buffer pattern).
                _ => head,
            };
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return head.addr() == TAG_SLEEPING,
                Err(actual) => head = actual,
            }
        }
    }

    /// Whether anything (nodes or a nudge) waits; a plain load, for the
    /// worker's busy path.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// Takes every queued node, oldest first, and clears `SLEEPING` and
    /// `NUDGED`. Worker only.
    #[inline]
    pub(crate) fn take_all(&self) -> Drain<T> {
        if self.head.load(Ordering::Relaxed).is_null() {
            return Drain::empty();
        }
        let head = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        if head.addr() == TAG_CLOSED {
            // Never happens: the worker closes only when it stops draining.
            self.head.store(head, Ordering::Release);
            return Drain::empty();
        }
        if is_tag(head) {
            return Drain::empty();
        }
        // SAFETY: the acquire swap gave us the whole list; its links were
        // written before the pushes that published them.
        unsafe { Drain::reversed(head) }
    }

    /// Announces that the worker is about to block. Returns `false` (and the
    /// worker must not block) if anything is queued or a nudge is pending.
    /// Worker only.
    pub(crate) fn try_sleep(&self) -> bool {
        self.head
            .compare_exchange(ptr::null_mut(), tag(TAG_SLEEPING), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Closes the inbox for good and returns what was still queued. Worker only.
    pub(crate) fn close(&self) -> Drain<T> {
        let head = self.head.swap(tag(TAG_CLOSED), Ordering::AcqRel);
        if is_tag(head) {
            return Drain::empty();
        }
        // SAFETY: as in `take_all`.
        unsafe { Drain::reversed(head) }
    }

    /// Whether the inbox was closed.
    #[cfg(all(test, loom))]
    pub(crate) fn is_closed(&self) -> bool {
        self.head.load(Ordering::Acquire).addr() == TAG_CLOSED
    }
}

/// Nodes taken from an inbox, oldest first.
pub(crate) struct Drain<T: Linked> {
    next: *mut T,
}

impl<T: Linked> Drain<T> {
    fn empty() -> Self {
        Self { next: ptr::null_mut() }
    }

    /// Reverses the pushed (newest-first) chain starting at `head`.
    ///
    /// # Safety
    ///
    /// The chain is exclusively the caller's and its links are visible.
    unsafe fn reversed(mut head: *mut T) -> Self {
        let mut prev = ptr::null_mut();
        while !head.is_null() {
            // SAFETY: each node of the chain is live and ours.
            let link = unsafe { (*head).link() };
            // SAFETY: exclusive access (see the contract).
            let next = link.with(|p| unsafe { *p });
            // SAFETY: as above.
            link.with_mut(|p| unsafe { *p = prev });
            prev = head;
            head = next;
        }
        Self { next: prev }
    }
}

impl<T: Linked> Iterator for Drain<T> {
    type Item = NonNull<T>;

    #[inline]
    fn next(&mut self) -> Option<NonNull<T>> {
        let node = NonNull::new(self.next)?;
        // SAFETY: nodes of a drain are live until yielded, and we read the
        // link before handing the node out (the caller may free it).
        self.next = unsafe { node.as_ref() }.link().with(|p| unsafe { *p });
        Some(node)
    }
}

impl<T: Linked> Drop for Drain<T> {
    fn drop(&mut self) {
        debug_assert!(self.next.is_null(), "inbox nodes dropped without processing");
    }
}
