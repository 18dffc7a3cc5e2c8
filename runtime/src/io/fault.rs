//! Reactor faults: what an event loop does when its `epoll_wait` fails,
//! and how the failure is reported.
//!
//! `EINTR` is not a fault (the loop simply goes round again). Any other
//! error of the reactor's wait is:
//!
//! 1. counted in the loop's metrics ([`WorkerMetrics::reactor_errors`]),
//!    written to stderr (one line per error) and recorded in the runtime's
//!    fault list ([`Handle::reactor_faults`]);
//! 2. retried after a pause that doubles from 1 ms, up to
//!    [`MAX_REACTOR_RETRIES`] consecutive failures; a successful wait
//!    resets the count, so a worker whose reactor recovers goes on serving;
//! 3. past that, the loop stops for good: a worker cancels its tasks
//!    (their `JoinHandle`s resolve as cancelled, so nothing waits on it
//!    forever), closes its inbox (later spawns on it are refused) and
//!    exits, while the other workers keep running; a `block_on` loop ends
//!    its `block_on` with [`BlockOnError::Io`](crate::BlockOnError::Io).
//!
//! The OS gives no way to make `epoll_wait` fail on demand (short of
//! corrupting the descriptor, which would take the whole process down
//! with it), so tests inject errors with [`__inject_poll_errors`]: the
//! next waits of the current thread's loop return that error instead of
//! calling `epoll_wait`, through the same handling as a real failure.
//!
//! # Invariants
//!
//! - [`ReactorFaults`] belongs to one event loop and is touched only by its
//!   thread (plain `Cell`s); what other threads read goes through the
//!   worker's metrics cells and the runtime's [`FaultLog`].
//! - The fault log is not part of any loom model (loom models run without a
//!   reactor) and orders nothing: a plain `std` mutex and a `core` atomic
//!   flag, as the metrics are (see `loom.rs`'s exceptions).

use std::cell::Cell;
use std::fmt;
use std::io;
use std::time::Duration;

use crate::loom::sync::Arc;
use crate::sched::WorkerShared;

/// Consecutive failed waits after which an event loop gives up and stops.
pub const MAX_REACTOR_RETRIES: u32 = 8;

/// The first pause after a failed wait; it doubles with each consecutive
/// failure, up to [`MAX_REACTOR_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(1);

/// The longest pause between two retries of a failing wait.
pub const MAX_REACTOR_BACKOFF: Duration = Duration::from_millis(100);

/// A failure of one event loop's reactor, as recorded by the runtime.
///
/// When a worker's (or a `block_on` loop's) `epoll_wait` fails with
/// anything but `EINTR`, the loop counts it
/// ([`WorkerMetrics::reactor_errors`](crate::WorkerMetrics::reactor_errors)),
/// writes a line to stderr, records it here
/// ([`Handle::reactor_faults`](crate::Handle::reactor_faults)) and retries
/// after a pause that doubles from 1 ms (at most
/// [`MAX_REACTOR_BACKOFF`]); a successful wait resets the count. After
/// [`MAX_REACTOR_RETRIES`] consecutive failures it gives up: a worker
/// cancels its tasks (their `JoinHandle`s resolve as cancelled), refuses
/// further spawns ([`SpawnError::WorkerStopped`](crate::SpawnError::WorkerStopped);
/// round-robin spawns pass it over) and exits while the other workers run
/// on; a `block_on` ends with [`BlockOnError::Io`](crate::BlockOnError::Io).
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// // A healthy runtime has no faults to report.
/// assert!(rt.handle().reactor_faults().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReactorFault {
    /// The worker whose reactor failed; `None` for a `block_on` loop.
    pub worker: Option<usize>,
    /// Failed waits of that loop so far (transient and final).
    pub errors: u64,
    /// The kind of the latest error.
    pub kind: io::ErrorKind,
    /// The OS error code of the latest error, if it had one.
    pub os_error: Option<i32>,
    /// The latest error, as text.
    pub message: String,
    /// Whether the loop gave up and stopped (its tasks were cancelled).
    pub stopped: bool,
}

impl ReactorFault {
    /// The latest error as an `io::Error` (same kind, same text).
    pub fn error(&self) -> io::Error {
        io::Error::new(self.kind, self.to_string())
    }
}

impl fmt::Display for ReactorFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.worker {
            Some(w) => write!(f, "roost worker {w}")?,
            None => f.write_str("roost block_on loop")?,
        }
        write!(f, ": epoll_wait failed: {}", self.message)?;
        if self.stopped {
            f.write_str(" (gave up: the loop stopped)")?;
        }
        Ok(())
    }
}

/// The runtime's record of reactor faults: one entry per event loop whose
/// reactor failed at least once, with its latest error.
#[derive(Default)]
pub(crate) struct FaultLog {
    entries: std::sync::Mutex<Vec<ReactorFault>>,
    /// Set once any worker stopped: until then spawns need not look at
    /// each worker's state (which would read cache lines their owners
    /// write every tick).
    any_stopped: std::sync::atomic::AtomicBool,
}

impl FaultLog {
    /// Whether any worker of the runtime stopped on a reactor failure.
    pub(crate) fn any_stopped(&self) -> bool {
        self.any_stopped.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn record(&self, fault: ReactorFault) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.iter_mut().find(|e| e.worker == fault.worker) {
            Some(entry) => *entry = fault,
            None => entries.push(fault),
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<ReactorFault> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What the event loop does after a wait.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterWait {
    /// Events (if any) are in the buffer: dispatch them.
    Dispatch,
    /// No events this time (interrupted, or a failure that will be
    /// retried): go round the loop again.
    Retry,
    /// The reactor failed for good: the loop must stop.
    Stop,
}

/// One event loop's fault state (see the module docs).
pub(crate) struct ReactorFaults {
    shared: Arc<WorkerShared>,
    log: std::sync::Arc<FaultLog>,
    consecutive: Cell<u32>,
    errors: Cell<u64>,
    /// Injected errors still to come: errno and count.
    injected: Cell<Option<(i32, u32)>>,
    /// The kind of the error the loop stopped on.
    stopped: Cell<Option<io::ErrorKind>>,
}

impl ReactorFaults {
    pub(crate) fn new(shared: Arc<WorkerShared>, log: std::sync::Arc<FaultLog>) -> Self {
        Self {
            shared,
            log,
            consecutive: Cell::new(0),
            errors: Cell::new(0),
            injected: Cell::new(None),
            stopped: Cell::new(None),
        }
    }

    /// Runs one reactor wait (`wait`, the `epoll_wait`) unless the loop
    /// stopped already or an error is injected for it, and judges what it
    /// gave (see the module docs).
    pub(crate) fn wait(&self, wait: impl FnOnce() -> io::Result<()>) -> AfterWait {
        if self.stopped.get().is_some() {
            // Given up already: no more waiting (it could block for good).
            return AfterWait::Stop;
        }
        let result = match self.take_injected() {
            Some(injected) => Err(injected),
            None => wait(),
        };
        self.after_wait(result)
    }

    /// An injected error for this wait, if one is pending.
    fn take_injected(&self) -> Option<io::Error> {
        let (errno, left) = self.injected.get()?;
        self.injected.set((left > 1).then_some((errno, left - 1)));
        Some(io::Error::from_raw_os_error(errno))
    }

    fn inject(&self, errno: i32, count: u32) {
        self.injected.set((count > 0).then_some((errno, count)));
    }

    /// The kind of the error the loop stopped on, if it did.
    pub(crate) fn stopped(&self) -> Option<io::ErrorKind> {
        self.stopped.get()
    }

    /// Judges the result of one wait; on a failure, reports it and pauses
    /// before the retry (see the module docs).
    fn after_wait(&self, result: io::Result<()>) -> AfterWait {
        let error = match result {
            Ok(()) => {
                self.consecutive.set(0);
                return AfterWait::Dispatch;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return AfterWait::Retry,
            Err(e) => e,
        };
        let attempt = self.consecutive.get() + 1;
        self.consecutive.set(attempt);
        self.errors.set(self.errors.get() + 1);
        self.shared.metrics.reactor_errors.set(self.errors.get());
        let give_up = attempt >= MAX_REACTOR_RETRIES;
        let worker = (self.shared.index != crate::root::GUEST_INDEX).then_some(self.shared.index);
        let fault = ReactorFault {
            worker,
            errors: self.errors.get(),
            kind: error.kind(),
            os_error: error.raw_os_error(),
            message: error.to_string(),
            stopped: give_up,
        };
        if give_up {
            eprintln!("{fault}: {attempt} consecutive failures; its tasks are cancelled");
            self.stopped.set(Some(error.kind()));
            self.shared.metrics.reactor_stopped.set(1);
            if worker.is_some() {
                self.log.any_stopped.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            self.log.record(fault);
            return AfterWait::Stop;
        }
        let pause = FIRST_BACKOFF
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(MAX_REACTOR_BACKOFF);
        eprintln!("{fault} (failure {attempt} of at most {MAX_REACTOR_RETRIES}); retrying in {pause:?}");
        self.log.record(fault);
        // The loop has no working reactor to sleep in: pause the thread.
        // Remote wakes wait for the pause's end, which is bounded.
        std::thread::sleep(pause);
        AfterWait::Retry
    }
}

/// Makes the next `count` reactor waits of the current thread's event loop
/// (worker or `block_on` loop) fail with OS error `errno` instead of
/// calling `epoll_wait`, through the same handling as a real failure (see
/// the module docs). `count == 0` cancels a pending injection. For tests of
/// the fault paths only.
///
/// # Errors
///
/// `Other` off a roost event loop.
#[doc(hidden)]
pub fn __inject_poll_errors(errno: i32, count: u32) -> io::Result<()> {
    crate::context::with_current(|ctx| match ctx.and_then(|c| c.io.as_ref()) {
        Some(io) => {
            io.faults.inject(errno, count);
            Ok(())
        }
        None => Err(io::Error::other("not on a roost event loop")),
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Runtime;

    fn runtime() -> Runtime {
        // No tokio compatibility: its process-wide background thread is
        // never joined, which Miri reports as a leak.
        Runtime::builder()
            .worker_threads(1)
            .pin_workers(false)
            .tokio_compat(false)
            .build()
            .expect("runtime")
    }

    /// Small enough for Miri: a real worker, its epoll loop, a timer.
    #[test]
    fn a_worker_recovers_from_a_few_failed_waits() {
        let rt = runtime();
        rt.block_on(rt.handle().spawn_on(0, async {
            __inject_poll_errors(libc::EINVAL, 2).unwrap();
        }))
        .unwrap();
        // The idle worker goes on waiting: both failures come, then none.
        while rt.reactor_faults().first().map_or(0, |f| f.errors) < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let task = rt.handle().spawn_on(0, async {
            crate::time::sleep(Duration::from_millis(1)).await;
            crate::current_worker()
        });
        assert_eq!(rt.block_on(task).unwrap(), Some(0));
        let faults = rt.reactor_faults();
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert_eq!(faults[0].worker, Some(0));
        assert_eq!(faults[0].errors, 2);
        assert!(!faults[0].stopped);
        assert_eq!(rt.handle().metrics().workers[0].reactor_errors, 2);
    }

    #[test]
    fn interrupted_waits_are_not_faults() {
        let rt = runtime();
        let task = rt.handle().spawn_on(0, async {
            __inject_poll_errors(libc::EINTR, 3).unwrap();
            crate::time::sleep(Duration::from_millis(1)).await;
        });
        rt.block_on(task).unwrap();
        // Once the worker has been through the three (it keeps waiting).
        let drained = rt.handle().spawn_on(0, async {
            loop {
                let pending = crate::context::with_current(|ctx| {
                    ctx.and_then(|c| c.io.as_ref())
                        .map_or(0, |io| io.faults.injected.get().map_or(0, |(_, n)| n))
                });
                if pending == 0 {
                    return;
                }
                crate::time::sleep(Duration::from_millis(1)).await;
            }
        });
        rt.block_on(drained).unwrap();
        assert!(rt.reactor_faults().is_empty());
        assert_eq!(rt.handle().metrics().workers[0].reactor_errors, 0);
    }
}
