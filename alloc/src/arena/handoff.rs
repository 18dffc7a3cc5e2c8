//! A block's way out of its arena and back, from whichever thread holds it:
//! allocation on the current thread ([`alloc_block`]), the drop of its last
//! handle ([`release_block`]: its reuse slot, the local free list, or a
//! batch home), and the tests a buffer makes of where it belongs
//! ([`is_home`], [`arena_of`]). The arena's own state and its invariants are
//! in the parent module.

use super::*;

/// The last handle on a block is gone: park it in its slot, put it on the
/// local free list, or send it home.
///
/// # Safety
///
/// No handle refers to `meta` any more and it is in no list.
pub(crate) unsafe fn release_block(meta: NonNull<BlockMeta>) {
    let m = meta.as_ptr();
    // SAFETY: the caller owns the idle block.
    let (class, slot) = unsafe { ((*m).class, (*m).slot.get()) };
    if class == HEAP_CLASS {
        // `attach_slot` and `park` refuse heap blocks.
        debug_assert!(slot.is_null(), "a heap block in a reuse slot");
        // SAFETY: a heap block with no handle.
        unsafe { block::free_heap_block(meta) };
        return;
    }
    // SAFETY: an arena block: its chunk header is live while the block is out.
    let arena = unsafe { (*block::chunk_of(m)).arena };
    let done = with_thread(|ts| {
        if ts.arena_ptr() == arena {
            if !slot.is_null() {
                // SAFETY: we own the idle block.
                unsafe { detach_slot(m, slot) };
            }
            // SAFETY: owner thread, idle block of this arena.
            unsafe { (*arena).free_local(m) };
            return;
        }
        if !slot.is_null() {
            // SAFETY: we own the block; `arena` is alive while it is out.
            if unsafe { SlotShared::park_from_drop(slot, m, arena) } {
                ts.arena().stats.slot_parks.add(1);
                return;
            }
            // SAFETY: the slot is full or closed: the block leaves it.
            unsafe { detach_slot(m, slot) };
        }
        // SAFETY: batches are ours and not borrowed elsewhere.
        let batches = unsafe { &mut *ts.batches.get() };
        batches.push(arena, m, &ts.arena().stats);
    });
    if done.is_none() {
        // Thread exit: no batches any more; go home one block at a time.
        if !slot.is_null() {
            // SAFETY: as above.
            if unsafe { SlotShared::park_from_drop(slot, m, arena) } {
                return;
            }
            // SAFETY: as above.
            unsafe { detach_slot(m, slot) };
        }
        // SAFETY: we own the idle block, which keeps its arena alive.
        unsafe { ArenaInner::send_home(arena, m, m, 1) };
    }
}

/// Clears an idle block's slot field and drops the count it held.
///
/// # Safety
///
/// The caller owns the idle block `m`, whose slot field is `slot` (non-null).
#[inline]
pub(crate) unsafe fn detach_slot(m: *mut BlockMeta, slot: *const SlotShared) {
    // SAFETY: per the contract the field and its count are ours.
    unsafe {
        (*m).slot.set(ptr::null());
        SlotShared::release_ref(slot);
    }
}

/// Allocates a block of at least `size` bytes from the current thread's arena
/// (or the global allocator when it cannot serve it).
#[inline]
pub(crate) fn alloc_block(size: usize) -> NonNull<BlockMeta> {
    alloc_block_with(size, |_, _| {})
}

/// [`alloc_block`] for a buffer lent to the kernel: also counts it in the
/// arena's ring statistics.
#[inline]
pub(crate) fn alloc_block_for_kernel(size: usize) -> NonNull<BlockMeta> {
    alloc_block_with(size, ArenaInner::lend)
}

/// The body of both allocation entry points; `then` sees the arena and the
/// fresh block (not called for the thread-exit fallback).
#[inline(always)]
fn alloc_block_with(size: usize, then: impl FnOnce(&ArenaInner, NonNull<BlockMeta>)) -> NonNull<BlockMeta> {
    with_thread(|ts| {
        let arena = ts.arena();
        if arena.flush_on_alloc() {
            // SAFETY: batches are ours and not borrowed elsewhere.
            let batches = unsafe { &mut *ts.batches.get() };
            if batches.pending() != 0 {
                batches.flush_all(&arena.stats);
            }
        }
        let meta = arena.alloc(size);
        then(arena, meta);
        meta
    })
    .unwrap_or_else(|| block::heap_block(size))
}

/// Counts, in the current thread's arena, that the kernel found its
/// provided-buffer ring empty (an io_uring receive failed with `ENOBUFS`):
/// the [`ArenaStats::ring_dry`] counter. Does nothing on a thread that has
/// no arena (it does not create one) or that is exiting.
///
/// # Examples
///
/// ```
/// use roost_alloc::{Arena, ArenaConfig};
///
/// let monitor = Arena::install(ArenaConfig::new()).unwrap();
/// roost_alloc::note_ring_dry();
/// assert_eq!(monitor.stats().ring_dry, 1);
/// ```
pub fn note_ring_dry() {
    let _ = THREAD.try_with(|ts| {
        let arena = ts.arena_ptr();
        if !arena.is_null() {
            // SAFETY: the installed arena is alive while the thread is.
            let arena = unsafe { &*arena };
            arena.stats.ring_dry.add(1);
        }
    });
}

/// Whether the current thread is the home of `meta`'s block.
#[inline]
pub(crate) fn is_home(meta: NonNull<BlockMeta>) -> bool {
    // SAFETY: a handle's meta is live.
    if unsafe { meta.as_ref().class } == HEAP_CLASS {
        return false;
    }
    // SAFETY: arena block, chunk live while the block is out.
    let arena = unsafe { (*block::chunk_of(meta.as_ptr())).arena };
    with_thread(|ts| ts.arena_ptr() == arena).unwrap_or(false)
}

/// The arena owning an arena block (null for heap blocks).
///
/// # Safety
///
/// `meta` is live.
pub(crate) unsafe fn arena_of(meta: *const BlockMeta) -> *const ArenaInner {
    // SAFETY: per the contract.
    unsafe {
        if (*meta).class == HEAP_CLASS {
            ptr::null()
        } else {
            (*block::chunk_of(meta)).arena
        }
    }
}
