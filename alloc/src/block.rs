//! Blocks, chunks and size classes: the memory layout under every buffer.
//!
//! An arena takes memory from the global allocator in chunks of
//! [`CHUNK_SIZE`] bytes, each aligned to its own size, and carves every chunk
//! into blocks of one size class. The chunk starts with a [`ChunkHeader`],
//! followed by one [`BlockMeta`] per block, followed by the blocks:
//!
//! ```text
//! chunk (CHUNK_SIZE, aligned to CHUNK_SIZE)
//! +-------------+---------------------------+---------+---------+-----
//! | ChunkHeader | BlockMeta x nblocks       | block 0 | block 1 | ...
//! +-------------+---------------------------+---------+---------+-----
//! ```
//!
//! From any pointer into a chunk (a block or its meta) the chunk is found by
//! masking the address, and from the header the arena and the size class: all
//! O(1), no lookup table.
//!
//! Requests larger than the largest class, and requests an arena refuses
//! because of its memory limit, are served by the global allocator with a
//! [`BlockMeta`] in a small prefix of the allocation, marked [`HEAP_CLASS`], so
//! that buffer handles treat both kinds alike.
//!
//! # Who touches a `BlockMeta`
//!
//! - `refs` is atomic: every buffer handle on the block holds one count.
//! - `next` and `slot` are plain cells, written only by the thread that owns
//!   the block at that moment: the arena's thread while it is free or
//!   allocated-unique, the thread that dropped the last reference while it is
//!   being returned. Ownership passes through the release/acquire pairs on
//!   `refs`, on the return list and on the reuse slot.
//! - `came_home_remote` is written only by the arena's thread, and only while
//!   the block is on its way onto a free list (nobody else can reach it):
//!   set when the block is taken from the return list, cleared when it is
//!   freed locally. It is read by the arena's thread right after handing the
//!   block out, before any other handle exists (see `ArenaInner::lend`).

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

use crate::loom::cell::HandoffCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::slot::SlotShared;

/// Size of one chunk of arena memory, and its alignment.
pub const CHUNK_SIZE: usize = 1 << 20;

/// The smallest size class, in bytes (log2).
const MIN_CLASS_SHIFT: u32 = 9;
/// The largest size class, in bytes (log2).
const MAX_CLASS_SHIFT: u32 = 16;

/// Number of size classes: 512 B, 1, 2, 4, 8, 16, 32 and 64 KiB.
pub const CLASS_COUNT: usize = (MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1) as usize;

/// The largest request an arena serves from its own blocks; larger ones go to
/// the global allocator (and are counted).
pub const MAX_BLOCK_SIZE: usize = 1 << MAX_CLASS_SHIFT;

/// The block sizes of the size classes, smallest first.
pub const CLASS_SIZES: [usize; CLASS_COUNT] = {
    let mut sizes = [0; CLASS_COUNT];
    let mut i = 0;
    while i < CLASS_COUNT {
        sizes[i] = 1 << (MIN_CLASS_SHIFT + i as u32);
        i += 1;
    }
    sizes
};

/// `BlockMeta::class` of a block that came from the global allocator.
pub(crate) const HEAP_CLASS: u8 = u8::MAX;

/// Size of the prefix in front of a global-allocator block; also its alignment.
/// Under loom the meta's cells are loom's, larger than a word each.
const HEAP_PREFIX: usize = if cfg!(all(test, loom)) { 128 } else { 64 };

/// The size class serving `size` bytes, or `None` if it is too large.
#[inline]
pub(crate) fn class_of(size: usize) -> Option<usize> {
    if size <= 1 << MIN_CLASS_SHIFT {
        Some(0)
    } else if size <= MAX_BLOCK_SIZE {
        Some((usize::BITS - (size - 1).leading_zeros() - MIN_CLASS_SHIFT) as usize)
    } else {
        None
    }
}

/// Per-block bookkeeping, kept in the chunk header region (or the heap prefix).
#[repr(C)]
pub(crate) struct BlockMeta {
    /// Buffer handles alive on this block.
    pub(crate) refs: AtomicUsize,
    /// Link in a free list, a return batch or a return list.
    pub(crate) next: HandoffCell<*mut BlockMeta>,
    /// The reuse slot this block belongs to (an `Arc<SlotShared>` turned into
    /// a raw pointer, owning one strong count), or null.
    pub(crate) slot: HandoffCell<*const SlotShared>,
    /// Size class index, or [`HEAP_CLASS`].
    pub(crate) class: u8,
    /// Whether the block last reached its free list through the return list
    /// (its last handle was dropped on another thread). Sits in the padding
    /// after `class`: the meta does not grow.
    pub(crate) came_home_remote: HandoffCell<bool>,
}

// The flag lives in what was padding: a meta is still four words.
#[cfg(not(all(test, loom)))]
const _: () = assert!(std::mem::size_of::<BlockMeta>() == 4 * std::mem::size_of::<usize>());

impl BlockMeta {
    /// Counts one more handle on the block (a caller that holds one).
    #[inline]
    pub(crate) fn add_handle(&self) {
        let old = self.refs.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Whether the caller's handle is the only one on the block.
    #[inline]
    pub(crate) fn is_unique(&self) -> bool {
        self.refs.load(Ordering::Acquire) == 1
    }
}

/// The header at the start of every chunk.
#[repr(C)]
pub(crate) struct ChunkHeader {
    /// The arena that owns every block of this chunk, for the chunk's life.
    pub(crate) arena: *const crate::arena::ArenaInner,
    /// Offset of block 0 from the chunk start.
    data_offset: usize,
    /// Number of blocks in the chunk.
    pub(crate) nblocks: usize,
    /// Block size (log2).
    shift: u32,
}

/// Offset of the first `BlockMeta` in a chunk.
const METAS_OFFSET: usize = 64;
const _: () = assert!(std::mem::size_of::<ChunkHeader>() <= METAS_OFFSET);

/// Blocks per chunk when running under loom.
const LOOM_BLOCKS_PER_CHUNK: usize = 4;

/// Number of blocks of class `class` that fit in a chunk, and block 0's offset.
const fn chunk_geometry(class: usize) -> (usize, usize) {
    let size = CLASS_SIZES[class];
    let meta = std::mem::size_of::<BlockMeta>();
    let mut n = (CHUNK_SIZE - METAS_OFFSET) / (size + meta);
    // Under loom every block's `refs` is a modelled atomic: keep chunks tiny.
    if cfg!(all(test, loom)) && n > LOOM_BLOCKS_PER_CHUNK {
        n = LOOM_BLOCKS_PER_CHUNK;
    }
    loop {
        // Blocks start on a 64-byte boundary (cache line) after the metas.
        let data = (METAS_OFFSET + n * meta + 63) & !63;
        if data + n * size <= CHUNK_SIZE {
            return (n, data);
        }
        n -= 1;
    }
}

/// Layout of a chunk allocation.
fn chunk_layout() -> Layout {
    // SAFETY: CHUNK_SIZE is a non-zero power of two and a multiple of itself.
    unsafe { Layout::from_size_align_unchecked(CHUNK_SIZE, CHUNK_SIZE) }
}

/// A freshly carved chunk: its header pointer and its blocks' metas, already
/// linked into a list (first block first).
pub(crate) struct NewChunk {
    pub(crate) base: NonNull<u8>,
    pub(crate) first: *mut BlockMeta,
    pub(crate) last: *mut BlockMeta,
    pub(crate) nblocks: usize,
}

/// Allocates and carves a chunk for `class`, owned by `arena`.
///
/// Returns `None` when the global allocator has no memory.
pub(crate) fn new_chunk(arena: *const crate::arena::ArenaInner, class: usize, prefault: bool) -> Option<NewChunk> {
    let (nblocks, data_offset) = chunk_geometry(class);
    // SAFETY: the layout has a non-zero size.
    let base = NonNull::new(unsafe { alloc::alloc(chunk_layout()) })?;
    let header = base.as_ptr().cast::<ChunkHeader>();
    // SAFETY: `base` is a fresh allocation of CHUNK_SIZE bytes aligned to
    // CHUNK_SIZE, large enough for the header, the metas and the blocks
    // (`chunk_geometry`), and nothing else refers to it yet.
    unsafe {
        header.write(ChunkHeader {
            arena,
            data_offset,
            nblocks,
            shift: MIN_CLASS_SHIFT + class as u32,
        });
        let metas = base.as_ptr().add(METAS_OFFSET).cast::<BlockMeta>();
        for i in 0..nblocks {
            let next = if i + 1 < nblocks {
                metas.add(i + 1)
            } else {
                ptr::null_mut()
            };
            metas.add(i).write(BlockMeta {
                refs: AtomicUsize::new(0),
                next: HandoffCell::new(next),
                slot: HandoffCell::new(ptr::null()),
                class: class as u8,
                came_home_remote: HandoffCell::new(false),
            });
        }
        if prefault {
            let page = 4096;
            let mut off = data_offset;
            while off < CHUNK_SIZE {
                base.as_ptr().add(off).write_volatile(0);
                off += page;
            }
        }
        Some(NewChunk {
            base,
            first: metas,
            last: metas.add(nblocks - 1),
            nblocks,
        })
    }
}

/// Returns a chunk's memory to the global allocator.
///
/// # Safety
///
/// `base` came from [`new_chunk`], and no block of it is referenced any more.
pub(crate) unsafe fn free_chunk(base: NonNull<u8>) {
    // SAFETY: per the contract, `base` was allocated with `chunk_layout()`.
    unsafe { alloc::dealloc(base.as_ptr(), chunk_layout()) }
}

/// The header of the chunk holding `meta`.
///
/// # Safety
///
/// `meta` is an arena block's meta (class is not [`HEAP_CLASS`]).
#[inline]
pub(crate) unsafe fn chunk_of(meta: *const BlockMeta) -> *const ChunkHeader {
    let offset = meta as usize & (CHUNK_SIZE - 1);
    // SAFETY: the meta lies `offset` bytes into its chunk allocation, so going
    // back by `offset` stays inside it and keeps its provenance.
    unsafe { meta.cast::<u8>().sub(offset).cast::<ChunkHeader>() }
}

/// The first byte of the block described by `meta`, and its capacity.
///
/// # Safety
///
/// `meta` points to a live `BlockMeta` (arena or heap).
#[inline]
pub(crate) unsafe fn block_of(meta: *const BlockMeta) -> (NonNull<u8>, usize) {
    // SAFETY: per the contract the meta is live and initialised.
    let class = unsafe { (*meta).class };
    if class == HEAP_CLASS {
        // SAFETY: a heap meta sits at the start of its HEAP_PREFIX-byte prefix,
        // followed by the block; the capacity is stored after the meta.
        unsafe {
            let base = meta.cast::<u8>().cast_mut();
            let cap = base.add(HEAP_CAP_OFFSET).cast::<usize>().read();
            (NonNull::new_unchecked(base.add(HEAP_PREFIX)), cap)
        }
    } else {
        // SAFETY: an arena meta lives in its chunk's meta array; its index in
        // that array is the block's index, and `chunk_geometry` placed block
        // `index` at `data_offset + index << shift` inside the chunk.
        unsafe {
            let header = chunk_of(meta);
            let base = header.cast::<u8>();
            let index = (meta as usize - (base as usize + METAS_OFFSET)) / std::mem::size_of::<BlockMeta>();
            let shift = (*header).shift;
            let data = base.add((*header).data_offset + (index << shift)).cast_mut();
            (NonNull::new_unchecked(data), 1 << shift)
        }
    }
}

/// Offset of the capacity word in a heap block's prefix.
const HEAP_CAP_OFFSET: usize = std::mem::size_of::<BlockMeta>();
const _: () = assert!(HEAP_CAP_OFFSET + std::mem::size_of::<usize>() <= HEAP_PREFIX);

fn heap_layout(cap: usize) -> Layout {
    match Layout::from_size_align(HEAP_PREFIX + cap, HEAP_PREFIX) {
        Ok(layout) => layout,
        Err(_) => panic!("buffer capacity overflow: {cap} bytes"),
    }
}

/// Allocates a block of `cap` bytes from the global allocator, with its meta in
/// a prefix. Its `refs` is 1.
///
/// # Panics
///
/// Panics if `cap` overflows `isize`; calls the allocation-error handler if the
/// global allocator has no memory (as `Vec` does).
pub(crate) fn heap_block(cap: usize) -> NonNull<BlockMeta> {
    let layout = heap_layout(cap);
    // SAFETY: the layout has a non-zero size (the prefix).
    let base = unsafe { alloc::alloc(layout) };
    let Some(base) = NonNull::new(base) else {
        alloc::handle_alloc_error(layout)
    };
    let meta = base.cast::<BlockMeta>();
    // SAFETY: the allocation is HEAP_PREFIX + cap bytes, aligned for BlockMeta
    // and usize, and fresh.
    unsafe {
        meta.as_ptr().write(BlockMeta {
            refs: AtomicUsize::new(1),
            next: HandoffCell::new(ptr::null_mut()),
            slot: HandoffCell::new(ptr::null()),
            class: HEAP_CLASS,
            came_home_remote: HandoffCell::new(false),
        });
        base.as_ptr().add(HEAP_CAP_OFFSET).cast::<usize>().write(cap);
    }
    meta
}

/// Frees a block made by [`heap_block`].
///
/// # Safety
///
/// `meta` came from [`heap_block`] and no handle refers to it any more.
pub(crate) unsafe fn free_heap_block(meta: NonNull<BlockMeta>) {
    // SAFETY: per the contract the meta and its capacity word are live.
    let (_, cap) = unsafe { block_of(meta.as_ptr()) };
    // SAFETY: allocated by `heap_block` with this very layout.
    unsafe { alloc::dealloc(meta.as_ptr().cast(), heap_layout(cap)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_network_sizes() {
        assert_eq!(class_of(0), Some(0));
        assert_eq!(class_of(64), Some(0));
        assert_eq!(class_of(512), Some(0));
        assert_eq!(class_of(513), Some(1));
        assert_eq!(class_of(2048), Some(2));
        assert_eq!(class_of(4096), Some(3));
        assert_eq!(class_of(16 * 1024), Some(5));
        assert_eq!(class_of(64 * 1024), Some(7));
        assert_eq!(class_of(64 * 1024 + 1), None);
        for (i, size) in CLASS_SIZES.iter().enumerate() {
            assert_eq!(class_of(*size), Some(i));
        }
    }

    #[test]
    fn geometry_fits_in_a_chunk() {
        for (class, size) in CLASS_SIZES.iter().enumerate() {
            let (n, data) = chunk_geometry(class);
            assert!(n >= 15 || cfg!(loom), "class {class} has only {n} blocks");
            assert!(data + n * size <= CHUNK_SIZE);
            assert!(METAS_OFFSET + n * std::mem::size_of::<BlockMeta>() <= data);
        }
    }
}
