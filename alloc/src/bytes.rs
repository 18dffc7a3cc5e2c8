//! `ArenaBytes`: a shared, immutable view of an arena block.
//!
//! (This file and `bytes_mut.rs` are named as the bytes crate names its
//! `Bytes` and `BytesMut`; paths to that crate are written `::bytes::` in
//! this crate, so that they never read as this module.)
//!
//! Clones share the block; its reference count lives in the block's meta, in
//! the chunk header, so a clone costs one atomic increment and no allocation.
//! The block goes home (or parks in its slot) when the last handle drops,
//! wherever that happens.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Bound, Deref, RangeBounds};
use std::ptr::NonNull;

use crate::block::BlockMeta;
use crate::bytes_mut::{drop_handle, ArenaBytesMut};

/// A shared, immutable, cheaply clonable buffer on an arena block.
///
/// It implements [`bytes::Buf`] and derefs to its bytes; [`slice`](Self::slice)
/// and [`split_to`](Self::split_to) make zero-copy sub-views.
///
/// # Examples
///
/// ```
/// use ::bytes::Buf;
/// use roost_alloc::{ArenaBytes, ArenaBytesMut};
///
/// let frozen: ArenaBytes = ArenaBytesMut::copy_from_slice(b"hello world").freeze();
/// let hello = frozen.slice(..5);
/// let world = frozen.slice(6..);
/// assert_eq!(&hello[..], b"hello");
/// assert_eq!(&world[..], b"world");
///
/// let mut reader = frozen.clone();
/// assert_eq!(reader.get_u8(), b'h');
/// assert_eq!(reader.remaining(), 10);
/// ```
pub struct ArenaBytes {
    meta: NonNull<BlockMeta>,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the bytes are immutable while shared; the count is atomic and the
// release path is safe from any thread.
unsafe impl Send for ArenaBytes {}
// SAFETY: as above: `&ArenaBytes` only reads immutable bytes.
unsafe impl Sync for ArenaBytes {}

impl ArenaBytes {
    /// # Safety
    ///
    /// The caller transfers one count on `meta`; `[ptr, ptr + len)` is
    /// initialised and inside the block.
    pub(crate) unsafe fn from_parts(meta: NonNull<BlockMeta>, ptr: NonNull<u8>, len: usize) -> Self {
        Self { meta, ptr, len }
    }

    /// A frozen copy of `data`, on a block of the current thread's arena.
    pub fn copy_from_slice(data: &[u8]) -> Self {
        ArenaBytesMut::copy_from_slice(data).freeze()
    }

    /// Number of bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn share(&self) {
        // SAFETY: our handle keeps the meta alive.
        unsafe { self.meta.as_ref() }.add_handle();
    }

    /// A zero-copy sub-view.
    ///
    /// # Panics
    ///
    /// Panics if the range is out of bounds or decreasing.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Self {
        let start = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1).expect("range start overflow"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1).expect("range end overflow"),
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.len,
        };
        assert!(
            start <= end && end <= self.len,
            "slice {start}..{end} out of bounds of {}",
            self.len
        );
        self.share();
        Self {
            meta: self.meta,
            // SAFETY: `start <= len`, inside the view.
            ptr: unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(start)) },
            len: end - start,
        }
    }

    /// Splits off the first `at` bytes into a new view; `self` keeps the rest.
    ///
    /// # Panics
    ///
    /// Panics if `at > len()`.
    pub fn split_to(&mut self, at: usize) -> Self {
        let front = self.slice(..at);
        ::bytes::Buf::advance(self, at);
        front
    }

    /// Splits off the bytes from `at` on into a new view; `self` keeps `[0, at)`.
    ///
    /// # Panics
    ///
    /// Panics if `at > len()`.
    pub fn split_off(&mut self, at: usize) -> Self {
        let back = self.slice(at..);
        self.len = at;
        back
    }

    /// Whether this is the only handle on its block.
    pub fn is_unique(&self) -> bool {
        // SAFETY: our handle keeps the meta alive.
        unsafe { self.meta.as_ref() }.is_unique()
    }

    /// Gets the writable buffer back if this is the only handle on its block;
    /// its capacity runs from the view's start to the end of the block.
    ///
    /// # Errors
    ///
    /// `self`, unchanged, when other handles share the block.
    pub fn try_into_mut(self) -> Result<ArenaBytesMut, Self> {
        if !self.is_unique() {
            return Err(self);
        }
        let this = ManuallyDrop::new(self);
        // SAFETY: unique: we own the block; rebuild a window from the view's
        // start to the block's end.
        unsafe {
            let mut whole = ArenaBytesMut::from_block(this.meta);
            let offset = this.ptr.as_ptr() as usize - whole.as_ptr() as usize;
            let mut tail = whole.split_off(offset);
            // `split_off` shared the block; give the front window's count back.
            drop(whole);
            tail.set_len(this.len);
            Ok(tail)
        }
    }

    /// Converts into a `bytes::Bytes` without copying, for APIs that want one.
    ///
    /// Cost: `Bytes::from_owner` boxes the owner, so every call makes one
    /// small global allocation (about 40 bytes) and its drop one free; the
    /// block itself still goes home to its arena when the `Bytes` and all its
    /// clones are gone.
    pub fn into_bytes(self) -> ::bytes::Bytes {
        ::bytes::Bytes::from_owner(self)
    }
}

impl Clone for ArenaBytes {
    fn clone(&self) -> Self {
        self.share();
        Self {
            meta: self.meta,
            ptr: self.ptr,
            len: self.len,
        }
    }
}

impl Drop for ArenaBytes {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this handle's count.
        unsafe { drop_handle(self.meta) }
    }
}

impl Deref for ArenaBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the view is initialised and immutable while shared.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for ArenaBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq<[u8]> for ArenaBytes {
    fn eq(&self, other: &[u8]) -> bool {
        &self[..] == other
    }
}

impl PartialEq for ArenaBytes {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl Eq for ArenaBytes {}

impl fmt::Debug for ArenaBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaBytes").field("len", &self.len).finish()
    }
}

impl ::bytes::Buf for ArenaBytes {
    #[inline]
    fn remaining(&self) -> usize {
        self.len
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        self
    }

    #[inline]
    fn advance(&mut self, cnt: usize) {
        assert!(cnt <= self.len, "advance {cnt} past the end ({})", self.len);
        // SAFETY: `cnt <= len`, inside the view.
        self.ptr = unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(cnt)) };
        self.len -= cnt;
    }
}

impl From<ArenaBytesMut> for ArenaBytes {
    fn from(buf: ArenaBytesMut) -> Self {
        buf.freeze()
    }
}

impl From<ArenaBytes> for ::bytes::Bytes {
    fn from(buf: ArenaBytes) -> Self {
        buf.into_bytes()
    }
}
