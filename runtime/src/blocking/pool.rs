//! The blocking pool: threads made on demand, up to a cap, for closures that
//! would block a worker (file I/O, DNS resolution, CPU-heavy work).
//!
//! # Invariants
//!
//! - All state sits behind one mutex; the pool is not on any hot path (a
//!   blocking closure costs a thread hand-off anyway), so a lock is simpler
//!   and cheaper to reason about than a lock-free queue.
//! - `threads` counts the pool's live threads, `idle` those waiting on the
//!   condition variable. A new thread is made only when the queued jobs
//!   outnumber the idle threads and `threads < max_threads`: so a burst of
//!   more closures than the cap queues the excess instead of growing past
//!   it, and an idle thread is always used before a new one is made.
//! - A thread waits at most `keep_alive` for work; if none came, it retires.
//!   The pool therefore shrinks back to no threads when idle.
//! - After `shutdown`, queued jobs that have not started are dropped (their
//!   handles see a cancellation), running ones finish on their detached
//!   threads, and new jobs are refused.

use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A closure queued on the pool.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    /// Threads ever started (a statistic).
    spawned: u64,
}

/// See the module documentation.
pub(crate) struct BlockingPool {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    name: String,
}

/// A snapshot of the pool, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PoolStats {
    pub(crate) threads: usize,
    pub(crate) idle: usize,
    pub(crate) queued: usize,
    pub(crate) spawned: u64,
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration, name: String) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                shutdown: false,
                spawned: 0,
            }),
            work: Condvar::new(),
            max_threads,
            keep_alive,
            name,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A job never runs under the lock, so a poisoned lock only means a
        // thread panicked between two plain field updates: the state is
        // still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job`, starting a thread for it if no idle one will take it.
    ///
    /// # Errors
    ///
    /// The pool is shut down, or it has no thread at all and the OS refused
    /// to make one (the job is dropped then).
    pub(crate) fn submit(self: &std::sync::Arc<Self>, job: Job) -> io::Result<()> {
        let mut state = self.lock();
        if state.shutdown {
            return Err(io::Error::other("the roost runtime is shutting down"));
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            self.work.notify_one();
        }
        if state.queue.len() > state.idle && state.threads < self.max_threads {
            state.threads += 1;
            state.spawned += 1;
            let id = state.spawned;
            drop(state);
            let pool = self.clone();
            let started = std::thread::Builder::new()
                .name(format!("{}-{id}", self.name))
                .spawn(move || pool.run());
            if let Err(e) = started {
                let mut state = self.lock();
                state.threads -= 1;
                if state.threads == 0 {
                    // Nobody would ever run the queue: give the jobs back as
                    // failures (dropping a job cancels its handle).
                    let dropped = std::mem::take(&mut state.queue);
                    drop(state);
                    drop(dropped);
                    return Err(e);
                }
                // Running threads will get to it.
            }
        }
        Ok(())
    }

    /// A pool thread's life: take jobs until none came for `keep_alive`.
    fn run(&self) {
        // Made by whichever worker submitted first, it would inherit that
        // worker's pinning; it serves every worker.
        let _ = crate::sys::affinity::unpin_current_thread();
        // ...and its scheduling policy (`sys/sched.rs`): blocking work is
        // not the worker's batch.
        if crate::sys::sched::is_batch() {
            let _ = crate::sys::sched::set_batch(false);
        }
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // Jobs catch their own panics (see `spawn_blocking`); one
                // that escapes anyway must not take the pool's count with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                state = self.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }

    /// Refuses new jobs, drops the queued ones and lets idle threads go.
    pub(crate) fn shutdown(&self) {
        let dropped = {
            let mut state = self.lock();
            state.shutdown = true;
            std::mem::take(&mut state.queue)
        };
        self.work.notify_all();
        // Dropped outside the lock: a job's drop wakes a task.
        drop(dropped);
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            threads: state.threads,
            idle: state.idle,
            queued: state.queue.len(),
            spawned: state.spawned,
        }
    }
}
