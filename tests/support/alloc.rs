//! Helpers for the roost-alloc integration tests.

use roost::alloc::{maintain, Arena, ArenaConfig, ArenaMonitor, ArenaStats};

/// Flushes this thread's batches, drains its arena, and checks that its
/// counters are consistent (see `ArenaStats::is_balanced`; callers check
/// `in_use_bytes` themselves where nothing should be out).
pub fn settle(monitor: &ArenaMonitor) -> ArenaStats {
    maintain();
    let stats = monitor.stats();
    assert!(stats.is_balanced(), "arena books do not balance: {stats:?}");
    stats
}

/// Runs `f` on a new thread with a freshly installed arena.
pub fn with_arena<R: Send + 'static>(config: ArenaConfig, f: impl FnOnce(ArenaMonitor) -> R + Send + 'static) -> R {
    std::thread::spawn(move || {
        let monitor = Arena::install(config).expect("a new thread has no arena");
        f(monitor)
    })
    .join()
    .expect("arena thread panicked")
}
