//! `ArenaBytesMut`: a unique, writable view of an arena block.
//!
//! A handle is a window `[ptr, ptr + cap)` on a block, of which the first
//! `len` bytes are initialised ("filled"). Handles made by
//! [`split_to`](ArenaBytesMut::split_to) and
//! [`split_off`](ArenaBytesMut::split_off) share the block but never overlap,
//! so each stays unique in what it can touch; the block's `refs` counts them.
//! The block is released when the last handle on it goes.
//!
//! Dropping a handle whose block has no other handle costs one atomic *load*
//! (no read-modify-write): `refs == 1` proves nobody else can reach it.

use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

use ::bytes::buf::UninitSlice;

use crate::arena;
use crate::block::{self, BlockMeta, HEAP_CLASS};
use crate::bytes::ArenaBytes;
use crate::loom::sync::atomic::Ordering;
use crate::slot::{ReuseSlot, SlotShared};

/// A unique, writable buffer backed by a block of the current thread's arena.
///
/// Like `bytes::BytesMut` it derefs to its filled bytes and implements
/// [`bytes::BufMut`]; unlike it, its memory comes from a per-thread arena and
/// goes back there, even when the buffer is dropped on another thread.
///
/// Capacity is the block's size class (512 B to 64 KiB, or exactly the request
/// above that). Writing past it through `BufMut` or
/// [`extend_from_slice`](Self::extend_from_slice) moves the contents to a
/// larger block, as `Vec` does.
///
/// # Examples
///
/// ```
/// use bytes::BufMut;
/// use roost_alloc::ArenaBytesMut;
///
/// let mut buf = ArenaBytesMut::with_capacity(100);
/// assert_eq!(buf.capacity(), 512); // the smallest size class
/// buf.put_u32(7);
/// buf.extend_from_slice(b"payload");
/// let header = buf.split_to(4);
/// assert_eq!(&header[..], &[0, 0, 0, 7]);
/// assert_eq!(&buf[..], b"payload");
/// let frozen = buf.freeze();
/// assert_eq!(&frozen[..], b"payload");
/// ```
pub struct ArenaBytesMut {
    meta: NonNull<BlockMeta>,
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

// SAFETY: the handle owns its window exclusively; the block's shared fields
// are atomics, and the release path is safe from any thread.
unsafe impl Send for ArenaBytesMut {}
// SAFETY: `&ArenaBytesMut` only reads the handle's own window.
unsafe impl Sync for ArenaBytesMut {}

impl ArenaBytesMut {
    /// A buffer of at least `capacity` bytes from the current thread's arena.
    /// Never fails for lack of arena memory: beyond the arena's limit, or
    /// above 64 KiB, the block comes from the global allocator (counted).
    #[inline]
    pub fn with_capacity(capacity: usize) -> Self {
        let meta = arena::alloc_block(capacity);
        // SAFETY: a fresh block with refs == 1.
        unsafe { Self::from_block(meta) }
    }

    /// A buffer to lend to the kernel: [`with_capacity`](Self::with_capacity)
    /// for an io_uring driver's provided-buffer ring, counted in the current
    /// thread's arena statistics.
    ///
    /// Like `with_capacity` it never fails: beyond the arena's limit, above
    /// [`MAX_BLOCK_SIZE`](crate::MAX_BLOCK_SIZE), or during thread exit the
    /// block comes from the global allocator, and such a block counts nothing
    /// here. A block from the arena counts one
    /// [`ring_provided`](crate::ArenaStats::ring_provided), and also one
    /// [`ring_reprovided_remote`](crate::ArenaStats::ring_reprovided_remote)
    /// if its last trip home was through the return list: its last handle was
    /// dropped on another thread, and the arena drained it home. The free
    /// lists are LIFO, so a driver that drains before refilling its ring gives
    /// the kernel the blocks that just came home first.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_alloc::{Arena, ArenaBytesMut, ArenaConfig};
    ///
    /// let monitor = Arena::install(ArenaConfig::new()).unwrap();
    /// let lent = ArenaBytesMut::for_kernel(4096);
    /// let block = lent.as_ptr();
    ///
    /// // The kernel filled it; the application drops it on another thread.
    /// std::thread::spawn(move || drop(lent)).join().unwrap();
    ///
    /// // The driver's refill: drain the returns, then lend again.
    /// assert_eq!(roost_alloc::drain_returns(), 1);
    /// let again = ArenaBytesMut::for_kernel(4096);
    /// assert_eq!(again.as_ptr(), block);
    /// let stats = monitor.stats();
    /// assert_eq!(stats.ring_provided, 2);
    /// assert_eq!(stats.ring_reprovided_remote, 1);
    /// ```
    #[inline]
    pub fn for_kernel(capacity: usize) -> Self {
        let meta = arena::alloc_block_for_kernel(capacity);
        // SAFETY: a fresh block with refs == 1.
        unsafe { Self::from_block(meta) }
    }

    /// A buffer of exactly `capacity` bytes from the global allocator,
    /// bypassing the arena (for comparisons and for switching the arena off).
    pub fn with_capacity_global(capacity: usize) -> Self {
        // SAFETY: a fresh block with refs == 1.
        unsafe { Self::from_block(block::heap_block(capacity)) }
    }

    /// A buffer holding a copy of `data`.
    pub fn copy_from_slice(data: &[u8]) -> Self {
        let mut buf = Self::with_capacity(data.len());
        buf.extend_from_slice(data);
        buf
    }

    /// Wraps a whole idle block as an empty buffer.
    ///
    /// # Safety
    ///
    /// The caller owns the block and has set its `refs` to 1.
    #[inline]
    pub(crate) unsafe fn from_block(meta: NonNull<BlockMeta>) -> Self {
        // SAFETY: per the contract the meta is live.
        let (ptr, cap) = unsafe { block::block_of(meta.as_ptr()) };
        Self { meta, ptr, len: 0, cap }
    }

    pub(crate) fn meta(&self) -> NonNull<BlockMeta> {
        self.meta
    }

    /// Gives up the handle without releasing the block.
    pub(crate) fn into_block(self) -> NonNull<BlockMeta> {
        ManuallyDrop::new(self).meta
    }

    /// Number of filled bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is filled.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes this handle can hold without moving.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Forgets the contents; keeps the capacity.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the contents to `len` bytes; no effect if already shorter.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Sets the number of filled bytes.
    ///
    /// # Safety
    ///
    /// `len <= capacity()` and the first `len` bytes are initialised.
    #[inline]
    pub unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.cap);
        self.len = len;
    }

    /// The unfilled part of the window, for reading into.
    #[inline]
    pub fn spare_capacity_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `[len, cap)` of the window is ours and in bounds.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(self.len).cast(), self.cap - self.len) }
    }

    /// Appends `data`, moving to a larger block if needed.
    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        // SAFETY: reserve made room; the regions cannot overlap (ours is unique).
        unsafe {
            ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), data.len());
        }
        self.len += data.len();
    }

    /// Makes room for at least `additional` more bytes, moving the contents to
    /// a larger block from the current thread's arena if this one is too small.
    ///
    /// The move keeps the buffer's reuse-slot attachment (see
    /// [`attach_slot`](Self::attach_slot)) when it happens on the block's
    /// home thread and the larger block comes from the arena: a buffer taken
    /// from a stream's slot and grown still parks in that slot when it is
    /// dropped elsewhere, so growing a request does not cost the stream its
    /// reuse. Moved on another thread, the larger block belongs to that
    /// thread's arena, and a slot is its stream's home core's cache: the
    /// new block is then not attached (a slot must not hand the home core a
    /// foreign block to receive into). A block from the global allocator is
    /// never attached (as `attach_slot` refuses it). The old block is
    /// released as any dropped handle's (parked in its slot if that applies).
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        if self.cap - self.len >= additional {
            return;
        }
        // The slow half takes the window by value, not `&mut self`: a handle
        // whose address escapes into a call lives on the stack in every
        // caller, and moving it afterwards costs a store-forwarding stall.
        *self = Self::copied_to_larger(self.meta, self.ptr, self.len, self.cap, additional);
    }

    /// The slow half of [`reserve`](Self::reserve): a larger buffer holding a
    /// copy of the `len` filled bytes at `ptr`, on the slot of `meta` (the
    /// caller's block) where `reserve` says so.
    #[cold]
    #[inline(never)]
    fn copied_to_larger(meta: NonNull<BlockMeta>, ptr: NonNull<u8>, len: usize, cap: usize, additional: usize) -> Self {
        let needed = len.checked_add(additional).expect("buffer capacity overflow");
        let mut bigger = Self::with_capacity(needed.max(cap.saturating_mul(2)));
        // SAFETY: `ptr` is valid for `len` filled bytes (the caller's window),
        // `bigger` has room for them, and the two blocks are distinct.
        unsafe { ptr::copy_nonoverlapping(ptr.as_ptr(), bigger.ptr.as_ptr(), len) };
        bigger.len = len;
        // SAFETY: the caller's handle keeps the old meta alive. Its `slot` is
        // written only through a unique handle (attach, detach) or once no
        // handle is left (release): not while the caller holds this one,
        // unless the caller's is the unique one, and the caller is here.
        let slot = unsafe { meta.as_ref() }.slot.get();
        if !slot.is_null() && !bigger.is_global() && arena::is_home(meta) && bigger.is_home() {
            // SAFETY: the old block's `slot` field owns a count, alive while
            // the caller's handle is; the new count is the new block's.
            unsafe { SlotShared::acquire_ref_raw(slot) };
            // SAFETY: a fresh, unique block: its `slot` is null and nobody
            // else can reach it.
            unsafe { bigger.meta.as_ref() }.slot.set(slot);
        }
        bigger
    }

    /// Splits off the first `at` filled bytes into a new handle on the same
    /// block (an atomic increment, no copy); `self` keeps the rest.
    ///
    /// # Panics
    ///
    /// Panics if `at > len()`.
    pub fn split_to(&mut self, at: usize) -> Self {
        assert!(at <= self.len, "split_to out of bounds: {at} > {}", self.len);
        self.share();
        let front = Self {
            meta: self.meta,
            ptr: self.ptr,
            len: at,
            cap: at,
        };
        // SAFETY: `at <= len <= cap`, inside the window.
        self.ptr = unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(at)) };
        self.len -= at;
        self.cap -= at;
        front
    }

    /// Splits the window at `at`: `self` keeps `[0, at)`, the returned handle
    /// gets `[at, capacity)` (with the filled bytes past `at`).
    ///
    /// # Panics
    ///
    /// Panics if `at > capacity()`.
    pub fn split_off(&mut self, at: usize) -> Self {
        assert!(at <= self.cap, "split_off out of bounds: {at} > {}", self.cap);
        self.share();
        let back = Self {
            meta: self.meta,
            // SAFETY: `at <= cap`, inside the window.
            ptr: unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(at)) },
            len: self.len.saturating_sub(at),
            cap: self.cap - at,
        };
        self.len = self.len.min(at);
        self.cap = at;
        back
    }

    /// Takes the filled bytes out into a new handle, leaving `self` empty with
    /// the remaining capacity.
    pub fn split(&mut self) -> Self {
        self.split_to(self.len)
    }

    fn share(&self) {
        // SAFETY: our handle keeps the meta alive.
        unsafe { self.meta.as_ref() }.add_handle();
    }

    /// Turns the buffer into a shared, immutable, clonable [`ArenaBytes`]
    /// (no copy, no allocation).
    pub fn freeze(self) -> ArenaBytes {
        let this = ManuallyDrop::new(self);
        // SAFETY: the handle's count moves to the frozen handle.
        unsafe { ArenaBytes::from_parts(this.meta, this.ptr, this.len) }
    }

    /// Whether no other handle shares this buffer's block.
    pub fn is_unique(&self) -> bool {
        // SAFETY: our handle keeps the meta alive.
        unsafe { self.meta.as_ref() }.is_unique()
    }

    /// Whether the block came from the current thread's arena.
    pub fn is_home(&self) -> bool {
        arena::is_home(self.meta)
    }

    /// Whether the block came from the global allocator (too large, or the
    /// arena was over its limit, or [`with_capacity_global`](Self::with_capacity_global)).
    pub fn is_global(&self) -> bool {
        // SAFETY: our handle keeps the meta alive.
        unsafe { self.meta.as_ref() }.class == HEAP_CLASS
    }

    /// Attaches the block to `slot`: when its last handle drops on a thread
    /// other than its home, it parks there for the stream's next operation.
    ///
    /// Returns false (and does nothing) if the block is shared with other
    /// handles or came from the global allocator.
    pub fn attach_slot(&mut self, slot: &ReuseSlot) -> bool {
        // SAFETY: our handle keeps the meta alive.
        let meta = unsafe { self.meta.as_ref() };
        if meta.class == HEAP_CLASS || !self.is_unique() {
            return false;
        }
        let current = meta.slot.get();
        if current == slot.shared_ptr() {
            return true;
        }
        slot.acquire_ref();
        meta.slot.set(slot.shared_ptr());
        if !current.is_null() {
            // SAFETY: the meta owned one count on its previous slot.
            unsafe { SlotShared::release_ref(current) };
        }
        true
    }

    /// Detaches the block from its slot, if any. Returns false if the block is
    /// shared (its slot then stays).
    pub fn detach_slot(&mut self) -> bool {
        if !self.is_unique() {
            return false;
        }
        // SAFETY: unique handle: nobody else reads the slot field.
        let current = unsafe { self.meta.as_ref() }.slot.replace(ptr::null());
        if !current.is_null() {
            // SAFETY: the meta owned one count on it.
            unsafe { SlotShared::release_ref(current) };
        }
        true
    }
}

/// Drops one handle's count on `meta`; releases the block with the last.
///
/// # Safety
///
/// The caller gives up one handle on `meta`.
#[inline]
pub(crate) unsafe fn drop_handle(meta: NonNull<BlockMeta>) {
    // SAFETY: our handle keeps it alive until the decrement.
    let refs = unsafe { &meta.as_ref().refs };
    if refs.load(Ordering::Acquire) != 1 {
        if refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire the other handles' releases: a load of the release
        // sequence our decrement ended, not a fence, as std's `Arc` does
        // under ThreadSanitizer (which does not model standalone fences).
        refs.load(Ordering::Acquire);
    }
    // SAFETY: no handle left, block in no list.
    unsafe { arena::release_block(meta) };
}

impl Drop for ArenaBytesMut {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this handle's count.
        unsafe { drop_handle(self.meta) }
    }
}

impl Deref for ArenaBytesMut {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of our window are initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for ArenaBytesMut {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and the window is ours alone.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for ArenaBytesMut {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for ArenaBytesMut {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl PartialEq<[u8]> for ArenaBytesMut {
    fn eq(&self, other: &[u8]) -> bool {
        &self[..] == other
    }
}

impl fmt::Debug for ArenaBytesMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaBytesMut")
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .finish()
    }
}

// SAFETY: `chunk_mut` hands out exactly the unfilled window `[len, cap)`, and
// `advance_mut` only moves `len` within it.
unsafe impl ::bytes::BufMut for ArenaBytesMut {
    #[inline]
    fn remaining_mut(&self) -> usize {
        isize::MAX as usize - self.len
    }

    #[inline]
    unsafe fn advance_mut(&mut self, cnt: usize) {
        assert!(cnt <= self.cap - self.len, "advance_mut past capacity");
        self.len += cnt;
    }

    #[inline]
    fn chunk_mut(&mut self) -> &mut UninitSlice {
        if self.len == self.cap {
            self.reserve(64);
        }
        UninitSlice::uninit(self.spare_capacity_mut())
    }

    fn put_slice(&mut self, src: &[u8]) {
        self.extend_from_slice(src);
    }
}

impl std::io::Write for ArenaBytesMut {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
