//! `spawn_blocking`: a bounded pool that makes threads on demand, queues
//! what exceeds its cap, and retires idle threads.

#[path = "support/rt.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use roost::runtime::Builder;
use roost::task::spawn_blocking;

#[roost::test]
async fn spawn_blocking_returns_the_closure_value_from_a_pool_thread() {
    let worker_thread = std::thread::current().id();
    let (value, thread) = spawn_blocking(|| (6 * 7, std::thread::current().id())).await.unwrap();
    assert_eq!(value, 42);
    assert_ne!(thread, worker_thread, "the closure ran off the worker");
}

#[roost::test]
async fn a_panicking_closure_gives_a_panic_join_error() {
    let err = spawn_blocking(|| -> u32 { panic!("blocking boom") }).await.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "task panicked: blocking boom");
}

/// More closures than the cap: all complete, never more than the cap run at
/// once, and the pool shrinks back to no thread once idle.
#[test]
fn more_closures_than_the_cap_all_complete_and_the_pool_shrinks() {
    const CAP: usize = 4;
    const JOBS: usize = 64;
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let metrics = support::watchdog(Duration::from_secs(60), "blocking pool", move || {
        Builder::new()
            .worker_threads(1)
            .pin_workers(false)
            .max_blocking_threads(CAP)
            .thread_keep_alive(Duration::from_millis(20))
            .run(async move {
                let mut set = roost::task::JoinSet::new();
                for i in 0..JOBS {
                    let (r, p) = (r.clone(), p.clone());
                    set.spawn_blocking(move || {
                        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                        p.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        r.fetch_sub(1, Ordering::SeqCst);
                        i
                    });
                }
                let mut done: Vec<usize> = set.join_all().await;
                done.sort_unstable();
                assert_eq!(done, (0..JOBS).collect::<Vec<_>>());
                let handle = roost::runtime::Handle::current();
                let busy = handle.metrics();
                // Idle threads retire after the keep-alive: wait until none is
                // left (a pool that never shrank would hang: the watchdog fails
                // the test).
                loop {
                    let m = handle.metrics();
                    if m.blocking_threads == 0 {
                        return (busy, m);
                    }
                    roost::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .unwrap()
    });
    let (busy, idle) = metrics;
    // Right after the closures, the pool holds no more threads than its cap.
    assert!(busy.blocking_threads <= CAP, "{busy:?}");
    assert!(
        peak.load(Ordering::SeqCst) <= CAP,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert!(idle.blocking_threads_started >= 1);
    assert_eq!(idle.blocking_queue_depth, 0);
    assert_eq!(idle.blocking_threads, 0);
}

/// Aborting the handle of a closure that has not started keeps it from
/// running.
#[test]
fn abort_before_the_closure_starts_keeps_it_from_running() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    Builder::new()
        .worker_threads(1)
        .pin_workers(false)
        .max_blocking_threads(1)
        .run(async move {
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
            // Occupies the only pool thread until released.
            let first = spawn_blocking(move || {
                let _ = started_tx.send(());
                release_rx.recv().unwrap();
            });
            started_rx.await.unwrap();
            let second = spawn_blocking(move || r.store(true, Ordering::SeqCst));
            second.abort();
            assert!(second.await.unwrap_err().is_cancelled());
            release_tx.send(()).unwrap();
            first.await.unwrap();
            // A third closure runs after the aborted one would have.
            spawn_blocking(|| ()).await.unwrap();
        })
        .unwrap();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn handle_spawn_blocking_works_from_any_thread() {
    let rt = support::pinned_runtime(1);
    let handle = rt.handle().clone();
    let task = std::thread::spawn(move || handle.spawn_blocking(|| "from a plain thread"))
        .join()
        .unwrap();
    assert_eq!(rt.block_on(task).unwrap(), "from a plain thread");
}

#[test]
fn spawn_blocking_off_runtime_panics_with_a_clear_message() {
    let err = std::panic::catch_unwind(|| drop(spawn_blocking(|| ()))).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .copied()
        .map(str::to_owned)
        .or_else(|| err.downcast_ref::<String>().cloned());
    assert!(msg.unwrap().contains("outside a roost runtime"));
}
