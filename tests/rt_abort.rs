//! Aborting tasks before, during and after completion, from the owning
//! worker and from other threads.

#[path = "support/rt.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sets a flag when dropped, recording the worker it was dropped on.
struct DropProbe(Arc<AtomicUsize>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        let w = roost_runtime::current_worker().map_or(usize::MAX - 1, |w| w);
        self.0.store(w, Ordering::SeqCst);
    }
}

#[test]
fn abort_before_first_poll_never_runs_the_task() {
    let rt = support::pinned_runtime(2);
    let ran = Arc::new(AtomicBool::new(false));
    let dropped_on = Arc::new(AtomicUsize::new(usize::MAX));
    let (r, d) = (ran.clone(), dropped_on.clone());
    let err = rt.block_on_local(move || async move {
        // Spawned on our own worker: it cannot run before we yield.
        let probe = DropProbe(d);
        let task = roost_runtime::spawn_local(async move {
            let _probe = probe;
            r.store(true, Ordering::SeqCst);
        });
        task.abort();
        task.await.unwrap_err()
    });
    assert!(err.is_cancelled());
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(dropped_on.load(Ordering::SeqCst), 0, "future dropped on its own worker");
}

#[test]
fn abort_remote_task_before_it_starts() {
    let rt = support::pinned_runtime(2);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let handle = rt.handle().clone();
    // Abort right after spawning from a plain thread: the task may be in the
    // inbox, queued, or (rarely) already running; only the first two are
    // "before", but every outcome must be consistent.
    let task = handle.spawn_on(1, async move {
        r.store(true, Ordering::SeqCst);
        7
    });
    task.abort();
    match rt.block_on(task) {
        Ok(v) => {
            assert_eq!(v, 7);
            assert!(ran.load(Ordering::SeqCst));
        }
        Err(e) => assert!(e.is_cancelled()),
    }
}

#[test]
fn abort_while_pending_drops_the_future_on_its_worker() {
    let rt = support::pinned_runtime(2);
    let dropped_on = Arc::new(AtomicUsize::new(usize::MAX));
    let d = dropped_on.clone();
    let started = support::Signal::new();
    let s = started.clone();
    let err = rt.block_on(async move {
        let task = roost_runtime::spawn_on(1, async move {
            let _probe = DropProbe(d);
            s.raise();
            std::future::pending::<()>().await;
        });
        started.wait().await;
        assert!(!task.is_finished());
        task.abort();
        task.await.unwrap_err()
    });
    assert!(err.is_cancelled());
    assert_eq!(dropped_on.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_during_a_poll_takes_effect_after_it() {
    let rt = support::pinned_runtime(2);
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let err = rt.block_on(async move {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = roost_runtime::spawn_on(1, async move {
            let abort = rx.await.unwrap();
            p.fetch_add(1, Ordering::SeqCst);
            // Abort ourselves from inside our own poll, then keep going:
            // the poll finishes, the next turn cancels.
            roost_runtime::task::AbortHandle::abort(&abort);
            roost_runtime::yield_now().await;
            p.fetch_add(1, Ordering::SeqCst);
        });
        tx.send(task.abort_handle()).unwrap();
        task.await.unwrap_err()
    });
    assert!(err.is_cancelled());
    assert_eq!(polls.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = support::pinned_runtime(2);
    let out = rt.block_on(async {
        let task = roost_runtime::spawn_on(1, async { 42 });
        while !task.is_finished() {
            roost_runtime::yield_now().await;
        }
        task.abort();
        task.abort();
        task.await
    });
    assert_eq!(out.unwrap(), 42);
}

#[test]
fn abort_from_another_thread_via_abort_handle() {
    let rt = support::pinned_runtime(2);
    let task = rt.spawn(std::future::pending::<()>());
    let abort = task.abort_handle();
    let clone = abort.clone();
    std::thread::spawn(move || clone.abort()).join().unwrap();
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    assert!(abort.is_finished());
}

#[test]
fn abort_racing_completion_and_handle_drop() {
    // Many rounds of abort (other thread) vs completion (worker) vs handle
    // drop (third thread): every round must end with the task finished and
    // freed, whichever wins.
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let finished = Arc::new(AtomicUsize::new(0));
    support::watchdog(Duration::from_secs(30), "abort races", move || {
        for i in 0..2_000 {
            let f = finished.clone();
            let task = handle.spawn_on(i % 2, async move {
                roost_runtime::yield_now().await;
                f.fetch_add(1, Ordering::SeqCst);
            });
            let abort = task.abort_handle();
            let a = std::thread::spawn(move || abort.abort());
            if i % 3 == 0 {
                drop(task);
            } else {
                let _ = handle.block_on(task);
            }
            a.join().unwrap();
        }
        // Every detached or aborted task ends and leaves its worker's slab
        // (metrics are published once a tick, so poll for it).
        while handle.metrics().sum(|w| w.live_tasks) != 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}
