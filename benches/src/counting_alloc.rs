//! A global allocator that counts the calls of the threads that asked to be
//! counted, by group, and passes everything to the system allocator.
//!
//! A bench binary installs it with
//! `#[global_allocator] static A: CountingAlloc = CountingAlloc;` and each
//! server thread joins its group at start with
//! [`counters::register_current_thread`](crate::counters::register_current_thread);
//! other threads (the load client, the main thread) are not counted. The
//! hot path is one thread-local read and, for a counted thread, one relaxed
//! increment of its group's counter (one cache line per group).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Groups of counted threads (group 0 is "not counted").
pub(crate) const GROUPS: usize = 16;

#[repr(align(128))]
struct Padded(AtomicU64);

static CALLS: [Padded; GROUPS] = [const { Padded(AtomicU64::new(0)) }; GROUPS];

thread_local! {
    static GROUP: Cell<u8> = const { Cell::new(0) };
}

/// Counts `alloc`, `alloc_zeroed` and `realloc` calls (frees are not
/// counted: each allocation has one) of counted threads, then calls
/// [`System`].
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

#[inline]
fn count() {
    let group = GROUP.try_with(Cell::get).unwrap_or(0);
    if group != 0 {
        CALLS[usize::from(group)].0.fetch_add(1, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds
// `GlobalAlloc`'s contract; counting allocates nothing.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Makes the calling thread's allocations count for `group` (1 to 15).
pub(crate) fn join_group(group: u8) {
    debug_assert!(group != 0 && usize::from(group) < GROUPS);
    let _ = GROUP.try_with(|g| g.set(group));
}

/// The allocator calls counted for `group` so far (0 where the binary does
/// not install [`CountingAlloc`]).
pub(crate) fn calls(group: u8) -> u64 {
    CALLS[usize::from(group)].0.load(Relaxed)
}
