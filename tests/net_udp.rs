//! UdpSocket on real loopback sockets: echo, send_to/recv_from between two
//! sockets, connected send/recv, truncation (silent on borrowed slices as
//! recvfrom's, reported by the owned arena receive), the poll_* forms,
//! options, and moving a socket between workers.

#[path = "support/net.rs"]
mod support;

use std::future::poll_fn;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;

use roost::net::{TruncatedDatagram, UdpSocket};
use tokio::io::ReadBuf;

async fn pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (a, b)
}

#[roost::test]
async fn echo_server_answers_each_datagram() {
    let server = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = server.local_addr().unwrap();
    let echo = roost::runtime::spawn_local({
        let server = server.clone();
        async move {
            let mut buf = [0u8; 1500];
            loop {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                server.send_to(&buf[..n], from).await.unwrap();
            }
        }
    });
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = support::Rng::new(7);
    let mut back = [0u8; 1500];
    for i in 0..200u32 {
        let len = rng.range(1, 1400);
        let mut datagram = vec![0u8; len];
        support::ByteStream::new(u64::from(i)).fill(&mut datagram);
        assert_eq!(client.send_to(&datagram, addr).await.unwrap(), len);
        let (n, from) = client.recv_from(&mut back).await.unwrap();
        assert_eq!(from, addr);
        assert_eq!(&back[..n], &datagram[..], "datagram {i}");
    }
    client.send_to(&[], addr).await.unwrap();
    echo.await.unwrap();
}

#[roost::test]
async fn send_to_and_recv_from_name_both_ends() {
    let (a, b) = pair().await;
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    // Every literal form of ToSocketAddrs reaches the same socket.
    a.send_to(b"one", b_addr).await.unwrap();
    a.send_to(b"two", ("127.0.0.1", b_addr.port())).await.unwrap();
    a.send_to(b"three", format!("127.0.0.1:{}", b_addr.port()))
        .await
        .unwrap();
    a.send_to(b"four", &[b_addr][..]).await.unwrap();
    let mut buf = [0u8; 16];
    for expect in [&b"one"[..], b"two", b"three", b"four"] {
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (expect, a_addr));
    }
    // A burst queued before the receiver looks: every datagram arrives,
    // in order (readiness is kept until the queue is empty).
    for i in 0..32u8 {
        b.send_to(&[i; 8], a_addr).await.unwrap();
    }
    for i in 0..32u8 {
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&[i; 8][..], b_addr));
    }
}

#[roost::test]
async fn connected_sockets_send_and_recv_and_ignore_strangers() {
    let (a, b) = pair().await;
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(a.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

    // The kernel drops the stranger's datagram: b is connected to a.
    stranger.send_to(b"not for you", b.local_addr().unwrap()).await.unwrap();
    assert_eq!(a.send(b"ping").await.unwrap(), 4);
    let mut buf = [0u8; 16];
    let n = b.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ping");
    b.send(b"pong").await.unwrap();
    let n = a.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"pong");
}

#[roost::test]
async fn a_connected_socket_reports_a_closed_port_as_an_error() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(closed).await.unwrap();
    socket.send(b"anyone?").await.unwrap();
    let mut buf = [0u8; 16];
    let err = socket.recv(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[roost::test]
async fn borrowed_receives_truncate_as_recvfrom_does() {
    let (a, b) = pair().await;
    let b_addr = b.local_addr().unwrap();
    a.send_to(&[1u8; 100], b_addr).await.unwrap();
    a.send_to(&[2u8; 10], b_addr).await.unwrap();
    let mut small = [0u8; 40];
    let (n, _) = b.peek_from(&mut small).await.unwrap();
    assert_eq!(&small[..n], &[1u8; 40][..]);
    let (n, _) = b.recv_from(&mut small).await.unwrap();
    assert_eq!(&small[..n], &[1u8; 40][..], "cut to the buffer, the rest discarded");
    let (n, _) = b.recv_from(&mut small).await.unwrap();
    assert_eq!(&small[..n], &[2u8; 10][..], "the next datagram is whole");
}

#[roost::test]
async fn the_owned_receive_fills_an_arena_buffer() {
    let (a, b) = pair().await;
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    a.send_to(b"into the arena", b_addr).await.unwrap();
    let (datagram, from) = b.recv_buf_from(1024).await.unwrap();
    assert_eq!((&datagram[..], from), (&b"into the arena"[..], a_addr));
    assert!(datagram.capacity() >= 1024);
    assert!(datagram.is_home() && !datagram.is_global());

    // Dropped on another thread, the buffer parks in the socket's slot
    // and the next receive on this worker takes the same block back.
    let block = datagram.as_ptr() as usize;
    std::thread::spawn(move || drop(datagram)).join().unwrap();
    a.send_to(b"again", b_addr).await.unwrap();
    let (again, _) = b.recv_buf_from(1024).await.unwrap();
    assert_eq!(&again[..], b"again");
    assert_eq!(again.as_ptr() as usize, block, "the parked block is reused");

    // Connected form; an empty datagram is an empty buffer, not an end.
    b.connect(a_addr).await.unwrap();
    a.send_to(&[], b_addr).await.unwrap();
    assert!(b.recv_buf(64).await.unwrap().is_empty());
}

#[roost::test]
async fn a_truncated_datagram_is_a_clear_error_and_the_socket_goes_on() {
    let (a, b) = pair().await;
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    a.send_to(&[9u8; 3000], b_addr).await.unwrap();
    a.send_to(b"fits", b_addr).await.unwrap();

    let err = b.recv_buf_from(512).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let truncated = *TruncatedDatagram::of(&err).expect("the error carries the sizes");
    assert_eq!(truncated.from, a_addr);
    assert!(truncated.capacity >= 512 && truncated.capacity < 3000);
    if cfg!(target_os = "linux") {
        assert_eq!(truncated.len, Some(3000));
        let message = err.to_string();
        assert!(
            message.contains("3000") && message.contains(&truncated.capacity.to_string()),
            "{message}"
        );
    }

    let (datagram, _) = b.recv_buf_from(512).await.unwrap();
    assert_eq!(&datagram[..], b"fits");
}

#[roost::test]
async fn poll_forms_work_for_framed_code() {
    let (a, b) = pair().await;
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let n = poll_fn(|cx| a.poll_send_to(cx, b"framed", b_addr)).await.unwrap();
    assert_eq!(n, 6);

    let mut storage = [0u8; 64];
    let mut buf = ReadBuf::new(&mut storage);
    buf.put_slice(b">");
    let from = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
    assert_eq!((buf.filled(), from), (&b">framed"[..], a_addr));

    a.connect(b_addr).await.unwrap();
    b.connect(a_addr).await.unwrap();
    poll_fn(|cx| b.poll_send(cx, b"back")).await.unwrap();
    let mut storage = [0u8; 64];
    let mut buf = ReadBuf::new(&mut storage);
    poll_fn(|cx| a.poll_recv(cx, &mut buf)).await.unwrap();
    assert_eq!(buf.filled(), b"back");
}

#[roost::test]
async fn options_round_trip() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.set_broadcast(true).unwrap();
    assert!(socket.broadcast().unwrap());
    socket.set_broadcast(false).unwrap();
    assert!(!socket.broadcast().unwrap());
    socket.set_ttl(17).unwrap();
    assert_eq!(socket.ttl().unwrap(), 17);
    assert!(socket.take_error().unwrap().is_none());
    assert!(format!("{socket:?}").contains("UdpSocket"));
}

#[roost::test]
async fn binding_a_taken_address_is_addr_in_use() {
    let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let err = UdpSocket::bind(taken.local_addr().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let none: &[SocketAddr] = &[];
    let err = UdpSocket::bind(none).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[roost::test(worker_threads = 2)]
async fn a_socket_moves_between_workers_explicitly() {
    let (a, peer) = pair().await;
    let (std_socket, peer) = (a.into_std().unwrap(), peer.into_std().unwrap());
    let peer_addr = peer.local_addr().unwrap();
    let sent_from = roost::runtime::spawn_on(1, async move {
        roost::runtime::spawn_local(async move {
            assert_eq!(roost::runtime::current_worker(), Some(1));
            let socket = UdpSocket::from_std(std_socket).unwrap();
            socket.send_to(b"from worker 1", peer_addr).await.unwrap();
            socket.local_addr().unwrap()
        })
        .await
        .unwrap()
    })
    .await
    .unwrap();
    // Back on worker 0, as a roost socket again.
    let peer = UdpSocket::from_std(peer).unwrap();
    let mut buf = [0u8; 32];
    let (n, from) = peer.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"from worker 1"[..], sent_from));
}
