//! Pipeline ends for any `GlobalAlloc`, called directly (no
//! `#[global_allocator]`), so one binary can compare several allocators.
//!
//! Items are [`RawBuffer`]s: a pointer, a length and a `Layout`, 32 bytes on
//! 64-bit targets, the size of a roost `ArenaBytesMut`, so that a ring
//! carrying either costs the same.

use std::alloc::{handle_alloc_error, GlobalAlloc, Layout};
use std::hint::black_box;
use std::ptr::NonNull;

use crate::handoff::{Consumer, Producer};

/// A buffer from a `GlobalAlloc`, owned by whoever holds it.
#[derive(Debug)]
pub struct RawBuffer {
    ptr: NonNull<u8>,
    len: usize,
    layout: Layout,
}

// SAFETY: the buffer is owned by whoever holds the handle, and it is only
// freed through the allocator that made it, which must accept frees from any
// thread (every `GlobalAlloc` must).
unsafe impl Send for RawBuffer {}

impl RawBuffer {
    /// Bytes written at the start of the buffer.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The layout of an `n`-byte buffer: aligned to 8 (for the stamp), which is
/// every allocator's fast path.
pub fn buffer_layout(size: usize) -> Layout {
    Layout::from_size_align(size.max(8), 8).expect("a valid buffer layout")
}

/// Allocates each item from `alloc` and writes its sequence number into its
/// first 8 bytes.
pub struct AllocProducer<G: 'static> {
    alloc: &'static G,
    layout: Layout,
}

impl<G: GlobalAlloc> AllocProducer<G> {
    /// Buffers of `size` bytes from `alloc`.
    pub fn new(alloc: &'static G, size: usize) -> Self {
        Self {
            alloc,
            layout: buffer_layout(size),
        }
    }
}

impl<G: GlobalAlloc> Producer for AllocProducer<G> {
    type Item = RawBuffer;

    #[inline]
    fn make(&mut self, seq: u64) -> RawBuffer {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { self.alloc.alloc(self.layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            handle_alloc_error(self.layout)
        };
        // SAFETY: a fresh allocation of at least 8 bytes, aligned to 8.
        unsafe { ptr.as_ptr().cast::<u64>().write(seq) };
        RawBuffer {
            ptr,
            len: 8,
            layout: self.layout,
        }
    }
}

/// Frees each item through `alloc`, which must be the allocator that made it.
pub struct FreeConsumer<G: 'static> {
    alloc: &'static G,
}

impl<G: GlobalAlloc> FreeConsumer<G> {
    /// Frees through `alloc`.
    ///
    /// # Safety
    ///
    /// Every item the consumer is given must come from an [`AllocProducer`]
    /// over this same allocator (the ring cannot check it).
    pub unsafe fn new(alloc: &'static G) -> Self {
        Self { alloc }
    }
}

impl<G: GlobalAlloc> Consumer<RawBuffer> for FreeConsumer<G> {
    #[inline]
    fn consume(&mut self, buf: RawBuffer) {
        // SAFETY: per `new`'s contract `buf` came from an `AllocProducer` of
        // this allocator, made with this layout; each item is consumed once.
        unsafe { self.alloc.dealloc(buf.ptr.as_ptr(), buf.layout) }
    }
}

/// Items with no memory behind them: a pipeline of these measures the ring.
pub struct RingOnlyProducer;

impl Producer for RingOnlyProducer {
    type Item = RawBuffer;

    #[inline]
    fn make(&mut self, seq: u64) -> RawBuffer {
        RawBuffer {
            ptr: NonNull::dangling(),
            len: seq as usize,
            layout: Layout::new::<u64>(),
        }
    }
}

/// Takes items and lets them go (they own no memory).
pub struct RingOnlyConsumer;

impl Consumer<RawBuffer> for RingOnlyConsumer {
    #[inline]
    fn consume(&mut self, buf: RawBuffer) {
        black_box(buf);
    }
}
