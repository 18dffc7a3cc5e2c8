//! ToSocketAddrs on real sockets: host names in connect and bind (resolved
//! on the blocking pool), every address tried in order, and the errors for
//! names that do not resolve, malformed strings and empty address lists.

#[path = "support/net.rs"]
mod support;

use std::io::ErrorKind;
use std::net::SocketAddr;

use roost::net::{lookup_host, TcpListener, TcpStream, UdpSocket};

/// A name that never resolves (RFC 6761 reserves `.invalid`).
const UNRESOLVABLE: &str = "no-such-host.invalid";

/// A loopback port with nobody listening.
fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[roost::test]
async fn connect_by_host_name_reaches_the_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let by_tuple = TcpStream::connect(("localhost", port)).await.unwrap();
    let by_string = TcpStream::connect(format!("localhost:{port}")).await.unwrap();
    let text = format!("localhost:{port}");
    let by_str = TcpStream::connect(text.as_str()).await.unwrap();
    let by_owned_tuple = TcpStream::connect((String::from("localhost"), port)).await.unwrap();
    for client in [by_tuple, by_string, by_str, by_owned_tuple] {
        let (served, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(served.local_addr().unwrap().port(), port);
    }
}

#[roost::test]
async fn bind_takes_strings_tuples_and_names() {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    assert!(tcp.local_addr().unwrap().ip().is_loopback());
    let by_name = TcpListener::bind(("localhost", 0)).await.unwrap();
    assert!(by_name.local_addr().unwrap().ip().is_loopback());
    let udp = UdpSocket::bind(String::from("127.0.0.1:0")).await.unwrap();
    assert!(udp.local_addr().unwrap().ip().is_loopback());
    let udp_by_name = UdpSocket::bind("localhost:0").await.unwrap();
    assert!(udp_by_name.local_addr().unwrap().ip().is_loopback());
    // send_to resolves its target too.
    let port = udp.local_addr().unwrap().port();
    udp_by_name.send_to(b"by name", ("localhost", port)).await.unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = udp.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"by name"[..], udp_by_name.local_addr().unwrap()));
}

#[roost::test]
async fn connect_tries_each_address_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    let client = TcpStream::connect(&[closed_port(), open][..]).await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), open);
    // None connects: the last error is returned.
    let err = TcpStream::connect(&[closed_port(), closed_port()][..])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[roost::test]
async fn a_name_that_does_not_resolve_is_an_error() {
    let err = TcpStream::connect((UNRESOLVABLE, 80)).await.unwrap_err();
    assert!(err.to_string().contains(UNRESOLVABLE), "{err}");
    let err = TcpListener::bind(format!("{UNRESOLVABLE}:0")).await.unwrap_err();
    assert!(err.to_string().contains(UNRESOLVABLE), "{err}");
    let err = UdpSocket::bind((UNRESOLVABLE, 0)).await.unwrap_err();
    assert!(err.to_string().contains(UNRESOLVABLE), "{err}");
    assert!(lookup_host((UNRESOLVABLE, 1)).await.is_err());
    // The worker goes on: the next connection by name works.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    TcpStream::connect(("localhost", port)).await.unwrap();
}

#[roost::test]
async fn malformed_and_empty_addresses_are_invalid_input() {
    for bad in ["localhost", "localhost:http", "127.0.0.1:65536", ""] {
        let err = TcpStream::connect(bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
    }
    let none: &[SocketAddr] = &[];
    let err = TcpStream::connect(none).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "could not resolve to any address");
    assert_eq!(
        TcpListener::bind(none).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(
        socket.send_to(b"x", none).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[roost::test]
async fn lookup_host_gives_literals_inline_and_names_resolved() {
    let literal: Vec<_> = lookup_host("[::1]:8080").await.unwrap().collect();
    assert_eq!(literal, ["[::1]:8080".parse::<SocketAddr>().unwrap()]);
    let named: Vec<_> = lookup_host(("localhost", 8080)).await.unwrap().collect();
    assert!(!named.is_empty());
    assert!(
        named.iter().all(|a| a.ip().is_loopback() && a.port() == 8080),
        "{named:?}"
    );
}

#[test]
fn outside_a_roost_runtime_a_name_is_an_error_not_a_panic() {
    let tokio_rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = tokio_rt
        .block_on(lookup_host(("localhost", 80)))
        .err()
        .expect("no roost runtime");
    assert_eq!(err.kind(), ErrorKind::Other);
    // Literals need no pool.
    let literal: Vec<_> = tokio_rt.block_on(lookup_host("127.0.0.1:80")).unwrap().collect();
    assert_eq!(literal, ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
}
