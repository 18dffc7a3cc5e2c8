//! The event loop that `block_on` runs on its calling thread (the guest):
//! regression tests for what a review of it found broken.

#[path = "support/rt.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use roost_runtime::{BlockOnError, Builder, Runtime};

fn runtime(n: usize) -> Runtime {
    Runtime::builder().worker_threads(n).pin_workers(false).build().unwrap()
}

const LIMIT: Duration = Duration::from_secs(30);

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Broke: a wake sent by the root's last poll to a worker's task waited in
/// the guest's outbox until the next `block_on`.
#[test]
fn a_wake_from_the_roots_last_poll_reaches_the_worker() {
    let rt = runtime(1);
    let notify = Arc::new(tokio::sync::Notify::new());
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let n = notify.clone();
    let _task = rt.handle().spawn_on(0, async move {
        let notified = n.notified();
        ready_tx.send(()).unwrap();
        notified.await;
        done_tx.send(()).unwrap();
    });
    ready_rx.recv().unwrap();
    rt.block_on(async { notify.notify_one() });
    assert!(done_rx.recv_timeout(LIMIT).is_ok(), "the worker's task was never woken");
}

/// Broke: a thread asleep in `block_on` never saw the runtime being shut
/// down on another thread.
#[test]
fn shutting_down_elsewhere_ends_a_sleeping_block_on() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let (entered_tx, entered_rx) = mpsc::channel();
    let blocked = std::thread::spawn(move || {
        handle.try_block_on(async move {
            entered_tx.send(()).unwrap();
            std::future::pending::<()>().await
        })
    });
    entered_rx.recv().unwrap();
    let result = support::watchdog(LIMIT, "block_on after shutdown", move || {
        drop(rt);
        blocked.join().unwrap()
    });
    assert_eq!(result, Err(BlockOnError::Shutdown));
}

/// A guest kept by a thread that outlives its runtime drops its tasks at the
/// thread's next `block_on` (a task can only be dropped on its own thread).
#[test]
fn an_idle_guest_is_dropped_at_the_threads_next_block_on() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let (spawned_tx, spawned_rx) = mpsc::channel();
    let (gone_tx, gone_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        handle.block_on(async move {
            drop(roost_runtime::spawn(async move {
                let _probe = SetOnDrop(d);
                std::future::pending::<()>().await
            }));
            roost_runtime::yield_now().await;
        });
        spawned_tx.send(()).unwrap();
        gone_rx.recv().unwrap();
        handle.try_block_on(async {})
    });
    spawned_rx.recv().unwrap();
    drop(rt);
    gone_tx.send(()).unwrap();
    assert_eq!(thread.join().unwrap(), Err(BlockOnError::Shutdown));
    assert!(dropped.load(Ordering::SeqCst), "the guest's task was dropped");
}

/// Broke: `Builder::run` waited forever for worker 0 when another worker
/// failed to start.
#[test]
fn builder_run_reports_a_worker_that_fails_to_start() {
    let out = support::watchdog(LIMIT, "Builder::run with a failing worker", || {
        Builder::new()
            .worker_threads(2)
            .pin_workers(false)
            .on_thread_start(|| {
                if roost_runtime::current_worker() == Some(1) {
                    panic!("worker 1 fails to start");
                }
            })
            .run(async { 1 })
    });
    assert!(out.is_err());
}

/// Broke: a socket returned out of `block_on` whose loop was then dropped
/// waited forever on the dead reactor; now it gets an error.
#[test]
fn a_registration_outliving_its_loop_gets_an_error() {
    use std::io::{Read, Write};
    let result = support::watchdog(LIMIT, "registration of a dropped loop", || {
        let a_rt = runtime(1);
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let reg = a_rt.block_on(async {
            roost_runtime::io::Registration::new(roost_runtime::mio::net::UnixStream::from_std(a)).unwrap()
        });
        drop(a_rt);
        let b_rt = runtime(1);
        let result = b_rt.block_on(async {
            let mut buf = [0u8; 2];
            reg.read_io(|s| (&*s).read(&mut buf)).await
        });
        b.write_all(b"late").unwrap();
        result
    });
    let err = result.unwrap_err();
    assert!(err.to_string().contains("event loop"), "{err}");
}

/// Broke: inside a tokio current-thread runtime, tokio's timers never fired
/// in `block_on` (its only thread was blocked in roost's loop).
#[test]
fn block_on_inside_a_tokio_current_thread_runtime_has_working_tokio_timers() {
    let out = support::watchdog(LIMIT, "block_on inside tokio", || {
        let rt = runtime(1);
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio_rt.block_on(async {
            rt.block_on(async {
                tokio::time::sleep(Duration::from_millis(2)).await;
                7
            })
        })
    });
    assert_eq!(out, 7);
}

/// Broke: a guest dropped on another runtime's worker dropped its tasks
/// with that worker as their context.
#[test]
fn a_guest_dropped_inside_another_loop_drops_its_tasks_on_its_own_context() {
    let a_rt = runtime(1);
    let seen = Arc::new(std::sync::Mutex::new(None));
    struct Probe(Arc<std::sync::Mutex<Option<Option<usize>>>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(roost_runtime::current_worker());
        }
    }
    let s = seen.clone();
    a_rt.block_on(async move {
        drop(roost_runtime::spawn(async move {
            let _probe = Probe(s);
            std::future::pending::<()>().await
        }));
        roost_runtime::yield_now().await;
    });
    Builder::new()
        .worker_threads(1)
        .pin_workers(false)
        .run(async move { drop(a_rt) })
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        Some(None),
        "dropped on the guest's context, not worker 0's"
    );
}

/// Broke: blocking-pool threads made by a pinned worker kept its pinning.
#[cfg(target_os = "linux")]
#[test]
fn blocking_threads_run_on_every_allowed_core() {
    let all = support::allowed_core_count();
    let cores = Builder::new()
        .worker_threads(1)
        .pin_workers(true)
        .run(async {
            (
                support::allowed_core_count(),
                roost_runtime::task::spawn_blocking(support::allowed_core_count)
                    .await
                    .unwrap(),
            )
        })
        .unwrap();
    assert_eq!(cores, (1, all), "worker pinned, blocking thread not");
}

/// A blocking-pool thread started by a worker under `SCHED_BATCH` goes back
/// to the normal policy (a thread inherits its creator's).
#[cfg(target_os = "linux")]
#[test]
fn blocking_threads_run_under_the_normal_policy() {
    // SAFETY: no arguments beyond the calling thread's pid 0.
    let policy = || unsafe { libc::sched_getscheduler(0) } & !libc::SCHED_RESET_ON_FORK;
    let policies = Builder::new()
        .worker_threads(1)
        .pin_workers(false)
        .sched_batch(true)
        .run(async move { (policy(), roost_runtime::task::spawn_blocking(policy).await.unwrap()) })
        .unwrap();
    assert_eq!(policies, (libc::SCHED_BATCH, libc::SCHED_OTHER));
}
