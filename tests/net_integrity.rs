//! Integrity on real loopback sockets: 64 connections each echo 16 MiB of
//! seeded pseudo-random data through the per-core echo server, written in
//! random chunk sizes and read with random buffer sizes.

#[path = "support/net.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

use roost::net::ListenOptions;
use support::{unpinned_runtime, ByteStream, Rng};

const CONNECTIONS: usize = 64;
const BYTES: usize = 16 << 20;

#[test]
fn sixty_four_connections_echo_sixteen_mib_each_intact() {
    let rt = unpinned_runtime(2);
    let server = support::echo_server(&rt, ListenOptions::new());
    let addr = server.local_addr();
    let clients: Vec<_> = (0..CONNECTIONS as u64)
        .map(|seed| {
            thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let sender = thread::spawn(move || {
                    let mut data = ByteStream::new(seed);
                    let mut sizes = Rng::new(seed ^ 0xFFFF);
                    let mut chunk = vec![0u8; 256 * 1024];
                    let mut sent = 0;
                    while sent < BYTES {
                        let n = sizes.range(1, chunk.len()).min(BYTES - sent);
                        data.fill(&mut chunk[..n]);
                        writer.write_all(&chunk[..n]).unwrap();
                        sent += n;
                    }
                    // Half close: the server sees EOF, finishes echoing, and closes.
                    writer.shutdown(Shutdown::Write).unwrap();
                    sent
                });
                let mut reader = stream;
                let mut expected = ByteStream::new(seed);
                let mut sizes = Rng::new(seed ^ 0xABCD);
                let mut buf = vec![0u8; 128 * 1024];
                let mut received = 0;
                loop {
                    let size = sizes.range(1, buf.len());
                    let n = reader.read(&mut buf[..size]).unwrap();
                    if n == 0 {
                        break;
                    }
                    assert!(
                        expected.matches(&buf[..n]),
                        "connection {seed}: corrupted bytes at offset {received}"
                    );
                    received += n;
                }
                let sent = sender.join().unwrap();
                assert_eq!(sent, BYTES);
                assert_eq!(received, BYTES, "connection {seed}: echoed byte count");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}
