//! HTTPS and gRPC over TLS on roost's servers (`Builder::tls`), with
//! roost's TLS client and hyper's, on real sockets: ALPN, large bodies over
//! both HTTP versions, the handshake timeout, garbage and failed
//! handshakes (counted, the rest unharmed), a certificate replaced while
//! serving, SNI, and `close_notify` at graceful shutdown.

#[path = "support/grpc.rs"]
mod grpc;
#[path = "support/http.rs"]
mod http;
#[path = "support/tls.rs"]
mod tls_support;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use roost::net::http::Server;
use roost::net::tls::{self, rustls, CertResolver, ClientTlsStream};
use roost::net::TcpStream;

use http::{blocking, Controls};
use tls_support::Pki;

/// A TLS connection to `addr` as `name`, offering `alpn`.
async fn connect(
    pki: &Pki,
    addr: SocketAddr,
    name: &str,
    alpn: &[&[u8]],
) -> std::io::Result<ClientTlsStream<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    tls::connect(pki.client(alpn), name, stream).await
}

/// A request with a body, to `https://localhost{path}`.
fn request(method: Method, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .body(Full::new(body.into()))
        .unwrap()
}

/// A body of `len` bytes that is not all the same.
fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>().into()
}

async fn https_server(pki: &Pki) -> Server {
    let cert = pki.server(&["localhost", "127.0.0.1"], 1);
    let builder = Server::builder().tls(cert.config()).max_body_size(16 << 20);
    http::start(builder, Controls::new(1)).await
}

/// Whether `got` is `want`, byte for byte (without printing megabytes).
fn same(got: &[u8], want: &[u8]) -> bool {
    got.len() == want.len() && got == want
}

#[roost::test(worker_threads = 2)]
async fn alpn_chooses_http2_or_http1_and_ten_megabytes_echo_over_both() {
    let pki = Pki::new("alpn");
    let server = https_server(&pki).await;
    let addr = server.local_addr();
    let big = pattern(10 * 1024 * 1024);

    // h2 by ALPN.
    let stream = connect(&pki, addr, "localhost", &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // roost's provider puts X25519 first (ring's P-384 is several times
    // slower per handshake: tls::provider).
    let group = stream.get_ref().1.negotiated_key_exchange_group().map(|g| g.name());
    assert_eq!(group, Some(rustls::NamedGroup::X25519));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(roost::net::hyper::RoostExecutor, hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    drop(roost::spawn(conn));
    let res = sender
        .send_request(request(Method::POST, "/echo", big.clone()))
        .await
        .unwrap();
    assert_eq!((res.version(), res.status()), (hyper::Version::HTTP_2, StatusCode::OK));
    let echoed = res.into_body().collect().await.unwrap().to_bytes();
    assert!(same(&echoed, &big), "h2: {} bytes back of {}", echoed.len(), big.len());

    // HTTP/1.1 by ALPN.
    let stream = connect(&pki, addr, "localhost", &[b"http/1.1"]).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    drop(roost::spawn(conn));
    let mut req = request(Method::POST, "/echo", big.clone());
    req.headers_mut().insert("host", "localhost".parse().unwrap());
    let res = sender.send_request(req).await.unwrap();
    assert_eq!((res.version(), res.status()), (hyper::Version::HTTP_11, StatusCode::OK));
    let echoed = res.into_body().collect().await.unwrap().to_bytes();
    assert!(
        same(&echoed, &big),
        "http/1.1: {} bytes back of {}",
        echoed.len(),
        big.len()
    );

    assert_eq!(server.tls_handshake_failures(), 0);
    assert_eq!(server.shutdown(Duration::from_secs(5)).await.forced, 0);
}

#[roost::test(worker_threads = 2)]
async fn a_client_that_never_says_hello_is_closed_at_the_handshake_timeout() {
    let pki = Pki::new("silent");
    let cert = pki.server(&["localhost"], 1);
    // The timeout set before the configuration: the order does not matter.
    let builder = Server::builder()
        .tls_handshake_timeout(Duration::from_millis(300))
        .tls(cert.config());
    let server = http::start(builder, Controls::new(1)).await;
    let addr = server.local_addr();
    // Connects and sends nothing: closed by the server (a read ends), and
    // counted. The client gives up after 5 s, half the default timeout and
    // 16 times the one set: a server that dropped the setting (and waited
    // the default 10 s) fails here, one that honours it passes with room.
    let closed = blocking(move || {
        let mut peer = std::net::TcpStream::connect(addr).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).map(|_| rest.len())
    })
    .await;
    assert!(closed.is_ok(), "not closed: {closed:?}");
    until(|| server.tls_handshake_failures() == 1).await;
    server.shutdown(Duration::from_secs(5)).await;
}

/// Waits (on roost's clock, 20 s at most) until `what` holds.
async fn until(what: impl Fn() -> bool) {
    for _ in 0..2000 {
        if what() {
            return;
        }
        roost::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not there after 20 s");
}

/// The certificate the server showed on `stream` (DER).
fn cert_seen(stream: &ClientTlsStream<TcpStream>) -> Vec<u8> {
    let der = stream.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    der
}

#[roost::test(worker_threads = 2)]
async fn a_replaced_certificate_serves_new_connections_and_open_ones_keep_working() {
    let pki = Pki::new("replace");
    let first = pki.server(&["localhost"], 1);
    let second = pki.server(&["localhost"], 2);
    let resolver = Arc::new(CertResolver::new(
        tls::certified_key(first.chain.clone(), first.key.clone_key()).unwrap(),
    ));
    let config = tls::server_config_with_resolver(resolver.clone()).unwrap();
    let server = http::start(Server::builder().tls(config), Controls::new(1)).await;
    let addr = server.local_addr();

    let old = connect(&pki, addr, "localhost", &[b"h2"]).await.unwrap();
    assert_eq!(cert_seen(&old), first.chain[0].to_vec());
    let (mut old_sender, conn) =
        hyper::client::conn::http2::handshake(roost::net::hyper::RoostExecutor, hyper_util::rt::TokioIo::new(old))
            .await
            .unwrap();
    drop(roost::spawn(conn));

    resolver.replace(tls::certified_key(second.chain.clone(), second.key.clone_key()).unwrap());
    let new = connect(&pki, addr, "localhost", &[b"h2"]).await.unwrap();
    assert_eq!(cert_seen(&new), second.chain[0].to_vec());

    // The connection made before the replacement still serves.
    let res = old_sender
        .send_request(request(Method::GET, "/", Bytes::new()))
        .await
        .unwrap();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "Hello, world!");
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn sni_picks_the_certificate_of_the_name_asked_for() {
    let pki = Pki::new("sni");
    let a = pki.server(&["a.test"], 10);
    let b = pki.server(&["b.test"], 11);
    let mut sni = rustls::server::ResolvesServerCertUsingSni::new();
    sni.add(
        "a.test",
        tls::certified_key(a.chain.clone(), a.key.clone_key()).unwrap(),
    )
    .unwrap();
    sni.add(
        "b.test",
        tls::certified_key(b.chain.clone(), b.key.clone_key()).unwrap(),
    )
    .unwrap();
    let config = tls::server_config_with_resolver(Arc::new(sni)).unwrap();
    let server = http::start(Server::builder().tls(config), Controls::new(1)).await;
    let addr = server.local_addr();
    for (name, cert) in [("a.test", &a), ("b.test", &b)] {
        let stream = connect(&pki, addr, name, &[b"http/1.1"]).await.unwrap();
        assert_eq!(cert_seen(&stream), cert.chain[0].to_vec(), "{name}");
    }
    // A name the server has no certificate for fails the handshake.
    assert!(connect(&pki, addr, "c.test", &[b"http/1.1"]).await.is_err());
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn graceful_shutdown_ends_tls_connections_with_close_notify() {
    use tokio::io::AsyncReadExt;

    let pki = Pki::new("notify");
    let server = Arc::new(https_server(&pki).await);
    // An idle HTTP/1.1 keep-alive connection after one request.
    let mut stream = connect(&pki, server.local_addr(), "localhost", &[b"http/1.1"])
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0; 4096];
    let n = stream.read(&mut head).await.unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    let stopper = server.clone();
    let stopped = roost::spawn(async move { stopper.shutdown(Duration::from_secs(10)).await });
    // rustls reports a close without close_notify as UnexpectedEof; a
    // clean end of stream means the server sent it.
    let mut rest = Vec::new();
    let end = stream.read_to_end(&mut rest).await;
    assert!(end.is_ok(), "no close_notify: {end:?}");
    assert_eq!(stopped.await.unwrap().forced, 0);
}

#[roost::test(worker_threads = 2)]
async fn grpc_over_tls_with_roosts_channel() {
    use roost::net::grpc::{Channel, Server as GrpcServer};

    let pki = Pki::new("grpc");
    let cert = pki.server(&["localhost"], 1);
    let server = GrpcServer::builder()
        .tls(cert.config())
        .serve(
            &roost::runtime::Handle::current(),
            "127.0.0.1:0".parse().unwrap(),
            || roost_proto::echo_server::EchoServer::new(grpc::Probe::default()),
        )
        .await
        .unwrap();
    let uri = format!("https://localhost:{}", server.local_addr().port());
    let channel = Channel::builder(uri.parse().unwrap())
        .tls(pki.client(&[]))
        .build()
        .unwrap();
    let mut client = roost_proto::echo_client::EchoClient::new(channel);
    assert_eq!(grpc::unary(&mut client, "over tls").await.unwrap(), "over tls");
    let echoes = client.server_streaming_echo(grpc::req("s")).await.unwrap().into_inner();
    assert_eq!(grpc::messages(echoes).await, vec!["s"; 10]);

    // A channel that does not trust the server's CA fails with UNAVAILABLE.
    let stranger = Pki::new("grpc-stranger");
    let channel = Channel::builder(uri.parse().unwrap())
        .tls(stranger.client(&[]))
        .build()
        .unwrap();
    let mut client = roost_proto::echo_client::EchoClient::new(channel);
    let status = grpc::unary(&mut client, "x").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    server.shutdown(Duration::from_secs(5)).await;
}
