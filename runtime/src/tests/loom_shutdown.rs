//! loom models of the runtime's shutdown: the state machine
//! `RUNNING -> DRAINING -> CANCELLING` (`advance_state` and the nudges it
//! sends), the workers' exit accounting (`worker_exited`) and the thread
//! that waits for it (`stop_workers`, the body of `Runtime::shutdown`).
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-runtime --lib --release loom`.
//!
//! The workers are real `WorkerShared`s (inbox and unparker) whose
//! `mio::Waker` is a loom `Notify`; each runs the shutdown half of the event
//! loop's tick (`worker::run`): take the inbox, read the state, exit or
//! announce sleep and block. A wake-up that is lost (a state change that
//! does not nudge a sleeping worker, an exit that does not signal the
//! waiter) leaves a thread blocked for ever, which loom reports as a
//! deadlock. The waiter's deadline cannot expire under loom (its
//! `Condvar::wait_timeout` never times out), so a worker that never exits
//! is a deadlock too, never a silent pass.
//!
//! Broken on purpose once each (then restored): `advance_state` without
//! its nudges (both models deadlock), `advance_state` with a swap instead
//! of `fetch_max` (`DRAINING` overwrites `CANCELLING`: the busy worker
//! never leaves), and `worker_exited` without its `notify_all` (the waiter
//! sleeps for ever).

use std::time::Duration;

use loom::sync::{Arc, Notify};
use loom::thread;

use super::{RuntimeShared, CANCELLING, DRAINING};
use crate::blocking::pool::BlockingPool;
use crate::io::{Driver, DriverConfig};
use crate::sched::idle_policy::IdlePolicy;
use crate::sched::{Unpark, WorkerShared};
use crate::worker::LoopConfig;

struct NotifyUnpark(Arc<Notify>);

impl Unpark for NotifyUnpark {
    fn unpark(&self) {
        self.0.notify();
    }
}

fn runtime(n: usize) -> (Arc<RuntimeShared>, Vec<Arc<Notify>>) {
    let mut workers = Vec::new();
    let mut unparks = Vec::new();
    for index in 0..n {
        let notify = Arc::new(Notify::new());
        workers.push(Arc::new(WorkerShared::new(
            index,
            Box::new(NotifyUnpark(notify.clone())),
        )));
        unparks.push(notify);
    }
    let loop_config = LoopConfig {
        budget: 61,
        events_capacity: 16,
        idle: IdlePolicy::Adaptive { max: Duration::ZERO },
        tokio_compat: false,
        driver: DriverConfig {
            driver: Driver::Epoll,
            uring_entries: 0,
            uring_buffers: 0,
            uring_zero_copy_above: 0,
            uring_batch_wait: Duration::ZERO,
        },
    };
    let blocking = BlockingPool::new(1, Duration::from_secs(1), "loom-blocking".into());
    let shared = RuntimeShared::new(workers.into_boxed_slice(), blocking, loop_config);
    (Arc::new(shared), unparks)
}

/// The shutdown half of a worker's tick, until it exits. A `busy` worker
/// holds a task that never finishes: it leaves only when cancelled, and
/// reports that task as cancelled.
fn worker(rt: &RuntimeShared, index: usize, busy: bool, unpark: &Notify) {
    let shared = &rt.workers[index];
    loop {
        assert_eq!(shared.inbox.take_all().count(), 0, "nudges carry no node");
        match rt.state() {
            CANCELLING => break,
            DRAINING if !busy => break,
            _ => {}
        }
        if shared.inbox.try_sleep() {
            unpark.wait();
        }
    }
    rt.worker_exited(usize::from(busy));
}

fn spawn_worker(rt: &Arc<RuntimeShared>, unparks: &[Arc<Notify>], index: usize, busy: bool) -> thread::JoinHandle<()> {
    let (rt, unpark) = (rt.clone(), unparks[index].clone());
    thread::spawn(move || worker(&rt, index, busy, &unpark))
}

/// A graceful shutdown of two idle workers, asleep or about to sleep: both
/// see `DRAINING`, exit, and the waiter sees them both, drained.
#[test]
fn loom_shutdown_drains_idle_workers() {
    loom::model(|| {
        let (rt, unparks) = runtime(2);
        let workers: Vec<_> = (0..2).map(|i| spawn_worker(&rt, &unparks, i, false)).collect();
        let (drained, exited) = rt.stop_workers(2, Some(Duration::from_secs(60)));
        assert!(drained);
        assert_eq!(exited, 2);
        assert_eq!(rt.state(), CANCELLING);
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(rt.cancelled.load(std::sync::atomic::Ordering::Relaxed), 0);
    });
}

/// A worker with a task that never finishes ignores `DRAINING`; another
/// worker, shutting the runtime down from inside (as `Runtime::shutdown` on
/// a worker thread does), jumps to `CANCELLING` while the outside waiter
/// enters `DRAINING`: the state never goes back, the busy worker is
/// cancelled, and the waiter counts both exits.
#[test]
fn loom_shutdown_from_a_worker_against_the_outside_waiter() {
    loom::model(|| {
        let (rt, unparks) = runtime(2);
        let busy = spawn_worker(&rt, &unparks, 0, true);
        let inside = {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.advance_state(CANCELLING);
                rt.worker_exited(0);
            })
        };
        let (_drained, exited) = rt.stop_workers(2, Some(Duration::from_secs(60)));
        assert_eq!(exited, 2);
        assert_eq!(rt.state(), CANCELLING);
        busy.join().unwrap();
        inside.join().unwrap();
        assert_eq!(rt.cancelled.load(std::sync::atomic::Ordering::Relaxed), 1);
    });
}
