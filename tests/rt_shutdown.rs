//! Shutdown: graceful drain with a deadline, spawns refused, pending tasks
//! cancelled on their own worker, arenas abandoned safely while their
//! buffers are still held on another thread.

#[path = "support/rt.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use roost_alloc::ArenaBytesMut;
use roost_runtime::SpawnError;

/// Records the worker it was dropped on.
struct DropProbe(Arc<AtomicUsize>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        let w = roost_runtime::current_worker().unwrap_or(usize::MAX - 1);
        self.0.store(w, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_cancels_pending_tasks_on_their_own_worker() {
    let rt = support::pinned_runtime(2);
    let probes: Vec<Arc<AtomicUsize>> = (0..2).map(|_| Arc::new(AtomicUsize::new(usize::MAX))).collect();
    let mut tasks = Vec::new();
    for (w, probe) in probes.iter().enumerate() {
        // The probe is part of the future from the start, polled or not.
        let probe = DropProbe(probe.clone());
        tasks.push(rt.handle().spawn_on(w, async move {
            let _probe = probe;
            std::future::pending::<()>().await;
        }));
    }
    let report = rt.shutdown_timeout(Duration::from_millis(20));
    assert!(!report.drained);
    assert_eq!(report.cancelled_tasks, 2);
    assert_eq!(report.detached_workers, 0);
    for (w, probe) in probes.iter().enumerate() {
        assert_eq!(probe.load(Ordering::SeqCst), w, "task of worker {w} dropped elsewhere");
    }
    for t in tasks {
        assert!(t.is_finished());
        let err = support::poll_once(&mut { t }).map(|r| r.unwrap_err());
        assert!(matches!(err, std::task::Poll::Ready(e) if e.is_cancelled()));
    }
}

#[test]
fn graceful_shutdown_lets_running_tasks_finish() {
    let rt = support::pinned_runtime(2);
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let task = rt.spawn(async move {
        roost_runtime::time::sleep(Duration::from_millis(5)).await;
        f.store(true, Ordering::SeqCst);
        9
    });
    let report = rt.shutdown_timeout(Duration::from_secs(30));
    assert!(report.drained);
    assert_eq!(report.cancelled_tasks, 0);
    assert!(finished.load(Ordering::SeqCst));
    assert_eq!(
        support::poll_once(&mut { task }).map(Result::unwrap),
        std::task::Poll::Ready(9)
    );
}

#[test]
fn spawns_are_refused_once_shutdown_begins() {
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let (started_tx, started_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    // A task that, once shutdown has begun, tries to spawn.
    let h = handle.clone();
    rt.spawn(async move {
        started_tx.send(()).unwrap();
        while !h.is_shutting_down() {
            roost_runtime::time::sleep(Duration::from_millis(1)).await;
        }
        let local = roost_runtime::try_spawn_local(async {}).map(drop);
        let remote = h.try_spawn(async {}).map(drop);
        let infallible = roost_runtime::spawn_local(async { 1 }).await;
        result_tx
            .send((local, remote, infallible.map_err(|e| e.is_cancelled())))
            .unwrap();
    });
    started_rx.recv().unwrap();
    let report = rt.shutdown_timeout(Duration::from_secs(30));
    assert!(report.drained, "{report:?}");
    let (local, remote, infallible) = result_rx.recv().unwrap();
    assert_eq!(local, Err(SpawnError::Shutdown));
    assert_eq!(remote, Err(SpawnError::Shutdown));
    assert_eq!(infallible, Err(true));
    // From outside, after shutdown, too.
    assert_eq!(handle.try_spawn(async {}).map(drop), Err(SpawnError::Shutdown));
    assert!(support::poll_once(&mut handle.spawn(async {})).is_ready());
}

/// Buffers allocated on the workers are still held by a plain thread when
/// the runtime shuts down: the workers' arenas are abandoned, not freed, and
/// released when the last buffer goes home.
#[test]
fn shutdown_with_buffers_held_on_another_thread() {
    let rt = support::pinned_runtime(2);
    let (buf_tx, buf_rx) = mpsc::channel::<ArenaBytesMut>();
    // Each worker allocates buffers from its arena and hands them out;
    // some tasks stay pending so that shutdown has something to cancel.
    for w in 0..2 {
        let tx = buf_tx.clone();
        rt.handle().spawn_on(w, async move {
            for i in 0..64 {
                let mut buf = ArenaBytesMut::with_capacity(2048);
                buf.extend_from_slice(&[w as u8, i as u8]);
                tx.send(buf).unwrap();
            }
            std::future::pending::<()>().await;
        });
    }
    drop(buf_tx);
    let holder = std::thread::spawn(move || {
        let held: Vec<ArenaBytesMut> = buf_rx.iter().collect();
        held
    });
    // The holder's channel closes when shutdown drops the tasks' senders.
    let report = rt.shutdown_timeout(Duration::from_millis(20));
    assert_eq!(report.cancelled_tasks, 2);
    let held = holder.join().unwrap();
    assert_eq!(held.len(), 128);
    for (i, b) in held.iter().enumerate() {
        assert_eq!(b.len(), 2, "buffer {i} intact after its arena's thread exited");
    }
    drop(held);
    roost_alloc::flush_returns();
}

/// The same, observing the arena's own flags: abandoned at exit, released
/// when the last buffer returns.
#[test]
fn abandoned_arena_is_released_by_the_last_late_return() {
    let rt = support::pinned_runtime(1);
    let (tx, rx) = mpsc::channel::<ArenaBytesMut>();
    rt.block_on_local(move || async move {
        for _ in 0..8 {
            tx.send(ArenaBytesMut::with_capacity(1024)).unwrap();
        }
    });
    let held: Vec<ArenaBytesMut> = rx.iter().collect();
    let before = rt.handle().metrics().workers[0].arena.clone().unwrap();
    assert!(!before.abandoned);
    let handle = rt.handle().clone();
    let report = rt.shutdown_timeout(Duration::from_secs(5));
    assert!(report.drained);
    // The worker thread has exited: its arena is abandoned, still holding
    // our 8 blocks (the handle keeps reading its stats).
    let after = handle.metrics().workers[0].arena.clone().unwrap();
    assert!(after.abandoned, "{after:?}");
    assert!(!after.released);
    drop(held);
    roost_alloc::flush_returns();
    let last = handle.metrics().workers[0].arena.clone().unwrap();
    assert!(last.released, "{last:?}");
}

/// Regression guard: dropping a runtime inside one of its own tasks must not
/// deadlock (the worker would wait for itself); the workers finish the
/// shutdown on their own.
#[test]
fn dropping_the_runtime_on_its_own_worker_does_not_deadlock() {
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<roost_runtime::Runtime>();
    handle.spawn_on(1, async move {
        let rt = go_rx.recv().unwrap();
        drop(rt);
        tx.send(roost_runtime::current_worker()).unwrap();
    });
    go_tx.send(rt).unwrap();
    let worker = support::watchdog(Duration::from_secs(30), "drop on own worker", move || {
        rx.recv().unwrap()
    });
    assert_eq!(worker, Some(1));
    // The shutdown completes without anyone waiting for it: new spawns are
    // refused.
    assert!(handle.is_shutting_down());
    assert_eq!(handle.try_spawn(async {}).map(drop), Err(SpawnError::Shutdown));
}

/// Broke: a task cancelled at shutdown whose future holds tokio's
/// `Notified` and a guard that notifies on drop was released twice (its
/// reference count underflowed): the runtime moved the pinned future out of
/// its slot to drop it, so `Notified` unlinked itself at the wrong address
/// and the guard's `notify_waiters` woke the stale waker it left behind.
#[test]
fn a_task_that_wakes_itself_while_cancelled_at_shutdown() {
    use tokio::sync::Notify;

    struct NotifyOnDrop(Arc<Notify>);
    impl Drop for NotifyOnDrop {
        fn drop(&mut self) {
            self.0.notify_waiters();
        }
    }
    for workers in [1, 2] {
        let rt = support::pinned_runtime(workers);
        rt.block_on_local(|| async {
            let notify = Arc::new(Notify::new());
            drop(roost_runtime::spawn(async move {
                let waiting = notify.clone();
                let guard = NotifyOnDrop(notify);
                waiting.notified().await;
                drop(guard);
            }));
            roost_runtime::time::sleep(Duration::from_millis(5)).await;
        });
        drop(rt);
        // And with the task's worker hosted by `Builder::run` (the task is
        // cancelled when the main future returns).
        roost_runtime::Builder::new()
            .worker_threads(workers)
            .pin_workers(false)
            .run(async {
                let notify = Arc::new(Notify::new());
                drop(roost_runtime::spawn(async move {
                    let waiting = notify.clone();
                    let guard = NotifyOnDrop(notify);
                    waiting.notified().await;
                    drop(guard);
                }));
                roost_runtime::time::sleep(Duration::from_millis(5)).await;
            })
            .unwrap();
    }
}
