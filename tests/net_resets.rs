//! Resets: a tenth of the connections are reset mid-stream; the others
//! finish intact, and afterwards no arena buffer is in use and the process
//! has as many open descriptors as before.

#[path = "support/net.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use roost::net::ListenOptions;
use support::{eventually, open_fds, unpinned_runtime, ByteStream};

const CONNECTIONS: u64 = 100;
const BYTES: usize = 1 << 20;

#[test]
fn resets_mid_stream_leave_nothing_behind() {
    let rt = unpinned_runtime(2);
    let server = support::echo_server(&rt, ListenOptions::new());
    let addr = server.local_addr();
    let fds_before = open_fds();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|seed| {
            thread::spawn(move || {
                let reset = seed % 10 == 0;
                let mut stream = TcpStream::connect(addr).unwrap();
                let mut data = ByteStream::new(seed);
                let mut expected = ByteStream::new(seed);
                let mut chunk = vec![0u8; 16 * 1024];
                let mut echoed = vec![0u8; 16 * 1024];
                let mut done = 0;
                while done < BYTES {
                    data.fill(&mut chunk);
                    stream.write_all(&chunk).unwrap();
                    stream.read_exact(&mut echoed).unwrap();
                    assert!(expected.matches(&echoed), "connection {seed} corrupted");
                    done += chunk.len();
                    if reset && done >= BYTES / 2 {
                        // Leave unread bytes behind and close with SO_LINGER 0: RST.
                        stream.write_all(&chunk).unwrap();
                        socket2::SockRef::from(&stream)
                            .set_linger(Some(Duration::ZERO))
                            .unwrap();
                        return false;
                    }
                }
                stream.shutdown(std::net::Shutdown::Write).unwrap();
                assert_eq!(stream.read(&mut echoed).unwrap(), 0, "EOF after half close");
                true
            })
        })
        .collect();
    let finished = clients.into_iter().map(|c| c.join().unwrap()).filter(|&ok| ok).count();
    assert_eq!(finished as u64, CONNECTIONS - CONNECTIONS / 10);

    // Every server-side connection closes: descriptors come back, buffers go home.
    eventually("descriptors back to their count before the clients", || {
        open_fds() == fds_before
    });
    eventually("no arena buffer in use on any worker", || {
        rt.handle().metrics().workers.iter().all(|w| {
            let arena = w.arena.as_ref().expect("workers have arenas");
            // On the uring driver, the blocks lent to the kernel's
            // buffer rings are in use (and stay until the ring ends).
            w.arena_bytes_held() == 0 && arena.parked_bytes == 0
        })
    });
    server.stop();
}
