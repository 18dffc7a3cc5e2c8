//! Descriptor exhaustion: a server limited to 64 descriptors, 200 clients.
//! While starved, the accept loop backs off instead of spinning (under 5% of
//! a core), and it serves new clients once descriptors are free again.
//!
//! The server runs in a child process (this test binary, re-executed with
//! `ROOST_FD_CHILD` set) so that the limit applies to it alone.

#[path = "support/net.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roost::net::ListenOptions;

const CHILD_ENV: &str = "ROOST_FD_CHILD";

/// The child: limit descriptors to 64, serve echo, print the address.
fn run_child() {
    let limit = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 64,
    };
    // SAFETY: a plain setrlimit call with a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let rt = support::unpinned_runtime(1);
    let server = support::echo_server(&rt, ListenOptions::new().backlog(1024));
    println!("ADDR {}", server.local_addr());
    std::io::stdout().flush().unwrap();
    // Serve until the parent closes our stdin.
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
}

/// CPU time (user + system) of process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn echo_once(addr: SocketAddr) -> std::io::Result<()> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    c.write_all(b"still serving")?;
    let mut buf = [0u8; 13];
    c.read_exact(&mut buf)?;
    assert_eq!(&buf, b"still serving");
    Ok(())
}

#[test]
fn starved_accept_loop_backs_off_and_recovers() {
    if std::env::var_os(CHILD_ENV).is_some() {
        run_child();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "starved_accept_loop_backs_off_and_recovers",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().expect("child exited early").unwrap();
        // libtest prints "test <name> ... " before our line, without a newline.
        if let Some(at) = line.find("ADDR ") {
            break line[at + 5..].trim().parse().unwrap();
        }
    };

    // 200 clients: the kernel completes their handshakes (backlog), the
    // server accepts until it runs out of descriptors.
    let clients: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Let it reach exhaustion, then measure its CPU over a second of starvation.
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id();
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(1));
    let (t1, c1) = (Instant::now(), cpu_ticks(pid));
    let cpu_share = (c1 - c0) as f64 / ticks_per_sec / (t1 - t0).as_secs_f64();
    assert!(
        cpu_share < 0.05,
        "starved server used {:.1}% of a core",
        cpu_share * 100.0
    );

    // Free descriptors: closing clients ends their server-side connections.
    drop(clients);
    // New clients are served again (the backlog drains first).
    support::eventually("a new client is served after descriptors are freed", || {
        echo_once(addr).is_ok()
    });

    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "child server failed: {status:?}");
}
