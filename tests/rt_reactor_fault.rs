//! Reactor faults: an `epoll_wait` that fails (injected, the OS cannot be
//! made to fail on demand) is reported in the metrics and the runtime's
//! fault list; a worker retries and recovers from a few failures, stops
//! cleanly (tasks cancelled, spawns refused, the other workers serving)
//! when it keeps failing, and `block_on` ends with an error instead of a
//! hang. Before, any such error panicked the worker.

#[path = "support/rt.rs"]
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use roost_net::TcpListener;
use roost_runtime::io::{__inject_poll_errors, MAX_REACTOR_RETRIES};
use roost_runtime::{BlockOnError, Handle, Runtime, SpawnError};
use support::watchdog;

const LIMIT: Duration = Duration::from_secs(60);

fn runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .pin_workers(false)
        .build()
        .expect("runtime")
}

/// Waits (polling, bounded by the caller's watchdog) until worker
/// `worker`'s fault entry satisfies `done`.
fn wait_for_fault(handle: &Handle, worker: Option<usize>, done: impl Fn(&roost_runtime::io::ReactorFault) -> bool) {
    loop {
        if handle.reactor_faults().iter().any(|f| f.worker == worker && done(f)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Echoes one message through a listener bound on `worker`, with a std
/// client: proves the worker's reactor, timers and tasks work.
fn echo_through(rt: &Runtime, worker: usize) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let served = rt.handle().spawn_on(worker, async move {
        // The listener is `!Send`: it lives in a task of the worker's own.
        let local = roost_runtime::spawn_local(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            roost_runtime::time::sleep(Duration::from_millis(2)).await;
            let request = stream.recv().await.unwrap().expect("a request");
            let mut reply = stream.alloc_send(request.len());
            reply.extend_from_slice(&request);
            stream.send(reply).await.unwrap();
            roost_runtime::current_worker()
        });
        local.await.unwrap()
    });
    let addr = addr_rx.recv().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(b"still serving").unwrap();
    let mut reply = [0; 13];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"still serving");
    assert_eq!(rt.block_on(served).unwrap(), Some(worker));
}

#[test]
fn a_few_failed_waits_are_reported_and_the_worker_recovers() {
    watchdog(LIMIT, "recovering reactor", || {
        let rt = runtime(2);
        let failures = MAX_REACTOR_RETRIES - 1;
        rt.block_on(rt.handle().spawn_on(1, async move {
            __inject_poll_errors(libc::EINVAL, failures).unwrap();
        }))
        .unwrap();
        wait_for_fault(rt.handle(), Some(1), |f| f.errors == u64::from(failures));
        let fault = rt.reactor_faults().into_iter().find(|f| f.worker == Some(1)).unwrap();
        assert!(!fault.stopped, "{fault}");
        assert_eq!(fault.os_error, Some(libc::EINVAL));
        assert_eq!(fault.kind, std::io::ErrorKind::InvalidInput);
        assert_eq!(fault.error().kind(), std::io::ErrorKind::InvalidInput);
        assert!(rt.reactor_faults().iter().all(|f| f.worker == Some(1)));
        let metrics = rt.handle().metrics();
        assert_eq!(metrics.workers[1].reactor_errors, u64::from(failures));
        assert!(!metrics.workers[1].reactor_stopped);
        assert_eq!(metrics.workers[0].reactor_errors, 0);
        // The worker serves on: I/O, timers and remote spawns.
        echo_through(&rt, 1);
        // A later run of failures starts its count afresh (the successful
        // waits in between reset it): the worker recovers again.
        rt.block_on(rt.handle().spawn_on(1, async move {
            __inject_poll_errors(libc::EINVAL, failures).unwrap();
        }))
        .unwrap();
        wait_for_fault(rt.handle(), Some(1), |f| f.errors == 2 * u64::from(failures));
        echo_through(&rt, 1);
        let report = rt.shutdown_timeout(Duration::from_millis(50));
        assert_eq!(report.detached_workers, 0);
    });
}

#[test]
fn a_reactor_that_keeps_failing_stops_its_worker_and_the_others_serve_on() {
    watchdog(LIMIT, "stopped worker", || {
        let rt = runtime(2);
        // A task that would wait forever on worker 1.
        let stranded = rt.handle().spawn_on(1, std::future::pending::<()>());
        rt.block_on(rt.handle().spawn_on(1, async {
            __inject_poll_errors(libc::EINVAL, u32::MAX).unwrap();
        }))
        .unwrap();
        // Its worker stops and cancels it: the wait ends, it does not hang.
        let err = rt.block_on(stranded).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        let faults = rt.reactor_faults();
        assert_eq!(faults.len(), 1, "{faults:?}");
        let fault = &faults[0];
        assert_eq!(fault.worker, Some(1));
        assert!(fault.stopped);
        assert_eq!(fault.errors, u64::from(MAX_REACTOR_RETRIES));
        assert_eq!(fault.os_error, Some(libc::EINVAL));
        assert!(fault.to_string().contains("worker 1"), "{fault}");
        let metrics = rt.handle().metrics();
        assert!(metrics.workers[1].reactor_stopped);
        assert!(!metrics.workers[0].reactor_stopped);
        // Spawns on it are refused with the reason, not lost.
        let refused = rt.handle().try_spawn_on(1, async {}).unwrap_err();
        assert_eq!(refused, SpawnError::WorkerStopped { worker: 1 });
        // Round-robin spawns pass it over.
        for _ in 0..4 {
            let on = rt.block_on(rt.handle().spawn(async { roost_runtime::current_worker() }));
            assert_eq!(on.unwrap(), Some(0));
        }
        // The other worker serves on.
        echo_through(&rt, 0);
        // And the runtime shuts down without waiting for the stopped one.
        // (The idle sweeper of roost-net may still be waiting for its next
        // round on worker 0: a short deadline cancels it.)
        let report = rt.shutdown_timeout(Duration::from_millis(50));
        assert_eq!(report.detached_workers, 0);
    });
}

#[test]
fn block_on_whose_reactor_keeps_failing_returns_an_error() {
    watchdog(LIMIT, "failing block_on", || {
        let rt = runtime(1);
        let ended = rt.try_block_on(async {
            __inject_poll_errors(libc::EINVAL, u32::MAX).unwrap();
            std::future::pending::<()>().await;
        });
        assert_eq!(ended, Err(BlockOnError::Io(std::io::ErrorKind::InvalidInput)));
        let faults = rt.reactor_faults();
        assert!(faults.iter().any(|f| f.worker.is_none() && f.stopped), "{faults:?}");
        // The next block_on on this thread gets a fresh loop.
        assert_eq!(rt.block_on(async { 7 }), 7);
        // The worker was never concerned.
        echo_through(&rt, 0);
    });
}

#[test]
fn injecting_off_an_event_loop_is_an_error() {
    let err = __inject_poll_errors(libc::EINVAL, 1).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Other);
}

#[test]
fn exactly_the_retry_limit_of_failures_stops_the_worker() {
    watchdog(LIMIT, "worker stopped at the limit", || {
        let rt = runtime(2);
        let stranded = rt.handle().spawn_on(1, std::future::pending::<()>());
        // No injected error is left once the loop gives up: it must stop
        // without one more (real, unbounded) wait.
        rt.block_on(rt.handle().spawn_on(1, async {
            __inject_poll_errors(libc::EINVAL, MAX_REACTOR_RETRIES).unwrap();
        }))
        .unwrap();
        assert!(rt.block_on(stranded).unwrap_err().is_cancelled());
        let faults = rt.reactor_faults();
        assert!(faults[0].stopped);
        assert_eq!(faults[0].errors, u64::from(MAX_REACTOR_RETRIES));
        echo_through(&rt, 0);
    });
}

#[test]
fn builder_run_whose_worker_0_stops_returns_the_reactor_error() {
    watchdog(LIMIT, "Builder::run on a failing reactor", || {
        let ended = Runtime::builder().worker_threads(2).pin_workers(false).run(async {
            __inject_poll_errors(libc::EINVAL, u32::MAX).unwrap();
            std::future::pending::<()>().await;
        });
        let err = ended.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("worker 0"), "{err}");
    });
}
