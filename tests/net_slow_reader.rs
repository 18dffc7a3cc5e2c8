//! A slow reader cannot make the server buffer without bound: a client that
//! writes to the echo server and stops reading stalls the server's writes,
//! the server then stops reading, and the client's writes stall in turn;
//! the server holds at most a read's worth of arena memory per connection
//! meanwhile. Once the client reads again, every byte comes back intact.

#[path = "support/net.rs"]
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use roost::net::ListenOptions;
use support::{echo_server, unpinned_runtime, ByteStream};

/// What the client sends in all.
const TOTAL: usize = 32 << 20;
/// The server's arena may hold at most this much at any time, whatever the
/// client does (it holds one read's buffer and one reply; the kernel's
/// socket buffers hold the rest, several MiB on loopback).
const SERVER_BOUND: u64 = 256 << 10;

/// Waits until `stream` can take more bytes, for at most `ms` milliseconds.
fn writable_within(stream: &TcpStream, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n > 0 && pfd.revents & libc::POLLOUT != 0
}

#[test]
fn a_client_that_stops_reading_stalls_the_server_instead_of_growing_it() {
    let rt = unpinned_runtime(1);
    let server = echo_server(&rt, ListenOptions::new());
    let mut client = TcpStream::connect(server.local_addr()).unwrap();
    client.set_nonblocking(true).unwrap();

    // Phase 1: write without reading until the whole path is full: the
    // client's send buffer stays full for half a second at a time, twice in
    // a row (the server has stopped reading because its own writes stall).
    let mut source = ByteStream::new(7);
    let mut chunk = vec![0u8; 64 << 10];
    let mut pending: &[u8] = &[];
    let mut written = 0usize;
    let mut stalls = 0;
    while written < TOTAL && stalls < 2 {
        if pending.is_empty() {
            let n = chunk.len().min(TOTAL - written);
            source.fill(&mut chunk[..n]);
            pending = &chunk[..n];
        }
        match client.write(pending) {
            Ok(n) => {
                written += n;
                pending = &pending[n..];
                stalls = 0;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !writable_within(&client, 500) {
                    stalls += 1;
                }
            }
            Err(e) => panic!("client write: {e}"),
        }
    }
    assert!(
        written < TOTAL,
        "the server took all {TOTAL} bytes from a client that never read"
    );
    let worker = rt.handle().metrics().workers.swap_remove(0);
    let arena = worker.arena.clone().unwrap();
    // On the uring driver the arena also holds the blocks lent to the
    // kernel's buffer ring, and a paused receive may hold what one batch
    // of completions filled before the pause took effect: at most that
    // ring again.
    let bound = SERVER_BOUND + 2 * worker.ring_bytes;
    assert!(
        arena.in_use_high_water <= bound,
        "server arena grew to {} bytes while the client did not read ({written} bytes written)",
        arena.in_use_high_water
    );

    // Phase 2: read everything back (a reader thread) while the rest is
    // written; every byte must be the one sent.
    let mut reader = client.try_clone().unwrap();
    reader.set_nonblocking(false).unwrap();
    reader.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let check = std::thread::spawn(move || {
        let mut expected = ByteStream::new(7);
        let mut got = vec![0u8; 64 << 10];
        let mut seen = 0usize;
        while seen < TOTAL {
            let n = reader.read(&mut got).expect("echo read");
            assert!(n > 0, "EOF after {seen} of {TOTAL} bytes");
            assert!(expected.matches(&got[..n]), "echoed bytes differ at offset {seen}");
            seen += n;
        }
        seen
    });
    client.set_nonblocking(false).unwrap();
    client.write_all(pending).unwrap();
    written += pending.len();
    while written < TOTAL {
        let n = chunk.len().min(TOTAL - written);
        source.fill(&mut chunk[..n]);
        client.write_all(&chunk[..n]).unwrap();
        written += n;
    }
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(check.join().unwrap(), TOTAL);
    let worker = rt.handle().metrics().workers.swap_remove(0);
    let arena = worker.arena.clone().unwrap();
    // On the uring driver the arena also holds the blocks lent to the
    // kernel's buffer ring, and a paused receive may hold what one batch
    // of completions filled before the pause took effect: at most that
    // ring again.
    let bound = SERVER_BOUND + 2 * worker.ring_bytes;
    assert!(
        arena.in_use_high_water <= bound,
        "server arena high water {} bytes",
        arena.in_use_high_water
    );
    drop(server);
}
