//! TcpStream and TcpListener surface on real loopback sockets: options, half
//! close, errors, tokio io traits, vectored sends, split halves, moving a
//! connection between workers, and CPU-steered per-core listeners.

#[path = "support/net.rs"]
mod support;

use std::io::{IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use roost::alloc::ArenaBytesMut;
use roost::net::{ListenOptions, TcpListener, TcpStream};
use support::unpinned_runtime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An echo server that runs until its runtime shuts down; its address.
fn echo_server(rt: &roost::runtime::Runtime, options: ListenOptions) -> SocketAddr {
    let server = support::echo_server(rt, options);
    // Dropping a `Server` does not stop it (only `stop` does); forgetting it
    // instead leaked its loops' task handles, and with them the runtime's
    // memory (found by LeakSanitizer in the ASan step of .ci/run).
    server.local_addr()
}

#[test]
fn socket_options_round_trip() {
    let rt = unpinned_runtime(1);
    let addr = echo_server(&rt, ListenOptions::new());
    rt.block_on_local(move || async move {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        s.set_keepalive(Some(Duration::from_secs(30))).unwrap();
        assert!(s.keepalive().unwrap());
        s.set_keepalive(None).unwrap();
        assert!(!s.keepalive().unwrap());
        s.set_linger(Some(Duration::from_secs(2))).unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(2)));
        s.set_zero_linger().unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
        s.set_send_buffer_size(64 * 1024).unwrap();
        assert!(s.send_buffer_size().unwrap() >= 64 * 1024);
        s.set_recv_buffer_size(64 * 1024).unwrap();
        assert!(s.recv_buffer_size().unwrap() >= 64 * 1024);
        assert_eq!(s.peer_addr().unwrap(), addr);
        assert!(s.local_addr().unwrap().ip().is_loopback());
        assert!(s.incoming_cpu().is_ok());
    });
}

#[test]
fn connect_errors_are_clear() {
    let rt = unpinned_runtime(1);
    // A port nobody listens on: refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = rt.block_on_local(move || async move { TcpStream::connect(closed).await.map(drop) });
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    // A listener whose accept queue is full: Linux drops further SYNs
    // (`tcp_conn_request` on a full accept queue), so the handshake never
    // completes and the deadline must fire. Loopback connects complete
    // synchronously, so the fillers have filled the queue by the time the
    // last `connect` returns.
    let full = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    full.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).unwrap();
    full.listen(0).unwrap();
    let full_addr = full.local_addr().unwrap().as_socket().unwrap();
    let _fillers: Vec<_> = (0..8)
        .filter_map(|_| {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
            s.set_nonblocking(true).ok()?;
            let _ = s.connect(&full_addr.into());
            Some(s)
        })
        .collect();
    let timed = rt.block_on_local(move || async move {
        TcpStream::connect_timeout(full_addr, Duration::from_millis(200))
            .await
            .map(drop)
    });
    let e = timed.expect_err("a connect to a listener with a full accept queue completed");
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e:?}");
}

#[test]
fn half_close_gives_eof_and_the_other_direction_goes_on() {
    let rt = unpinned_runtime(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap(); // ends at our half close
        c.write_all(&got).unwrap();
        c.write_all(b" and back").unwrap();
    });
    let reply = rt.block_on_local(move || async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"there").await.unwrap();
        s.shutdown_std(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        while let Some(buf) = s.recv().await.unwrap() {
            reply.extend_from_slice(&buf);
        }
        reply
    });
    peer.join().unwrap();
    assert_eq!(reply, b"there and back");
}

#[test]
fn tokio_io_traits_and_vectored_sends() {
    let rt = unpinned_runtime(2);
    let addr = echo_server(&rt, ListenOptions::new());
    rt.block_on_local(move || async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(tokio::io::AsyncWrite::is_write_vectored(&s));
        s.write_all(b"through tokio's traits").await.unwrap();
        let mut back = [0u8; 22];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"through tokio's traits");

        // Header and body in one writev.
        let mut header = s.alloc_send(4);
        header.extend_from_slice(&5u32.to_be_bytes());
        let body = ArenaBytesMut::copy_from_slice(b"hello");
        s.send_vectored([header, body]).await.unwrap();
        let n = s
            .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .await
            .unwrap();
        assert!(n > 0);
        let mut expect = 9 + n;
        let mut got = Vec::new();
        while expect > 0 {
            let buf = s.recv().await.unwrap().unwrap();
            expect -= buf.len();
            got.extend_from_slice(&buf);
        }
        assert_eq!(&got[..9], &[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(&got[9..], &b"abcd"[..n]);
        // The sent header's block is parked for the next send.
        assert!(s.is_parked().1);
    });
}

#[test]
fn split_halves_read_and_write_concurrently() {
    let rt = unpinned_runtime(1);
    let addr = echo_server(&rt, ListenOptions::new());
    rt.block_on_local(move || async move {
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = s.into_split();
        let total = 1 << 20;
        let write = roost::runtime::spawn_local(async move {
            let chunk = vec![7u8; 8192];
            for _ in 0..total / chunk.len() {
                writer.write_all(&chunk).await.unwrap();
            }
            writer.shutdown().await.unwrap();
        });
        let mut seen = 0;
        let mut buf = vec![0u8; 10_000];
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 7));
            seen += n;
        }
        write.await.unwrap();
        assert_eq!(seen, total);
    });
}

#[test]
fn a_connection_moves_between_workers_explicitly() {
    let rt = unpinned_runtime(2);
    let addr = echo_server(&rt, ListenOptions::new());
    let std_stream = rt.block_on_local(move || async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"from worker 0;").await.unwrap();
        s.into_std().unwrap()
    });
    let got = rt
        .block_on(rt.handle().spawn_on(1, async move {
            roost::runtime::spawn_local(async move {
                assert_eq!(roost::runtime::current_worker(), Some(1));
                let mut s = TcpStream::from_std(std_stream).unwrap();
                s.write_all(b" on worker 1").await.unwrap();
                let mut all = Vec::new();
                while all.len() < 26 {
                    all.extend_from_slice(&s.recv().await.unwrap().unwrap());
                }
                all
            })
            .await
            .unwrap()
        }))
        .unwrap();
    assert_eq!(got, b"from worker 0; on worker 1");
}

#[test]
fn cpu_steered_per_core_listeners_serve_every_connection() {
    let rt = unpinned_runtime(2);
    let addr = echo_server(&rt, ListenOptions::new().cpu_steering(true));
    for i in 0..32u8 {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(&[i; 16]).unwrap();
        let mut back = [0u8; 16];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, [i; 16]);
    }
}

#[test]
fn accept_on_a_plain_listener() {
    let rt = unpinned_runtime(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let addr: SocketAddr = rx.recv().unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"x").unwrap();
    });
    let peer = rt.block_on_local(move || async move {
        let l = TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), ListenOptions::new().backlog(16)).unwrap();
        tx.send(l.local_addr().unwrap()).unwrap();
        let (mut s, peer) = l.accept().await.unwrap();
        assert!(s.nodelay().unwrap(), "accepted streams get TCP_NODELAY by default");
        let mut one = [0u8; 1];
        assert_eq!(s.read(&mut one).await.unwrap(), 1);
        assert_eq!(l.starved_count(), 0);
        peer
    });
    client.join().unwrap();
    assert!(peer.ip().is_loopback());
}

/// A stream accepted with global buffers and switched to the arena parks
/// arena buffers from then on, so it joins the idle sweep: its parked bytes
/// are released after the idle time like any other stream's.
#[test]
fn a_stream_switched_to_the_arena_is_swept_when_idle() {
    let rt = unpinned_runtime(1);
    let parked = rt.block_on_local(move || async move {
        roost::net::idle::set_idle_release(Duration::from_millis(20));
        let options = ListenOptions::new().buffer_source(roost::net::BufferSource::Global);
        let l = TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), options).unwrap();
        let mut client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().await.unwrap();
        s.set_buffer_source(roost::net::BufferSource::Arena);
        let mut reply = s.alloc_send(64);
        reply.extend_from_slice(&[7u8; 64]);
        s.send(reply).await.unwrap();
        let mut got = [0u8; 64];
        client.read_exact(&mut got).unwrap();
        let arena = || {
            roost::runtime::Handle::current().metrics().workers[0]
                .arena
                .clone()
                .unwrap()
        };
        let parked = arena().parked_bytes;
        // The stream stays open and idle; the sweeper must release its slot.
        // (A generous bound turns a stream the sweeper never sees into a
        // failure instead of a hang.)
        for _ in 0..2_000 {
            if arena().parked_bytes == 0 {
                break;
            }
            roost::runtime::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(arena().parked_bytes, 0, "the idle stream kept its parked buffer");
        drop((s, client));
        parked
    });
    assert!(parked > 0, "the sent buffer was parked in the TX slot");
}

/// Regression: an inherent `TcpStream::shutdown(how)` hid tokio's
/// `AsyncWriteExt::shutdown()`, so ported code `s.shutdown().await` did not
/// compile. It sends FIN: the echo server answers and closes.
#[test]
fn tokio_shutdown_is_not_hidden_by_an_inherent_method() {
    let rt = unpinned_runtime(1);
    let addr = echo_server(&rt, ListenOptions::new());
    let echoed = rt.block_on_local(move || async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"bye").await.unwrap();
        s.shutdown().await.unwrap();
        let mut echoed = Vec::new();
        s.read_to_end(&mut echoed).await.unwrap();
        echoed
    });
    assert_eq!(echoed, b"bye");
}
