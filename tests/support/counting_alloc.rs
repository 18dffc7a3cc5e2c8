//! A global allocator that counts the calls (alloc, dealloc, realloc) made
//! on threads that asked to be counted: a test binary installs it with
//! `#[global_allocator] static A: CountingAllocator = CountingAllocator;`
//! and its runtime's `on_thread_start` calls [`count_this_thread`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts every call made on a counted thread, then calls [`System`].
pub struct CountingAllocator;

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Counts the calling thread's calls from now on.
pub fn count_this_thread() {
    COUNTED.with(|c| c.set(true));
}

/// The calls counted so far, on every counted thread.
pub fn calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

fn count() {
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
