//! The io_uring driver's own behaviour: receives into the worker's
//! provided-buffer ring and the return of its buffers (re-provided after a
//! drop on another worker), a ring with fewer buffers than connections,
//! cancellation of receives, sends and accepts that are in flight (with a
//! check that would see memory written after it was freed), and sends
//! that outlive their future (and a shutdown that waits for one), and a
//! dropped listener that stops listening at once.
//!
//! On a kernel without io_uring these tests say so and pass, unless
//! `ROOST_REQUIRE_URING=1` (CI sets it) makes that a failure.

#[path = "support/net.rs"]
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use roost::alloc::ArenaBytesMut;
use roost::net::{TcpListener, TcpStream};
use roost::runtime::{Driver, Runtime};
use support::{eventually, open_fds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A uring runtime, or `None` where the kernel has no io_uring.
fn uring(workers: usize, buffers: u16) -> Option<Runtime> {
    let rt = Runtime::builder()
        .worker_threads(workers)
        .pin_workers(false)
        .driver(Driver::Uring)
        .uring_buffers(buffers)
        .build()
        .expect("runtime");
    if rt.handle().metrics().workers.iter().any(|w| w.uring_fallback) {
        assert!(
            std::env::var_os("ROOST_REQUIRE_URING").is_none(),
            "ROOST_REQUIRE_URING is set but the uring driver fell back to epoll"
        );
        eprintln!("io_uring is not available here: skipped");
        return None;
    }
    Some(rt)
}

fn arena(rt: &Runtime, worker: usize) -> roost::alloc::ArenaStats {
    rt.handle().metrics().workers[worker]
        .arena
        .clone()
        .expect("worker arena")
}

/// A plain client thread: connects, sends `n` chunks of `size` bytes, each
/// after the server's one-byte acknowledgement of the one before.
fn chunk_client(addr: std::net::SocketAddr, n: usize, size: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        // A guard against a hang, not a measurement.
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        for i in 0..n {
            c.write_all(&vec![i as u8; size]).unwrap();
            let mut ack = [0u8; 1];
            c.read_exact(&mut ack).unwrap();
        }
    })
}

#[test]
fn the_kernel_receives_into_arena_buffers_that_come_home_and_are_provided_again() {
    let Some(rt) = uring(2, 4) else { return };
    let (to_b, mut on_b) = tokio::sync::mpsc::unbounded_channel::<ArenaBytesMut>();
    // Worker 1 drops what it is sent: the blocks go home to worker 0.
    rt.handle().spawn_on(1, async move {
        while let Some(buf) = on_b.recv().await {
            drop(buf);
            roost::alloc::flush_returns();
        }
    });
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut received = 0usize;
        let mut chunks = 0usize;
        while let Some(buf) = stream.recv().await.unwrap() {
            assert!(buf.is_home(), "the kernel filled a block of this worker's arena");
            assert!(buf.iter().all(|&b| b == (received / 100) as u8), "bytes intact");
            received += buf.len();
            to_b.send(buf).unwrap();
            if received % 100 == 0 && received / 100 > chunks {
                chunks = received / 100;
                let (_, mut ack) = stream.split();
                ack.write_all(b"k").await.unwrap();
            }
        }
        received
    });
    // 200 chunks through a ring of 4 buffers: it is refilled all along,
    // and the blocks worker 1 dropped come back into it.
    chunk_client(addr, 200, 100).join().unwrap();
    assert_eq!(rt.block_on(server).unwrap(), 200 * 100);
    let stats = arena(&rt, 0);
    eprintln!(
        "ring_provided {} ring_reprovided_remote {} ring_dry {} returns_received {}",
        stats.ring_provided, stats.ring_reprovided_remote, stats.ring_dry, stats.returns_received
    );
    assert!(stats.ring_provided >= 200, "every receive took a lent block: {stats:?}");
    assert!(
        stats.ring_reprovided_remote > 0,
        "blocks dropped on worker 1 were provided to the ring again: {stats:?}"
    );
    assert!(stats.returns_received > 0, "{stats:?}");
}

#[test]
fn more_connections_than_ring_buffers_lose_no_byte() {
    let Some(rt) = uring(1, 4) else { return };
    const CONNECTIONS: usize = 48;
    const BYTES: usize = 64 * 1024;
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        let mut streams = Vec::new();
        for _ in 0..CONNECTIONS {
            streams.push(listener.accept().await.unwrap().0);
        }
        // Every client has written its first bytes before any stream
        // reads: the receives, armed together, find more data than the
        // ring has buffers.
        roost::task::spawn_blocking(move || sent_rx.recv().unwrap())
            .await
            .unwrap();
        let mut readers = Vec::new();
        for (i, stream) in streams.into_iter().enumerate() {
            readers.push(roost::runtime::spawn_local(async move {
                let mut data = Vec::with_capacity(BYTES);
                while let Some(buf) = stream.recv().await.unwrap() {
                    data.extend_from_slice(&buf);
                }
                assert_eq!(data.len(), BYTES, "connection {i}");
                assert!(data.iter().all(|&b| b == i as u8), "connection {i}: bytes intact");
            }));
        }
        for r in readers {
            r.await.unwrap();
        }
    });
    let mut clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&[i as u8; 4096]).unwrap();
            (i, c)
        })
        .collect();
    sent_tx.send(()).unwrap();
    let writers: Vec<_> = clients
        .drain(..)
        .map(|(i, mut c)| {
            std::thread::spawn(move || {
                c.write_all(&vec![i as u8; BYTES - 4096]).unwrap();
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    rt.block_on(server).unwrap();
    let stats = arena(&rt, 0);
    eprintln!("ring_dry {} ring_provided {}", stats.ring_dry, stats.ring_provided);
    assert!(
        stats.ring_dry > 0,
        "48 receives armed at once on 4 buffers ran the ring dry: {stats:?}"
    );
}

/// Fills `n` fresh arena buffers of `size` bytes with `byte`, and keeps
/// them: memory the kernel still wrote after it was freed would show in
/// them.
fn claim(n: usize, size: usize, byte: u8) -> Vec<ArenaBytesMut> {
    (0..n)
        .map(|_| {
            let mut b = ArenaBytesMut::with_capacity(size);
            b.extend_from_slice(&vec![byte; size]);
            b
        })
        .collect()
}

#[test]
fn a_dropped_receive_and_stream_leave_no_kernel_write_behind() {
    let Some(rt) = uring(1, 8) else { return };
    // This thread's own loop (its `block_on`'s ring) is made before the count.
    rt.block_on(async {});
    let fds = open_fds();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        let (stream, _) = listener.accept().await.unwrap();
        // A receive in flight, then dropped with its stream.
        let mut recv = Box::pin(stream.recv());
        assert!(support_poll_once(&mut recv).is_pending());
        drop(recv);
        drop(stream);
        // The freed blocks are reused at once, filled with a pattern...
        let claimed = claim(64, 2048, 0xA5);
        roost::task::spawn_blocking(move || go_rx.recv().unwrap())
            .await
            .unwrap();
        // ...while the peer kept sending into the closed connection.
        roost::time::sleep(Duration::from_millis(20)).await;
        for b in &claimed {
            assert!(b.iter().all(|&x| x == 0xA5), "memory written after it was freed");
        }
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // Sends into a connection whose server side is gone: a reset, or
    // accepted and dropped by the kernel; never into roost's memory.
    for _ in 0..64 {
        if c.write_all(&[0x5A; 1024]).is_err() {
            break;
        }
    }
    go_tx.send(()).unwrap();
    rt.block_on(server).unwrap();
    drop(c);
    eventually("the server's descriptors closed", || open_fds() <= fds);
}

#[test]
fn a_send_outlives_its_dropped_future_and_the_peer_gets_every_byte() {
    let Some(rt) = uring(1, 8) else { return };
    const BYTES: usize = 48 * 1024;
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_send_buffer_size(4096).unwrap();
        // A send larger than the socket's buffer, whose future is
        // dropped while the kernel still holds it.
        let mut first = stream.alloc_send(BYTES);
        first.extend_from_slice(&vec![1u8; BYTES]);
        let mut pending = Box::pin(stream.send(first));
        assert!(support_poll_once(&mut pending).is_pending());
        drop(pending);
        // Its block is still the kernel's: fresh buffers never alias it.
        let claimed = claim(64, 65536, 0xEE);
        // The next send waits for the dropped one, then goes after it.
        let mut second = stream.alloc_send(BYTES);
        second.extend_from_slice(&vec![2u8; BYTES]);
        stream.send(second).await.unwrap();
        drop(stream);
        for b in &claimed {
            assert!(b.iter().all(|&x| x == 0xEE), "memory written after it was freed");
        }
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    // Reading late keeps the first send in flight for a while (not a
    // measurement: the checks hold however long it is).
    std::thread::sleep(Duration::from_millis(50));
    let mut data = Vec::new();
    c.read_to_end(&mut data).unwrap();
    rt.block_on(server).unwrap();
    let ones = data.iter().take_while(|&&b| b == 1).count();
    assert_eq!(ones, BYTES, "the first send whole");
    assert_eq!(data.len(), 2 * BYTES, "the second send whole");
    assert!(data[BYTES..].iter().all(|&b| b == 2), "in order, intact");
}

/// tokio's `shutdown().await` after a send whose future was dropped: the
/// FIN waits for the send the kernel still holds, so the peer reads every
/// byte and then the end of the stream (without the wait, the FIN would go
/// first and the send fail with EPIPE).
#[test]
fn a_shutdown_waits_for_a_send_whose_future_was_dropped() {
    let Some(rt) = uring(1, 8) else { return };
    const BYTES: usize = 256 * 1024;
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.set_send_buffer_size(4096).unwrap();
        let mut data = stream.alloc_send(BYTES);
        data.extend_from_slice(&vec![3u8; BYTES]);
        let mut pending = Box::pin(stream.send(data));
        assert!(support_poll_once(&mut pending).is_pending());
        drop(pending);
        stream.shutdown().await.unwrap();
        // The stream stays open until the peer has read to the end.
        let mut rest = [0u8; 1];
        assert_eq!(stream.read(&mut rest).await.unwrap(), 0);
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    // Reading late keeps the send in flight while the shutdown is asked
    // for (not a measurement: the checks hold however long it is).
    std::thread::sleep(Duration::from_millis(50));
    let mut data = Vec::new();
    c.read_to_end(&mut data).unwrap();
    drop(c);
    rt.block_on(server).unwrap();
    assert_eq!(data.len(), BYTES, "every byte before the FIN");
    assert!(data.iter().all(|&b| b == 3), "intact");
}

/// A `block_on` thread's ring runs the kernel's completion work only inside
/// the loop's own enters (`DEFER_TASKRUN`): receives completing while the
/// thread is blocked in another system call do not interrupt it, and
/// neither does the end of a ring this thread made (the seccomp probe's,
/// the workers'). A read with a timeout is one that would report such an
/// interruption as EINTR.
#[test]
fn ring_completions_do_not_interrupt_the_threads_blocking_calls() {
    let Some(rt) = uring(1, 8) else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (local, remote) = std::os::unix::net::UnixStream::pair().unwrap();
    local.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let received = rt.block_on(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        // The stream's multishot receive is queued on this thread's ring,
        // and one wait in the ring submits it.
        let mut recv = Box::pin(stream.recv());
        assert!(support_poll_once(&mut recv).is_pending());
        roost::time::sleep(Duration::from_millis(1)).await;
        let writer = std::thread::spawn(move || {
            for _ in 0..20 {
                peer.write_all(b"x").unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            (&remote).write_all(b"done").unwrap();
            (peer, remote)
        });
        // Blocks this thread (on purpose) while the receives complete.
        let mut got = [0u8; 4];
        let n = (&local)
            .read(&mut got)
            .expect("a blocking read not interrupted by the ring");
        assert_eq!(&got[..n], &b"done"[..n]);
        let _peers = writer.join().unwrap();
        let mut received = recv.await.unwrap().expect("data").len();
        while received < 20 {
            received += stream.recv().await.unwrap().expect("data").len();
        }
        received
    });
    assert_eq!(received, 20);
}

/// Dropping a runtime ends the rings of its loops, the `block_on`
/// thread's among them; the thread that goes on afterwards is not
/// interrupted in its next blocking call (it keeps its drained ring, and
/// its next runtime's loop takes it over).
#[test]
fn a_dropped_runtime_does_not_interrupt_the_threads_that_used_it() {
    let Some(rt) = uring(1, 8) else { return };
    // This thread's own loop receives through its ring.
    assert_eq!(receive_in_block_on(&rt, b"ring"), b"ring");
    drop(rt);
    let (local, remote) = std::os::unix::net::UnixStream::pair().unwrap();
    local.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let writer = std::thread::spawn(move || {
        // Long enough for the kernel's exit work of the closed rings to
        // have run (not a measurement: the read passes either way when
        // nothing interrupts it).
        std::thread::sleep(Duration::from_millis(200));
        (&remote).write_all(b"done").unwrap();
        remote
    });
    let mut buf = [0u8; 4];
    let n = (&local)
        .read(&mut buf)
        .expect("a blocking read not interrupted by the closed rings");
    assert_eq!(&buf[..n], &b"done"[..n]);
    drop(writer.join().unwrap());
    // The thread kept its drained ring; its next runtime's loop takes it
    // over and receives through it.
    let Some(rt) = uring(1, 8) else { return };
    assert_eq!(receive_in_block_on(&rt, b"again"), b"again");
}

/// A connection made in `rt.block_on` (this thread's loop), to which a
/// plain peer writes `message`: what the stream's first receive returns.
fn receive_in_block_on(rt: &Runtime, message: &'static [u8]) -> Vec<u8> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.block_on(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        peer.write_all(message).unwrap();
        stream.recv().await.unwrap().expect("data").to_vec()
    })
}

#[test]
fn connections_accepted_for_a_dropped_listener_are_closed() {
    let Some(rt) = uring(1, 8) else { return };
    // This thread's own loop (its `block_on`'s ring) is made before the count.
    rt.block_on(async {});
    let fds = open_fds();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        // Arm the multishot accept, drop the future, keep the listener.
        let mut accept = Box::pin(listener.accept());
        assert!(support_poll_once(&mut accept).is_pending());
        drop(accept);
        roost::task::spawn_blocking(move || go_rx.recv().unwrap())
            .await
            .unwrap();
        // Connections the kernel accepted meanwhile are queued in the
        // driver; dropping the listener closes them.
        roost::time::sleep(Duration::from_millis(20)).await;
        drop(listener);
    });
    let clients: Vec<_> = (0..4).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    go_tx.send(()).unwrap();
    rt.block_on(server).unwrap();
    for mut c in clients {
        // A guard against a hang, not a measurement.
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 1];
        match c.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected the end of the stream, got {other:?}"),
        }
    }
    eventually("the accepted descriptors closed", || open_fds() <= fds);
}

#[test]
fn a_dropped_listener_stops_listening_at_once() {
    let Some(rt) = uring(1, 8) else { return };
    let (server, _) = on_worker_0(&rt, move |listener| async move {
        let addr = listener.local_addr().unwrap();
        // Arm the multishot accept and let the loop submit it: the kernel
        // now holds the listening socket.
        let mut accept = Box::pin(listener.accept());
        assert!(support_poll_once(&mut accept).is_pending());
        roost::time::sleep(Duration::from_millis(1)).await;
        drop(accept);
        drop(listener);
        // Still on the loop's thread, before its next look at the ring. The
        // listener's end submits the accept's cancellation at once, and the
        // kernel lets go of the socket then; otherwise it would go on
        // accepting connections that are then closed unserved. So the
        // connections are refused.
        (0..8)
            .map(|_| std::net::TcpStream::connect(addr).map(drop).map_err(|e| e.kind()))
            .collect::<Vec<_>>()
    });
    let attempts = rt.block_on(server).unwrap();
    assert!(
        attempts
            .iter()
            .all(|a| *a == Err(std::io::ErrorKind::ConnectionRefused)),
        "{attempts:?}"
    );
}

#[test]
fn borrowed_reads_and_writes_work_on_the_ring() {
    let Some(rt) = uring(1, 8) else { return };
    rt.block_on_local(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = roost::runtime::spawn_local(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 7];
            let mut total = 0;
            loop {
                // Small reads: a received buffer is copied out in pieces.
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                total += n;
                s.write_all(&buf[..n]).await.unwrap();
            }
            total
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (mut r, mut w) = c.split();
        let writer = async {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        };
        let reader = async {
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        };
        let ((), back) = tokio::join!(writer, reader);
        assert_eq!(back, data);
        assert_eq!(echo.await.unwrap(), data.len());
    });
}

#[test]
fn zero_copy_sends_arrive_whole_and_their_buffers_come_back_to_the_tx_slot() {
    let Some(rt) = Runtime::builder()
        .worker_threads(1)
        .pin_workers(false)
        .driver(Driver::Uring)
        .uring_zero_copy_above(16 * 1024)
        .build()
        .ok()
        .filter(|rt| !rt.handle().metrics().workers[0].uring_fallback)
    else {
        assert!(std::env::var_os("ROOST_REQUIRE_URING").is_none(), "no io_uring");
        return;
    };
    const SENDS: usize = 16;
    const BYTES: usize = 32 * 1024;
    let (server, addr) = on_worker_0(&rt, move |listener| async move {
        let (stream, _) = listener.accept().await.unwrap();
        for i in 0..SENDS {
            let mut buf = stream.alloc_send(BYTES);
            buf.extend_from_slice(&vec![i as u8; BYTES]);
            stream.send(buf).await.unwrap();
        }
        // The kernel's notifications hand the buffers back: the next
        // allocation takes one from the TX slot.
        let hits = || roost::alloc::Arena::current().stats().slot_hits;
        let before = hits();
        let mut reused = false;
        for _ in 0..1000 {
            let buf = stream.alloc_send(BYTES);
            if hits() > before {
                reused = buf.capacity() >= BYTES;
                break;
            }
            drop(buf);
            roost::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(reused, "a zero-copy send's buffer came back for reuse");
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let mut data = Vec::new();
    c.read_to_end(&mut data).unwrap();
    rt.block_on(server).unwrap();
    assert_eq!(data.len(), SENDS * BYTES);
    for (i, chunk) in data.chunks(BYTES).enumerate() {
        assert!(chunk.iter().all(|&b| b == i as u8), "send {i} intact, in order");
    }
}

#[test]
fn dropping_the_runtime_cancels_receives_and_sends_in_flight() {
    let Some(rt) = uring(1, 8) else { return };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (_server, addr) = on_worker_0(&rt, move |listener| async move {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_send_buffer_size(4096).unwrap();
        // A receive armed, and a send the peer does not read yet, both in
        // the kernel when the runtime goes.
        let mut buf = stream.alloc_send(60 * 1024);
        buf.extend_from_slice(&[7u8; 60 * 1024]);
        let mut both = Box::pin(async { tokio::join!(stream.recv(), stream.send(buf)) });
        assert!(support_poll_once(&mut both).is_pending());
        ready_tx.send(()).unwrap();
        let _ = both.await;
    });
    // A small receive window keeps the send in flight.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut c: std::net::TcpStream = socket.into();
    ready_rx.recv().unwrap();
    // The ring's end cancels both, waits for the kernel, then frees the
    // buffers (AddressSanitizer's runs of this test would see otherwise).
    drop(rt);
    // A guard against a hang, not a measurement.
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut data = Vec::new();
    match c.read_to_end(&mut data) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected the end of the stream, got {e}"),
    }
    assert!(
        data.len() <= 60 * 1024 && data.iter().all(|&b| b == 7),
        "what arrived is intact"
    );
}

/// Runs `serve` on worker 0 with a fresh loopback listener; returns the
/// server's handle and the listener's address.
fn on_worker_0<T, F, Fut>(rt: &Runtime, serve: F) -> (roost::runtime::JoinHandle<T>, std::net::SocketAddr)
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
    T: Send + 'static,
{
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = rt.handle().spawn_on(0, async move {
        roost::runtime::spawn_local(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await
        })
        .await
        .unwrap()
    });
    (server, addr_rx.recv().unwrap())
}

fn support_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}
