//! loom models of every cross-thread path of the arena.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-alloc --lib --release`.
//! Threads flush their batches explicitly before they end: loom runs its mock
//! thread-locals' destructors, but does not order them before `join`.
//!
//! Each model drives the real code (thread-local state, batches, return
//! list, slot) on loom's threads and atomics, then checks that the books
//! balance and that nothing is lost.

use ::loom::sync::{Arc, Mutex};
use ::loom::thread;

use crate::*;

fn settled(monitor: &ArenaMonitor) -> ArenaStats {
    maintain();
    let stats = monitor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    stats
}

/// One remote thread returns a block while the owner drains.
#[test]
fn return_push_against_owner_drain() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let a = ArenaBytesMut::with_capacity(512);
        let t = thread::spawn(move || {
            drop(a);
            flush_returns();
        });
        // loom 0.7 does not explore the schedule where the remote thread's
        // load and compare-exchange run before the owner's plain load
        // (tokio-rs/loom#166): yielding first lets it run the remote side
        // before the drain too (see tests/loom_returns.rs).
        thread::yield_now();
        drain_returns();
        t.join().unwrap();
        let stats = settled(&monitor);
        assert_eq!(stats.returns_received, 1);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

/// Two remote threads push onto one return list while the owner drains.
#[test]
fn two_returners_against_owner_drain() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let a = ArenaBytesMut::with_capacity(512);
        let b = ArenaBytesMut::with_capacity(512).freeze();
        let t1 = thread::spawn(move || {
            drop(a);
            flush_returns();
        });
        let t2 = thread::spawn(move || {
            drop(b);
            flush_returns();
        });
        // As above: let loom run the returners before the drain too.
        thread::yield_now();
        drain_returns();
        t1.join().unwrap();
        t2.join().unwrap();
        let stats = settled(&monitor);
        assert_eq!(stats.returns_received, 2);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

/// A remote drop parks into the slot while the owner takes and then closes.
#[test]
fn slot_park_against_take_against_close() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let slot = ReuseSlot::new();
        let mut buf = ArenaBytesMut::with_capacity(512);
        buf.attach_slot(&slot);
        let t = thread::spawn(move || {
            drop(buf);
            flush_returns();
        });
        let taken = slot.take();
        slot.close();
        t.join().unwrap();
        drop(taken);
        drop(slot);
        let stats = settled(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.parked_bytes, 0);
    });
}

/// A remote drop races with a close from a third thread.
#[test]
fn slot_park_against_remote_close() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let slot = Arc::new(ReuseSlot::new());
        let mut buf = ArenaBytesMut::with_capacity(512);
        buf.attach_slot(&slot);
        let closer = slot.clone();
        let t1 = thread::spawn(move || {
            drop(buf);
            flush_returns();
        });
        let t2 = thread::spawn(move || {
            closer.close();
            flush_returns();
        });
        t1.join().unwrap();
        t2.join().unwrap();
        drop(slot);
        // Whichever won, the block came home: parked by the drop and
        // released by the close, or sent home directly.
        let stats = settled(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.parked_bytes, 0);
    });
}

/// The owner exits with a block out while another thread returns it late;
/// the arena is freed exactly once, by whoever finishes last.
#[test]
fn abandoned_arena_against_late_return() {
    ::loom::model(|| {
        let seen = Arc::new(Mutex::new(None));
        let seen_in_owner = seen.clone();
        let owner = thread::spawn(move || {
            let monitor = Arena::current();
            let buf = ArenaBytesMut::with_capacity(512);
            *seen_in_owner.lock().unwrap() = Some(monitor);
            // The returner outlives the owner's exit.
            let returner = thread::spawn(move || {
                drop(buf);
                flush_returns();
            });
            // What the thread-local destructor does at exit (loom does not
            // order the destructors of its mock thread-locals before `join`).
            crate::arena::exit_thread();
            returner
        });
        let returner = owner.join().unwrap();
        returner.join().unwrap();
        let monitor = seen.lock().unwrap().take().unwrap();
        let stats = monitor.stats();
        assert!(stats.released, "{stats:?}");
    });
}
