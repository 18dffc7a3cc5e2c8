//! Arena statistics: counters owned by the arena's thread, readable anywhere.
//!
//! Each counter is written by exactly one thread (the arena's owner) with a
//! relaxed load followed by a relaxed store: on every mainstream target that
//! is a plain load and store, no locked read-modify-write, so the hot path pays
//! nothing for being observable. Readers on other threads see a recent value.
//!
//! The counters that other threads must move (bytes parked in reuse slots, and
//! returns that arrive while the return list is over its cap) use real atomic
//! read-modify-writes; they sit on the cross-core path only.
//!
//! These are `core` atomics on purpose, not the loom shim's: nothing
//! synchronises through a statistic.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A counter written by one thread only.
#[derive(Default)]
pub(crate) struct OwnedCounter(AtomicU64);

impl OwnedCounter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub(crate) fn sub(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(n), Relaxed);
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// Raises the counter to `v` if `v` is larger (a high-water mark).
    #[inline]
    pub(crate) fn raise_to(&self, v: u64) {
        if v > self.0.load(Relaxed) {
            self.0.store(v, Relaxed);
        }
    }
}

/// The live counters of one arena, shared with every [`ArenaMonitor`](crate::ArenaMonitor).
#[derive(Default)]
pub(crate) struct StatsCells {
    pub(crate) id: u64,
    pub(crate) allocations: OwnedCounter,
    pub(crate) local_frees: OwnedCounter,
    pub(crate) returns_received: OwnedCounter,
    pub(crate) return_drains: OwnedCounter,
    pub(crate) returns_sent: OwnedCounter,
    pub(crate) batches_sent: OwnedCounter,
    pub(crate) slot_parks: OwnedCounter,
    pub(crate) slot_hits: OwnedCounter,
    pub(crate) slot_misses: OwnedCounter,
    pub(crate) fallback_large: OwnedCounter,
    pub(crate) fallback_limit: OwnedCounter,
    pub(crate) fallback_bytes: OwnedCounter,
    pub(crate) chunk_bytes: OwnedCounter,
    pub(crate) block_bytes: OwnedCounter,
    /// Bytes of blocks handed out and not yet back on a free list (includes
    /// parked blocks and blocks on their way home).
    pub(crate) outstanding_bytes: OwnedCounter,
    /// Blocks handed out and not yet back on a free list (the block count
    /// of `outstanding_bytes`).
    pub(crate) outstanding_blocks: OwnedCounter,
    pub(crate) in_use_high_water: OwnedCounter,
    pub(crate) chunk_bytes_high_water: OwnedCounter,
    pub(crate) ring_provided: OwnedCounter,
    pub(crate) ring_reprovided_remote: OwnedCounter,
    pub(crate) ring_dry: OwnedCounter,
    // Moved by other threads.
    pub(crate) parked_bytes: AtomicUsize,
    pub(crate) parked_blocks: AtomicUsize,
    pub(crate) returns_over_cap: AtomicU64,
    pub(crate) return_list_blocks: AtomicUsize,
    pub(crate) abandoned: AtomicBool,
    pub(crate) released: AtomicBool,
}

/// A snapshot of one arena's counters.
///
/// The arena counts the bytes of its blocks that are out (held by buffers,
/// parked in slots, or on their way home) and the bytes parked; `in_use_bytes`
/// and `free_bytes` are derived from those two and `block_bytes`, so
/// `block_bytes == in_use_bytes + free_bytes + parked_bytes` whenever the
/// counters are consistent (see [`ArenaStats::is_balanced`]). Blocks on their
/// way home count as in use until the arena drains them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaStats {
    /// A process-unique number for the arena.
    pub id: u64,
    /// Buffers handed out from the arena's own blocks.
    pub allocations: u64,
    /// Blocks freed on the arena's own thread.
    pub local_frees: u64,
    /// Blocks that came back from other threads through the return list.
    pub returns_received: u64,
    /// Times the return list was drained and found non-empty.
    pub return_drains: u64,
    /// Blocks this thread sent home to other arenas.
    pub returns_sent: u64,
    /// Batches this thread sent home to other arenas (one atomic each).
    pub batches_sent: u64,
    /// Returns that found the destination's return list over its cap (they
    /// were queued all the same: no block is ever lost).
    pub returns_over_cap: u64,
    /// Blocks this thread parked in a reuse slot instead of sending them home.
    pub slot_parks: u64,
    /// Takes from a reuse slot that found a parked buffer.
    pub slot_hits: u64,
    /// Takes from a reuse slot that found it empty.
    pub slot_misses: u64,
    /// Requests above the largest size class, served by the global allocator.
    pub fallback_large: u64,
    /// Requests refused by the memory limit, served by the global allocator.
    pub fallback_limit: u64,
    /// Bytes requested from the global allocator by both kinds of fallback.
    pub fallback_bytes: u64,
    /// Bytes of chunks taken from the global allocator (headers included).
    pub chunk_bytes: u64,
    /// Bytes of blocks carved from those chunks: the arena's capacity.
    pub block_bytes: u64,
    /// Bytes of blocks held by buffers.
    pub in_use_bytes: u64,
    /// Bytes of blocks on the arena's free lists.
    pub free_bytes: u64,
    /// Blocks held by buffers (or on their way home): the block count of
    /// `in_use_bytes`. Zero once every buffer of the arena has been dropped
    /// and drained home, and no slot holds one.
    pub in_use_blocks: u64,
    /// Bytes of blocks parked in reuse slots.
    pub parked_bytes: u64,
    /// Blocks parked in reuse slots.
    pub parked_blocks: u64,
    /// Blocks waiting on the return list.
    pub return_list_blocks: u64,
    /// High-water mark of `in_use_bytes + parked_bytes`.
    pub in_use_high_water: u64,
    /// High-water mark of `chunk_bytes`.
    pub chunk_bytes_high_water: u64,
    /// Buffers lent to the kernel from the arena's own blocks
    /// ([`ArenaBytesMut::for_kernel`](crate::ArenaBytesMut::for_kernel)
    /// calls not served by the global allocator): what an io_uring driver
    /// put in its provided-buffer ring.
    pub ring_provided: u64,
    /// Of `ring_provided`, the blocks whose last trip to the free list was
    /// through the return list (dropped on another thread, then drained
    /// home): blocks that came back and were given to the kernel again.
    pub ring_reprovided_remote: u64,
    /// Times the kernel found the provided-buffer ring empty (`ENOBUFS`), as
    /// reported by [`note_ring_dry`](crate::note_ring_dry).
    pub ring_dry: u64,
    /// The arena's thread has exited with blocks still out.
    pub abandoned: bool,
    /// The arena's memory has been given back to the global allocator.
    pub released: bool,
}

impl ArenaStats {
    /// Whether the counters are consistent:
    /// `block_bytes == in_use_bytes + free_bytes + parked_bytes`, which
    /// fails only when more bytes are counted parked than out, or more out
    /// than the arena has (a block freed twice, a park counted without its
    /// block). It cannot see a buffer that was leaked or is still held: check
    /// `in_use_bytes` for that, after flushing the freeing threads and
    /// draining the arena.
    pub fn is_balanced(&self) -> bool {
        self.block_bytes == self.in_use_bytes + self.free_bytes + self.parked_bytes
    }
}

impl StatsCells {
    pub(crate) fn snapshot(&self) -> ArenaStats {
        let outstanding = self.outstanding_bytes.get();
        let parked = self.parked_bytes.load(Relaxed) as u64;
        let block_bytes = self.block_bytes.get();
        ArenaStats {
            id: self.id,
            allocations: self.allocations.get(),
            local_frees: self.local_frees.get(),
            returns_received: self.returns_received.get(),
            return_drains: self.return_drains.get(),
            returns_sent: self.returns_sent.get(),
            batches_sent: self.batches_sent.get(),
            returns_over_cap: self.returns_over_cap.load(Relaxed),
            slot_parks: self.slot_parks.get(),
            slot_hits: self.slot_hits.get(),
            slot_misses: self.slot_misses.get(),
            fallback_large: self.fallback_large.get(),
            fallback_limit: self.fallback_limit.get(),
            fallback_bytes: self.fallback_bytes.get(),
            chunk_bytes: self.chunk_bytes.get(),
            block_bytes,
            in_use_bytes: outstanding.saturating_sub(parked),
            in_use_blocks: self
                .outstanding_blocks
                .get()
                .saturating_sub(self.parked_blocks.load(Relaxed) as u64),
            free_bytes: block_bytes.saturating_sub(outstanding),
            parked_bytes: parked,
            parked_blocks: self.parked_blocks.load(Relaxed) as u64,
            return_list_blocks: self.return_list_blocks.load(Relaxed) as u64,
            in_use_high_water: self.in_use_high_water.get(),
            chunk_bytes_high_water: self.chunk_bytes_high_water.get(),
            ring_provided: self.ring_provided.get(),
            ring_reprovided_remote: self.ring_reprovided_remote.get(),
            ring_dry: self.ring_dry.get(),
            abandoned: self.abandoned.load(Relaxed),
            released: self.released.load(Relaxed),
        }
    }
}
