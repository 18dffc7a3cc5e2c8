//! A worker thread: start-up (pin, arena, context), the event loop, exit.
//!
//! # The tick
//!
//! ```text
//! loop {
//!     take the inbox (remote spawns and wakes)
//!     fire due timers
//!     poll up to `budget` tasks from the run queue, then send the wakes
//!       collected for other workers (one batch per worker)
//!     arena upkeep (flush outgoing return batches, drain the return list)
//!     publish metrics, check the shutdown state
//!     if work is left: poll I/O without blocking, once `budget` polls have
//!           run since the last look at the sockets (only if sources exist)
//!     else: spin on the inbox as the idle policy says (`sched/idle_policy.rs`), then
//!           announce sleep on the inbox and block in mio until an event,
//!           a timer or an unpark
//! }
//! ```
//!
//! A task that is always ready runs at most `budget` polls per tick, after
//! which timers, I/O and the inbox get their turn: it cannot starve them.
//! Work left after a short tick (remote wakes that came in meanwhile) runs
//! at once, without a zero-timeout `epoll_wait` per tick: the sockets are
//! looked at no later than every `budget` polls, or when the loop idles.
//! The worker blocks only after the inbox's `try_sleep` succeeded, so a push
//! that races with it either is seen by that `try_sleep` or unparks the
//! worker (see `sched/inbox.rs`).

use std::io;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use mio::{Events, Token};
use roost_alloc::{Arena, ArenaConfig, InstallError};

use crate::compat;
use crate::context::{self, Context};
use crate::handle::Handle;
use crate::io::fault::AfterWait;
use crate::io::{DriverConfig, IoDriver, Poller as Poll};
use crate::loom::sync::{mpsc, Arc};
use crate::loom::thread;
use crate::runtime::{CANCELLING, DRAINING};
use crate::sched::core::Core;
use crate::sched::idle_policy::{Idle, IdlePolicy, Watch};
use crate::sched::WorkerShared;
use crate::sys::{affinity, sched};

/// The token of each worker's `mio::Waker`.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// What every event loop of a runtime (its workers, and the threads that
/// `block_on`) runs with.
#[derive(Clone)]
pub(crate) struct LoopConfig {
    /// Task polls per tick.
    pub(crate) budget: usize,
    pub(crate) events_capacity: usize,
    pub(crate) idle: IdlePolicy,
    /// Whether loops enter the background tokio context (see `compat.rs`).
    pub(crate) tokio_compat: bool,
    /// The driver every loop opens (`block_on` loops open theirs later).
    pub(crate) driver: DriverConfig,
}

pub(crate) struct WorkerConfig {
    pub(crate) index: usize,
    pub(crate) name: String,
    /// The core to pin to, if pinning.
    pub(crate) core: Option<usize>,
    /// Run under `SCHED_BATCH` (see `sys/sched.rs`).
    pub(crate) sched_batch: bool,
    pub(crate) arena: ArenaConfig,
    pub(crate) on_start: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_stop: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
}

/// Starts worker `config.index` on a thread of its own; it reports on
/// `ready` once started.
pub(crate) fn spawn(
    config: WorkerConfig,
    poll: Poll,
    handle: Handle,
    ready: mpsc::Sender<io::Result<()>>,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new().name(config.name.clone()).spawn(move || {
        let _ = main(config, poll, handle, Some(ready), None);
    })
}

/// Counts the worker as exited however its thread ends.
struct ExitGuard {
    handle: Handle,
    cancelled: usize,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.handle.shared.worker_exited(self.cancelled);
    }
}

/// Pins the thread and installs the worker's arena.
fn start(config: &WorkerConfig, shared: &Arc<WorkerShared>) -> io::Result<()> {
    if let Some(core) = config.core {
        affinity::pin_current_thread(core)?;
    }
    shared.metrics.set_core(config.core);
    // A policy the system refuses (seccomp) leaves the normal one: the
    // worker runs, and its metrics say so.
    let batch = config.sched_batch && sched::set_batch(true).is_ok();
    shared.metrics.sched_batch.set(u64::from(batch));
    let notify_target = shared.clone();
    let arena = config
        .arena
        .clone()
        .flush_on_alloc(false)
        .drain_notifier(std::sync::Arc::new(move || notify_target.nudge()));
    let monitor = match Arena::install(arena) {
        Ok(monitor) => monitor,
        // The calling thread of `Builder::run` may own an arena already
        // (it allocated before); the worker keeps using that one, with the
        // configuration and drain notifier it was made with (returns from
        // other threads are then drained at the worker's next tick rather
        // than waking it).
        Err(InstallError::AlreadyInstalled) if config.index == 0 => Arena::current(),
        Err(e) => return Err(io::Error::other(e)),
    };
    *shared.arena.lock().unwrap_or_else(|e| e.into_inner()) = Some(monitor);
    Ok(())
}

/// A worker's life on the current thread: start-up, the event loop (until
/// shutdown, or until `root` completes), the cancellation of what is left,
/// the stop hook. Returns whether `root` completed.
pub(crate) fn main(
    config: WorkerConfig,
    mut poll: Poll,
    handle: Handle,
    ready: Option<mpsc::Sender<io::Result<()>>>,
    root: Option<&mut dyn Root>,
) -> io::Result<bool> {
    let mut guard = ExitGuard {
        handle: handle.clone(),
        cancelled: 0,
    };
    let shared = handle.shared.workers[config.index].clone();
    let started = start(&config, &shared).and_then(|()| Context::new(shared, &handle, &mut poll));
    let ctx = match started {
        Ok(ctx) => ctx,
        Err(e) => {
            let kind = e.kind();
            let message = e.to_string();
            if let Some(ready) = ready {
                let _ = ready.send(Err(e));
            }
            return Err(io::Error::new(kind, message));
        }
    };
    let lp = handle.shared.loop_config.clone();
    let done = context::enter(&ctx, || {
        let _tokio = compat::enter(&lp);
        if let Some(hook) = &config.on_start {
            hook();
        }
        if let Some(ready) = ready {
            let _ = ready.send(Ok(()));
        }
        let mut events = Events::with_capacity(lp.events_capacity);
        let done = run(&ctx, &mut poll, &mut events, &lp, &handle, root);
        guard.cancelled = ctx.core.shutdown();
        ctx.stop_reactor();
        publish_metrics(&ctx);
        if let Some(hook) = &config.on_stop {
            hook();
        }
        done
    });
    // Drop the timers and the reactor (and their wakers) outside the context.
    drop(ctx);
    drop(poll);
    roost_alloc::maintain();
    Ok(done)
}

/// A future driven by an event loop besides its tasks: the one given to
/// `block_on` or `Builder::run` (see `root.rs`).
pub(crate) trait Root {
    /// Polls the future if it was woken since its last poll; returns
    /// whether it is complete.
    fn poll_if_woken(&mut self) -> bool;

    /// Whether it was woken and waits for its poll.
    fn is_woken(&self) -> bool;
}

/// The event loop. Returns `true` when `root` completed, `false` when the
/// runtime's shutdown (or a reactor that failed for good) ended it.
pub(crate) fn run(
    ctx: &Context,
    poll: &mut Poll,
    events: &mut Events,
    lp: &LoopConfig,
    handle: &Handle,
    mut root: Option<&mut dyn Root>,
) -> bool {
    let budget = lp.budget;
    let core = &ctx.core;
    let io = ctx.io.as_ref().expect("an event loop has a reactor");
    let runtime = &handle.shared;
    let idle = Idle::new(lp.idle);
    // Task polls since the loop last looked at its sockets.
    let mut polls_since_io = 0;
    loop {
        core.stats.ticks.set(core.stats.ticks.get() + 1);
        core.drain_inbox();
        fire_timers(ctx);
        if let Some(root) = root.as_deref_mut() {
            if root.poll_if_woken() {
                // What the root spawned in its last poll still runs on the
                // next loop (or at shutdown, is cancelled); the wakes it
                // sent to other workers go out now, not at the next loop.
                core.flush_outbox();
                roost_alloc::maintain();
                publish_metrics(ctx);
                return true;
            }
        }
        polls_since_io += core.run(budget);
        roost_alloc::maintain();
        publish_metrics(ctx);
        match runtime.state() {
            CANCELLING => return false,
            DRAINING if root.is_none() && core.live_tasks() == 0 => return false,
            _ => {}
        }
        // The root's wakes from this thread (I/O dispatched while spinning,
        // say) set the flag without nudging: look at it before sleeping.
        let root_woken = || root.as_deref().is_some_and(|r| r.is_woken());
        if core.has_runnable() || !core.shared.inbox.is_empty() || root_woken() {
            if polls_since_io >= budget && io.has_sources() {
                polls_since_io = 0;
                if poll_io(poll, events, io, Some(Duration::ZERO)).is_break() {
                    return false;
                }
            }
            continue;
        }
        polls_since_io = 0;
        // Nothing may wait in the outbox while we spin or sleep.
        core.flush_outbox();
        let found = idle.spin(&mut LoopWatch {
            core,
            poll: &mut *poll,
            events: &mut *events,
            io,
            root_woken: &root_woken,
        });
        core.stats.spin_nanos.set(idle.spin_nanos.get());
        core.stats.spin_hits.set(idle.hits.get());
        core.stats.spin_misses.set(idle.misses.get());
        core.stats.spin_preempted.set(idle.preempted.get());
        if found || root_woken() {
            // Work arrived while spinning (or with the last look at the
            // sockets): no sleep, no syscall for anyone.
            continue;
        }
        if core.shared.inbox.try_sleep() {
            let now = Instant::now();
            let timeout = ctx.timers.borrow().timeout(now);
            core.stats.parks.set(core.stats.parks.get() + 1);
            if poll_io(poll, events, io, timeout).is_break() {
                return false;
            }
            // The sleep's length matters only to a park the inbox ended.
            let by_inbox = !core.shared.inbox.is_empty();
            let slept = (by_inbox && idle.wants_park_time()).then(|| now.elapsed());
            idle.parked(slept, by_inbox);
        } else {
            // Work arrived between the spin and the announcement.
            idle.parked(None, true);
        }
    }
}

/// What an idle loop watches while it spins (see `sched/idle_policy.rs`).
struct LoopWatch<'a> {
    core: &'a Core,
    poll: &'a mut Poll,
    events: &'a mut Events,
    io: &'a IoDriver,
    root_woken: &'a dyn Fn() -> bool,
}

impl Watch for LoopWatch<'_> {
    #[inline]
    fn work_arrived(&self) -> bool {
        !self.core.shared.inbox.is_empty() || (self.root_woken)()
    }

    fn poll_sockets(&mut self) -> bool {
        if !self.io.has_sources() {
            return false;
        }
        if poll_io(self.poll, self.events, self.io, Some(Duration::ZERO)).is_break() {
            // Nothing found: the park meets the failure again and stops
            // the loop.
            return false;
        }
        self.core.has_runnable() || (self.root_woken)()
    }
}

/// Copies the worker's counters, pending timers and I/O sources to its
/// shared metrics (once a tick, and at exit).
fn publish_metrics(ctx: &Context) {
    ctx.core.publish_stats();
    let metrics = &ctx.core.shared.metrics;
    metrics.timers.set(ctx.timers.borrow().wheel.len() as u64);
    metrics.io_sources.set(ctx.io.as_ref().map_or(0, |io| io.len()) as u64);
    #[cfg(target_os = "linux")]
    metrics
        .ring_bytes
        .set(ctx.io.as_ref().and_then(|io| io.ring()).map_or(0, |r| r.lent_bytes()) as u64);
}

fn fire_timers(ctx: &Context) {
    let fired = {
        let mut timers = ctx.timers.borrow_mut();
        if timers.wheel.is_empty() {
            return;
        }
        timers.expire(Instant::now())
    };
    let mut fired = fired;
    for waker in fired.drain(..) {
        waker.wake();
    }
    ctx.timers.borrow_mut().recycle(fired);
}

/// Waits for I/O events (up to `timeout`) and dispatches them. Returns
/// `Break` when the reactor failed for good and the loop must stop (see
/// `io/fault.rs`: failures are reported and retried first).
fn poll_io(poll: &mut Poll, events: &mut Events, io: &IoDriver, timeout: Option<Duration>) -> ControlFlow<()> {
    let poll = match poll {
        Poll::Epoll(poll) => poll,
        // The ring's failures go through the same fault handling.
        #[cfg(target_os = "linux")]
        Poll::Uring(_) => return io.poll_uring(timeout),
    };
    // A timeout that is not a whole number of milliseconds is rounded up by
    // mio, so a timer is never woken for early.
    match io.faults.wait(|| poll.poll(events, timeout)) {
        AfterWait::Dispatch => {}
        AfterWait::Retry => return ControlFlow::Continue(()),
        AfterWait::Stop => return ControlFlow::Break(()),
    }
    for event in events.iter() {
        if event.token() != WAKER_TOKEN {
            io.dispatch(event);
        }
    }
    ControlFlow::Continue(())
}
