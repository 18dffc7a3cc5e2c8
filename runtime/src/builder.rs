//! `Builder`: how many workers, pinned or not, thread names, the arena
//! configuration, start and stop hooks.

use std::fmt;
use std::io;
use std::time::Duration;

use roost_alloc::ArenaConfig;

use crate::loom::sync::{mpsc, Arc};

// Configuration closures are shared through std's `Arc`: loom's cannot hold
// a `dyn` value, and nothing synchronises through them.
type StdArc<T> = std::sync::Arc<T>;
use crate::handle::Handle;
use crate::runtime::{Runtime, RuntimeShared};
use crate::sched::WorkerShared;
use crate::sys::affinity;
use crate::worker::{self, WorkerConfig};

type Hook = StdArc<dyn Fn() + Send + Sync + 'static>;
type NameFn = StdArc<dyn Fn(usize) -> String + Send + Sync + 'static>;

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// use roost_alloc::ArenaConfig;
/// use roost_runtime::Runtime;
///
/// let rt = Runtime::builder()
///     .worker_threads(2)
///     .pin_workers(false)
///     .thread_name("server")
///     .arena_config(ArenaConfig::new().memory_limit(64 << 20))
///     .on_thread_start(|| println!("worker {} up", roost_runtime::current_worker().unwrap()))
///     .build()
///     .unwrap();
/// assert_eq!(rt.worker_count(), 2);
/// ```
pub struct Builder {
    workers: Option<usize>,
    pin: bool,
    name: NameFn,
    arena: ArenaConfig,
    on_start: Option<Hook>,
    on_stop: Option<Hook>,
    event_interval: usize,
    events_capacity: usize,
    spin: Duration,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("pin", &self.pin)
            .field("arena", &self.arena)
            .field("event_interval", &self.event_interval)
            .field("spin_before_park", &self.spin)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: one worker per core this process may use, pinned,
    /// threads named `roost-worker-<i>`, the default arena, a budget of 128
    /// polls per tick.
    pub fn new() -> Self {
        Self {
            workers: None,
            pin: true,
            name: StdArc::new(|i| format!("roost-worker-{i}")),
            arena: ArenaConfig::new(),
            on_start: None,
            on_stop: None,
            event_interval: 128,
            events_capacity: 1024,
            spin: Duration::from_micros(50),
        }
    }

    /// The number of workers. Default: the cores this process may use (its
    /// CPU affinity mask, read once per process before any worker is
    /// pinned). More workers than cores is allowed: pinning then wraps
    /// around the allowed cores.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    pub fn worker_threads(mut self, n: usize) -> Self {
        assert!(n > 0, "a runtime needs at least one worker");
        self.workers = Some(n);
        self
    }

    /// Whether worker `i` is pinned to the `i`-th allowed core (modulo their
    /// number). Default: on.
    pub fn pin_workers(mut self, yes: bool) -> Self {
        self.pin = yes;
        self
    }

    /// Worker threads are named `<prefix>-<index>`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.name = StdArc::new(move |i| format!("{prefix}-{i}"));
        self
    }

    /// Worker threads are named by `f(index)`.
    pub fn thread_name_fn(mut self, f: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.name = StdArc::new(f);
        self
    }

    /// The configuration of each worker's arena. The runtime overrides two
    /// settings: `flush_on_alloc(false)` (the worker flushes and drains its
    /// batches once per tick) and the drain notifier (which wakes the
    /// worker).
    pub fn arena_config(mut self, config: ArenaConfig) -> Self {
        self.arena = config;
        self
    }

    /// Runs on each worker thread after its arena is installed and before it
    /// runs any task, with the worker as the current context (so it may
    /// `spawn_local`, or read [`current_worker`](crate::current_worker)).
    /// `build` returns once every worker has run it.
    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_start = Some(StdArc::new(f));
        self
    }

    /// Runs on each worker thread as it stops, after its tasks are dropped.
    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_stop = Some(StdArc::new(f));
        self
    }

    /// How many task polls a worker runs between two looks at its inbox,
    /// timers and I/O (the per-tick budget). Default 128. Smaller is fairer
    /// to I/O, larger amortises the checks over more polls.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    pub fn event_interval(mut self, n: usize) -> Self {
        assert!(n > 0, "the event interval must be at least one poll");
        self.event_interval = n;
        self
    }

    /// How long an idle worker watches its inbox before it goes to sleep in
    /// its poll. Default 50 µs. Waking a sleeping worker costs a syscall on
    /// each side and a context switch (tens of microseconds on a small VM);
    /// a worker that is idle only between two bursts of cross-core messages
    /// avoids all of that by watching briefly: 5 µs of plain spinning, then
    /// looks separated by `sched_yield`, so that another thread that needs
    /// the core gets it. Zero turns it off.
    pub fn spin_before_park(mut self, d: Duration) -> Self {
        self.spin = d;
        self
    }

    /// Builds the runtime: creates each worker's mio `Poll`, starts and pins
    /// the threads, installs their arenas, runs the start hooks.
    ///
    /// # Errors
    ///
    /// Creating a `Poll` or a thread failed, pinning failed, or a worker
    /// could not install its arena; already started workers are stopped.
    pub fn build(self) -> io::Result<Runtime> {
        // Read the allowed cores before any worker pins itself.
        let cores = affinity::allowed_cores();
        let n = self.workers.unwrap_or(cores.len());
        let mut polls = Vec::with_capacity(n);
        let mut shared = Vec::with_capacity(n);
        for index in 0..n {
            let poll = mio::Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), worker::WAKER_TOKEN)?;
            shared.push(Arc::new(WorkerShared::new(index, Box::new(waker))));
            polls.push(poll);
        }
        let handle = Handle {
            shared: Arc::new(RuntimeShared::new(shared.into_boxed_slice())),
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut threads = Vec::with_capacity(n);
        let mut failure = None;
        for (index, poll) in polls.into_iter().enumerate() {
            let config = WorkerConfig {
                index,
                name: (self.name)(index),
                core: self.pin.then(|| cores[index % cores.len()]),
                arena: self.arena.clone(),
                on_start: self.on_start.clone(),
                on_stop: self.on_stop.clone(),
                budget: self.event_interval,
                events_capacity: self.events_capacity,
                spin: self.spin,
            };
            match worker::spawn(config, poll, handle.clone(), ready_tx.clone()) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(ready_tx);
        let runtime = Runtime::from_parts(handle, threads);
        if let Some(e) = failure {
            return Err(e);
        }
        for _ in 0..n {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("a roost worker thread died while starting")),
            }
        }
        Ok(runtime)
    }
}
