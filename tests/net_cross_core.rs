//! The defining behaviour of roost: buffers received on one worker and
//! dropped on another park in their stream's RX slot, and the stream's next
//! `recv` on the home worker takes them back.

#[path = "support/net.rs"]
mod support;

use std::io::{Read, Write};

use roost::alloc::{Arena, ArenaBytesMut};
use roost::net::TcpListener;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

/// A message for worker 1: buffers to drop there, and a way to say "done".
type DropRequest = (Vec<ArenaBytesMut>, oneshot::Sender<()>);

/// Receives one 100-byte chunk in a single buffer, then acknowledges it.
async fn recv_chunk(stream: &roost::net::TcpStream) -> ArenaBytesMut {
    let mut chunk = stream.recv().await.unwrap().expect("chunk");
    while chunk.len() < 100 {
        let more = stream.recv().await.unwrap().expect("rest of chunk");
        chunk.extend_from_slice(&more);
    }
    let (_, mut ack) = stream.split();
    ack.write_all(b"k").await.unwrap();
    chunk
}

#[test]
fn buffers_dropped_on_another_worker_park_and_return() {
    // The RX slot is the epoll driver's way home; on the uring driver the
    // kernel receives into the ring's buffers instead, whose return and
    // re-provision `net_uring.rs` checks.
    let rt = roost::runtime::Runtime::builder()
        .worker_threads(2)
        .pin_workers(false)
        .driver(roost::runtime::Driver::Epoll)
        .build()
        .expect("runtime");
    let (to_b, mut on_b) = mpsc::unbounded_channel::<DropRequest>();
    // Worker 1 drops whatever it is sent, then acknowledges.
    rt.handle().spawn_on(1, async move {
        while let Some((bufs, done)) = on_b.recv().await {
            assert_eq!(roost::runtime::current_worker(), Some(1));
            drop(bufs);
            roost::alloc::flush_returns();
            let _ = done.send(());
        }
    });
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let addr = addr_rx.recv().unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        // One chunk at a time: the server acknowledges each before the next.
        for i in 0..3u8 {
            c.write_all(&[i; 100]).unwrap();
            let mut ack = [0u8; 1];
            c.read_exact(&mut ack).unwrap();
        }
        c
    });
    let stats = rt.block_on_local(move || async move {
        assert_eq!(roost::runtime::current_worker(), Some(0));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addr_tx.send(listener.local_addr().unwrap()).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let arena = Arena::current();
        let before = arena.stats();

        // Read some bytes, drop the buffer on worker 1: it parks in the RX slot.
        let first = recv_chunk(&stream).await;
        let first_addr = first.as_ptr();
        let (done, acked) = oneshot::channel();
        to_b.send((vec![first], done)).unwrap();
        acked.await.unwrap();
        assert!(
            stream.is_parked().0,
            "the buffer dropped on worker 1 parks in the RX slot"
        );

        // The next recv on worker 0 takes the parked buffer back.
        let second = recv_chunk(&stream).await;
        assert_eq!(second.as_ptr(), first_addr, "recv reuses the parked block");
        let after_hit = arena.stats();
        assert!(after_hit.slot_hits > before.slot_hits);

        // Two buffers dropped on worker 1: one parks, the other goes home
        // through the return list.
        let third = recv_chunk(&stream).await;
        let (done, acked) = oneshot::channel();
        to_b.send((vec![second, third], done)).unwrap();
        acked.await.unwrap();
        roost::alloc::drain_returns();
        let after_full = arena.stats();
        assert!(
            after_full.returns_received > after_hit.returns_received,
            "{after_full:?}"
        );
        assert_eq!(after_full.parked_blocks, 1);
        drop(stream);
        arena.stats()
    });
    drop(client.join().unwrap());
    assert_eq!(stats.parked_bytes, 0, "closing the stream releases its slots");
}
