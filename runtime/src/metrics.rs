//! Per-worker metrics.
//!
//! The worker counts in plain cells on its hot path and publishes them to
//! these shared cells once per tick (and at exit), so a snapshot may be up to
//! one tick old. Each shared counter has one writer (its worker), which
//! stores with `Relaxed`; readers on any thread load with `Relaxed`. Nothing
//! synchronises through them, so they are plain `core` atomics rather than
//! the loom shim's.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use roost_alloc::ArenaStats;

use crate::io::Driver;

/// A counter written by one thread.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[derive(Default)]
pub(crate) struct WorkerMetricsCells {
    pub(crate) spawned: Counter,
    pub(crate) polled: Counter,
    pub(crate) local_wakes: Counter,
    pub(crate) remote_wakes: Counter,
    pub(crate) parks: Counter,
    pub(crate) ticks: Counter,
    pub(crate) spin_nanos: Counter,
    pub(crate) spin_hits: Counter,
    pub(crate) spin_misses: Counter,
    pub(crate) spin_preempted: Counter,
    pub(crate) live_tasks: Counter,
    pub(crate) timers: Counter,
    pub(crate) io_sources: Counter,
    pub(crate) ring_bytes: Counter,
    pub(crate) reactor_errors: Counter,
    /// 1 once the worker's reactor failed for good.
    pub(crate) reactor_stopped: Counter,
    /// `Driver::code` of the driver the loop runs.
    pub(crate) driver: Counter,
    /// 1 if io_uring was asked for and the loop fell back to epoll.
    pub(crate) uring_fallback: Counter,
    /// The core the worker is pinned to, plus one; 0 when not pinned.
    pub(crate) core: Counter,
    /// 1 if the worker runs under `SCHED_BATCH`.
    pub(crate) sched_batch: Counter,
}

impl WorkerMetricsCells {
    pub(crate) fn set_driver(&self, driver: Driver, fell_back: bool) {
        self.driver.set(driver.code());
        self.uring_fallback.set(u64::from(fell_back));
    }

    pub(crate) fn set_core(&self, core: Option<usize>) {
        self.core.set(core.map_or(0, |c| c as u64 + 1));
    }
}

/// A snapshot of one worker's counters.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// rt.block_on(async { roost_runtime::spawn_on(1, async {}).await.unwrap() });
/// let metrics = rt.handle().metrics();
/// assert_eq!(metrics.workers.len(), 2);
/// assert!(metrics.workers.iter().all(|w| w.arena.is_some()));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index.
    pub index: usize,
    /// Tasks that started life on this worker (local and remote spawns).
    pub tasks_spawned: u64,
    /// Task polls (a cancellation counts as one).
    pub tasks_polled: u64,
    /// Tasks alive on the worker (spawned, not yet complete).
    pub live_tasks: u64,
    /// Timers pending in the worker's wheel.
    pub pending_timers: u64,
    /// Sources registered with the worker's reactor.
    pub io_sources: u64,
    /// Wakes from the worker's own thread (run-queue pushes).
    pub local_wakes: u64,
    /// Wakes that arrived through the inbox from other threads.
    pub remote_wakes: u64,
    /// Times the worker blocked in its poll with nothing to do.
    pub parks: u64,
    /// Event-loop ticks (each: inbox, up to the budget of polls, timers,
    /// arena upkeep, I/O).
    pub ticks: u64,
    /// Nanoseconds spent idle but awake, watching the inbox (and, busy
    /// polling, the sockets) before parking (see `Builder::spin_before_park`
    /// and `Builder::busy_poll`). Wall-clock time: an upper bound on the CPU
    /// the spin used.
    pub spin_nanos: u64,
    /// Idle spins that found work before their budget ran out.
    pub spin_hits: u64,
    /// Idle spins that ran their whole budget in vain (the worker parked
    /// after each). The adaptive policy shrinks its budget on each.
    pub spin_misses: u64,
    /// Idle spins that the scheduler interrupted: another thread wanted the
    /// worker's core (counted among the misses too). Each one stops the
    /// spinning until a probe says it pays again.
    pub spin_preempted: u64,
    /// Failed waits of the worker's reactor (`epoll_wait` errors other
    /// than `EINTR`; see [`Handle::reactor_faults`](crate::Handle::reactor_faults)).
    pub reactor_errors: u64,
    /// Whether the worker's reactor failed for good and the worker stopped.
    pub reactor_stopped: bool,
    /// The driver the worker's loop runs (see `Builder::driver`).
    pub driver: Driver,
    /// Whether the uring driver was asked for and the worker fell back to
    /// epoll (io_uring missing, forbidden, or lacking a needed feature).
    pub uring_fallback: bool,
    /// Bytes of arena blocks the uring driver has lent to the kernel's
    /// provided-buffer rings (counted in the arena's `in_use_bytes`, and
    /// released when the ring ends); 0 on epoll.
    pub ring_bytes: u64,
    /// The core the worker's thread is pinned to, or `None` where it is left
    /// to the scheduler (see `Builder::pin_workers` for the default).
    pub core: Option<usize>,
    /// Whether the worker's thread runs under Linux's `SCHED_BATCH` policy
    /// (see `Builder::sched_batch`).
    pub sched_batch: bool,
    /// The worker's arena, once it is installed.
    pub arena: Option<ArenaStats>,
}

impl WorkerMetrics {
    /// Bytes of arena blocks held by buffers, leaving out those the uring
    /// driver lends to the kernel's receive ring ([`ring_bytes`](Self::ring_bytes)):
    /// what the program holds, zero once every buffer it had is back. Zero
    /// before the arena is installed.
    pub fn arena_bytes_held(&self) -> u64 {
        self.arena
            .as_ref()
            .map_or(0, |a| a.in_use_bytes.saturating_sub(self.ring_bytes))
    }

    pub(crate) fn read(index: usize, cells: &WorkerMetricsCells, arena: Option<ArenaStats>) -> Self {
        Self {
            index,
            tasks_spawned: cells.spawned.get(),
            tasks_polled: cells.polled.get(),
            live_tasks: cells.live_tasks.get(),
            pending_timers: cells.timers.get(),
            io_sources: cells.io_sources.get(),
            ring_bytes: cells.ring_bytes.get(),
            local_wakes: cells.local_wakes.get(),
            remote_wakes: cells.remote_wakes.get(),
            parks: cells.parks.get(),
            ticks: cells.ticks.get(),
            spin_nanos: cells.spin_nanos.get(),
            spin_hits: cells.spin_hits.get(),
            spin_misses: cells.spin_misses.get(),
            spin_preempted: cells.spin_preempted.get(),
            reactor_errors: cells.reactor_errors.get(),
            reactor_stopped: cells.reactor_stopped.get() != 0,
            driver: Driver::from_code(cells.driver.get()),
            uring_fallback: cells.uring_fallback.get() != 0,
            core: cells.core.get().checked_sub(1).map(|c| c as usize),
            sched_batch: cells.sched_batch.get() != 0,
            arena,
        }
    }
}

/// A snapshot of every worker's metrics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per worker, by index.
    pub workers: Vec<WorkerMetrics>,
    /// Threads of the blocking pool alive now (busy or idle).
    pub blocking_threads: usize,
    /// Blocking-pool threads waiting for work.
    pub blocking_idle_threads: usize,
    /// Closures queued on the blocking pool, not started yet.
    pub blocking_queue_depth: usize,
    /// Blocking-pool threads started since the runtime was built.
    pub blocking_threads_started: u64,
}

impl RuntimeMetrics {
    /// The sum of `f` over every worker.
    pub fn sum(&self, f: impl Fn(&WorkerMetrics) -> u64) -> u64 {
        self.workers.iter().map(f).sum()
    }
}
