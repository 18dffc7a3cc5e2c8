//! loom models of an explicit [`ReuseSlot::park`] against the slot's take and
//! close.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-alloc --lib --release loom_`.
//! The owner yields after starting the parker for the reason given in
//! `loom_returns.rs` (loom's DPOR misses some orders of a load against a
//! remote load + CAS unless the remote side runs first).
//!
//! Broken on purpose once each (then restored): `close` as a load and a
//! store instead of a swap (a park in between is lost: both models), the
//! park's `Release` weakened to `Relaxed` (both), and the take's `Acquire`
//! weakened to `Relaxed` (the take-and-close model, whose owner uses the
//! buffer before anything else synchronises with the parker).

use ::loom::sync::Arc;
use ::loom::thread;

use crate::*;

fn settled(monitor: &ArenaMonitor) {
    maintain();
    let stats = monitor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!(stats.in_use_bytes, 0, "{stats:?}");
    assert_eq!(stats.parked_bytes, 0, "{stats:?}");
}

/// A remote thread parks a unique buffer while the slot's owner takes and
/// then closes: the buffer is taken, or released by the close, or refused
/// and dropped by the parker; never lost, never in two places.
#[test]
fn loom_explicit_park_against_take_and_close() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let slot = Arc::new(ReuseSlot::new());
        let buf = ArenaBytesMut::with_capacity(512);
        let parker_slot = slot.clone();
        let parker = thread::spawn(move || {
            let parked = match parker_slot.park(buf) {
                Ok(()) => true,
                Err(refused) => {
                    drop(refused);
                    false
                }
            };
            flush_returns();
            parked
        });
        thread::yield_now();
        // The stream's next operation on the home thread: take the parked
        // buffer and use it (its drop reads the block's fields the parker
        // wrote) before anything else synchronises with the parker.
        let taken = slot.take();
        let took = taken.is_some();
        if let Some(mut buf) = taken {
            assert!(buf.is_empty() && buf.capacity() == 512);
            buf.extend_from_slice(b"reply");
            drop(buf);
        }
        slot.close();
        assert!(!slot.is_parked(), "a closed slot holds nothing");
        let parked = parker.join().unwrap();
        assert!(!took || parked, "took a buffer that was never parked");
        drop(slot);
        settled(&monitor);
    });
}

/// A remote thread parks while a third thread closes the slot: if the park
/// won, the close released the buffer; if the close won, the park was
/// refused and the parker still holds the buffer.
#[test]
fn loom_explicit_park_against_remote_close() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let slot = Arc::new(ReuseSlot::new());
        let buf = ArenaBytesMut::with_capacity(512);
        let (parker_slot, closer_slot) = (slot.clone(), slot.clone());
        let parker = thread::spawn(move || {
            let refused = parker_slot.park(buf).err();
            let parked = refused.is_none();
            drop(refused);
            flush_returns();
            parked
        });
        let closer = thread::spawn(move || {
            closer_slot.close();
            flush_returns();
        });
        thread::yield_now();
        parker.join().unwrap();
        closer.join().unwrap();
        assert!(slot.is_closed() && !slot.is_parked());
        // Nothing parked survives the close, without dropping the slot.
        maintain();
        assert_eq!(monitor.stats().parked_bytes, 0, "{:?}", monitor.stats());
        drop(slot);
        settled(&monitor);
    });
}
