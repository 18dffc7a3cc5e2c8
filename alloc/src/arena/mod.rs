//! The per-thread arena: local free lists, the return list, abandonment.
//! How a block leaves its arena and comes back from any thread (allocation,
//! the last handle's drop, the home test) is in `handoff.rs`.
//!
//! # Ownership
//!
//! An [`ArenaInner`] is a heap object with two halves:
//!
//! - the *local* half (`local`: free lists, chunk list, outstanding count) is
//!   touched only by the thread the arena is installed on, through short-lived
//!   `&mut` borrows that never nest;
//! - the *shared* half (`returns`, `abandoned_outstanding`)
//!   is atomics that any thread may touch while it owns a block of the arena.
//!
//! # Invariants
//!
//! - Every block belongs to one arena for its whole life (its chunk header
//!   says which), and is in exactly one place: a buffer (held), a reuse slot
//!   (parked), a freeing thread's batch or the return list (returning), or a
//!   free list (free).
//! - The arena's memory stays allocated while any block is outside a free
//!   list. A thread that touches the arena from outside (a returner, a parker)
//!   does so only while it still owns a block, and finishes touching the arena
//!   before the atomic operation that gives its last block away.
//! - The return list head is tagged [`ABANDONED`] once the owner has exited.
//!   From then on a returner does not push: it subtracts its blocks from
//!   `abandoned_outstanding`, and whichever thread brings that count to zero
//!   (the owner at exit, or the last returner) frees the arena.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::AtomicU64;

use crate::block::{self, BlockMeta, CHUNK_SIZE, CLASS_COUNT, CLASS_SIZES, HEAP_CLASS};
pub use crate::config::{ArenaConfig, DrainNotifier};
use crate::loom::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};
use crate::remote::ReturnBatches;
use crate::slot::SlotShared;
use crate::stats::{ArenaStats, StatsCells};

mod handoff;
pub use handoff::note_ring_dry;
pub(crate) use handoff::{alloc_block, alloc_block_for_kernel, arena_of, detach_slot, is_home, release_block};

/// Tag stored in the return-list head once the owner thread has exited.
pub(crate) const ABANDONED: *mut BlockMeta = ptr::without_provenance_mut(1);

/// Why [`Arena::install`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallError {
    /// This thread already has an arena with memory in it.
    AlreadyInstalled,
    /// The thread is exiting: its thread-local storage is gone.
    ThreadExiting,
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::AlreadyInstalled => f.write_str("this thread already has an arena in use"),
            InstallError::ThreadExiting => f.write_str("this thread is exiting"),
        }
    }
}

impl std::error::Error for InstallError {}

/// Entry points for the current thread's arena.
///
/// Every thread that allocates gets an arena lazily, with the default
/// configuration; a runtime worker installs one explicitly with its own.
#[derive(Debug)]
pub struct Arena {
    _private: (),
}

/// A handle for reading an arena's statistics from any thread.
///
/// It stays valid after the arena's thread has exited.
#[derive(Clone)]
pub struct ArenaMonitor {
    stats: std::sync::Arc<StatsCells>,
}

impl fmt::Debug for ArenaMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaMonitor").field("id", &self.stats.id).finish()
    }
}

impl ArenaMonitor {
    /// A snapshot of the arena's counters.
    pub fn stats(&self) -> ArenaStats {
        self.stats.snapshot()
    }

    /// The arena's process-unique number.
    pub fn id(&self) -> u64 {
        self.stats.id
    }
}

impl Arena {
    /// Installs an arena with `config` on the current thread.
    ///
    /// # Errors
    ///
    /// [`InstallError::AlreadyInstalled`] if the thread already has an arena
    /// that holds memory (a lazily created arena that never allocated is
    /// replaced), [`InstallError::ThreadExiting`] during thread exit.
    pub fn install(config: ArenaConfig) -> Result<ArenaMonitor, InstallError> {
        THREAD
            .try_with(|ts| {
                let current = ts.arena.get();
                if !current.is_null() {
                    // SAFETY: the installed arena is alive while the thread is.
                    let unused = unsafe { (*current).is_unused() };
                    if !unused {
                        return Err(InstallError::AlreadyInstalled);
                    }
                    ts.arena.set(ptr::null());
                    // SAFETY: the arena has no chunk and no block out, and we
                    // just unhooked it from the thread.
                    unsafe { ArenaInner::destroy(current) };
                }
                let arena = ArenaInner::create(config);
                ts.arena.set(arena);
                // SAFETY: just created, owned by this thread.
                Ok(unsafe { (*arena).monitor() })
            })
            .unwrap_or(Err(InstallError::ThreadExiting))
    }

    /// The current thread's arena, created with the default configuration if
    /// it has none.
    ///
    /// # Panics
    ///
    /// Panics if called while the thread's thread-local storage is being
    /// destroyed.
    pub fn current() -> ArenaMonitor {
        with_current(|arena| arena.monitor()).expect("roost_alloc::Arena::current during thread exit")
    }
}

/// Sends this thread's batched returns home now.
pub fn flush_returns() {
    let _ = THREAD.try_with(|ts| ts.flush_batches());
}

/// Moves the blocks other threads returned to the current thread's arena onto
/// its free lists. Returns how many came back.
pub fn drain_returns() -> usize {
    THREAD
        .try_with(|ts| {
            let arena = ts.arena.get();
            if arena.is_null() {
                0
            } else {
                // SAFETY: the installed arena is alive while the thread is.
                unsafe { (*arena).drain() }
            }
        })
        .unwrap_or(0)
}

/// One event-loop tick's worth of upkeep: flush this thread's return batches
/// and drain its arena's return list. Returns the blocks drained.
pub fn maintain() -> usize {
    flush_returns();
    drain_returns()
}

/// Per-thread state: the installed arena and the outgoing return batches.
pub(crate) struct ThreadState {
    arena: Cell<*const ArenaInner>,
    pub(crate) batches: UnsafeCell<ReturnBatches>,
}

impl ThreadState {
    fn new() -> Self {
        Self {
            arena: Cell::new(ptr::null()),
            batches: UnsafeCell::new(ReturnBatches::new()),
        }
    }

    /// The thread's arena, created on first use.
    #[inline]
    pub(crate) fn arena(&self) -> &ArenaInner {
        let mut arena = self.arena.get();
        if arena.is_null() {
            arena = ArenaInner::create(ArenaConfig::new());
            self.arena.set(arena);
        }
        // SAFETY: the installed arena is freed only by this thread's exit.
        unsafe { &*arena }
    }

    #[inline]
    pub(crate) fn arena_ptr(&self) -> *const ArenaInner {
        self.arena.get()
    }

    pub(crate) fn flush_batches(&self) {
        // SAFETY: batches are touched only by this thread, and never while
        // another borrow of them is live (no callback runs inside).
        let batches = unsafe { &mut *self.batches.get() };
        if batches.pending() != 0 {
            batches.flush_all(&self.arena().stats);
        }
    }
}

impl ThreadState {
    /// Thread exit: send the batches home, then abandon (or free) the arena.
    fn exit(&self) {
        let arena = self.arena.get();
        if !arena.is_null() {
            // SAFETY: batches are ours and not borrowed elsewhere.
            let batches = unsafe { &mut *self.batches.get() };
            // SAFETY: the arena is still installed and alive.
            batches.flush_all(unsafe { &(*arena).stats });
            self.arena.set(ptr::null());
            // SAFETY: the owner thread is exiting; nothing else uses the local half.
            unsafe { ArenaInner::abandon(arena) };
        }
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        self.exit();
    }
}

/// Runs the thread-exit path now (loom models: see `loom_tests`).
#[cfg(all(test, loom))]
pub(crate) fn exit_thread() {
    let _ = THREAD.try_with(|ts| ts.exit());
}

crate::loom::thread_local! {
    static THREAD: ThreadState = ThreadState::new();
}

/// Runs `f` with this thread's state, or returns `None` during thread exit.
#[inline]
pub(crate) fn with_thread<R>(f: impl FnOnce(&ThreadState) -> R) -> Option<R> {
    THREAD.try_with(f).ok()
}

/// Runs `f` with this thread's arena (created on first use).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&ArenaInner) -> R) -> Option<R> {
    with_thread(|ts| f(ts.arena()))
}

static NEXT_ARENA_ID: AtomicU64 = AtomicU64::new(1);

struct LocalState {
    free: [*mut BlockMeta; CLASS_COUNT],
    chunks: Vec<NonNull<u8>>,
    /// Blocks handed out and not yet back on a free list.
    outstanding: usize,
    chunk_bytes: usize,
}

/// One arena. See the module documentation.
pub(crate) struct ArenaInner {
    /// This arena's own address as `Box::into_raw` gave it, with the
    /// provenance needed to free it; chunk headers store this pointer.
    this: *const ArenaInner,
    returns: AtomicPtr<BlockMeta>,
    abandoned_outstanding: AtomicIsize,
    pub(crate) stats: std::sync::Arc<StatsCells>,
    config: ArenaConfig,
    local: UnsafeCell<LocalState>,
}

impl ArenaInner {
    fn create(config: ArenaConfig) -> *const ArenaInner {
        let stats = StatsCells {
            id: NEXT_ARENA_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..StatsCells::default()
        };
        let raw = Box::into_raw(Box::new(ArenaInner {
            this: ptr::null(),
            returns: AtomicPtr::new(ptr::null_mut()),
            abandoned_outstanding: AtomicIsize::new(0),
            stats: std::sync::Arc::new(stats),
            config,
            local: UnsafeCell::new(LocalState {
                free: [ptr::null_mut(); CLASS_COUNT],
                chunks: Vec::new(),
                outstanding: 0,
                chunk_bytes: 0,
            }),
        }));
        // SAFETY: fresh and not shared yet.
        unsafe { (*raw).this = raw };
        raw
    }

    pub(crate) fn monitor(&self) -> ArenaMonitor {
        ArenaMonitor {
            stats: self.stats.clone(),
        }
    }

    #[allow(clippy::mut_from_ref)]
    #[inline]
    fn local(&self) -> &mut LocalState {
        // SAFETY: only the owner thread calls `local`, and every caller drops
        // the borrow before calling anything that could borrow it again.
        unsafe { &mut *self.local.get() }
    }

    fn is_unused(&self) -> bool {
        let local = self.local();
        local.chunks.is_empty() && local.outstanding == 0
    }

    /// Whether this arena's pending batches must be flushed before allocating.
    #[inline]
    pub(crate) fn flush_on_alloc(&self) -> bool {
        self.config.flush_on_alloc
    }

    /// Takes a block that fits `size` bytes. Its `refs` is 1, its slot null.
    #[inline]
    pub(crate) fn alloc(&self, size: usize) -> NonNull<BlockMeta> {
        let Some(class) = block::class_of(size) else {
            self.stats.fallback_large.add(1);
            self.stats.fallback_bytes.add(size as u64);
            return block::heap_block(size);
        };
        let mut meta = self.local().free[class];
        if meta.is_null() {
            meta = self.refill(class);
            if meta.is_null() {
                self.stats.fallback_limit.add(1);
                self.stats.fallback_bytes.add(size as u64);
                return block::heap_block(size);
            }
        }
        // SAFETY: `meta` is the head of our free list: a live block meta that
        // this thread owns exclusively.
        unsafe {
            let local = self.local();
            local.free[class] = (*meta).next.get();
            local.outstanding += 1;
            (*meta).refs.store(1, Ordering::Relaxed);
            let stats = &*self.stats;
            stats.allocations.add(1);
            stats.outstanding_bytes.add(CLASS_SIZES[class] as u64);
            stats.outstanding_blocks.add(1);
            stats.in_use_high_water.raise_to(stats.outstanding_bytes.get());
            NonNull::new_unchecked(meta)
        }
    }

    /// Counts a block that [`alloc`](Self::alloc) just handed out as lent to
    /// the kernel (a provided-buffer ring); heap blocks count nothing.
    ///
    /// Reading the flag here, after `alloc`, keeps `alloc`'s fast path as it
    /// was: the caller owns the fresh block exclusively (`refs == 1`, no
    /// handle made yet), and the flag was last written by this thread.
    #[inline]
    fn lend(&self, meta: NonNull<BlockMeta>) {
        // SAFETY: a fresh block from `alloc`, owned by the caller alone.
        let meta = unsafe { meta.as_ref() };
        if meta.class == HEAP_CLASS {
            return;
        }
        self.stats.ring_provided.add(1);
        if meta.came_home_remote.get() {
            self.stats.ring_reprovided_remote.add(1);
        }
    }

    /// The free list of `class` is empty: drain returns, then carve a chunk.
    /// Returns the new head, or null if the memory limit forbids a chunk.
    #[cold]
    fn refill(&self, class: usize) -> *mut BlockMeta {
        self.drain();
        let head = self.local().free[class];
        if !head.is_null() {
            return head;
        }
        let local = self.local();
        if local.chunk_bytes + CHUNK_SIZE > self.config.memory_limit {
            return ptr::null_mut();
        }
        let prefault = local.chunks.len() < self.config.prefault_chunks;
        let Some(chunk) = block::new_chunk(self.this, class, prefault) else {
            return ptr::null_mut();
        };
        local.chunks.push(chunk.base);
        local.chunk_bytes += CHUNK_SIZE;
        // SAFETY: the new chunk's metas are ours; link the last to the old head.
        unsafe { (*chunk.last).next.set(local.free[class]) };
        local.free[class] = chunk.first;
        let stats = &*self.stats;
        stats.chunk_bytes.add(CHUNK_SIZE as u64);
        stats.chunk_bytes_high_water.raise_to(stats.chunk_bytes.get());
        stats.block_bytes.add((chunk.nblocks * CLASS_SIZES[class]) as u64);
        chunk.first
    }

    /// Puts a block freed on the owner thread back on its free list.
    ///
    /// # Safety
    ///
    /// Called on the owner thread with a block of this arena that has no
    /// handle, no slot and is in no list.
    #[inline]
    pub(crate) unsafe fn free_local(&self, meta: *mut BlockMeta) {
        // SAFETY: per the contract the meta is ours and idle.
        let class = unsafe { (*meta).class } as usize;
        let local = self.local();
        // SAFETY: as above. The flag is written here by the owner thread
        // while it owns the idle block exclusively (see `block.rs`); a store
        // to the cache line that the `next` store dirties anyway.
        unsafe {
            (*meta).next.set(local.free[class]);
            (*meta).came_home_remote.set(false);
        }
        local.free[class] = meta;
        local.outstanding -= 1;
        self.stats.local_frees.add(1);
        self.stats.outstanding_bytes.sub(CLASS_SIZES[class] as u64);
        self.stats.outstanding_blocks.sub(1);
    }

    /// Moves a list of returned blocks onto the free lists; returns its length.
    ///
    /// # Safety
    ///
    /// Owner thread only; `head` is a list this thread took from `returns`.
    unsafe fn take_list(&self, mut head: *mut BlockMeta) -> usize {
        let mut n = 0;
        let mut bytes = 0;
        let local = self.local();
        while !head.is_null() {
            // SAFETY: the acquire swap that gave us the list made the links
            // written by the returners visible; each block is now ours (the
            // owner thread's), so writing its flag races with nobody.
            unsafe {
                let next = (*head).next.get();
                let class = (*head).class as usize;
                debug_assert_ne!((*head).class, HEAP_CLASS);
                (*head).came_home_remote.set(true);
                (*head).next.set(local.free[class]);
                local.free[class] = head;
                bytes += CLASS_SIZES[class];
                head = next;
            }
            n += 1;
        }
        local.outstanding -= n;
        self.stats.outstanding_bytes.sub(bytes as u64);
        self.stats.outstanding_blocks.sub(n as u64);
        n
    }

    /// Drains the return list; returns the number of blocks that came home.
    pub(crate) fn drain(&self) -> usize {
        if self.returns.load(Ordering::Relaxed).is_null() {
            self.renotify_if_returns_in_flight(
                self.stats.return_list_blocks.load(std::sync::atomic::Ordering::Relaxed),
            );
            return 0;
        }
        let head = self.returns.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: we are the owner (callers reach the arena through the
        // thread's own state) and took the whole list.
        let n = unsafe { self.take_list(head) };
        let before = self
            .stats
            .return_list_blocks
            .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
        self.stats.returns_received.add(n as u64);
        self.stats.return_drains.add(1);
        self.renotify_if_returns_in_flight(before - n);
        n
    }

    /// A returner notifies only when its blocks make the count cross half
    /// the cap. One that counted its blocks before this drain but pushes
    /// them after it saw the count above half already and will not notify:
    /// if the count is still at half the cap or more, blocks are on their
    /// way that no notification announces, so the owner notifies itself
    /// (its event loop then runs another tick instead of sleeping) until
    /// they have landed (found by loom_returns::loom_drain_notifier_*).
    fn renotify_if_returns_in_flight(&self, counted: usize) {
        if counted >= self.config.return_cap / 2 {
            if let Some(notify) = &self.config.drain_notifier {
                notify();
            }
        }
    }

    /// Sends a list of this arena's blocks home from another thread.
    ///
    /// # Safety
    ///
    /// `arena` is alive (the caller owns the `n` blocks `head..=tail`, linked
    /// through `next`, which keeps it so); the blocks have no handle and no
    /// slot. After the call the caller must not touch `arena` again.
    pub(crate) unsafe fn send_home(arena: *const ArenaInner, head: *mut BlockMeta, tail: *mut BlockMeta, n: usize) {
        // SAFETY: alive per the contract until the push below succeeds.
        let this = unsafe { &*arena };
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        let before = this.stats.return_list_blocks.fetch_add(n, relaxed);
        let cap = this.config.return_cap;
        if before + n > cap {
            this.stats.returns_over_cap.fetch_add(n as u64, relaxed);
        }
        // Whether to notify is decided here, on the count alone, and the
        // notifier runs after the push (found by
        // loom_returns::loom_drain_notifier_*):
        // - run before the push, it could wake the owner, which would drain
        //   a list without our blocks yet and go back to sleep with them
        //   pending (the notifier is cloned because `this` may be freed
        //   once the push is done);
        // - a `drain_wanted` flag, set here and cleared by the owner's
        //   drain, used to dedup notifications; a relaxed swap here could
        //   read a `true` older than the owner's clear and stay silent.
        //   The count needs no flag: all its updates are read-modify-writes
        //   of one atomic, so exactly one returner sees each rise across
        //   half the cap, and the owner's drain handles returns counted
        //   before it and pushed after (`renotify_if_returns_in_flight`).
        let notify = if before < cap / 2 && before + n >= cap / 2 {
            this.config.drain_notifier.clone()
        } else {
            None
        };
        let mut current = this.returns.load(Ordering::Relaxed);
        loop {
            if current == ABANDONED {
                this.stats.return_list_blocks.fetch_sub(n, relaxed);
                // SAFETY: the owner has exited; we still own our blocks.
                unsafe { Self::late_return(arena, n) };
                return;
            }
            // SAFETY: the tail is ours until the push below publishes it.
            unsafe { (*tail).next.set(current) };
            match this
                .returns
                .compare_exchange_weak(current, head, Ordering::Release, Ordering::Relaxed)
            {
                // From here on the owner may drain, abandon and free the
                // arena: do not touch `this` again.
                Ok(_) => {
                    if let Some(notify) = notify {
                        notify();
                    }
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Blocks came back to an abandoned arena: count them off, and free the
    /// arena if they were the last.
    ///
    /// # Safety
    ///
    /// The arena is abandoned and the caller owned `n` of its blocks.
    unsafe fn late_return(arena: *const ArenaInner, n: usize) {
        // SAFETY: our blocks keep the arena alive until the decrement.
        let prev = unsafe { (*arena).abandoned_outstanding.fetch_sub(n as isize, Ordering::AcqRel) };
        if prev - n as isize == 0 {
            // SAFETY: every block is back; no other thread can reach the arena.
            unsafe { Self::destroy(arena) };
        }
    }

    /// The owner thread exits: take back what has come home, then free the
    /// arena now or leave it for the last late return.
    ///
    /// # Safety
    ///
    /// Called once, by the owner thread, after it stopped using the arena.
    unsafe fn abandon(arena: *const ArenaInner) {
        // SAFETY: alive: only this function or a late return after it frees it.
        let this = unsafe { &*arena };
        let head = this.returns.swap(ABANDONED, Ordering::Acquire);
        // SAFETY: owner thread, whole list taken.
        let n = unsafe { this.take_list(head) };
        this.stats
            .return_list_blocks
            .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
        this.stats.returns_received.add(n as u64);
        let outstanding = this.local().outstanding as isize;
        if outstanding == 0 {
            // SAFETY: nothing is out, and the tag stops any future push.
            unsafe { Self::destroy(arena) };
            return;
        }
        this.stats.abandoned.store(true, std::sync::atomic::Ordering::Relaxed);
        let prev = this.abandoned_outstanding.fetch_add(outstanding, Ordering::AcqRel);
        if prev + outstanding == 0 {
            // SAFETY: the late returns that raced with us brought every block back.
            unsafe { Self::destroy(arena) };
        }
    }

    /// Frees the arena and all its chunks.
    ///
    /// # Safety
    ///
    /// No block of the arena is referenced and no thread can reach it.
    unsafe fn destroy(arena: *const ArenaInner) {
        // SAFETY: per the contract we are the last user; it came from Box::into_raw.
        let mut this = unsafe { Box::from_raw(arena.cast_mut()) };
        for chunk in this.local.get_mut().chunks.drain(..) {
            // SAFETY: every block of the chunk is back; nothing refers to it.
            unsafe { block::free_chunk(chunk) };
        }
        this.stats.released.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records that a block of `class` is about to be parked in a slot.
    pub(crate) fn note_parked(&self, class: u8) {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.stats.parked_bytes.fetch_add(CLASS_SIZES[class as usize], relaxed);
        self.stats.parked_blocks.fetch_add(1, relaxed);
    }

    /// Undoes [`note_parked`](Self::note_parked) for a block leaving a slot.
    pub(crate) fn note_unparked(&self, class: u8) {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.stats.parked_bytes.fetch_sub(CLASS_SIZES[class as usize], relaxed);
        self.stats.parked_blocks.fetch_sub(1, relaxed);
    }
}
