//! What travels through an inbox: a task, or a batch of tasks.
//!
//! Both start with a [`Node`] (`#[repr(C)]`, first field), so the inbox
//! links them alike and the worker tells them apart by `kind`.
//!
//! A worker that wakes tasks of another worker of its runtime does not push
//! each one: it collects them per destination in a [`Batch`] and pushes the
//! batch once, at the end of its run of polls (or when the batch is full).
//! One compare-and-swap then carries up to [`BATCH`] wakes, and the
//! receiving worker reads their addresses from an array, so it can fetch
//! all their headers at once instead of chasing a list one cache miss at a
//! time. Wakes from threads that are not workers go one by one.
//!
//! # Invariants
//!
//! - A task in a batch has `NOTIFIED` set and the batch holds its inbox
//!   reference, exactly as if it had been pushed on its own.
//! - A batch holds only tasks of the worker it is sent to.
//!
//! # Recycling
//!
//! A received batch, drained, joins the receiver's spare batches for its own
//! wakes. When that list is full, the batch goes back to the worker that
//! made it (its `home`), through that worker's `spare_batches` stack (an
//! [`Inbox`](super::inbox::Inbox) nobody sleeps on: pushes from any thread,
//! taken whole by the owner when its own list runs out). So flows of wakes
//! that are not symmetric (one worker wakes another more often than it is
//! woken by it) reuse the same batches instead of allocating on one side
//! and freeing on the other.

use std::ptr::NonNull;

use super::inbox::Linked;
use crate::loom::cell::UnsafeCell;
use crate::task::raw::{self, Header};

/// Tasks per batch.
pub(crate) const BATCH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum NodeKind {
    Task,
    Batch,
}

/// The common head of inbox nodes.
#[repr(C)]
pub(crate) struct Node {
    link: UnsafeCell<*mut Node>,
    pub(crate) kind: NodeKind,
}

impl Node {
    pub(crate) fn new(kind: NodeKind) -> Self {
        Self {
            link: UnsafeCell::new(std::ptr::null_mut()),
            kind,
        }
    }
}

// SAFETY: `link` is reserved for the inbox; `Node` holds a pointer, so its
// alignment is at least 4.
unsafe impl Linked for Node {
    fn link(&self) -> &UnsafeCell<*mut Node> {
        &self.link
    }
}

/// Wakes for one worker, collected by another.
#[repr(C)]
pub(crate) struct Batch {
    node: Node,
    /// The index of the worker that made it.
    pub(crate) home: usize,
    len: usize,
    tasks: [*mut Header; BATCH],
}

impl Batch {
    /// An empty batch made by worker `home`.
    pub(crate) fn new(home: usize) -> Box<Self> {
        Box::new(Self {
            node: Node::new(NodeKind::Batch),
            home,
            len: 0,
            tasks: [std::ptr::null_mut(); BATCH],
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a task; returns `true` if the batch is now full.
    pub(crate) fn push(&mut self, task: NonNull<Header>) -> bool {
        self.tasks[self.len] = task.as_ptr();
        self.len += 1;
        self.len == BATCH
    }

    /// Takes the tasks out, leaving the batch empty.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = NonNull<Header>> + '_ {
        let len = std::mem::replace(&mut self.len, 0);
        self.tasks[..len].iter().map(|&t| {
            // SAFETY: only non-null task pointers are pushed.
            unsafe { NonNull::new_unchecked(t) }
        })
    }

    /// Asks the cache for every task header of the batch at once.
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        for &t in &self.tasks[..self.len] {
            // SAFETY: a prefetch never faults and reads nothing observable.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(t.cast()) };
        }
    }

    pub(crate) fn into_node(self: Box<Self>) -> NonNull<Node> {
        NonNull::from(Box::leak(self)).cast()
    }

    /// # Safety
    ///
    /// `node` came from [`into_node`](Self::into_node) and is owned by the caller.
    pub(crate) unsafe fn from_node(node: NonNull<Node>) -> Box<Self> {
        // SAFETY: per the contract; `Node` is the first field of a `repr(C)` `Batch`.
        unsafe { Box::from_raw(node.cast::<Batch>().as_ptr()) }
    }
}

impl Drop for Batch {
    /// A batch is always drained before it is dropped; should one be dropped
    /// full (a bug), its tasks' references are released rather than leaked.
    fn drop(&mut self) {
        debug_assert_eq!(self.len, 0, "batch dropped with tasks in it");
        for ptr in self.drain() {
            // SAFETY: the batch held one reference per task.
            unsafe { raw::release(ptr) };
        }
    }
}
