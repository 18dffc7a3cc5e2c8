//! The worker-only half of a worker: run queue, task slab, local counters.
//!
//! # Invariants
//!
//! - Only the worker's thread touches a `Core`; it is reached through the
//!   thread-local context, never shared.
//! - The run queue and the slab live in `UnsafeCell`s borrowed only inside
//!   the short methods below, which never call user code while a borrow is
//!   live (polling, dropping a future and waking happen outside any borrow).
//! - The slab holds exactly the tasks that are registered and not complete;
//!   each of them carries the worker's reference. A complete task that is
//!   still in the run queue keeps that reference until it is popped.
//! - The outbox holds wakes for other workers of the runtime (see
//!   `node.rs`); it is flushed at the end of every run of polls and at
//!   shutdown, so no wake waits in it while the worker sleeps.

use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::future::Future;
use std::ptr::NonNull;

use slab::Slab;

use super::inbox::Push;
use super::node::{Batch, Node, NodeKind};
use super::WorkerShared;
use crate::loom::sync::atomic::Ordering;
use crate::loom::sync::Arc;
use crate::task::raw::{self, Header, UNREGISTERED};
use crate::task::state::{State, CANCELLED, COMPLETE, REF_ONE};
use crate::task::JoinHandle;

/// Counters kept in plain cells on the hot path and published once a tick.
#[derive(Default)]
pub(crate) struct LocalStats {
    pub(crate) spawned: Cell<u64>,
    pub(crate) polled: Cell<u64>,
    pub(crate) local_wakes: Cell<u64>,
    pub(crate) remote_wakes: Cell<u64>,
    pub(crate) parks: Cell<u64>,
    pub(crate) ticks: Cell<u64>,
    pub(crate) spin_nanos: Cell<u64>,
    pub(crate) spin_hits: Cell<u64>,
    pub(crate) spin_misses: Cell<u64>,
    pub(crate) spin_preempted: Cell<u64>,
}

#[inline]
fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// See the module documentation.
pub(crate) struct Core {
    pub(crate) shared: Arc<WorkerShared>,
    run_queue: UnsafeCell<VecDeque<NonNull<Header>>>,
    tasks: UnsafeCell<Slab<NonNull<Header>>>,
    closing: Cell<bool>,
    pub(crate) stats: LocalStats,
    /// The runtime's workers, by index (empty in loom models: no batching).
    peers: Box<[Arc<WorkerShared>]>,
    /// Per peer, the wakes collected for it.
    outbox: UnsafeCell<Box<[Option<Box<Batch>>]>>,
    outbox_dirty: Cell<bool>,
    /// Batches received, kept for reuse (bounded). Boxed on purpose: a batch
    /// travels between workers as a pointer to its heap allocation.
    #[allow(clippy::vec_box)]
    spare: UnsafeCell<Vec<Box<Batch>>>,
}

/// Spare batches a worker keeps.
const SPARE_BATCHES: usize = 16;

impl Core {
    /// A core for `shared`, batching wakes for `peers` (the runtime's
    /// workers by index, `shared` among them; empty to never batch).
    pub(crate) fn new(shared: Arc<WorkerShared>, peers: Box<[Arc<WorkerShared>]>) -> Self {
        let outbox = peers.iter().map(|_| None).collect();
        Self {
            shared,
            run_queue: UnsafeCell::new(VecDeque::with_capacity(256)),
            tasks: UnsafeCell::new(Slab::with_capacity(256)),
            closing: Cell::new(false),
            stats: LocalStats::default(),
            peers,
            outbox: UnsafeCell::new(outbox),
            outbox_dirty: Cell::new(false),
            spare: UnsafeCell::new(Vec::new()),
        }
    }

    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    fn outbox(&self) -> &mut [Option<Box<Batch>>] {
        // SAFETY: as for `queue`.
        unsafe { &mut *self.outbox.get() }
    }

    #[allow(clippy::mut_from_ref, clippy::vec_box)]
    #[inline(always)]
    fn spare(&self) -> &mut Vec<Box<Batch>> {
        // SAFETY: as for `queue`.
        unsafe { &mut *self.spare.get() }
    }

    /// An empty batch: a spare, else one sent back home by a peer, else a
    /// new one (see `node.rs`, "Recycling").
    fn spare_batch(&self) -> Box<Batch> {
        let spare = self.spare();
        if let Some(batch) = spare.pop() {
            return batch;
        }
        for node in self.shared.spare_batches.take_all() {
            // SAFETY: the stack holds only empty batches, handed to us whole.
            spare.push(unsafe { Batch::from_node(node) });
        }
        spare.pop().unwrap_or_else(|| Batch::new(self.shared.index))
    }

    /// Keeps a drained batch as a spare, or sends it back to the worker
    /// that made it when we have spares enough.
    fn recycle(&self, batch: Box<Batch>) {
        let spare = self.spare();
        if spare.len() < SPARE_BATCHES {
            spare.push(batch);
            return;
        }
        if let Some(home) = self.peers.get(batch.home).filter(|_| batch.home != self.shared.index) {
            let node = batch.into_node();
            // SAFETY: the node is an empty batch we own; nobody sleeps on or
            // closes a `spare_batches` stack, so the push always queues.
            let pushed = unsafe { home.spare_batches.push(node) };
            debug_assert!(matches!(pushed, super::inbox::Push::Queued));
        }
    }

    /// The wake path for a task of another worker of this runtime, from
    /// this worker's thread: the task joins the batch for its worker.
    /// Returns `false` (nothing done) if the task belongs to another runtime;
    /// the caller takes the one-by-one remote path then.
    ///
    /// # Safety
    ///
    /// `ptr` is live and the caller holds a reference; with `consume` the
    /// reference is handed over, otherwise the caller keeps it.
    #[inline]
    pub(crate) unsafe fn schedule_for_peer(&self, ptr: NonNull<Header>, consume: bool) -> bool {
        // SAFETY: live per the contract.
        let h = unsafe { ptr.as_ref() };
        let dest = h.owner.index;
        match self.peers.get(dest) {
            Some(peer) if Arc::ptr_eq(peer, &h.owner) => {}
            _ => return false,
        }
        if !h.state.try_notify(usize::from(!consume)) {
            if consume {
                // SAFETY: the reference we were handed.
                unsafe { raw::release(ptr) };
            }
            return true;
        }
        // The inbox entry's reference now travels in the batch.
        let slot = &mut self.outbox()[dest];
        let batch = slot.get_or_insert_with(|| self.spare_batch());
        let full = batch.push(ptr);
        self.outbox_dirty.set(true);
        if full {
            self.flush_to(dest);
        }
        true
    }

    /// Sends every collected wake to its worker.
    #[inline]
    pub(crate) fn flush_outbox(&self) {
        if !self.outbox_dirty.replace(false) {
            return;
        }
        for dest in 0..self.peers.len() {
            self.flush_to(dest);
        }
    }

    fn flush_to(&self, dest: usize) {
        let Some(mut batch) = self.outbox()[dest].take() else {
            return;
        };
        let peer = &self.peers[dest];
        match batch.len() {
            0 => self.outbox()[dest] = Some(batch),
            1 => {
                // One wake: send the task itself and keep the batch.
                let ptr = batch.drain().next().expect("one task");
                self.outbox()[dest] = Some(batch);
                // SAFETY: NOTIFIED is ours and the batch held the entry's
                // reference, which the push hands over.
                match unsafe { peer.inbox.push(Header::as_node(ptr)) } {
                    Push::Queued => {}
                    Push::QueuedWake => peer.unpark(),
                    // SAFETY: the entry's reference came back to us.
                    Push::Closed => unsafe { raw::release(ptr) },
                }
            }
            _ => {
                let node = batch.into_node();
                // SAFETY: a batch we own, in no inbox; `peer` (held by our
                // peers list) outlives the call.
                match unsafe { peer.inbox.push(node) } {
                    Push::Queued => {}
                    Push::QueuedWake => peer.unpark(),
                    Push::Closed => {
                        // SAFETY: the push gave the batch back.
                        let mut batch = unsafe { Batch::from_node(node) };
                        for ptr in batch.drain() {
                            // SAFETY: each entry's reference is ours again.
                            unsafe { raw::release(ptr) };
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    fn queue(&self) -> &mut VecDeque<NonNull<Header>> {
        // SAFETY: owner thread only, and no caller holds the borrow across
        // anything that could borrow it again (module invariants).
        unsafe { &mut *self.run_queue.get() }
    }

    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    fn slab(&self) -> &mut Slab<NonNull<Header>> {
        // SAFETY: as for `queue`.
        unsafe { &mut *self.tasks.get() }
    }

    /// Whether `header` is one of this worker's tasks.
    #[inline(always)]
    pub(crate) fn owns(&self, header: &Header) -> bool {
        Arc::ptr_eq(&header.owner, &self.shared)
    }

    /// Tasks alive on this worker.
    pub(crate) fn live_tasks(&self) -> usize {
        self.slab().len()
    }

    /// Whether the run queue has work.
    #[inline]
    pub(crate) fn has_runnable(&self) -> bool {
        !self.queue().is_empty()
    }

    /// The local wake path: push unless queued or complete.
    ///
    /// # Safety
    ///
    /// `ptr` is a live task of this worker and we are on its thread.
    #[inline(always)]
    pub(crate) unsafe fn schedule_local(&self, ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        if unsafe { self.make_runnable(ptr) } {
            bump(&self.stats.local_wakes);
        }
    }

    /// Pushes the task unless it is queued or complete; returns whether it
    /// pushed.
    ///
    /// # Safety
    ///
    /// As for [`schedule_local`](Self::schedule_local).
    #[inline(always)]
    unsafe fn make_runnable(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: per the contract.
        let h = unsafe { ptr.as_ref() };
        // COMPLETE is only ever set on this thread: a relaxed load sees it.
        if h.queued.get() || h.state.load(Ordering::Relaxed) & COMPLETE != 0 {
            return false;
        }
        h.queued.set(true);
        self.queue().push_back(ptr);
        true
    }

    /// Spawns a future on this worker. Gives the future back if the worker
    /// is shutting down.
    pub(crate) fn spawn_local<F: Future + 'static>(&self, future: F) -> Result<JoinHandle<F::Output>, F> {
        if self.closing.get() {
            return Err(future);
        }
        let ptr = raw::allocate(future, self.shared.clone(), State::new_local());
        self.register(ptr);
        // SAFETY: the join reference of the fresh task, of output `F::Output`.
        Ok(unsafe { JoinHandle::from_raw(ptr) })
    }

    /// Puts a new task in the slab and the run queue.
    fn register(&self, ptr: NonNull<Header>) {
        // SAFETY: a live task of this worker, on its thread.
        let h = unsafe { ptr.as_ref() };
        h.key.set(self.slab().insert(ptr));
        h.queued.set(true);
        self.queue().push_back(ptr);
        bump(&self.stats.spawned);
    }

    /// Takes what other threads queued: new tasks and wakes. Returns how
    /// many nodes (tasks or batches) it took.
    pub(crate) fn drain_inbox(&self) -> usize {
        let mut n = 0;
        for node in self.shared.inbox.take_all() {
            // SAFETY: a node from our inbox.
            unsafe { self.accept_node(node) };
            n += 1;
        }
        n
    }

    /// # Safety
    ///
    /// `node` was taken from this worker's inbox.
    unsafe fn accept_node(&self, node: NonNull<Node>) {
        // SAFETY: inbox nodes are live until processed.
        match unsafe { node.as_ref() }.kind {
            // SAFETY: a task node, with its entry's reference.
            NodeKind::Task => unsafe { self.accept(Header::from_node(node)) },
            NodeKind::Batch => {
                // SAFETY: a batch node is owned by whoever took it.
                let mut batch = unsafe { Batch::from_node(node) };
                batch.prefetch();
                for ptr in batch.drain() {
                    // SAFETY: each entry is one of our tasks with its reference.
                    unsafe { self.accept(ptr) };
                }
                self.recycle(batch);
            }
        }
    }

    /// # Safety
    ///
    /// `ptr` was taken from this worker's inbox (with its entry's reference).
    unsafe fn accept(&self, ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let h = unsafe { ptr.as_ref() };
        if h.key.get() == UNREGISTERED {
            h.state.unnotify();
            self.register(ptr);
            return;
        }
        bump(&self.stats.remote_wakes);
        let prev = h.state.unnotify_and_release();
        if prev >> REF_ONE.trailing_zeros() == 1 {
            // Ours was the last reference (the task is complete and everyone
            // else let go).
            // SAFETY: nobody else can reach it.
            unsafe { (h.vtable.dealloc)(ptr) };
        } else if prev & COMPLETE == 0 {
            // The worker's own reference keeps it alive (not complete).
            // SAFETY: live task of this worker, on its thread.
            unsafe { self.make_runnable(ptr) };
        }
    }

    /// Polls up to `budget` tasks; returns how many ran.
    #[inline]
    pub(crate) fn run(&self, budget: usize) -> usize {
        let mut n = 0;
        while n < budget {
            let Some(ptr) = self.queue().pop_front() else { break };
            // SAFETY: a queued task is live (worker reference) and ours.
            unsafe { self.run_task(ptr) };
            n += 1;
        }
        self.flush_outbox();
        n
    }

    /// # Safety
    ///
    /// `ptr` was just popped from this worker's run queue.
    #[inline]
    unsafe fn run_task(&self, ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let h = unsafe { ptr.as_ref() };
        h.queued.set(false);
        let s = h.state.load(Ordering::Acquire);
        if s & COMPLETE != 0 {
            // It completed while queued: the worker's reference was kept for
            // this moment.
            // SAFETY: the worker's reference.
            unsafe { raw::release(ptr) };
            return;
        }
        bump(&self.stats.polled);
        // SAFETY: owner, not complete.
        let done = unsafe { (h.vtable.poll)(ptr, s & CANCELLED != 0) };
        if done {
            self.slab().remove(h.key.get());
            if !h.queued.get() {
                // SAFETY: the worker's reference.
                unsafe { raw::release(ptr) };
            }
        }
    }

    /// Refuses new work, cancels every task (dropping its future here, on
    /// its own worker) and closes the inbox. Returns how many were cancelled.
    pub(crate) fn shutdown(&self) -> usize {
        self.closing.set(true);
        self.flush_outbox();
        for node in self.shared.inbox.close() {
            // SAFETY: taken from our inbox.
            unsafe { self.accept_node(node) };
        }
        let tasks = std::mem::take(self.slab());
        let cancelled = tasks.len();
        for (_, ptr) in tasks {
            // SAFETY: a registered task is live (worker reference) and not
            // complete; we are its owner.
            unsafe {
                let h = ptr.as_ref();
                (h.vtable.poll)(ptr, true);
                if !h.queued.get() {
                    raw::release(ptr);
                }
            }
        }
        while let Some(ptr) = self.queue().pop_front() {
            // SAFETY: every queued task is complete now and holds the
            // worker's reference.
            unsafe {
                ptr.as_ref().queued.set(false);
                debug_assert!(ptr.as_ref().state.load(Ordering::Relaxed) & COMPLETE != 0);
                raw::release(ptr);
            }
        }
        // Dropping futures may have woken tasks of other workers.
        self.flush_outbox();
        self.publish_stats();
        cancelled
    }

    /// Copies the local counters to the shared metrics.
    pub(crate) fn publish_stats(&self) {
        let m = &self.shared.metrics;
        let s = &self.stats;
        m.spawned.set(s.spawned.get());
        m.polled.set(s.polled.get());
        m.local_wakes.set(s.local_wakes.get());
        m.remote_wakes.set(s.remote_wakes.get());
        m.parks.set(s.parks.get());
        m.ticks.set(s.ticks.get());
        m.spin_nanos.set(s.spin_nanos.get());
        m.spin_hits.set(s.spin_hits.get());
        m.spin_misses.set(s.spin_misses.get());
        m.spin_preempted.set(s.spin_preempted.get());
        m.live_tasks.set(self.live_tasks() as u64);
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if !self.closing.get() {
            self.shutdown();
        } else {
            // Wakes queued after shutdown (by a stop hook, say) still go out.
            self.flush_outbox();
        }
    }
}
