//! `Builder`: how many workers, pinned or not, thread names, the arena
//! configuration, start and stop hooks.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use roost_alloc::ArenaConfig;

use crate::loom::sync::{mpsc, Arc};

// Configuration closures are shared through std's `Arc`: loom's cannot hold
// a `dyn` value, and nothing synchronises through them.
type StdArc<T> = std::sync::Arc<T>;
use crate::blocking::pool::BlockingPool;
use crate::handle::Handle;
use crate::io::{Driver, DriverConfig};
use crate::root::RootFuture;
use crate::runtime::{Runtime, RuntimeShared};
use crate::sched::idle_policy::IdlePolicy;
use crate::sched::WorkerShared;
use crate::sys::{affinity, sched};
use crate::worker::{self, LoopConfig, WorkerConfig};

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
    /// Set by `pin_workers`; otherwise `affinity::cores_are_dedicated`.
    pin: Option<bool>,
    /// Set by `sched_batch`; otherwise: when the workers are not pinned.
    sched_batch: Option<bool>,
    name: NameFn,
    arena: ArenaConfig,
    on_start: Option<Hook>,
    on_stop: Option<Hook>,
    event_interval: usize,
    events_capacity: usize,
    idle: IdlePolicy,
    max_blocking: usize,
    keep_alive: Duration,
    tokio_compat: bool,
    /// Set by `driver`; otherwise `ROOST_DRIVER`, otherwise epoll.
    driver: Option<Driver>,
    uring_entries: u32,
    uring_buffers: u16,
    uring_zero_copy_above: usize,
    uring_batch_wait: Duration,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("pin", &self.pin)
            .field("sched_batch", &self.sched_batch)
            .field("arena", &self.arena)
            .field("event_interval", &self.event_interval)
            .field("idle", &self.idle)
            .field("max_blocking_threads", &self.max_blocking)
            .field("thread_keep_alive", &self.keep_alive)
            .field("driver", &self.driver)
            .field("uring_entries", &self.uring_entries)
            .field("uring_buffers", &self.uring_buffers)
            .field("uring_zero_copy_above", &self.uring_zero_copy_above)
            .field("uring_batch_wait", &self.uring_batch_wait)
            .finish_non_exhaustive()
    }
}

/// Overrides the default of [`Builder::pin_workers`] for any roost program.
const PIN_ENV: &str = "ROOST_PIN_WORKERS";
/// Overrides the default of [`Builder::sched_batch`] for any roost program.
const SCHED_BATCH_ENV: &str = "ROOST_SCHED_BATCH";

/// `1` or `0` in the variable `name`: `Some(true)` or `Some(false)`; unset or
/// empty: `None`.
///
/// # Errors
///
/// `InvalidInput` for any other value.
fn bool_from_env(name: &str) -> io::Result<Option<bool>> {
    match std::env::var(name).as_deref() {
        Ok("1") => Ok(Some(true)),
        Ok("0") => Ok(Some(false)),
        Ok("") | Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(other) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name}={other}: expected 1 or 0"),
        )),
        Err(std::env::VarError::NotUnicode(_)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name} is not valid UTF-8 (expected 1 or 0)"),
        )),
    }
}

/// Buffers per provided-buffer ring by default (see `Builder::uring_buffers`).
const DEFAULT_URING_BUFFERS: u16 = 256;
/// The zero-copy threshold by default (see `Builder::uring_zero_copy_above`).
const DEFAULT_ZERO_COPY_ABOVE: usize = usize::MAX;

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: one worker per core this process may use, pinned only
    /// where those cores are the process's own (see
    /// [`pin_workers`](Self::pin_workers)), threads named `roost-worker-<i>`, the default arena, a budget of 128
    /// polls per tick.
    pub fn new() -> Self {
        Self {
            workers: None,
            pin: None,
            sched_batch: None,
            name: StdArc::new(|i| format!("roost-worker-{i}")),
            arena: ArenaConfig::new(),
            on_start: None,
            on_stop: None,
            event_interval: 128,
            events_capacity: 1024,
            idle: IdlePolicy::Adaptive {
                max: Duration::from_micros(50),
            },
            max_blocking: crate::blocking::DEFAULT_MAX_BLOCKING_THREADS,
            keep_alive: Duration::from_secs(10),
            tokio_compat: true,
            driver: None,
            uring_entries: 256,
            uring_buffers: DEFAULT_URING_BUFFERS,
            uring_zero_copy_above: DEFAULT_ZERO_COPY_ABOVE,
            uring_batch_wait: Duration::ZERO,
        }
    }

    /// The event source of every worker (and every `block_on` loop):
    /// [`Driver::Epoll`] or [`Driver::Uring`]. Without this call the
    /// environment variable `ROOST_DRIVER` (`epoll` or `uring`) decides,
    /// and without it, epoll.
    ///
    /// `Uring` never makes `build` fail because of io_uring: where the
    /// kernel lacks it, forbids it (seccomp, `kernel.io_uring_disabled`) or
    /// lacks a feature the driver needs, the loop uses epoll, one line on
    /// stderr says so (once per process), and the worker's metrics show it
    /// ([`WorkerMetrics::driver`](crate::WorkerMetrics::driver),
    /// [`WorkerMetrics::uring_fallback`](crate::WorkerMetrics::uring_fallback)).
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_runtime::io::Driver;
    ///
    /// let rt = roost_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .pin_workers(false)
    ///     .driver(Driver::Epoll)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.handle().metrics().workers[0].driver, Driver::Epoll);
    /// ```
    pub fn driver(mut self, driver: Driver) -> Self {
        self.driver = Some(driver);
        self
    }

    /// The submission queue size of each io_uring ring (default 256; the
    /// completion queue is four times as large). The kernel rounds it up to
    /// a power of two and refuses more than 32768: a ring it refuses falls
    /// back to epoll like a kernel without io_uring (see
    /// [`driver`](Self::driver)).
    ///
    /// # Panics
    ///
    /// Panics if `entries` is zero.
    pub fn uring_entries(mut self, entries: u32) -> Self {
        assert!(entries > 0, "an io_uring ring needs at least one entry");
        self.uring_entries = entries;
        self
    }

    /// The buffers of each of a worker's provided-buffer rings (default
    /// 256, rounded up to a power of two, at most 32768): the io_uring
    /// driver lends that many arena blocks per size class (2 KiB for reads
    /// of up to 2 KiB, 16 KiB above) to the kernel, which receives into
    /// them. More connections than buffers is fine: a receive that finds
    /// the ring empty is counted (`ArenaStats::ring_dry`) and armed again
    /// once the ring is refilled, and no byte is lost.
    ///
    /// # Panics
    ///
    /// Panics if `buffers` is zero.
    pub fn uring_buffers(mut self, buffers: u16) -> Self {
        assert!(buffers > 0, "a provided-buffer ring needs at least one buffer");
        self.uring_buffers = buffers;
        self
    }

    /// Sends of at least `bytes` go out as zero-copy sends (`SEND_ZC`,
    /// Linux 6.0) on the io_uring driver, whose buffer the kernel keeps
    /// until its notification (then it parks in the stream's TX slot);
    /// shorter ones are copied into the socket. Default `usize::MAX`: off.
    /// Measured with `cargo run --release -p roost-benches --bin
    /// zero_copy` on loopback (2 vCPUs, kernel 6.18), zero-copy sends cost
    /// more CPU per byte than copied ones at every size from 4 to 64 KiB
    /// (0.87-1.06 against 0.45-0.80 ms per MiB) and moved fewer bytes per
    /// second, because the kernel copies loopback data anyway and the page
    /// pinning and notifications come on top. On a NIC that transmits
    /// from user pages they can pay for large sends; measure there before
    /// turning them on (16 or 32 KiB are the usual thresholds to try).
    pub fn uring_zero_copy_above(mut self, bytes: usize) -> Self {
        self.uring_zero_copy_above = bytes;
        self
    }

    /// How long an io_uring worker's wait that has found a first
    /// completion goes on collecting more before it returns (Linux 6.12's
    /// min-wait; ignored where the kernel lacks it). Default zero: every
    /// wait returns at its first completion. Under load, a batch wait
    /// serves many requests per `io_uring_enter` (fewer system calls and
    /// context switches per request); the price is up to this much more
    /// latency when a request comes alone, and on wakes from other workers.
    pub fn uring_batch_wait(mut self, wait: Duration) -> Self {
        self.uring_batch_wait = wait;
        self
    }

    /// The most threads the blocking pool makes for
    /// [`spawn_blocking`](crate::task::spawn_blocking). Default 512, as
    /// tokio's. Closures beyond the cap wait in a queue until a thread is
    /// free.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        assert!(n > 0, "the blocking pool needs at least one thread");
        self.max_blocking = n;
        self
    }

    /// How long an idle blocking-pool thread waits for work before it
    /// exits. Default 10 s, as tokio's.
    pub fn thread_keep_alive(mut self, d: Duration) -> Self {
        self.keep_alive = d;
        self
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
    /// number).
    ///
    /// **Default: pinned only where the cores are the process's own**, that
    /// is where its CPU affinity mask, read at the first `build`, leaves out
    /// some of the machine's online cores (a cpuset it was given:
    /// `taskset -c`, a container's `--cpuset-cpus`, Kubernetes' static CPU
    /// manager), or where all of them are isolated from the scheduler
    /// (`isolcpus=`). Everywhere else (a laptop, a CI runner, a VM whose
    /// cores a sidecar or a load generator also uses, a container limited by
    /// a CPU quota alone) the workers are left to the scheduler: a pinned
    /// worker that shares its core with a busy neighbour waits for it even
    /// while another core is idle, and on a 2-vCPU machine shared with its
    /// load client that cost roost a quarter of its throughput and raised its
    /// p99 latency six-fold (issue #17's note has the figures).
    ///
    /// Without this call, the environment variable `ROOST_PIN_WORKERS` (`1`
    /// or `0`) decides before the mask does, for any roost program.
    ///
    /// `pin_workers(true)` pins whatever the mask: choose it on a machine
    /// whose cores the server owns even though nothing says so (a dedicated
    /// host, a VM of its own), where a worker that never moves keeps its
    /// caches and its arena warm. `pin_workers(false)` never pins.
    /// [`WorkerMetrics::core`](crate::WorkerMetrics::core) tells which core
    /// each worker got.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// assert_eq!(rt.handle().metrics().workers[0].core, None);
    /// ```
    pub fn pin_workers(mut self, yes: bool) -> Self {
        self.pin = Some(yes);
        self
    }

    /// Whether worker threads run under Linux's `SCHED_BATCH` scheduling
    /// policy. **Default: on where a worker shares its core**: where the
    /// workers are not pinned (cores the process shares; see
    /// [`pin_workers`](Self::pin_workers)), or where there are more workers
    /// than cores; off where each worker is pinned to a core of its own.
    ///
    /// A worker under `SCHED_BATCH` that wakes up does not preempt the
    /// thread running on its core: it takes an idle core if there is one (the
    /// kernel's wake-up placement is the same), and otherwise runs when that
    /// thread blocks or its time slice ends. On cores shared with the
    /// program that feeds the server (its load, a proxy's peer, a sidecar)
    /// a woken worker then finds a batch of events rather than one, and
    /// neither side is cut off mid-batch: on 2 vCPUs shared with its load
    /// client, roost went from 0.79-0.94x tokio multi-thread's round trips
    /// to 1.04-1.20x, with p99 latency under load below tokio's (issue #17's
    /// note). The price is latency where the core is busy with unrelated
    /// work: a worker waits for the running thread's slice (a few
    /// milliseconds at most) instead of preempting it. Turn it off where a
    /// latency-critical server shares its cores with CPU-bound batch work;
    /// on cores the process owns, one worker each, nothing else runs there
    /// to preempt, so it stays off.
    ///
    /// Without this call, the environment variable `ROOST_SCHED_BATCH` (`1`
    /// or `0`) decides before the placement does, for any roost program.
    ///
    /// Threads a worker starts inherit the policy, as Linux does for any
    /// thread, except the blocking pool's, which go back to the normal one.
    /// Where the system refuses the policy (a seccomp filter) the worker
    /// runs with the normal one;
    /// [`WorkerMetrics::sched_batch`](crate::WorkerMetrics::sched_batch)
    /// tells. A no-op off Linux.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = roost_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .pin_workers(false)
    ///     .sched_batch(false)
    ///     .build()
    ///     .unwrap();
    /// assert!(!rt.handle().metrics().workers[0].sched_batch);
    /// ```
    pub fn sched_batch(mut self, yes: bool) -> Self {
        self.sched_batch = Some(yes);
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

    /// The longest an idle worker watches its inbox before it goes to sleep
    /// in its poll (default 50 µs; zero: sleep at once).
    ///
    /// Waking a sleeping worker costs a syscall on each side and a context
    /// switch (tens of microseconds on a small VM); a worker that is idle
    /// only between two messages from another core avoids all of that by
    /// watching its inbox briefly. The watch adapts: it lasts only as long
    /// as watching has been finding work, and it shrinks to nothing on a
    /// worker whose work comes from its sockets (which a watch of memory
    /// cannot see), so an idle worker does not burn its core or make
    /// syscalls for it. The spin never calls `sched_yield` nor polls the
    /// sockets; see [`busy_poll`](Self::busy_poll) for that.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = roost_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .pin_workers(false)
    ///     .spin_before_park(Duration::from_micros(20))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn spin_before_park(mut self, d: Duration) -> Self {
        self.idle = IdlePolicy::Adaptive { max: d };
        self
    }

    /// Busy polling, for users who own their cores: an idle worker spins
    /// for `spin` before it sleeps, looking at its inbox and, every 2 µs,
    /// at its sockets (a zero-timeout poll), and it does so every time,
    /// whether or not that finds work. Replaces
    /// [`spin_before_park`](Self::spin_before_park)'s adaptive watch.
    ///
    /// The trade: I/O that arrives within `spin` of the worker going idle
    /// is seen a wake-up sooner (no sleep, no context switch), at the price
    /// of the core (other threads that want it wait) and a syscall per look
    /// while idle. Worth it only where every worker has a core to itself
    /// and latency matters more than CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = roost_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .pin_workers(false)
    ///     .busy_poll(Duration::from_micros(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn busy_poll(mut self, spin: Duration) -> Self {
        self.idle = IdlePolicy::BusyPoll { spin };
        self
    }

    /// Turns the tokio context on or off (default: on). With it on, every
    /// worker (and every thread inside `block_on`) enters a small
    /// background tokio runtime, so that libraries calling
    /// `tokio::time::sleep`, `tokio::time::timeout`, `tokio::spawn` or
    /// `tokio::net` internally work inside roost tasks. Their timers and
    /// tasks run on tokio's thread and wake roost tasks across threads; see
    /// the costs in the crate documentation. Off, such calls panic with
    /// tokio's "there is no reactor running" message, and no tokio thread is
    /// started.
    pub fn tokio_compat(mut self, yes: bool) -> Self {
        self.tokio_compat = yes;
        self
    }

    /// Builds the runtime: creates each worker's mio `Poll`, starts and pins
    /// the threads, installs their arenas, runs the start hooks.
    ///
    /// # Errors
    ///
    /// Creating a `Poll` or a thread failed, pinning failed, or a worker
    /// could not install its arena; already started workers are stopped.
    /// `InvalidInput` if `ROOST_DRIVER` names no driver, or
    /// `ROOST_PIN_WORKERS` or `ROOST_SCHED_BATCH` is set to anything but `1`
    /// or `0`.
    pub fn build(self) -> io::Result<Runtime> {
        self.build_hosting(false).map(|(rt, _)| rt)
    }

    /// Builds the runtime with the calling thread as worker 0, runs
    /// `future` there to completion, then shuts the runtime down (tasks
    /// still running are cancelled) and returns the future's output. This
    /// is what `#[roost::main]` and `#[roost::test]` expand to.
    ///
    /// The future runs inside worker 0 itself, polled in place: it may hold
    /// `!Send` values, borrow, use `roost::net` directly (what it binds is
    /// served by worker 0), and its output need not be `Send`. While it
    /// runs, the calling thread is pinned like any worker; its affinity is
    /// widened back to the process's allowed cores afterwards.
    ///
    /// # Errors
    ///
    /// As for [`build`](Self::build); the reactor's error if worker 0 (this
    /// thread) stopped on a reactor failure before the future completed
    /// (see [`Handle::reactor_faults`](crate::Handle::reactor_faults)).
    ///
    /// # Panics
    ///
    /// Resumes the future's panic (after the runtime is shut down).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let out = roost_runtime::Builder::new()
    ///     .worker_threads(2)
    ///     .pin_workers(false)
    ///     .run(async {
    ///         let local = Rc::new(roost_runtime::current_worker());
    ///         roost_runtime::yield_now().await;
    ///         local
    ///     })
    ///     .unwrap();
    /// assert_eq!(*out, Some(0));
    /// ```
    pub fn run<F: Future>(self, future: F) -> io::Result<F::Output> {
        // The calling thread's policy, given back afterwards.
        let was_batch = sched::is_batch();
        let (runtime, hosted) = self.build_hosting(true)?;
        let pinned = hosted.as_ref().is_some_and(|(config, _)| config.core.is_some());
        let (config, poll) = hosted.expect("a hosted worker 0");
        let handle = runtime.handle().clone();
        let mut future = std::pin::pin!(future);
        let worker0 = handle.shared.workers[0].clone();
        let mut root = RootFuture::new(future.as_mut(), worker0);
        /// Widens the thread's affinity again, and gives it back its
        /// scheduling policy, also when the future panics.
        struct Unpin {
            pinned: bool,
            was_batch: bool,
        }
        impl Drop for Unpin {
            fn drop(&mut self) {
                if self.pinned {
                    let _ = affinity::unpin_current_thread();
                }
                if sched::is_batch() != self.was_batch {
                    let _ = sched::set_batch(self.was_batch);
                }
            }
        }
        let _unpin = Unpin { pinned, was_batch };
        let result = worker::main(config, poll, handle, None, Some(&mut root));
        // Worker 0 may have stopped on its reactor's failure (`io/fault.rs`):
        // that is then the error, rather than a shutdown nobody asked for.
        let stopped = runtime
            .reactor_faults()
            .into_iter()
            .find(|f| f.worker == Some(0) && f.stopped);
        drop(runtime);
        result?;
        root.take_output().ok_or_else(|| match stopped {
            Some(fault) => fault.error(),
            None => io::Error::other("roost: the runtime shut down before the main future completed"),
        })
    }

    /// Builds the runtime; with `host_first`, worker 0 is not started but
    /// returned, for the caller's thread to run.
    fn build_hosting(self, host_first: bool) -> io::Result<(Runtime, Option<(WorkerConfig, crate::io::Poller)>)> {
        let driver = match self.driver {
            Some(driver) => driver,
            None => Driver::from_env()?.unwrap_or(Driver::Epoll),
        };
        let driver = DriverConfig {
            driver,
            uring_entries: self.uring_entries,
            uring_buffers: self.uring_buffers,
            uring_zero_copy_above: self.uring_zero_copy_above,
            uring_batch_wait: self.uring_batch_wait,
        };
        // Read the allowed cores before any worker pins itself, and start
        // the tokio context's thread from here (a thread inherits its
        // creator's affinity; see `compat.rs`).
        let cores = affinity::allowed_cores();
        if self.tokio_compat {
            crate::compat::start();
        }
        let n = self.workers.unwrap_or(cores.len());
        let pin = match self.pin {
            Some(pin) => pin,
            None => bool_from_env(PIN_ENV)?.unwrap_or_else(affinity::cores_are_dedicated),
        };
        // A worker shares its core when it is not pinned, or when there
        // are more workers than cores (pinning then wraps around).
        let sched_batch = match self.sched_batch {
            Some(batch) => batch,
            None => bool_from_env(SCHED_BATCH_ENV)?.unwrap_or(!pin || n > cores.len()),
        };
        let mut polls = Vec::with_capacity(n);
        let mut shared = Vec::with_capacity(n);
        for index in 0..n {
            let opened = crate::io::open_driver(driver)?;
            let worker = Arc::new(WorkerShared::new(index, opened.unparker));
            shared.push(worker);
            polls.push(opened.poller);
        }
        let loop_config = LoopConfig {
            budget: self.event_interval,
            events_capacity: self.events_capacity,
            idle: self.idle,
            tokio_compat: self.tokio_compat,
            driver,
        };
        let handle = Handle {
            shared: Arc::new(RuntimeShared::new(
                shared.into_boxed_slice(),
                BlockingPool::new(self.max_blocking, self.keep_alive, "roost-blocking".into()),
                loop_config,
            )),
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut threads = Vec::with_capacity(n);
        let mut failure = None;
        let mut hosted = None;
        for (index, poll) in polls.into_iter().enumerate() {
            let config = WorkerConfig {
                index,
                name: (self.name)(index),
                core: pin.then(|| cores[index % cores.len()]),
                sched_batch,
                arena: self.arena.clone(),
                on_start: self.on_start.clone(),
                on_stop: self.on_stop.clone(),
            };
            if host_first && index == 0 {
                hosted = Some((config, poll));
                continue;
            }
            match worker::spawn(config, poll, handle.clone(), ready_tx.clone()) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(ready_tx);
        let started = threads.len();
        let runtime = Runtime::from_parts(handle, threads, usize::from(hosted.is_some()));
        let failure = failure.or_else(|| {
            (0..started).find_map(|_| match ready_rx.recv() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(io::Error::other("a roost worker thread died while starting")),
            })
        });
        if let Some(e) = failure {
            if hosted.is_some() {
                // Worker 0 will never run: count it as gone, so that the
                // runtime's shutdown (dropping it here) does not wait for it.
                runtime.handle().shared.worker_exited(0);
            }
            return Err(e);
        }
        Ok((runtime, hosted))
    }
}
