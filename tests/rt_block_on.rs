//! `block_on` called from inside the runtime is an error, not a deadlock.

#[path = "support/rt.rs"]
mod support;

use std::time::Duration;

use roost_runtime::BlockOnError;

#[test]
fn try_block_on_inside_a_worker_returns_an_error() {
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let inner = support::watchdog(Duration::from_secs(30), "nested block_on", move || {
        let h = handle.clone();
        handle.block_on(async move { h.try_block_on(async { 1 }) })
    });
    assert_eq!(inner, Err(BlockOnError::InsideRuntime));
    assert!(BlockOnError::InsideRuntime.to_string().contains("worker thread"));
}

#[test]
fn block_on_inside_a_worker_panics_with_a_clear_message() {
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let err = support::watchdog(Duration::from_secs(30), "nested block_on", move || {
        let h = handle.clone();
        // On worker 1, so that worker 0 (where block_on would send the
        // future) is free: a naive block_on would not even deadlock here,
        // and must still refuse.
        let task = handle.spawn_on(1, async move { h.block_on(async { 1 }) });
        handle.block_on(task).unwrap_err()
    });
    assert!(err.is_panic());
    let msg = err.to_string();
    assert!(msg.contains("block_on called from a roost worker thread"), "{msg}");
}

#[test]
fn block_on_from_a_foreign_runtime_worker_is_refused_too() {
    let a = support::pinned_runtime(1);
    let b = support::pinned_runtime(1);
    let hb = b.handle().clone();
    let inner = a.block_on(async move { hb.try_block_on(async { 2 }) });
    assert_eq!(inner, Err(BlockOnError::InsideRuntime));
}

#[test]
fn block_on_after_shutdown_is_an_error() {
    let rt = support::pinned_runtime(1);
    let handle = rt.handle().clone();
    rt.shutdown_timeout(Duration::from_millis(10));
    assert_eq!(handle.try_block_on(async { 3 }), Err(BlockOnError::Shutdown));
}

/// `block_on` takes what tokio's takes: a future that borrows, holds `Rc`s
/// across awaits, and returns a `!Send` value.
#[test]
fn block_on_accepts_borrowing_non_send_futures() {
    let rt = support::pinned_runtime(1);
    let name = String::from("roost");
    let out: std::rc::Rc<usize> = rt.block_on(async {
        let local = std::rc::Rc::new(name.len());
        roost_runtime::time::sleep(Duration::from_millis(1)).await;
        roost_runtime::yield_now().await;
        local
    });
    assert_eq!(*out, 5);
}

/// Inside `block_on`, `spawn` runs on the calling thread's own loop; the
/// runtime's workers are reached with `spawn_on`, and their wakes reach
/// the calling thread.
#[test]
fn block_on_runs_on_the_calling_thread_and_talks_to_workers() {
    let rt = support::pinned_runtime(2);
    let caller = std::thread::current().id();
    rt.block_on(async move {
        assert_eq!(roost_runtime::current_worker(), None);
        assert_eq!(roost_runtime::worker_count(), Some(2));
        let here = roost_runtime::spawn(async { std::thread::current().id() })
            .await
            .unwrap();
        assert_eq!(here, caller);
        let (tx, rx) = tokio::sync::oneshot::channel();
        roost_runtime::spawn_on(1, async move {
            roost_runtime::time::sleep(Duration::from_millis(2)).await;
            tx.send(roost_runtime::current_worker()).unwrap();
        });
        assert_eq!(rx.await.unwrap(), Some(1));
    });
}

/// Tasks spawned in one `block_on` wait between calls and resume in the
/// next, as with tokio's current-thread runtime; shutting the runtime down
/// from that thread cancels them.
#[test]
fn tasks_spawned_in_block_on_resume_in_the_next_call() {
    let rt = support::pinned_runtime(1);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    struct Probe(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let probe = Probe(dropped.clone());
    rt.block_on(async move {
        roost_runtime::spawn(async move {
            let _probe = probe;
            for i in 0..3 {
                roost_runtime::time::sleep(Duration::from_millis(1)).await;
                tx.send(i).unwrap();
            }
            std::future::pending::<()>().await
        });
    });
    let got = rt.block_on(async {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(rx.recv().await.unwrap());
        }
        got
    });
    assert_eq!(got, vec![0, 1, 2]);
    assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
    drop(rt);
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "shutdown cancelled the guest's task"
    );
}

#[test]
fn a_panic_in_block_on_propagates_and_the_runtime_stays_usable() {
    let rt = support::pinned_runtime(1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { panic!("root boom") });
    }));
    assert!(caught.is_err());
    assert_eq!(rt.block_on(async { 4 }), 4);
}

#[test]
fn block_on_two_runtimes_in_turn_on_one_thread() {
    let a = support::pinned_runtime(1);
    let b = support::pinned_runtime(1);
    for i in 0..3 {
        assert_eq!(
            a.block_on(async move { roost_runtime::spawn(async move { i }).await.unwrap() }),
            i
        );
        assert_eq!(
            b.block_on(async move { roost_runtime::spawn(async move { i * 2 }).await.unwrap() }),
            i * 2
        );
    }
}

/// `Builder::run` makes the calling thread worker 0 and gives back a
/// `!Send` output.
#[test]
fn builder_run_hosts_worker_zero_on_the_calling_thread() {
    let caller = std::thread::current().id();
    let out = roost_runtime::Builder::new()
        .worker_threads(2)
        .pin_workers(false)
        .run(async move {
            assert_eq!(std::thread::current().id(), caller);
            assert_eq!(roost_runtime::current_worker(), Some(0));
            let other = roost_runtime::spawn_on(1, async { roost_runtime::current_worker() })
                .await
                .unwrap();
            assert_eq!(other, Some(1));
            std::rc::Rc::new("not Send")
        })
        .unwrap();
    assert_eq!(*out, "not Send");
}

#[test]
fn builder_run_propagates_a_panic_after_shutting_down() {
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s = stopped.clone();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        roost_runtime::Builder::new()
            .worker_threads(2)
            .pin_workers(false)
            .on_thread_stop(move || {
                s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .run(async { panic!("main boom") })
    }));
    assert!(caught.is_err());
    assert_eq!(
        stopped.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "both workers stopped"
    );
}

/// `Builder::run` on shared cores gives the calling thread its scheduling
/// policy back afterwards (worker 0 ran under `SCHED_BATCH` on it).
#[cfg(target_os = "linux")]
#[test]
fn builder_run_gives_the_calling_thread_its_policy_back() {
    // SAFETY: no arguments beyond the calling thread's pid 0.
    let policy = || unsafe { libc::sched_getscheduler(0) } & !libc::SCHED_RESET_ON_FORK;
    let before = policy();
    let inside = roost_runtime::Builder::new()
        .worker_threads(1)
        .pin_workers(false)
        .run(async move { policy() })
        .unwrap();
    assert_eq!(inside, libc::SCHED_BATCH);
    assert_eq!(policy(), before);
}

/// A pinned `Builder::run` widens the caller's affinity back afterwards.
#[cfg(target_os = "linux")]
#[test]
fn builder_run_unpins_the_calling_thread_afterwards() {
    let before = support::allowed_core_count();
    let inside = roost_runtime::Builder::new()
        .worker_threads(1)
        .pin_workers(true)
        .run(async { support::allowed_core_count() })
        .unwrap();
    assert_eq!(inside, 1, "pinned while it ran");
    assert_eq!(support::allowed_core_count(), before);
}
