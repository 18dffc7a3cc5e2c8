//! loom models of the return path beyond one block and one returner:
//! shared clones dropped on two foreign threads, a batch sent because it is
//! full or evicted, late returners racing the owner's abandonment, and the
//! drain notifier.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-alloc --lib --release loom_`.
//! Under loom a batch holds 2 blocks and a thread batches for 1 arena at a
//! time (`remote.rs`), so that two blocks fill a batch and two arenas evict.
//!
//! # Why the owner yields first
//!
//! loom 0.7's DPOR misses the interleaving in which a remote thread's
//! `load` + `compare_exchange` on an atomic runs before an owner's plain
//! `load` of it, when the owner's load comes first in loom's initial
//! schedule (tokio-rs/loom#166, #392: the remote thread's own load hides the
//! owner's from the race check). The arena's return list is exactly that
//! pattern (`send_home` loads the head then CASes it; `drain` loads it
//! first). So each owner below yields right after starting its remote
//! threads: loom's first schedule then runs the remote side first and its
//! race checks see every order.
//!
//! # What each model catches
//!
//! Each was run once against a deliberately broken arena (then restored):
//!
//! - shared clones: the last-reference decrement as a load and a store
//!   (both droppers see 2, the block never comes home);
//! - full batch: the cap test `>=` made `>` (the batch never leaves);
//! - evicted batch: eviction without sending the evicted batch;
//! - late returners: `send_home` ignoring the `ABANDONED` tag, and
//!   `abandon` as a load and a store instead of a swap (the arena is never
//!   freed); a late returner reading the arena after its last block went
//!   (a use-after-free: loom's freed atomic no longer names a live object
//!   and loom panics, which depends on the freed memory being overwritten,
//!   so take it as a bonus rather than a guarantee; Miri is the check);
//! - drain notifier, two returners: the owner's re-notification removed,
//!   and the `drain_wanted` flag this file's commit removed (both: the
//!   owner sleeps with a return pending); the threshold off by one (also the
//!   one-returner model);
//! - every model that drains: the push's `Release` or the drain's `Acquire`
//!   weakened to `Relaxed` (a causality violation on the block's `next`,
//!   which is a loom cell under loom), and `abandon`'s `Acquire` likewise.
//!
//! Not caught: dropping the `Acquire` fence after the last decrement in
//! `drop_handle`, which orders the other holders' reads of the block's
//! bytes; those bytes are not loom cells.

use ::loom::sync::atomic::{AtomicUsize, Ordering};
use ::loom::sync::{Arc, Notify};
use ::loom::thread;

use crate::*;

/// The owner's event loop in miniature: drain until `want` blocks came home,
/// yielding between looks. If they never come, loom stops the model (it
/// exceeds its branch limit) and the test fails.
fn drain_until(want: usize) -> usize {
    let mut got = 0;
    while got < want {
        thread::yield_now();
        got += drain_returns();
    }
    got
}

fn settled(monitor: &ArenaMonitor) -> ArenaStats {
    maintain();
    let stats = monitor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!(stats.in_use_bytes, 0, "{stats:?}");
    stats
}

/// Two clones of one frozen buffer are dropped at once on two threads,
/// neither of them the home: exactly one of them (the last) sends the block
/// home, exactly once.
#[test]
fn loom_shared_clones_dropped_on_two_foreign_threads() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let a = ArenaBytesMut::with_capacity(512).freeze();
        let b = a.clone();
        let t1 = thread::spawn(move || {
            drop(a);
            flush_returns();
        });
        let t2 = thread::spawn(move || {
            drop(b);
            flush_returns();
        });
        thread::yield_now();
        let mut got = drain_returns();
        t1.join().unwrap();
        t2.join().unwrap();
        got += drain_returns();
        assert_eq!(got, 1, "the block came home {got} times");
        let stats = settled(&monitor);
        assert_eq!(stats.returns_received, 1);
    });
}

/// A returner drops two blocks and never flushes: the full batch goes home
/// on its own, while the owner drains.
#[test]
fn loom_full_batch_goes_home_against_owner_drain() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let a = ArenaBytesMut::with_capacity(512);
        let b = ArenaBytesMut::with_capacity(512);
        let done = Arc::new(Notify::new());
        let done_in_returner = done.clone();
        let returner = thread::spawn(move || {
            drop(a);
            drop(b);
            // Stay alive (no flush at thread exit) until the owner has both.
            done_in_returner.wait();
        });
        assert_eq!(drain_until(2), 2);
        done.notify();
        returner.join().unwrap();
        assert_eq!(settled(&monitor).returns_received, 2);
    });
}

/// A returner batches a block for the owner, then drops a block of a second
/// arena: with one destination per thread (under loom) the owner's batch is
/// evicted, that is sent home, while the owner drains. The second arena's
/// thread has exited: its batch, flushed later, frees it.
#[test]
fn loom_evicted_batch_goes_home_against_owner_drain() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let mine = ArenaBytesMut::with_capacity(512);
        let (theirs, their_monitor) = thread::spawn(|| {
            let monitor = Arena::current();
            let buf = ArenaBytesMut::with_capacity(512);
            // What the thread-local destructor does at exit (see loom_tests).
            crate::arena::exit_thread();
            (buf, monitor)
        })
        .join()
        .unwrap();
        let done = Arc::new(Notify::new());
        let done_in_returner = done.clone();
        let returner = thread::spawn(move || {
            drop(mine);
            drop(theirs);
            done_in_returner.wait();
            flush_returns();
        });
        assert_eq!(drain_until(1), 1);
        done.notify();
        returner.join().unwrap();
        assert_eq!(settled(&monitor).returns_received, 1);
        assert!(their_monitor.stats().released, "{:?}", their_monitor.stats());
    });
}

/// The owner exits with two blocks out, held by two threads that return
/// them while it abandons the arena: whichever order, the arena is freed
/// once, by whoever finishes last.
#[test]
fn loom_two_late_returners_against_abandon() {
    ::loom::model(|| {
        let monitor = Arena::current();
        let a = ArenaBytesMut::with_capacity(512);
        let b = ArenaBytesMut::with_capacity(512).freeze();
        let r1 = thread::spawn(move || {
            drop(a);
            flush_returns();
        });
        let r2 = thread::spawn(move || {
            drop(b);
            flush_returns();
        });
        thread::yield_now();
        // The owner's thread exit, while the returners run.
        crate::arena::exit_thread();
        r1.join().unwrap();
        r2.join().unwrap();
        let stats = monitor.stats();
        assert!(stats.released, "{stats:?}");
        assert!(stats.is_balanced(), "{stats:?}");
    });
}

/// The drain notifier (here a sticky loom `Notify`, as the runtime's inbox
/// nudge plus eventfd is) must leave no window in which the owner, having
/// consumed the nudge, drains an empty list and goes to sleep while the
/// return that crossed the threshold is still on its way: the owner below
/// sleeps whenever a drain brought nothing, so a lost notification is a
/// deadlock, which loom reports.
#[test]
fn loom_drain_notifier_never_lets_the_owner_sleep_on_returns() {
    ::loom::model(|| {
        let nudges = Arc::new(Notify::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let (n, c) = (nudges.clone(), calls.clone());
        let notifier: DrainNotifier = std::sync::Arc::new(move || {
            c.fetch_add(1, Ordering::Relaxed);
            n.notify();
        });
        // Cap 2: a single block reaches half the cap and must notify.
        let config = ArenaConfig::new().return_cap(2).drain_notifier(notifier);
        let monitor = Arena::install(config).unwrap();
        let a = ArenaBytesMut::with_capacity(512);
        let returner = thread::spawn(move || {
            drop(a);
            flush_returns();
        });
        thread::yield_now();
        while drain_returns() == 0 {
            nudges.wait();
            // A real owner spends a tick between two drains.
            thread::yield_now();
        }
        returner.join().unwrap();
        // The returner's notification, and maybe the owner's own while the
        // block was counted but not yet on the list.
        assert!(calls.load(Ordering::Relaxed) >= 1);
        assert_eq!(settled(&monitor).returns_received, 1);
    });
}

/// Two returners, one drain notification between them at most (cap 2: the
/// first block crosses half the cap, the second finds it crossed): a
/// returner that counted its block before a drain and pushes it after must
/// not leave the owner asleep with it.
#[test]
fn loom_drain_notifier_with_two_returners_against_owner_drain() {
    ::loom::model(|| {
        let nudges = Arc::new(Notify::new());
        let n = nudges.clone();
        let notifier: DrainNotifier = std::sync::Arc::new(move || n.notify());
        let config = ArenaConfig::new().return_cap(2).drain_notifier(notifier);
        let monitor = Arena::install(config).unwrap();
        let a = ArenaBytesMut::with_capacity(512);
        let b = ArenaBytesMut::with_capacity(512);
        let r1 = thread::spawn(move || {
            drop(a);
            flush_returns();
        });
        let r2 = thread::spawn(move || {
            drop(b);
            flush_returns();
        });
        thread::yield_now();
        let mut got = 0;
        while got < 2 {
            let n = drain_returns();
            got += n;
            if n == 0 {
                nudges.wait();
                // A real owner spends a tick between two drains.
                thread::yield_now();
            }
        }
        r1.join().unwrap();
        r2.join().unwrap();
        assert_eq!(settled(&monitor).returns_received, 2);
    });
}
