//! Idle release: with 10,000 idle connections, the bytes parked in their
//! reuse slots fall to zero after the idle-release time.
//!
//! The clients run in a child process (this test binary, re-executed with
//! `ROOST_IDLE_CHILD` set): 20,000 descriptors would not fit one process.

#[path = "support/net.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use roost::net::ListenOptions;
use support::{eventually, unpinned_runtime};

const CHILD_ENV: &str = "ROOST_IDLE_CHILD";
const CONNECTIONS: usize = 10_000;

/// The child: open the connections, do one round trip on each, say so, and
/// hold them open until stdin closes.
fn run_child(addr: SocketAddr) {
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&[0, 0, 0, 4, 1, 2, 3, 4]).unwrap();
        conns.push(c);
    }
    let mut reply = [0u8; 8];
    for c in &mut conns {
        c.read_exact(&mut reply).unwrap();
        assert_eq!(reply, [0, 0, 0, 4, 1, 2, 3, 4]);
    }
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
}

#[test]
fn ten_thousand_idle_connections_release_their_buffers() {
    if let Some(addr) = std::env::var_os(CHILD_ENV) {
        run_child(addr.to_str().unwrap().parse().unwrap());
        return;
    }
    let rt = unpinned_runtime(2);
    for h in rt
        .handle()
        .on_each_worker(|| roost::net::idle::set_idle_release(Duration::from_millis(300)))
    {
        rt.block_on(h).unwrap();
    }
    let server = support::rpc_server(&rt, ListenOptions::new().backlog(4096));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ten_thousand_idle_connections_release_their_buffers",
            "--nocapture",
        ])
        .env(CHILD_ENV, server.local_addr().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("client child exited early").unwrap();
        // libtest prints "test <name> ... " before our line, without a newline.
        if line.contains("READY") {
            break;
        }
    }
    // Each served connection parks its buffers. On the uring driver the
    // reply's buffer parks once the server has seen the send's completion,
    // which may come after the client read the reply.
    let parks = || {
        rt.handle()
            .metrics()
            .sum(|w| w.arena.as_ref().map_or(0, |a| a.slot_parks))
    };
    eventually("each served connection parked its buffers", || {
        parks() >= CONNECTIONS as u64
    });
    let parked = || {
        rt.handle()
            .metrics()
            .sum(|w| w.arena.as_ref().map_or(0, |a| a.parked_bytes))
    };
    let live = || rt.handle().metrics().sum(|w| w.io_sources);
    // Every connection has been served once: they are all registered, and
    // the idle ones have given their parked buffers back.
    eventually("all connections registered", || live() as usize > CONNECTIONS);
    eventually("parked bytes fall to zero once the connections are idle", || {
        parked() == 0
    });
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}
