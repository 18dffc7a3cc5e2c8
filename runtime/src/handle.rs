//! `Handle`: a clonable, `Send` door into a runtime, to spawn from any
//! thread, run a closure on every worker, or block on a future.
//!
//! # Placement
//!
//! `spawn` places round-robin with a per-thread cursor (see
//! [`Handle::spawn`]); a spawn that lands on the calling worker takes the
//! local path, any other goes through the target worker's inbox.

use std::fmt;
use std::future::Future;

use crate::context;
use crate::io::ReactorFault;
use crate::loom::sync::Arc;
use crate::metrics::{RuntimeMetrics, WorkerMetrics};
use crate::runtime::{RuntimeShared, RUNNING};
use crate::sched::WorkerShared;
use crate::task::raw;
use crate::task::state::State;
use crate::task::JoinHandle;
use crate::{BlockOnError, SpawnError};

/// A clonable, `Send` and `Sync` reference to a runtime, to spawn work from
/// any thread.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// let handle = rt.handle().clone();
/// let task = std::thread::spawn(move || handle.spawn(async { 1 + 1 })).join().unwrap();
/// assert_eq!(rt.block_on(task).unwrap(), 2);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<RuntimeShared>,
}

std::thread_local! {
    /// This thread's round-robin cursor for `spawn` (see [`Handle::spawn`]).
    static NEXT_WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Seeds for threads that are not workers, so that they start apart.
static CURSOR_SEED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn next_worker(n: usize) -> usize {
    NEXT_WORKER.with(|c| {
        let mut v = c.get();
        if v == usize::MAX {
            v = crate::current_worker()
                .map(|w| w + 1)
                .unwrap_or_else(|| CURSOR_SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        }
        c.set(v.wrapping_add(1));
        v % n
    })
}

/// A task that was refused: its future is dropped here and its handle
/// yields a cancelled `JoinError`.
pub(crate) fn refused<F: Future + 'static>(owner: &Arc<WorkerShared>, future: F) -> JoinHandle<F::Output> {
    let ptr = raw::allocate(future, owner.clone(), State::new_local());
    // SAFETY: the task is fresh and never shared: this thread owns it and may
    // drop its future; then we give up the worker's reference.
    unsafe {
        (ptr.as_ref().vtable.poll)(ptr, true);
        raw::release(ptr);
        JoinHandle::from_raw(ptr)
    }
}

impl Handle {
    /// The handle of the runtime whose worker is the current thread.
    ///
    /// # Panics
    ///
    /// Panics off a roost worker thread; see [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Self::try_current().expect("roost_runtime::Handle::current called outside a roost worker thread")
    }

    /// The current worker's runtime handle, if this thread is a worker.
    pub fn try_current() -> Option<Handle> {
        context::with_current(|ctx| ctx.and_then(|c| c.handle.clone()))
    }

    /// The number of workers.
    pub fn worker_count(&self) -> usize {
        self.shared.workers.len()
    }

    /// Whether shutdown has begun (spawns are refused).
    pub fn is_shutting_down(&self) -> bool {
        self.shared.state() != RUNNING
    }

    /// Spawns a `Send` future on a worker chosen round-robin.
    ///
    /// Placement is round-robin with a per-thread cursor, not least-loaded:
    /// it costs no shared write (each spawning thread, worker or not, walks
    /// the workers from its own starting point), whereas least-loaded would
    /// read a counter per worker that its owner rewrites constantly, moving
    /// cache lines across cores on every spawn, and a task count is a poor
    /// proxy for load anyway. Work that must stay on the current core uses
    /// [`spawn_local`](crate::spawn_local); work for a given core,
    /// [`spawn_on`](Self::spawn_on). A spawn that lands on the calling
    /// worker takes the local path (no inbox). Workers that stopped on a
    /// reactor failure are passed over.
    ///
    /// If the runtime is shutting down, the future is dropped at once and
    /// the handle yields a cancelled [`JoinError`]; use
    /// [`try_spawn`](Self::try_spawn) to get the refusal as an error.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let worker = self.next_live_worker();
        self.spawn_on(worker, future)
    }

    /// Like [`spawn`](Self::spawn), with the refusal as an error.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Shutdown`] if the runtime is shutting down.
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let worker = self.next_live_worker();
        self.try_spawn_on(worker, future)
    }

    /// The next worker in this thread's round-robin order, passing over
    /// workers that stopped on a reactor failure (while one is left).
    fn next_live_worker(&self) -> usize {
        let n = self.worker_count();
        let mut worker = next_worker(n);
        if !self.shared.reactor_faults.any_stopped() {
            return worker;
        }
        for _ in 1..n {
            if self.shared.workers[worker].metrics.reactor_stopped.get() == 0 {
                break;
            }
            worker = next_worker(n);
        }
        worker
    }

    /// Spawns a `Send` future on worker `worker`.
    ///
    /// # Panics
    ///
    /// Panics if `worker` is out of range.
    pub fn spawn_on<F>(&self, worker: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.submit(worker, future) {
            Ok(handle) => handle,
            Err((SpawnError::NoSuchWorker { worker, workers }, _)) => {
                panic!("roost_runtime::spawn_on: worker index {worker} out of range ({workers} workers)")
            }
            Err((_, refused)) => refused.expect("a refused task has a handle"),
        }
    }

    /// Like [`spawn_on`](Self::spawn_on), with refusals as errors.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchWorker`], [`SpawnError::Shutdown`], or
    /// [`SpawnError::WorkerStopped`] if that worker stopped on a reactor
    /// failure.
    pub fn try_spawn_on<F>(&self, worker: usize, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.submit(worker, future).map_err(|(e, _)| e)
    }

    /// Places a task; on refusal, the error and (past the range check) a
    /// cancelled handle.
    #[allow(clippy::type_complexity)]
    fn submit<F>(
        &self,
        worker: usize,
        future: F,
    ) -> Result<JoinHandle<F::Output>, (SpawnError, Option<JoinHandle<F::Output>>)>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let workers = self.worker_count();
        let Some(target) = self.shared.workers.get(worker) else {
            return Err((SpawnError::NoSuchWorker { worker, workers }, None));
        };
        if self.is_shutting_down() {
            return Err((SpawnError::Shutdown, Some(refused(target, future))));
        }
        let mut future = Some(future);
        let local = context::with_core(|core| {
            let core = core.filter(|c| Arc::ptr_eq(&c.shared, target))?;
            Some(core.spawn_local(future.take().expect("future not taken yet")))
        });
        match local {
            Some(Ok(handle)) => return Ok(handle),
            Some(Err(future)) => return Err((SpawnError::Shutdown, Some(refused(target, future)))),
            None => {}
        }
        let future = future.take().expect("future not taken yet");
        let ptr = raw::allocate(future, target.clone(), State::new_remote());
        // SAFETY: a fresh task of `target`, not shared yet.
        if unsafe { target.push_new(ptr) } {
            // SAFETY: the join reference of the task we just made.
            return Ok(unsafe { JoinHandle::from_raw(ptr) });
        }
        // The worker is gone: the task was never shared, so we cancel it here.
        // SAFETY: as in `refused`.
        let handle = unsafe {
            (ptr.as_ref().vtable.poll)(ptr, true);
            raw::release(ptr);
            JoinHandle::from_raw(ptr)
        };
        let error = if self.is_shutting_down() {
            SpawnError::Shutdown
        } else {
            // Gone while the runtime runs on: its reactor failed for good.
            SpawnError::WorkerStopped { worker }
        };
        Err((error, Some(handle)))
    }

    /// Runs `f` once on every worker (as a task on each), for per-core setup
    /// such as binding a `SO_REUSEPORT` listener and spawning its accept loop
    /// with [`spawn_local`](crate::spawn_local). Returns the handles, by
    /// worker index.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
    /// let handles = rt.handle().on_each_worker(|| roost_runtime::current_worker().unwrap());
    /// let seen = rt.block_on(async move {
    ///     let mut seen = Vec::new();
    ///     for h in handles {
    ///         seen.push(h.await.unwrap());
    ///     }
    ///     seen
    /// });
    /// assert_eq!(seen, vec![0, 1]);
    /// ```
    pub fn on_each_worker<F, R>(&self, f: F) -> Vec<JoinHandle<R>>
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        (0..self.worker_count())
            .map(|worker| {
                let f = f.clone();
                self.spawn_on(worker, async move { f() })
            })
            .collect()
    }

    /// Runs `future` to completion on the calling thread and returns its
    /// output, as tokio's `block_on` does: the future may be `!Send`, borrow
    /// from the caller, and return a `!Send` value.
    ///
    /// The calling thread is not one of the runtime's workers, so it runs
    /// an event loop of its own while it waits (a reactor, timers and a run
    /// queue): inside the future, `roost::net` sockets, `roost::time` and
    /// [`spawn`](crate::spawn) work as on a worker, and what they create
    /// lives on this thread. Tasks spawned that way run while this thread
    /// is in `block_on`; between two calls they wait, and they are
    /// cancelled when the runtime is shut down from this thread (or the
    /// thread exits). Use [`spawn_on`](Self::spawn_on) to put work on the
    /// workers, or `Builder::run` (what `#[roost::main]` does) to run the
    /// program's main future on worker 0 itself.
    ///
    /// # Panics
    ///
    /// - when called from a roost worker thread or from inside another
    ///   `block_on`: blocking an event loop would deadlock it. Use
    ///   [`try_block_on`](Self::try_block_on) to get
    ///   [`BlockOnError::InsideRuntime`] instead;
    /// - when the runtime is shutting down;
    /// - when the future panics (the panic propagates).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// let name = String::from("roost");
    /// let len = rt.handle().block_on(async {
    ///     let local = Rc::new(name.len()); // !Send, and borrowing `name`
    ///     roost_runtime::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     *local
    /// });
    /// assert_eq!(len, 5);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.try_block_on(future) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs a future that `make` builds on worker 0, blocking the calling
    /// thread until it completes: for an entry point that must run on a
    /// worker (pinned, with the worker's arena) rather than on the calling
    /// thread.
    ///
    /// # Panics
    ///
    /// As for [`block_on`](Self::block_on).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// let n = rt.block_on_local(|| async {
    ///     let local = Rc::new(20);
    ///     roost_runtime::yield_now().await;
    ///     *local + usize::from(roost_runtime::current_worker() == Some(0))
    /// });
    /// assert_eq!(n, 21);
    /// ```
    #[track_caller]
    pub fn block_on_local<M, F>(&self, make: M) -> F::Output
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let task = self.spawn_on(0, async move {
            match crate::spawn_local(make()).await {
                Ok(v) => v,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => panic!("{}", BlockOnError::Shutdown),
            }
        });
        match self.block_on(task) {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => panic!("{}", BlockOnError::Shutdown),
        }
    }

    /// Like [`block_on`](Self::block_on), reporting misuse as an error.
    ///
    /// # Errors
    ///
    /// [`BlockOnError::InsideRuntime`] on a worker thread or inside another
    /// `block_on` (the future is dropped, never run),
    /// [`BlockOnError::Shutdown`] if the runtime is shutting down (or shut
    /// down while the future ran: it is dropped then),
    /// [`BlockOnError::Io`] if the thread's event loop could not be made.
    ///
    /// # Panics
    ///
    /// Propagates the future's panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_runtime::BlockOnError;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// let handle = rt.handle().clone();
    /// let inner = rt.block_on(async move { handle.try_block_on(async { 1 }) });
    /// assert_eq!(inner, Err(BlockOnError::InsideRuntime));
    /// ```
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        crate::root::block_on(self, future)
    }

    /// Runs `f` on this runtime's blocking pool (see
    /// [`spawn_blocking`](crate::task::spawn_blocking)); callable from any
    /// thread. The task that awaits the result is placed like
    /// [`spawn`](Self::spawn)'s.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// let task = rt.handle().spawn_blocking(|| std::thread::current().name().map(str::to_owned));
    /// let name = rt.block_on(task).unwrap().unwrap();
    /// assert!(name.starts_with("roost-blocking"));
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match crate::blocking::submit(self, f) {
            Ok(rx) => self.spawn(crate::blocking::receive(rx)),
            Err(e) => self.spawn(async move { panic!("roost: spawn_blocking could not run the closure: {e}") }),
        }
    }

    /// The event loops (workers, and threads in `block_on`) whose reactor
    /// failed at least once, each with its latest error and whether it
    /// gave up and stopped; empty while every reactor is healthy. See
    /// [`ReactorFault`] for what a loop does when its reactor fails.
    pub fn reactor_faults(&self) -> Vec<ReactorFault> {
        self.shared.reactor_faults.snapshot()
    }

    /// A snapshot of every worker's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        let pool = self.shared.blocking.stats();
        RuntimeMetrics {
            blocking_threads: pool.threads,
            blocking_idle_threads: pool.idle,
            blocking_queue_depth: pool.queued,
            blocking_threads_started: pool.spawned,
            workers: self
                .shared
                .workers
                .iter()
                .map(|w| {
                    let arena = w
                        .arena
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_ref()
                        .map(|m| m.stats());
                    WorkerMetrics::read(w.index, &w.metrics, arena)
                })
                .collect(),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("workers", &self.worker_count()).finish()
    }
}
