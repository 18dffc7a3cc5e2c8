//! `serve` under accept faults: an unexpected accept error (injected) ends
//! that worker's accept loop and is reported to its `Server` (`wait`,
//! `check`, `failures`) while the other workers go on serving real
//! clients; a transient one (descriptor exhaustion) keeps the backoff and
//! reports nothing; a worker stopped by its reactor is reported too.
//! Before, the loop returned quietly and the server was never told.

#[path = "support/rt.rs"]
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use roost_net::{serve, ListenOptions, Server, TcpStream};
use roost_runtime::Runtime;
use support::watchdog;

const LIMIT: Duration = Duration::from_secs(60);

/// Replies to each request byte with the index of the worker serving it.
async fn which_worker(stream: TcpStream) {
    while let Ok(Some(request)) = stream.recv().await {
        let mut reply = stream.alloc_send(request.len());
        let worker = roost_runtime::current_worker().unwrap() as u8;
        reply.extend_from_slice(&vec![worker; request.len()]);
        if stream.send(reply).await.is_err() {
            return;
        }
    }
}

fn start(rt: &Runtime) -> Server {
    let serving = serve(
        rt.handle(),
        "127.0.0.1:0".parse().unwrap(),
        ListenOptions::new(),
        which_worker,
    );
    rt.block_on(serving).expect("server")
}

/// One request on a fresh connection: the serving worker, or `None` if the
/// connection was dropped unserved (its listener went away).
fn ask(server: &Server) -> Option<u8> {
    let mut client = std::net::TcpStream::connect(server.local_addr()).ok()?;
    client.write_all(b"?").ok()?;
    let mut reply = [0; 1];
    client.read_exact(&mut reply).ok()?;
    Some(reply[0])
}

fn inject_on(rt: &Runtime, worker: usize, errno: i32, count: u32) {
    rt.block_on(rt.handle().spawn_on(worker, async move {
        roost_net::__inject_accept_errors(errno, count);
    }))
    .unwrap();
}

fn pending_on(rt: &Runtime, worker: usize) -> u32 {
    rt.block_on(
        rt.handle()
            .spawn_on(worker, async { roost_net::__pending_accept_errors() }),
    )
    .unwrap()
}

#[test]
fn an_unexpected_accept_error_is_reported_and_the_other_workers_serve_on() {
    watchdog(LIMIT, "accept failure", || {
        let rt = support::unpinned_runtime(2);
        let server = start(&rt);
        assert_eq!(server.accepting_workers(), 2);
        assert!(server.check().is_ok());
        inject_on(&rt, 1, libc::EINVAL, 1);
        // Connect until one lands on worker 1 and meets the error.
        while server.check().is_ok() {
            let _ = ask(&server);
        }
        let err = rt.block_on(server.wait()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("worker 1"), "{err}");
        let failures = server.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].worker, 1);
        assert_eq!(failures[0].os_error, Some(libc::EINVAL));
        assert_eq!(server.accepting_workers(), 1);
        // Worker 1's listener is closed: every new connection is served,
        // by worker 0.
        for _ in 0..20 {
            assert_eq!(ask(&server), Some(0));
        }
        server.stop();
        drop(rt);
    });
}

#[test]
fn exhaustion_errors_keep_the_backoff_and_report_nothing() {
    watchdog(LIMIT, "accept exhaustion", || {
        let rt = support::unpinned_runtime(2);
        let server = start(&rt);
        inject_on(&rt, 1, libc::ENFILE, 3);
        // Connect until worker 1 serves one: it went through the three
        // failed accepts (and their pauses) first.
        while ask(&server) != Some(1) {}
        assert_eq!(pending_on(&rt, 1), 0);
        assert!(server.check().is_ok());
        assert!(server.failures().is_empty());
        assert_eq!(server.accepting_workers(), 2);
        for _ in 0..10 {
            assert!(ask(&server).is_some());
        }
        // Stopping is no failure: `wait` ends with Ok once every loop ended.
        server.stop();
        rt.block_on(server.wait()).unwrap();
        assert_eq!(server.accepting_workers(), 0);
    });
}

#[test]
fn a_worker_stopped_by_its_reactor_is_reported_to_the_server() {
    watchdog(LIMIT, "reactor failure under serve", || {
        let rt = support::unpinned_runtime(2);
        let server = start(&rt);
        rt.block_on(rt.handle().spawn_on(1, async {
            roost_runtime::io::__inject_poll_errors(libc::EINVAL, u32::MAX).unwrap();
        }))
        .unwrap();
        let err = rt.block_on(server.wait()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("epoll_wait"), "{err}");
        assert_eq!(server.failures()[0].worker, 1);
        assert_eq!(server.accepting_workers(), 1);
        for _ in 0..20 {
            assert_eq!(ask(&server), Some(0));
        }
    });
}
