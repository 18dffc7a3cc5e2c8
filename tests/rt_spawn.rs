//! Spawning and joining: on every worker, from any thread, local and remote,
//! and at scale (100,000 live tasks).

#[path = "support/rt.rs"]
mod support;

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roost_runtime::{Handle, Runtime, SpawnError};

#[test]
fn spawn_on_every_worker_runs_there() {
    let rt = support::pinned_runtime(2);
    let seen = rt.block_on(async {
        let n = roost_runtime::worker_count().unwrap();
        let handles: Vec<_> = (0..n)
            .map(|w| roost_runtime::spawn_on(w, async move { (w, roost_runtime::current_worker().unwrap()) }))
            .collect();
        let mut seen = Vec::new();
        for h in handles {
            seen.push(h.await.unwrap());
        }
        seen
    });
    assert_eq!(seen, vec![(0, 0), (1, 1)]);
}

#[test]
fn handle_spawn_round_robin_reaches_every_worker() {
    let rt = support::pinned_runtime(2);
    let mut workers = rt.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|_| roost_runtime::Handle::current().spawn(async { roost_runtime::current_worker().unwrap() }))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    workers.sort_unstable();
    workers.dedup();
    assert_eq!(workers, vec![0, 1]);
}

#[test]
fn spawn_from_foreign_threads_and_join_there() {
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let tasks: Vec<_> = (0..100u64).map(|i| handle.spawn(async move { t * 1000 + i })).collect();
                handle.block_on(async move {
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    let sums: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let expected: Vec<u64> = (0..4u64).map(|t| (0..100).map(|i| t * 1000 + i).sum()).collect();
    assert_eq!(sums, expected);
}

#[test]
fn spawn_local_keeps_non_send_state_on_its_worker() {
    let rt = support::pinned_runtime(2);
    let out = rt.block_on_local(|| async {
        let counter = Rc::new(std::cell::Cell::new(0));
        let mut handles = Vec::new();
        for _ in 0..10 {
            let c = counter.clone();
            handles.push(roost_runtime::spawn_local(async move {
                roost_runtime::yield_now().await;
                c.set(c.get() + 1);
                roost_runtime::current_worker().unwrap()
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), 0);
        }
        counter.get()
    });
    assert_eq!(out, 10);
}

#[test]
fn dropping_the_join_handle_detaches_the_task() {
    let rt = support::pinned_runtime(2);
    let done = Arc::new(AtomicUsize::new(0));
    let signal = support::Signal::new();
    let (d, s) = (done.clone(), signal.clone());
    rt.block_on(async move {
        drop(roost_runtime::spawn_on(1, async move {
            roost_runtime::yield_now().await;
            d.fetch_add(1, Ordering::SeqCst);
            s.raise();
        }));
        signal.wait().await;
    });
    assert_eq!(done.load(Ordering::SeqCst), 1);
}

#[test]
fn on_each_worker_runs_once_per_worker() {
    let rt = support::pinned_runtime(3);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let handles = rt.handle().on_each_worker(move || {
        c.fetch_add(1, Ordering::SeqCst);
        // Per-core setup typically leaves a local task behind.
        roost_runtime::spawn_local(async {});
        roost_runtime::current_worker().unwrap()
    });
    let workers = rt.block_on(async move {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    assert_eq!(workers, vec![0, 1, 2]);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[test]
fn more_workers_than_cores_pin_around_the_cores() {
    // Four pinned workers on however few cores the machine has.
    let rt = support::pinned_runtime(4);
    let seen = rt.block_on(async {
        let mut out = Vec::new();
        for w in 0..4 {
            out.push(
                roost_runtime::spawn_on(w, async { roost_runtime::current_worker() })
                    .await
                    .unwrap(),
            );
        }
        out
    });
    assert_eq!(seen, vec![Some(0), Some(1), Some(2), Some(3)]);
}

#[test]
fn hooks_run_on_every_worker_thread() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s1, s2) = (started.clone(), stopped.clone());
    let rt = Runtime::builder()
        .worker_threads(2)
        .pin_workers(false)
        .thread_name("hooked")
        .on_thread_start(move || {
            assert!(roost_runtime::current_worker().is_some());
            assert!(std::thread::current().name().unwrap().starts_with("hooked-"));
            s1.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            s2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    assert_eq!(
        started.load(Ordering::SeqCst),
        2,
        "build returns after every start hook"
    );
    drop(rt);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}

#[test]
fn misuse_off_worker_is_reported() {
    assert!(roost_runtime::current_worker().is_none());
    assert!(roost_runtime::worker_count().is_none());
    assert!(Handle::try_current().is_none());
    assert_eq!(
        roost_runtime::try_spawn_local(async {}).unwrap_err(),
        SpawnError::NoRuntime
    );
    let rt = support::pinned_runtime(2);
    assert_eq!(
        rt.handle().try_spawn_on(7, async {}).unwrap_err(),
        SpawnError::NoSuchWorker { worker: 7, workers: 2 }
    );
    let bad = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.handle().spawn_on(2, async {})));
    assert!(bad.is_err());
}

/// 100,000 tasks alive at once, parked on a shared gate, then released.
#[test]
fn hundred_thousand_live_tasks() {
    const TASKS: usize = 100_000;
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let sum = support::watchdog(Duration::from_secs(60), "100k live tasks", move || {
        handle.block_on(async {
            let gate = Arc::new(tokio::sync::Notify::new());
            let parked = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::with_capacity(TASKS);
            for i in 0..TASKS {
                let (gate, parked) = (gate.clone(), parked.clone());
                tasks.push(roost_runtime::Handle::current().spawn(async move {
                    let notified = gate.notified();
                    parked.fetch_add(1, Ordering::SeqCst);
                    notified.await;
                    i
                }));
            }
            while parked.load(Ordering::SeqCst) < TASKS {
                roost_runtime::time::sleep(Duration::from_millis(1)).await;
            }
            // Metrics are published once a tick (and before a worker
            // sleeps): wait for the count to show every parked task (a
            // count that never got there would hang: the watchdog fails
            // the test). The block_on task itself is alive too.
            let handle = roost_runtime::Handle::current();
            let mut live = 0;
            while live < TASKS as u64 {
                roost_runtime::time::sleep(Duration::from_millis(1)).await;
                live = handle.metrics().sum(|w| w.live_tasks);
            }
            gate.notify_waiters();
            let mut sum = 0usize;
            for t in tasks {
                sum += t.await.unwrap();
            }
            sum
        })
    });
    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
    let m = rt.handle().metrics();
    assert!(m.sum(|w| w.tasks_spawned) >= TASKS as u64);
    assert!(m.workers.iter().all(|w| w.tasks_spawned > 10_000), "{m:?}");
}
