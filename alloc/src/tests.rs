//! Unit tests of the arena, small enough for Miri.

use std::sync::mpsc;
use std::thread;

use ::bytes::{Buf, BufMut};

use crate::*;

/// Flushes this thread's batches, drains its arena and checks that its
/// counters are consistent (leaks are checked through `in_use_bytes`).
fn settle(monitor: &ArenaMonitor) -> ArenaStats {
    maintain();
    let stats = monitor.stats();
    assert!(stats.is_balanced(), "unbalanced: {stats:?}");
    stats
}

/// Runs `f` on a fresh thread with a fresh arena (tests share threads).
fn on_fresh_thread(f: impl FnOnce(ArenaMonitor) + Send + 'static) {
    thread::spawn(move || {
        let monitor = Arena::install(ArenaConfig::new()).expect("fresh thread");
        f(monitor);
    })
    .join()
    .expect("test thread panicked");
}

#[test]
fn every_size_class_round_trips_locally() {
    on_fresh_thread(|monitor| {
        for &size in CLASS_SIZES.iter() {
            let mut buf = ArenaBytesMut::with_capacity(size);
            assert_eq!(buf.capacity(), size);
            assert!(buf.is_home());
            assert!(!buf.is_global());
            buf.extend_from_slice(&[0xA5; 16]);
            buf.spare_capacity_mut()[size - 17].write(1);
            assert_eq!(&buf[..], &[0xA5; 16]);
        }
        let stats = settle(&monitor);
        assert_eq!(stats.allocations, CLASS_SIZES.len() as u64);
        assert_eq!(stats.local_frees, CLASS_SIZES.len() as u64);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.chunk_bytes, (CLASS_SIZES.len() * CHUNK_SIZE) as u64);
    });
}

#[test]
fn freed_block_is_reused_lifo() {
    on_fresh_thread(|monitor| {
        let a = ArenaBytesMut::with_capacity(2048);
        let addr = a.as_ptr();
        drop(a);
        let b = ArenaBytesMut::with_capacity(2000);
        assert_eq!(b.as_ptr(), addr);
        drop(b);
        settle(&monitor);
    });
}

#[test]
fn large_requests_go_to_the_global_allocator() {
    on_fresh_thread(|monitor| {
        let mut big = ArenaBytesMut::with_capacity(MAX_BLOCK_SIZE + 1);
        assert!(big.is_global());
        assert_eq!(big.capacity(), MAX_BLOCK_SIZE + 1);
        big.put_bytes(7, 100);
        let frozen = big.freeze();
        let other = frozen.clone();
        thread::spawn(move || drop(other)).join().unwrap();
        assert_eq!(frozen.len(), 100);
        drop(frozen);
        let stats = settle(&monitor);
        assert_eq!(stats.fallback_large, 1);
        assert_eq!(stats.fallback_bytes, (MAX_BLOCK_SIZE + 1) as u64);
        assert_eq!(stats.block_bytes, 0);
    });
}

#[test]
fn memory_limit_degrades_to_the_global_allocator() {
    thread::spawn(|| {
        let monitor = Arena::install(ArenaConfig::new().memory_limit(CHUNK_SIZE)).unwrap();
        // One chunk of 64 KiB blocks holds a handful; ask for more.
        let bufs: Vec<_> = (0..40).map(|_| ArenaBytesMut::with_capacity(64 * 1024)).collect();
        let global = bufs.iter().filter(|b| b.is_global()).count();
        assert!(global > 0);
        let stats = monitor.stats();
        assert_eq!(stats.fallback_limit, global as u64);
        assert_eq!(stats.chunk_bytes, CHUNK_SIZE as u64);
        // Other classes are refused too: the limit is per arena.
        let small = ArenaBytesMut::with_capacity(512);
        assert!(small.is_global());
        drop(small);
        drop(bufs);
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert!(stats.chunk_bytes_high_water <= CHUNK_SIZE as u64);
    })
    .join()
    .unwrap();
}

#[test]
fn remote_free_comes_home_in_batches() {
    on_fresh_thread(|monitor| {
        let n = RETURN_BATCH * 2 + 3;
        let bufs: Vec<_> = (0..n).map(|_| ArenaBytesMut::with_capacity(2048)).collect();
        let (done_tx, done_rx) = mpsc::channel();
        let freer = thread::spawn(move || {
            let freer_arena = Arena::current();
            drop(bufs);
            // Two full batches went at once; the rest waits for a flush.
            let sent = freer_arena.stats();
            assert_eq!(sent.returns_sent, (RETURN_BATCH * 2) as u64);
            assert_eq!(sent.batches_sent, 2);
            done_tx.send(()).unwrap();
            flush_returns();
            assert_eq!(freer_arena.stats().returns_sent, n as u64);
        });
        done_rx.recv().unwrap();
        freer.join().unwrap();
        assert_eq!(drain_returns(), n);
        let stats = settle(&monitor);
        assert_eq!(stats.returns_received, n as u64);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn drained_blocks_are_reused_before_new_chunks() {
    on_fresh_thread(|monitor| {
        let n = 600; // more than one 2 KiB chunk holds
        let bufs: Vec<_> = (0..n).map(|_| ArenaBytesMut::with_capacity(2048)).collect();
        let chunks = monitor.stats().chunk_bytes;
        thread::spawn(move || drop(bufs)).join().unwrap();
        let again: Vec<_> = (0..n).map(|_| ArenaBytesMut::with_capacity(2048)).collect();
        assert_eq!(monitor.stats().chunk_bytes, chunks, "returned blocks must be reused");
        drop(again);
        settle(&monitor);
    });
}

#[test]
fn frozen_clones_share_one_block() {
    on_fresh_thread(|monitor| {
        let mut buf = ArenaBytesMut::with_capacity(100);
        buf.extend_from_slice(b"hello, world");
        let frozen = buf.freeze();
        let a = frozen.slice(..5);
        let mut b = frozen.slice(7..);
        assert_eq!(&a[..], b"hello");
        assert_eq!(b.get_u8(), b'w');
        assert_eq!(b.chunk(), b"orld");
        let c = b.clone();
        drop(frozen);
        thread::spawn(move || drop(c)).join().unwrap();
        assert!(!a.is_unique());
        drop(b);
        assert!(a.is_unique());
        let mut back = a.try_into_mut().expect("unique");
        assert_eq!(&back[..], b"hello");
        back.extend_from_slice(b"!");
        assert_eq!(&back[..], b"hello!");
        drop(back);
        let stats = settle(&monitor);
        assert_eq!(stats.allocations, 1);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn split_handles_release_the_block_once() {
    on_fresh_thread(|monitor| {
        let mut buf = ArenaBytesMut::with_capacity(512);
        buf.extend_from_slice(b"0123456789");
        let head = buf.split_to(4);
        let mut tail = buf.split_off(3);
        assert_eq!(&head[..], b"0123");
        assert_eq!(&buf[..], b"456");
        assert_eq!(&tail[..], b"789");
        assert_eq!(buf.capacity(), 3);
        tail.extend_from_slice(b"abc");
        assert_eq!(&tail[..], b"789abc");
        assert!(!tail.is_unique());
        let moved = thread::spawn(move || {
            drop(head);
            tail
        })
        .join()
        .unwrap();
        drop(buf);
        assert!(moved.is_unique());
        drop(moved);
        let stats = settle(&monitor);
        assert_eq!(stats.allocations, 1);
        assert_eq!(stats.local_frees, 1);
    });
}

#[test]
fn growing_past_capacity_moves_to_a_larger_class() {
    on_fresh_thread(|monitor| {
        let mut buf = ArenaBytesMut::with_capacity(512);
        for i in 0..3000u32 {
            buf.put_u8(i as u8);
        }
        assert_eq!(buf.len(), 3000);
        assert!(buf.capacity() >= 3000);
        assert!(buf.iter().enumerate().all(|(i, &b)| b == i as u8));
        drop(buf);
        settle(&monitor);
    });
}

#[test]
fn into_bytes_keeps_the_block_until_the_last_bytes_clone() {
    on_fresh_thread(|monitor| {
        let bytes = ArenaBytes::copy_from_slice(b"interop").into_bytes();
        let clone = bytes.slice(2..);
        drop(bytes);
        assert_eq!(monitor.stats().in_use_bytes, 512);
        assert_eq!(monitor.stats().in_use_blocks, 1);
        assert_eq!(&clone[..], b"terop");
        drop(clone);
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.in_use_blocks, 0);
    });
}

#[test]
fn slot_parks_remote_drops_and_hands_them_back() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let mut buf = ArenaBytesMut::with_capacity(2048);
        assert!(buf.attach_slot(&slot));
        buf.extend_from_slice(b"request");
        let addr = buf.as_ptr();
        thread::spawn(move || drop(buf)).join().unwrap();
        assert!(slot.is_parked());
        let stats = monitor.stats();
        assert_eq!(stats.parked_bytes, 2048);
        // A parked block is not in use.
        assert_eq!(stats.in_use_blocks, 0);
        assert!(stats.is_balanced());
        let again = slot.take_or_alloc(2048);
        assert_eq!(again.as_ptr(), addr);
        assert!(again.is_empty());
        assert_eq!(monitor.stats().slot_hits, 1);
        // Full slot: a second remote drop goes through the return list.
        let mut other = ArenaBytesMut::with_capacity(2048);
        other.attach_slot(&slot);
        thread::spawn(move || {
            drop(again);
            drop(other);
        })
        .join()
        .unwrap();
        assert!(slot.is_parked());
        let stats = settle(&monitor);
        assert_eq!(stats.returns_received, 1);
        assert_eq!(stats.parked_blocks, 1);
        // Closing releases the parked block.
        drop(slot);
        let stats = settle(&monitor);
        assert_eq!(stats.parked_bytes, 0);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn home_drop_of_a_slotted_buffer_goes_to_the_free_list() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let mut buf = ArenaBytesMut::with_capacity(512);
        buf.attach_slot(&slot);
        drop(buf);
        assert!(!slot.is_parked());
        assert!(slot.take().is_none());
        let stats = settle(&monitor);
        assert_eq!(stats.local_frees, 1);
        assert_eq!(stats.slot_misses, 1);
    });
}

#[test]
fn explicit_park_and_idle_release() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let buf = ArenaBytesMut::with_capacity(4096);
        slot.park(buf).expect("empty slot");
        let second = ArenaBytesMut::with_capacity(4096);
        let second = slot.park(second).expect_err("full slot refuses");
        drop(second);
        assert_eq!(monitor.stats().parked_bytes, 4096);
        assert!(slot.release_parked());
        assert!(!slot.release_parked());
        // An empty slot still refuses a buffer that shares its block.
        let mut whole = ArenaBytesMut::with_capacity(512);
        whole.extend_from_slice(b"01234567");
        let head = whole.split_to(4);
        let whole = slot.park(whole).expect_err("a shared block is refused");
        assert_eq!(monitor.stats().parked_bytes, 0);
        drop((head, whole));
        let stats = settle(&monitor);
        assert_eq!(stats.parked_bytes, 0);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.slot_parks, 1);
    });
}

#[test]
fn closed_slot_refuses_parks() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let mut buf = ArenaBytesMut::with_capacity(512);
        buf.attach_slot(&slot);
        slot.close();
        assert!(slot.is_closed());
        thread::spawn(move || drop(buf)).join().unwrap();
        assert!(!slot.is_parked());
        let stats = settle(&monitor);
        assert_eq!(stats.returns_received, 1);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn abandoned_arena_is_freed_by_the_last_late_return() {
    let (tx, rx) = mpsc::channel();
    let owner = thread::spawn(move || {
        let monitor = Arena::current();
        let bufs: Vec<_> = (0..3).map(|_| ArenaBytesMut::with_capacity(1024)).collect();
        tx.send((monitor, bufs)).unwrap();
    });
    let (monitor, mut bufs) = rx.recv().unwrap();
    owner.join().unwrap();
    let stats = monitor.stats();
    assert!(stats.abandoned);
    assert!(!stats.released);
    bufs[0].extend_from_slice(b"still mine");
    assert_eq!(&bufs[0][..], b"still mine");
    drop(bufs.pop());
    flush_returns();
    assert!(!monitor.stats().released);
    drop(bufs);
    flush_returns();
    assert!(monitor.stats().released);
}

#[test]
fn arena_with_nothing_out_is_released_at_exit() {
    let monitor = thread::spawn(|| {
        let monitor = Arena::current();
        drop(ArenaBytesMut::with_capacity(100));
        monitor
    })
    .join()
    .unwrap();
    let stats = monitor.stats();
    assert!(stats.released);
    assert!(!stats.abandoned);
}

#[test]
fn install_refuses_a_second_arena_in_use() {
    on_fresh_thread(|_monitor| {
        let keep = ArenaBytesMut::with_capacity(10);
        assert_eq!(
            Arena::install(ArenaConfig::new()).unwrap_err(),
            InstallError::AlreadyInstalled
        );
        drop(keep);
    });
}

#[test]
fn drain_notifier_fires_at_half_the_cap() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    thread::spawn(move || {
        let notify: DrainNotifier = Arc::new(move || {
            seen.fetch_add(1, Ordering::Relaxed);
        });
        let cap = 4 * RETURN_BATCH;
        let monitor = Arena::install(ArenaConfig::new().return_cap(cap).drain_notifier(notify)).unwrap();
        let bufs: Vec<_> = (0..cap + RETURN_BATCH)
            .map(|_| ArenaBytesMut::with_capacity(512))
            .collect();
        thread::spawn(move || drop(bufs)).join().unwrap();
        let stats = monitor.stats();
        assert_eq!(stats.returns_over_cap, RETURN_BATCH as u64);
        assert_eq!(stats.return_list_blocks, (cap + RETURN_BATCH) as u64);
        // The owner drains on its next tick (here: maintain).
        let stats = settle(&monitor);
        assert_eq!(stats.returns_received, (cap + RETURN_BATCH) as u64);
        assert_eq!(stats.return_list_blocks, 0);
    })
    .join()
    .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn reserve_on_the_home_thread_keeps_the_slot_attachment() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let mut buf = slot.take_or_alloc(512);
        buf.extend_from_slice(&[7; 512]);
        // Past the capacity: the contents move to a larger block.
        buf.extend_from_slice(b"more");
        assert!(buf.capacity() > 512);
        assert_eq!(buf.len(), 516);
        let addr = buf.as_ptr();
        // The old block went home to the free list (dropped at home), not
        // into the slot.
        assert!(!slot.is_parked());
        // Dropped elsewhere, the grown buffer parks in the slot it came from.
        thread::spawn(move || drop(buf)).join().unwrap();
        assert!(slot.is_parked());
        let again = slot.take_or_alloc(512);
        assert_eq!(again.as_ptr(), addr);
        assert!(again.capacity() > 512);
        drop(again);
        drop(slot);
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.parked_bytes, 0);
    });
}

#[test]
fn reserve_on_another_thread_leaves_the_larger_block_unattached() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let mut buf = slot.take_or_alloc(512);
        buf.extend_from_slice(&[1; 512]);
        let buf = thread::spawn(move || {
            buf.extend_from_slice(b"grown away from home");
            assert!(buf.is_home(), "the larger block is this thread's");
            buf
        })
        .join()
        .unwrap();
        // The old block was dropped off its home: it parked in its slot.
        assert!(slot.is_parked());
        assert!(slot.release_parked());
        // The foreign block does not park in the home core's slot when it
        // is dropped off its own home (here), it goes back to its arena.
        assert!(!buf.is_home());
        assert_eq!(&buf[512..], b"grown away from home");
        drop(buf);
        assert!(!slot.is_parked());
        drop(slot);
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn reserve_of_a_split_buffer_keeps_its_slot_on_the_new_block_only() {
    on_fresh_thread(|monitor| {
        let slot = ReuseSlot::new();
        let mut buf = slot.take_or_alloc(512);
        buf.extend_from_slice(&[3; 100]);
        let head = buf.split_to(10);
        // The rest grows past its window: it moves, the block stays shared
        // with `head`, and the new block is attached to the same slot.
        buf.extend_from_slice(&[4; 600]);
        assert!(buf.is_unique());
        thread::spawn(move || drop(buf)).join().unwrap();
        assert!(slot.is_parked());
        assert!(slot.release_parked());
        drop(head);
        drop(slot);
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.parked_bytes, 0);
    });
}

mod lend;
