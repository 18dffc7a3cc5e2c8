//! Reuse slots under real contention: parks, takes and closes racing.

#[path = "support/alloc.rs"]
mod support;

use std::sync::mpsc;
use std::thread;

use roost::alloc::{flush_returns, ArenaBytesMut, ArenaConfig, ReuseSlot};
use support::{settle, with_arena};

#[test]
fn park_take_and_close_race_without_losing_a_block() {
    with_arena(ArenaConfig::new(), |monitor| {
        let streams = 16;
        let rounds = 2_000;
        let slots: Vec<ReuseSlot> = (0..streams).map(|_| ReuseSlot::new()).collect();
        let (tx, rx) = mpsc::sync_channel::<ArenaBytesMut>(256);
        let dropper = thread::spawn(move || {
            for buf in rx {
                drop(buf);
            }
            flush_returns();
        });
        for round in 0..rounds {
            let slot = &slots[round % streams];
            let mut buf = slot.take_or_alloc(2048);
            assert!(buf.is_empty() && buf.capacity() == 2048);
            buf.extend_from_slice(&round.to_le_bytes());
            tx.send(buf).unwrap();
        }
        // Close every slot while the dropper may still be parking into them.
        drop(slots);
        drop(tx);
        dropper.join().unwrap();
        let stats = settle(&monitor);
        // Whether a take hits depends on how far the dropper got: count only.
        assert_eq!(stats.slot_hits + stats.slot_misses, rounds as u64);
        assert_eq!(stats.parked_bytes, 0, "closed slots hold nothing");
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn a_full_slot_sends_the_block_home_instead() {
    with_arena(ArenaConfig::new(), |monitor| {
        let slot = ReuseSlot::new();
        let bufs: Vec<ArenaBytesMut> = (0..10)
            .map(|_| {
                let mut b = ArenaBytesMut::with_capacity(4096);
                assert!(b.attach_slot(&slot));
                b
            })
            .collect();
        thread::spawn(move || drop(bufs)).join().unwrap();
        let stats = settle(&monitor);
        assert_eq!(stats.parked_blocks, 1);
        assert_eq!(stats.returns_received, 9);
        let reused = slot.take().expect("one parked");
        assert_eq!(reused.capacity(), 4096);
        drop(reused);
        drop(slot);
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.parked_bytes, 0);
    });
}

#[test]
fn closing_from_another_thread_releases_the_parked_block() {
    with_arena(ArenaConfig::new(), |monitor| {
        let slot = ReuseSlot::new();
        let mut buf = ArenaBytesMut::with_capacity(512);
        buf.attach_slot(&slot);
        thread::spawn(move || drop(buf)).join().unwrap();
        assert!(slot.is_parked());
        thread::spawn(move || {
            drop(slot);
            flush_returns();
        })
        .join()
        .unwrap();
        let stats = settle(&monitor);
        assert_eq!(stats.parked_bytes, 0);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.returns_received, 1);
    });
}
