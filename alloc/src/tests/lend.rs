//! Unit tests of buffers lent to the kernel (`ArenaBytesMut::for_kernel`,
//! `note_ring_dry`) and their ring statistics; small enough for Miri.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::{on_fresh_thread, settle};
use crate::*;

#[test]
fn for_kernel_on_an_arena_thread_counts_provided() {
    on_fresh_thread(|monitor| {
        let a = ArenaBytesMut::for_kernel(2048);
        let mut b = ArenaBytesMut::for_kernel(100);
        assert!(a.is_home() && !a.is_global());
        assert!(a.is_empty());
        assert_eq!(a.capacity(), 2048);
        assert_eq!(b.capacity(), 512);
        b.extend_from_slice(b"received");
        assert_eq!(&b[..], b"received");
        let stats = monitor.stats();
        assert_eq!(stats.ring_provided, 2);
        assert_eq!(stats.ring_reprovided_remote, 0);
        assert_eq!(stats.allocations, 2, "a lent buffer is an allocation too");
        assert_eq!(stats.in_use_blocks, 2);
        drop((a, b));
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_blocks, 0);
        assert_eq!(stats.ring_provided, 2);
    });
}

#[test]
fn remote_drop_drained_home_is_reprovided_once() {
    on_fresh_thread(|monitor| {
        let lent = ArenaBytesMut::for_kernel(2048);
        let block = lent.as_ptr() as usize;
        thread::spawn(move || {
            drop(lent);
            flush_returns();
        })
        .join()
        .unwrap();
        assert_eq!(monitor.stats().ring_reprovided_remote, 0, "not home yet");
        assert_eq!(drain_returns(), 1);
        // LIFO: the block that just came home is the first one lent again.
        let again = ArenaBytesMut::for_kernel(2048);
        assert_eq!(again.as_ptr() as usize, block);
        let stats = monitor.stats();
        assert_eq!(stats.ring_provided, 2);
        assert_eq!(stats.ring_reprovided_remote, 1);
        // Now dropped at home and lent again: no longer a remote return.
        drop(again);
        let third = ArenaBytesMut::for_kernel(2048);
        assert_eq!(third.as_ptr() as usize, block);
        drop(third);
        let stats = settle(&monitor);
        assert_eq!(stats.ring_provided, 3);
        assert_eq!(stats.ring_reprovided_remote, 1);
        assert_eq!(stats.in_use_blocks, 0);
    });
}

#[test]
fn remote_return_taken_by_a_plain_alloc_then_freed_locally_is_not_remote() {
    on_fresh_thread(|monitor| {
        let buf = ArenaBytesMut::with_capacity(4096);
        let block = buf.as_ptr() as usize;
        thread::spawn(move || drop(buf)).join().unwrap();
        assert_eq!(drain_returns(), 1);
        // An ordinary allocation takes the block home, and frees it there.
        let plain = ArenaBytesMut::with_capacity(4096);
        assert_eq!(plain.as_ptr() as usize, block);
        drop(plain);
        let lent = ArenaBytesMut::for_kernel(4096);
        assert_eq!(lent.as_ptr() as usize, block);
        drop(lent);
        let stats = settle(&monitor);
        assert_eq!(stats.ring_provided, 1);
        assert_eq!(stats.ring_reprovided_remote, 0);
    });
}

#[test]
fn locally_freed_block_relent_does_not_count_remote() {
    on_fresh_thread(|monitor| {
        let lent = ArenaBytesMut::for_kernel(512);
        let block = lent.as_ptr() as usize;
        drop(lent);
        let again = ArenaBytesMut::for_kernel(512);
        assert_eq!(again.as_ptr() as usize, block);
        drop(again);
        let stats = settle(&monitor);
        assert_eq!(stats.ring_provided, 2);
        assert_eq!(stats.ring_reprovided_remote, 0);
        assert_eq!(stats.local_frees, 2);
    });
}

#[test]
fn heap_fallbacks_count_nothing_and_work() {
    on_fresh_thread(|monitor| {
        let mut big = ArenaBytesMut::for_kernel(MAX_BLOCK_SIZE + 1);
        assert!(big.is_global());
        assert_eq!(big.capacity(), MAX_BLOCK_SIZE + 1);
        big.extend_from_slice(&[3; 64]);
        assert_eq!(&big[..], &[3; 64]);
        drop(big);
        let stats = settle(&monitor);
        assert_eq!(stats.fallback_large, 1);
        assert_eq!(stats.ring_provided, 0);
        assert_eq!(stats.ring_reprovided_remote, 0);
    });
    // An arena that may take no chunk: every request falls back.
    thread::spawn(|| {
        let monitor = Arena::install(ArenaConfig::new().memory_limit(0)).unwrap();
        let mut refused = ArenaBytesMut::for_kernel(512);
        assert!(refused.is_global());
        refused.extend_from_slice(b"still a buffer");
        drop(refused);
        let stats = settle(&monitor);
        assert_eq!(stats.fallback_limit, 1);
        assert_eq!(stats.ring_provided, 0);
    })
    .join()
    .unwrap();
}

thread_local! {
    /// Initialised before the arena's thread state, so destroyed after it
    /// (thread-local destructors run in reverse order of registration).
    static LEND_AT_EXIT: LendAtExit = const { LendAtExit(Cell::new(false)) };
}

/// Lends a buffer from its destructor, when the thread has no arena any more.
struct LendAtExit(Cell<bool>);

/// Set once `LendAtExit`'s destructor has lent and checked its buffer.
static LENT_AT_EXIT: AtomicBool = AtomicBool::new(false);

impl Drop for LendAtExit {
    fn drop(&mut self) {
        if !self.0.get() {
            return;
        }
        let mut buf = ArenaBytesMut::for_kernel(512);
        assert!(buf.is_global(), "the arena's thread state outlived its destructor");
        buf.extend_from_slice(b"exit");
        assert_eq!(&buf[..], b"exit");
        note_ring_dry();
        LENT_AT_EXIT.store(true, Ordering::SeqCst);
    }
}

#[test]
fn for_kernel_during_thread_exit_uses_the_global_allocator() {
    let monitor = thread::spawn(|| {
        LEND_AT_EXIT.with(|l| l.0.set(true));
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        drop(ArenaBytesMut::for_kernel(512));
        monitor
    })
    .join()
    .expect("lending at thread exit panicked");
    assert!(LENT_AT_EXIT.load(Ordering::SeqCst), "the exit-time lend did not run");
    let stats = monitor.stats();
    assert_eq!(stats.ring_provided, 1, "{stats:?}");
    assert_eq!(stats.ring_dry, 0, "{stats:?}");
    assert!(stats.released, "{stats:?}");
}

#[test]
fn note_ring_dry_counts_on_the_current_arena_only() {
    on_fresh_thread(|monitor| {
        note_ring_dry();
        note_ring_dry();
        assert_eq!(monitor.stats().ring_dry, 2);
        let other = thread::spawn(|| {
            // No arena here yet: the call must not create one.
            note_ring_dry();
            Arena::current().stats().ring_dry
        })
        .join()
        .unwrap();
        assert_eq!(other, 0);
        assert_eq!(settle(&monitor).ring_dry, 2);
    });
}
