//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`) whose buffers are
//! blocks of the loop thread's arena.
//!
//! The kernel picks a buffer from the ring for each receive of a socket
//! whose multishot receive names the ring's group, writes the data into it
//! and names it in the completion (`IORING_CQE_F_BUFFER`, the buffer id in
//! the flags' upper half). The ring keeps, by buffer id, the
//! [`ArenaBytesMut`] whose block it lent; [`BufRing::take`] gives that
//! very buffer to the socket's task. [`BufRing::refill`] puts a new block
//! of the arena under every id taken: a block dropped on another worker has
//! come home through the arena's return list by then (the arena drains it
//! on the allocation that finds its free list empty, or at the loop's
//! tick), so the kernel keeps receiving into the home core's memory.
//!
//! # Invariants
//!
//! - A buffer id is either in the ring (the kernel may write its block:
//!   `bufs[id]` holds the block and nothing else touches it) or empty
//!   (`bufs[id]` is `None` and the id is in `empty`), never both.
//! - The ring memory and the blocks outlive the registration: `Drop`
//!   unregisters the group before it unmaps the ring and drops the blocks,
//!   and the ring's owner drops it only once the kernel has finished every
//!   operation that could pick a buffer (see `Ring`'s drop), or leaks it.
//! - Only the loop's thread touches the ring (the kernel reads the entries
//!   after the release store of the tail).

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;
use roost_alloc::ArenaBytesMut;

/// One group's ring.
pub(crate) struct BufRing {
    bgid: u16,
    /// Entries, a power of two.
    entries: u16,
    /// The mapped entries (page-aligned, as the kernel requires).
    base: NonNull<BufRingEntry>,
    map_len: usize,
    /// Our copy of the tail (the kernel only reads it).
    tail: u16,
    /// Length of each buffer given to the kernel.
    size: usize,
    /// By buffer id: the buffer the kernel may be writing.
    bufs: Vec<Option<ArenaBytesMut>>,
    /// Buffer ids not in the ring.
    empty: Vec<u16>,
    registered: bool,
    /// Bytes of the blocks in `bufs`.
    lent: usize,
}

impl BufRing {
    /// Maps a ring of `entries` buffers of `size` bytes for group `bgid`,
    /// registers it and fills it from the current thread's arena.
    ///
    /// # Errors
    ///
    /// The mapping failed, or the kernel refused the ring (before 5.19
    /// there are no buffer rings: `EINVAL`).
    pub(crate) fn new(submitter: &Submitter<'_>, bgid: u16, entries: u16, size: usize) -> io::Result<Self> {
        let entries = entries.clamp(1, 1 << 15).next_power_of_two();
        let map_len = usize::from(entries) * std::mem::size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping; no existing memory is touched.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(addr.cast::<BufRingEntry>()).expect("mmap returned a non-null address");
        let mut ring = Self {
            bgid,
            entries,
            base,
            map_len,
            tail: 0,
            size,
            bufs: (0..entries).map(|_| None).collect(),
            empty: (0..entries).rev().collect(),
            registered: false,
            lent: 0,
        };
        // SAFETY: the mapping is page-aligned, `entries` long, and lives
        // until `Drop` has unregistered it.
        unsafe { submitter.register_buf_ring_with_flags(base.as_ptr() as u64, entries, bgid, 0)? };
        ring.registered = true;
        ring.refill();
        Ok(ring)
    }

    /// Bytes of the blocks lent to the kernel now.
    pub(crate) fn lent_bytes(&self) -> usize {
        self.lent
    }

    /// Whether some buffer ids wait for a block.
    pub(crate) fn needs_refill(&self) -> bool {
        !self.empty.is_empty()
    }

    /// The buffer the kernel filled with `len` bytes under id `bid`, now
    /// the caller's; `None` for an id that is not in the ring (a kernel bug
    /// or a stale completion: nothing to hand out).
    pub(crate) fn take(&mut self, bid: u16, len: usize) -> Option<ArenaBytesMut> {
        let mut buf = self.bufs.get_mut(usize::from(bid))?.take()?;
        self.empty.push(bid);
        self.lent -= buf.capacity();
        let len = len.min(buf.capacity());
        // SAFETY: the completion says the kernel wrote `len` bytes at the
        // start of this buffer's spare capacity (it was empty when lent).
        unsafe { buf.set_len(len) };
        Some(buf)
    }

    /// Puts a block of the arena under every empty id and publishes them.
    pub(crate) fn refill(&mut self) {
        if self.empty.is_empty() {
            return;
        }
        let mask = self.entries - 1;
        while let Some(bid) = self.empty.pop() {
            let mut buf = ArenaBytesMut::for_kernel(self.size);
            let len = buf.capacity().min(self.size).min(u32::MAX as usize) as u32;
            let addr = buf.spare_capacity_mut().as_mut_ptr() as u64;
            // SAFETY: `tail & mask` indexes the mapping; the kernel reads
            // only entries below the published tail, and this one is at or
            // past it.
            unsafe {
                let entry = &mut *self.base.as_ptr().add(usize::from(self.tail & mask));
                entry.set_addr(addr);
                entry.set_len(len);
                entry.set_bid(bid);
            }
            self.lent += buf.capacity();
            self.bufs[usize::from(bid)] = Some(buf);
            self.tail = self.tail.wrapping_add(1);
        }
        // SAFETY: the tail field lies in the first entry of the mapping,
        // which is aligned for a u16; the kernel reads it atomically.
        let tail = unsafe { &*BufRingEntry::tail(self.base.as_ptr()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// Unregisters the group now (the kernel picks no more buffers);
    /// returns whether it is unregistered.
    pub(crate) fn unregister(&mut self, submitter: &Submitter<'_>) -> bool {
        if self.registered && submitter.unregister_buf_ring(self.bgid).is_ok() {
            self.registered = false;
        }
        !self.registered
    }
}

// SAFETY: the mapping is owned by the ring alone (no other pointer to it
// exists in the process), so the ring may move to another thread with it;
// it is used by one thread at a time (the ring's owner is `!Sync`).
unsafe impl Send for BufRing {}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.registered {
            // The owner could not unregister (see the invariants): the
            // kernel may still read the entries and write the blocks.
            std::mem::forget(std::mem::take(&mut self.bufs));
            return;
        }
        // SAFETY: unregistered, so the kernel no longer reads the mapping.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}
