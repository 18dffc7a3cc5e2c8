//! `Runtime`: owns the worker threads; builds, blocks on, shuts down.
//!
//! # Shutdown states
//!
//! `RuntimeShared::state` goes `RUNNING -> DRAINING -> CANCELLING`, never
//! back. In `DRAINING` spawns are refused and a worker exits once it has no
//! task left; in `CANCELLING` every worker cancels what it still has
//! (dropping each future on its own thread) and exits. Whoever changes the
//! state nudges every worker so that a sleeping one sees it.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use crate::blocking::pool::BlockingPool;
use crate::handle::Handle;
use crate::io::fault::FaultLog;
use crate::io::ReactorFault;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::loom::thread;
use crate::sched::WorkerShared;
use crate::task::JoinHandle;
use crate::worker::LoopConfig;
use crate::BlockOnError;
use crate::Builder;

#[cfg(all(test, loom))]
#[path = "tests/loom_shutdown.rs"]
mod loom_shutdown;

/// The least time `shutdown_timeout` waits for cancelled workers to exit.
const MIN_EXIT_GRACE: Duration = Duration::from_secs(1);

pub(crate) const RUNNING: usize = 0;
pub(crate) const DRAINING: usize = 1;
pub(crate) const CANCELLING: usize = 2;

/// What every thread of a runtime shares.
pub(crate) struct RuntimeShared {
    pub(crate) workers: Box<[Arc<WorkerShared>]>,
    state: AtomicUsize,
    /// Workers that have finished (cancelled their tasks, ran their stop hook).
    exited: Mutex<usize>,
    exit_signal: Condvar,
    /// Tasks cancelled by shutdown, summed over workers (a statistic).
    cancelled: std::sync::atomic::AtomicUsize,
    /// The blocking pool (see `blocking/pool.rs`).
    pub(crate) blocking: std::sync::Arc<BlockingPool>,
    /// How every event loop of the runtime runs.
    pub(crate) loop_config: LoopConfig,
    /// The `block_on` loops of this runtime alive on some thread (see
    /// `root.rs`), nudged with the workers when the state changes.
    pub(crate) guests: std::sync::Mutex<slab::Slab<Arc<WorkerShared>>>,
    /// Failures of the event loops' reactors (see `io/fault.rs`).
    pub(crate) reactor_faults: std::sync::Arc<FaultLog>,
}

impl RuntimeShared {
    pub(crate) fn new(workers: Box<[Arc<WorkerShared>]>, blocking: BlockingPool, loop_config: LoopConfig) -> Self {
        Self {
            loop_config,
            guests: std::sync::Mutex::new(slab::Slab::new()),
            reactor_faults: std::sync::Arc::default(),
            blocking: std::sync::Arc::new(blocking),
            workers,
            state: AtomicUsize::new(RUNNING),
            exited: Mutex::new(0),
            exit_signal: Condvar::new(),
            cancelled: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    #[inline]
    pub(crate) fn state(&self) -> usize {
        self.state.load(Ordering::Acquire)
    }

    fn advance_state(&self, to: usize) {
        if self.state.fetch_max(to, Ordering::AcqRel) < to {
            for w in self.workers.iter() {
                w.nudge();
            }
            // A `block_on` loop asleep in its poll sees the shutdown too
            // (and ends its `block_on` with `BlockOnError::Shutdown`).
            for (_, g) in self.guests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                g.nudge();
            }
        }
    }

    /// Called by a worker thread when it is done.
    pub(crate) fn worker_exited(&self, cancelled: usize) {
        self.cancelled
            .fetch_add(cancelled, std::sync::atomic::Ordering::Relaxed);
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        *exited += 1;
        self.exit_signal.notify_all();
    }

    /// The shutdown of `n` workers from a thread outside them: drain for
    /// up to `timeout` (`None`: cancel at once), then cancel, then wait for
    /// the exits (for at most `timeout`, and at least [`MIN_EXIT_GRACE`]).
    /// Returns whether every worker exited while draining, and how many
    /// exited in the end.
    fn stop_workers(&self, n: usize, timeout: Option<Duration>) -> (bool, usize) {
        let mut drained = false;
        if let Some(t) = timeout {
            self.advance_state(DRAINING);
            drained = self.wait_exits(n, Some(Instant::now() + t)) == n;
        }
        self.advance_state(CANCELLING);
        let grace = timeout.map(|t| Instant::now() + t.max(MIN_EXIT_GRACE));
        (drained, self.wait_exits(n, grace))
    }

    /// Waits until every worker exited or `deadline` passed (`None`: no
    /// deadline). Returns how many exited.
    fn wait_exits(&self, n: usize, deadline: Option<Instant>) -> usize {
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        while *exited < n {
            match deadline {
                None => exited = self.exit_signal.wait(exited).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    exited = self
                        .exit_signal
                        .wait_timeout(exited, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        *exited
    }
}

/// The thread-per-core runtime: one pinned worker thread per core, each with
/// its own run queue, mio reactor, timer wheel and buffer arena.
///
/// Dropping it cancels every task at once and joins the workers; for a
/// graceful stop use [`shutdown_timeout`](Self::shutdown_timeout).
///
/// # Examples
///
/// ```
/// use roost_runtime::Runtime;
///
/// let rt = Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// let answers = rt.block_on(async {
///     let mut handles = Vec::new();
///     for worker in 0..roost_runtime::worker_count().unwrap() {
///         handles.push(roost_runtime::spawn_on(worker, async move {
///             roost_runtime::current_worker().unwrap() * 10
///         }));
///     }
///     let mut out = Vec::new();
///     for h in handles {
///         out.push(h.await.unwrap());
///     }
///     out
/// });
/// assert_eq!(answers, vec![0, 10]);
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<Option<thread::JoinHandle<()>>>,
    /// Workers run by a caller's thread (`Builder::run`), not joined here.
    hosted: usize,
    done: bool,
}

/// What [`Runtime::shutdown_timeout`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Every task finished on its own before the deadline.
    pub drained: bool,
    /// Tasks that were still pending at the deadline and were cancelled.
    pub cancelled_tasks: usize,
    /// Workers that did not exit in time (stuck inside a poll) and were
    /// left running, detached.
    pub detached_workers: usize,
}

impl Runtime {
    /// A builder with the defaults: one worker per allowed core, pinned.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default configuration.
    ///
    /// # Errors
    ///
    /// As for [`Builder::build`].
    pub fn new() -> io::Result<Self> {
        Builder::new().build()
    }

    pub(crate) fn from_parts(handle: Handle, threads: Vec<thread::JoinHandle<()>>, hosted: usize) -> Self {
        Self {
            handle,
            hosted,
            threads: threads.into_iter().map(Some).collect(),
            done: false,
        }
    }

    /// A handle to spawn from any thread.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The number of workers.
    pub fn worker_count(&self) -> usize {
        self.handle.worker_count()
    }

    /// The event loops whose reactor failed (see [`Handle::reactor_faults`]).
    pub fn reactor_faults(&self) -> Vec<ReactorFault> {
        self.handle.reactor_faults()
    }

    /// Runs `future` to completion on the calling thread, which drives an
    /// event loop of its own meanwhile; the future may be `!Send` and may
    /// borrow. See [`Handle::block_on`].
    ///
    /// # Panics
    ///
    /// Panics if called from a roost worker thread or inside another
    /// `block_on`, if the runtime is shutting down, or (propagating it) if
    /// the future panics.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Like [`block_on`](Self::block_on), reporting misuse as an error.
    ///
    /// # Errors
    ///
    /// See [`Handle::try_block_on`].
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        self.handle.try_block_on(future)
    }

    /// Runs a `!Send` future, built on worker 0 by `make`, to completion.
    /// See [`Handle::block_on_local`].
    ///
    /// # Panics
    ///
    /// As for [`block_on`](Self::block_on).
    pub fn block_on_local<M, F>(&self, make: M) -> F::Output
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.handle.block_on_local(make)
    }

    /// Spawns a `Send` future (see [`Handle::spawn`]).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Graceful shutdown with a deadline.
    ///
    /// 1. New spawns are refused from now on ([`SpawnError::Shutdown`](crate::SpawnError::Shutdown), or
    ///    a cancelled `JoinHandle` from the infallible spawns).
    /// 2. Tasks already spawned keep running for up to `timeout`; a worker
    ///    whose tasks have all finished exits at once.
    /// 3. At the deadline each remaining worker cancels what it still has,
    ///    dropping every future on its own thread, runs its stop hook and
    ///    exits; its arena is abandoned safely by roost-alloc (buffers still
    ///    held elsewhere go home later and the memory is freed with the last
    ///    one).
    /// 4. Worker threads are joined. A worker stuck inside a poll cannot be
    ///    interrupted: after a further `timeout` (at least one second, so
    ///    that a short deadline does not abandon workers that are merely
    ///    busy dropping their tasks) it is detached and counted in the
    ///    report.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
    /// let forever = rt.spawn(std::future::pending::<()>());
    /// let report = rt.shutdown_timeout(Duration::from_millis(10));
    /// assert_eq!(report.cancelled_tasks, 1);
    /// assert!(!report.drained);
    /// assert!(forever.is_finished());
    /// ```
    ///
    /// Called (or the runtime dropped) on one of the runtime's own worker
    /// threads, it cannot wait for itself: it cancels at once, returns
    /// without waiting, and reports every worker as detached; the workers
    /// finish the shutdown on their own.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> ShutdownReport {
        self.shutdown(Some(timeout))
    }

    fn shutdown(&mut self, timeout: Option<Duration>) -> ShutdownReport {
        self.done = true;
        let shared = &self.handle.shared;
        // This thread's `block_on` loop of this runtime holds tasks of its
        // own: cancel them here, where they live.
        crate::root::drop_guest(shared);
        let own_worker = crate::context::with_current(|ctx| {
            ctx.and_then(|c| c.handle.as_ref())
                .is_some_and(|h| Arc::ptr_eq(&h.shared, shared))
        });
        if own_worker {
            // Waiting here would wait for ourselves: start the shutdown and
            // let the workers finish it (this one after its current poll).
            shared.advance_state(CANCELLING);
            let n = self.threads.len() + self.hosted;
            self.threads.clear();
            return ShutdownReport {
                drained: false,
                cancelled_tasks: 0,
                detached_workers: n,
            };
        }
        // Workers that were started (fewer than all if `build` failed).
        let n = self.threads.len() + self.hosted;
        let (drained, exited) = shared.stop_workers(n, timeout);
        for slot in &mut self.threads {
            // After `wait_exits` a finished worker has nothing left but its
            // thread-local destructors (the arena's abandonment); join it.
            if exited == n {
                if let Some(t) = slot.take() {
                    let _ = t.join();
                }
            }
        }
        // Workers not joined are detached by dropping their handles.
        self.threads.clear();
        // Last, so that tasks draining above could still use the pool; what
        // is queued now has no task left to wait for it.
        shared.blocking.shutdown();
        ShutdownReport {
            drained,
            cancelled_tasks: shared.cancelled.load(std::sync::atomic::Ordering::Relaxed),
            detached_workers: n - exited,
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.done {
            self.shutdown(None);
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.worker_count())
            .finish()
    }
}
