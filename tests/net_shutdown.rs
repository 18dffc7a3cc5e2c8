//! Graceful shutdown with 1,000 idle connections completes within its
//! one-second deadline: every connection task is cancelled and dropped on
//! its worker, and the workers exit.

#[path = "support/net.rs"]
mod support;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use roost::net::ListenOptions;
use support::{eventually, unpinned_runtime};

#[test]
fn shutdown_with_a_thousand_idle_connections() {
    let rt = unpinned_runtime(2);
    let server = support::echo_server(&rt, ListenOptions::new().backlog(2048));
    let clients: Vec<TcpStream> = (0..1_000)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    // Each worker also holds its listener (an I/O source) and runs its
    // accept loop (a task).
    let per_worker_extras = rt.worker_count() as u64;
    eventually("the server holds every connection", || {
        rt.handle().metrics().sum(|w| w.io_sources) >= 1_000 + per_worker_extras
    });
    let report = rt.shutdown_timeout(Duration::from_secs(1));
    assert_eq!(report.detached_workers, 0, "{report:?}");
    assert!(report.cancelled_tasks as u64 >= 1_000 + per_worker_extras, "{report:?}");
    // The server side is closed: every client sees EOF (or a reset).
    for mut c in clients {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1];
        match c.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("unexpected {n} bytes"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        }
    }
}
