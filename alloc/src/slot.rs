//! The one-entry reuse slot a TCP stream keeps per direction.
//!
//! A slot holds at most one *parked* buffer: a block whose last handle was
//! dropped on a thread other than its home, and which waits here for the
//! stream's next operation on the home thread instead of travelling through
//! the return list.
//!
//! # State
//!
//! `state` is one atomic pointer:
//!
//! - null: empty and open; a park may fill it;
//! - [`CLOSED`]: closed for good; nothing parks any more;
//! - a block meta: the parked block, owned by the slot.
//!
//! Transitions: park is `null -> block` (compare-and-swap, release); take
//! and idle release are `block -> null` (compare-and-swap, acquire); close is
//! `anything -> CLOSED` (swap, acquire-release). So a park succeeds only into
//! an empty, open slot; a taken or released block has exactly one owner; and
//! a block parked concurrently with close is released by the closer.
//!
//! # Invariants
//!
//! - A parked block has no handle anywhere: only the drop of a block's last
//!   handle (or an explicit park of a unique buffer) parks it.
//! - A block's `slot` field owns one count on its `SlotShared`; the
//!   [`ReuseSlot`] handle owns another. The parked block keeps its count, so
//!   that a block taken from the slot still belongs to it; close breaks the
//!   cycle by releasing the parked block.

use std::fmt;
use std::ptr::{self, NonNull};

use crate::arena::{self, ArenaInner};
use crate::block::{BlockMeta, HEAP_CLASS};
use crate::bytes_mut::ArenaBytesMut;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// `state` of a closed slot.
const CLOSED: *mut BlockMeta = ptr::without_provenance_mut(1);

/// The shared part of a slot, reference-counted by hand: one count for the
/// [`ReuseSlot`] and one for every block whose `slot` field names it.
pub(crate) struct SlotShared {
    state: AtomicPtr<BlockMeta>,
    refs: AtomicUsize,
}

impl SlotShared {
    /// Adds a count, for a block being attached to the slot that another
    /// block's `slot` field names.
    ///
    /// # Safety
    ///
    /// Someone holds a count on `slot` for the duration of the call (the
    /// caller's handle on a block attached to it, say).
    pub(crate) unsafe fn acquire_ref_raw(slot: *const SlotShared) {
        // SAFETY: that count keeps it alive.
        unsafe { (*slot).refs.fetch_add(1, Ordering::Relaxed) };
    }

    /// Drops one count; frees the slot with the last.
    ///
    /// # Safety
    ///
    /// The caller owns one count on `slot`.
    pub(crate) unsafe fn release_ref(slot: *const SlotShared) {
        // SAFETY: our count keeps it alive.
        if unsafe { (*slot).refs.fetch_sub(1, Ordering::Release) } != 1 {
            return;
        }
        // Acquire what every other count's release published before the
        // free. A load rather than a fence, as std's `Arc` does under
        // ThreadSanitizer: TSan does not model standalone fences, and the
        // load (of the release sequence our own decrement ended) orders the
        // same.
        // SAFETY: our count was the last: the slot is still live.
        unsafe { (*slot).refs.load(Ordering::Acquire) };
        // SAFETY: last count: nobody else can reach it; it came from Box::into_raw.
        drop(unsafe { Box::from_raw(slot.cast_mut()) });
    }

    /// Tries to park `meta`, whose last handle just dropped on a thread that
    /// is not its home. On success the slot owns the block (and the block
    /// keeps its count on the slot). On failure nothing changed.
    ///
    /// # Safety
    ///
    /// The caller owns the idle arena block `meta` of `arena`, whose `slot`
    /// field is `slot` (with its count).
    pub(crate) unsafe fn park_from_drop(
        slot: *const SlotShared,
        meta: *mut BlockMeta,
        arena: *const ArenaInner,
    ) -> bool {
        // SAFETY: the block's count keeps the slot alive; the block keeps the
        // arena alive until it is parked.
        unsafe {
            let state = &(*slot).state;
            if !state.load(Ordering::Relaxed).is_null() {
                return false;
            }
            // Count it before publishing it: once parked, the owner may take
            // it and count it out at once, and the arena may go away.
            (*arena).note_parked((*meta).class);
            if state
                .compare_exchange(ptr::null_mut(), meta, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return true;
            }
            (*arena).note_unparked((*meta).class);
            false
        }
    }

    /// Takes the parked block out of the slot, if there is one.
    fn take_block(&self) -> Option<NonNull<BlockMeta>> {
        let current = self.state.load(Ordering::Relaxed);
        if current.is_null() || current == CLOSED {
            return None;
        }
        // Only one thread takes (the slot's owner), so this fails only if the
        // slot was closed meanwhile.
        self.state
            .compare_exchange(current, ptr::null_mut(), Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        // SAFETY: a parked block is a live meta that we now own; it is an arena
        // block (heap blocks never park), whose arena is alive while it is out.
        unsafe { (*arena::arena_of(current)).note_unparked((*current).class) };
        NonNull::new(current)
    }
}

/// A one-entry reuse slot: the owning handle a stream keeps per direction.
///
/// Dropping the `ReuseSlot` closes it and releases a parked buffer.
///
/// # Examples
///
/// ```
/// use roost_alloc::{ArenaBytesMut, ReuseSlot};
///
/// let slot = ReuseSlot::new();
/// let mut buf = ArenaBytesMut::with_capacity(2048);
/// assert!(buf.attach_slot(&slot));
/// buf.extend_from_slice(b"request");
///
/// // Dropped on another thread: the buffer parks in the slot.
/// std::thread::spawn(move || drop(buf)).join().unwrap();
///
/// // The home thread's next operation takes it back, empty.
/// let again = slot.take().expect("parked");
/// assert_eq!(again.len(), 0);
/// assert_eq!(again.capacity(), 2048);
/// ```
pub struct ReuseSlot {
    shared: NonNull<SlotShared>,
}

// SAFETY: all of `SlotShared` is atomics; the handle only ever goes through them.
unsafe impl Send for ReuseSlot {}
// SAFETY: as above; every method takes `&self` and is safe to race.
unsafe impl Sync for ReuseSlot {}

impl Default for ReuseSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ReuseSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReuseSlot")
            .field("parked", &self.is_parked())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ReuseSlot {
    /// An empty, open slot.
    pub fn new() -> Self {
        let shared = Box::new(SlotShared {
            state: AtomicPtr::new(ptr::null_mut()),
            refs: AtomicUsize::new(1),
        });
        Self {
            // SAFETY: Box::into_raw never returns null.
            shared: unsafe { NonNull::new_unchecked(Box::into_raw(shared)) },
        }
    }

    fn shared(&self) -> &SlotShared {
        // SAFETY: our count keeps it alive.
        unsafe { self.shared.as_ref() }
    }

    pub(crate) fn shared_ptr(&self) -> *const SlotShared {
        self.shared.as_ptr()
    }

    /// Adds a count for a block that is being attached to this slot.
    pub(crate) fn acquire_ref(&self) {
        self.shared().refs.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the parked buffer, if any: empty, with the whole block as
    /// capacity, still attached to this slot. Counted as a slot hit or miss
    /// on the current thread's arena.
    pub fn take(&self) -> Option<ArenaBytesMut> {
        let taken = self.shared().take_block();
        let _ = arena::with_current(|a| {
            if taken.is_some() {
                a.stats.slot_hits.add(1);
            } else {
                a.stats.slot_misses.add(1);
            }
        });
        taken.map(|meta| {
            // SAFETY: we own the idle block now; it becomes a unique buffer.
            unsafe {
                meta.as_ref().refs.store(1, Ordering::Relaxed);
                ArenaBytesMut::from_block(meta)
            }
        })
    }

    /// The slot's buffer if one is parked, else a fresh buffer of at least
    /// `capacity` bytes from the current thread's arena, attached to this slot.
    ///
    /// A parked buffer smaller than `capacity` is released and replaced.
    pub fn take_or_alloc(&self, capacity: usize) -> ArenaBytesMut {
        if let Some(buf) = self.take() {
            if buf.capacity() >= capacity {
                return buf;
            }
        }
        let mut buf = ArenaBytesMut::with_capacity(capacity);
        buf.attach_slot(self);
        buf
    }

    /// Parks a unique buffer explicitly (the send path does this once the
    /// kernel has taken every byte). Fails, giving the buffer back, if the
    /// slot is full or closed, or if the buffer is shared, came from the
    /// global allocator, or belongs to another slot.
    ///
    /// # Errors
    ///
    /// The buffer itself, when it could not be parked.
    pub fn park(&self, buf: ArenaBytesMut) -> Result<(), ArenaBytesMut> {
        let meta = buf.meta();
        // SAFETY: the handle keeps the meta alive.
        let m = unsafe { meta.as_ref() };
        let attached = m.slot.get();
        if m.class == HEAP_CLASS || !buf.is_unique() || (!attached.is_null() && attached != self.shared_ptr()) {
            return Err(buf);
        }
        let state = &self.shared().state;
        if !state.load(Ordering::Relaxed).is_null() {
            return Err(buf);
        }
        // SAFETY: arena block, alive while out.
        let arena = unsafe { arena::arena_of(meta.as_ptr()) };
        if attached.is_null() {
            self.acquire_ref();
            m.slot.set(self.shared_ptr());
        }
        // The block leaves its handle: from here it is owned by the park.
        let meta = buf.into_block();
        // SAFETY: we own the idle block (unique handle consumed).
        if unsafe { SlotShared::park_from_drop(self.shared_ptr(), meta.as_ptr(), arena) } {
            arena::with_current(|a| a.stats.slot_parks.add(1));
            return Ok(());
        }
        // SAFETY: still ours; rebuild the unique handle.
        Err(unsafe {
            meta.as_ref().refs.store(1, Ordering::Relaxed);
            ArenaBytesMut::from_block(meta)
        })
    }

    /// Releases the parked buffer, if any, to its arena; the slot stays open.
    /// A stream calls this when it has been idle for a while, so that idle
    /// connections hold no memory. Returns whether a buffer was released.
    pub fn release_parked(&self) -> bool {
        match self.shared().take_block() {
            Some(meta) => {
                // SAFETY: we own the idle block.
                unsafe { release_detached(meta) };
                true
            }
            None => false,
        }
    }

    /// Closes the slot for good, releasing a parked buffer. Later parks fail;
    /// buffers still attached go home through the return list.
    pub fn close(&self) {
        let previous = self.shared().state.swap(CLOSED, Ordering::AcqRel);
        if previous.is_null() || previous == CLOSED {
            return;
        }
        // SAFETY: the swap made the parked block ours; it is an arena block.
        unsafe {
            (*arena::arena_of(previous)).note_unparked((*previous).class);
            release_detached(NonNull::new_unchecked(previous));
        }
    }

    /// Whether a buffer is parked.
    pub fn is_parked(&self) -> bool {
        let s = self.shared().state.load(Ordering::Relaxed);
        !s.is_null() && s != CLOSED
    }

    /// Whether the slot is closed.
    pub fn is_closed(&self) -> bool {
        self.shared().state.load(Ordering::Relaxed) == CLOSED
    }
}

/// Detaches an idle block from its slot and releases it to its arena.
///
/// # Safety
///
/// The caller owns the idle block `meta`.
unsafe fn release_detached(meta: NonNull<BlockMeta>) {
    // SAFETY: per the contract.
    unsafe {
        let slot = meta.as_ref().slot.get();
        if !slot.is_null() {
            arena::detach_slot(meta.as_ptr(), slot);
        }
        arena::release_block(meta);
    }
}

impl Drop for ReuseSlot {
    fn drop(&mut self) {
        self.close();
        // SAFETY: the handle's own count.
        unsafe { SlotShared::release_ref(self.shared.as_ptr()) };
    }
}
