//! HTTP upgrades on roost's HTTP server: WebSockets through roost's
//! `WebSocketUpgrade` (the socket stays on its worker) and through axum's
//! own (its callback runs on the tokio-compat thread, the stream is relayed
//! from its worker), over HTTP/1.1, HTTP/2's extended CONNECT and TLS; a
//! `CONNECT` tunnel; an upgraded stream used and dropped on another
//! thread; the handshake's rejections; and Python's `websockets` against
//! the example.

#[path = "support/examples.rs"]
mod examples;
#[path = "support/net.rs"]
mod net;
#[path = "support/tls.rs"]
mod tls_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use futures::{SinkExt, StreamExt};
use http_body_util::{Empty, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use roost::net::http::ws::{Message, WebSocket, WebSocketUpgrade};
use roost::net::http::{self, Body, Server};
use roost::net::{tls, TcpStream};
use roost::runtime::Runtime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use tls_support::Pki;

/// Echoes text and binary messages; answers `where` with the worker it
/// runs on (`none` off a worker).
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(text) if text.as_str() == "where" => {
                Message::text(format!("{:?}", roost::runtime::current_worker()))
            }
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => return,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// Live `echo` handlers (every test's: they only wait for it to reach 0).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// `echo`, counted in [`LIVE`] while it runs.
async fn counted_echo(socket: WebSocket) {
    struct Live;
    impl Drop for Live {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
    LIVE.fetch_add(1, Ordering::SeqCst);
    let _live = Live;
    echo(socket).await;
}

/// The same over axum's socket type.
async fn axum_echo(mut socket: axum::extract::ws::WebSocket) {
    use axum::extract::ws::Message;
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(text) if text.as_str() == "where" => {
                Message::text(format!("{:?}", roost::runtime::current_worker()))
            }
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => return,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// `/ws`: roost's upgrade; `/axum`: axum's own; `/proto`: roost's, choosing
/// a subprotocol.
fn router() -> Router {
    Router::new()
        .route("/ws", any(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }))
        .route(
            "/counted",
            any(|ws: WebSocketUpgrade| async move { ws.on_upgrade(counted_echo) }),
        )
        .route(
            "/axum",
            any(|ws: axum::extract::ws::WebSocketUpgrade| async move { ws.on_upgrade(axum_echo) }),
        )
        .route(
            "/proto",
            any(|ws: WebSocketUpgrade| async move { ws.protocols(["chat.v2", "chat.v1"]).on_upgrade(echo) }),
        )
}

fn start(rt: &Runtime, builder: http::Builder) -> Server {
    let router = router();
    let make = move || TowerToHyperService::new(router.clone());
    rt.block_on(builder.serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), make))
        .expect("server")
}

/// A WebSocket client on a roost stream (plain or TLS), through
/// tokio-tungstenite's own handshake.
async fn client<S>(stream: S, url: &str) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (socket, response) = tokio_tungstenite::client_async(url, stream).await.expect("handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    socket
}

/// A WebSocket to `path` on `addr`, over a plain roost stream.
async fn connect_ws(addr: SocketAddr, path: &str) -> WebSocketStream<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    client(stream, &format!("ws://{addr}{path}")).await
}

/// An HTTP/1.1 WebSocket handshake for `path`, by hand, with RFC 6455's own
/// example key (its accept value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`).
fn raw_handshake(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
}

/// Text, binary (large enough for many reads), a ping, the worker
/// question, and a close, on one socket.
async fn exercise<S>(socket: &mut WebSocketStream<S>) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("hello"));
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    socket.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::binary(big));
    socket.send(Message::Ping(Bytes::from_static(b"p"))).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"p"))
    );
    socket.send(Message::text("where")).await.unwrap();
    let Message::Text(place) = socket.next().await.unwrap().unwrap() else {
        panic!("no answer to where");
    };
    socket.close(None).await.unwrap();
    // The server answers the close; then the stream ends.
    while let Some(next) = socket.next().await {
        if next.is_err() {
            break;
        }
    }
    place.as_str().to_owned()
}

#[test]
fn roost_websockets_stay_on_their_worker() {
    let rt = net::unpinned_runtime(2);
    let server = start(&rt, Server::builder());
    let addr = server.local_addr();
    for _ in 0..4 {
        let place = rt.block_on(async {
            let mut socket = connect_ws(addr, "/ws").await;
            exercise(&mut socket).await
        });
        assert!(place.starts_with("Some("), "the callback ran off the workers: {place}");
    }
    let report = rt.block_on(server.shutdown(Duration::from_secs(5)));
    assert_eq!(report.forced, 0);
}

#[test]
fn axums_own_websocket_upgrade_works_through_the_relay() {
    let rt = net::unpinned_runtime(2);
    let server = start(&rt, Server::builder());
    let addr = server.local_addr();
    let place = rt.block_on(async {
        let mut socket = connect_ws(addr, "/axum").await;
        exercise(&mut socket).await
    });
    // axum's callback runs in tokio::spawn: roost's tokio-compat thread.
    assert_eq!(place, "None");
}

#[test]
fn websockets_over_tls() {
    let rt = net::unpinned_runtime(2);
    let pki = Pki::new("ws");
    let cert = pki.server(&["localhost"], 1);
    let server = start(&rt, Server::builder().tls(cert.config()));
    let addr = server.local_addr();
    // roost's upgrade answers on a worker, axum's on the compat thread.
    for (path, on_worker) in [("/ws", true), ("/axum", false)] {
        let place = rt.block_on(async {
            let stream = TcpStream::connect(addr).await.unwrap();
            let stream = tls::connect(pki.client(&[b"http/1.1"]), "localhost", stream)
                .await
                .unwrap();
            let mut socket = client(stream, &format!("wss://localhost{path}")).await;
            exercise(&mut socket).await
        });
        assert_eq!(place.starts_with("Some("), on_worker, "{path}: {place}");
    }
}

#[test]
fn subprotocols_are_chosen_by_the_servers_preference() {
    let rt = net::unpinned_runtime(1);
    let server = start(&rt, Server::builder());
    let addr = server.local_addr();
    rt.block_on(async {
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/proto"
        ))
        .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "chat.v1, chat.v2".parse().unwrap());
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut socket, response) = tokio_tungstenite::client_async(request, stream).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
        socket.send(Message::text("x")).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("x"));
    });
}

/// RFC 8441: a WebSocket on an HTTP/2 stream, opened by hyper's client
/// with `CONNECT` and `:protocol websocket`; three at once on one
/// connection.
#[test]
fn websockets_over_http2_extended_connect() {
    let rt = net::unpinned_runtime(2);
    let server = start(&rt, Server::builder());
    let addr = server.local_addr();
    rt.block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http2::handshake(roost::net::hyper::RoostExecutor, stream)
            .await
            .unwrap();
        drop(roost::task::spawn_local(conn));
        let mut sockets = Vec::new();
        for path in ["/ws", "/ws", "/axum"] {
            let mut request = Request::builder()
                .method(Method::CONNECT)
                .uri(format!("http://{addr}{path}"))
                .header("sec-websocket-version", "13")
                .body(Empty::<Bytes>::new())
                .unwrap();
            request
                .extensions_mut()
                .insert(hyper::ext::Protocol::from_static("websocket"));
            let mut sender = sender.clone();
            sender.ready().await.unwrap();
            let mut response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
            sockets.push(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await);
        }
        for (i, socket) in sockets.iter_mut().enumerate() {
            socket.send(Message::text(format!("stream {i}"))).await.unwrap();
        }
        for (i, socket) in sockets.iter_mut().enumerate() {
            assert_eq!(
                socket.next().await.unwrap().unwrap(),
                Message::text(format!("stream {i}"))
            );
        }
        // roost's upgrade answers on a worker, axum's on the compat thread.
        for (socket, on_worker) in sockets.iter_mut().zip([true, true, false]) {
            socket.send(Message::text("where")).await.unwrap();
            let Message::Text(place) = socket.next().await.unwrap().unwrap() else {
                panic!("no answer to where");
            };
            assert_eq!(place.as_str().starts_with("Some("), on_worker, "{place}");
        }
    });
}

/// A plain hyper service (no axum) takes the upgrade from its request with
/// `WebSocketUpgrade::from_request`; a request that is not a handshake gets
/// the rejection's response.
#[test]
fn hyper_services_take_the_upgrade_from_the_request() {
    let rt = net::unpinned_runtime(1);
    let make = || {
        hyper::service::service_fn(|mut req: Request<Body>| async move {
            let response = match WebSocketUpgrade::from_request(&mut req) {
                Ok(upgrade) => upgrade.on_upgrade(echo).map(|_| Full::new(Bytes::new())),
                Err(rejection) => rejection.into_response(),
            };
            Ok::<_, std::convert::Infallible>(response)
        })
    };
    let server = rt
        .block_on(Server::builder().serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), make))
        .unwrap();
    let addr = server.local_addr();
    rt.block_on(async {
        let mut socket = connect_ws(addr, "/").await;
        assert!(exercise(&mut socket).await.starts_with("Some("));
    });
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert!(
        answer.ends_with("the Connection header does not name upgrade"),
        "{answer:?}"
    );
}

/// A hyper service (no axum) that tunnels `CONNECT host:port` to the
/// target over a roost stream, with `hyper::upgrade::on` awaited in a task
/// of the worker.
#[test]
fn connect_tunnels_are_served() {
    let rt = net::unpinned_runtime(2);
    let target = net::echo_server(&rt, roost::net::ListenOptions::new());
    let make = || {
        hyper::service::service_fn(|mut req: Request<Body>| async move {
            if req.method() != Method::CONNECT {
                let mut response = Response::new(Empty::<Bytes>::new());
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                return Ok::<_, std::convert::Infallible>(response);
            }
            let target: SocketAddr = req.uri().authority().unwrap().as_str().parse().unwrap();
            let upgrade = hyper::upgrade::on(&mut req);
            roost::task::spawn_local(async move {
                let mut upgraded = TokioIo::new(upgrade.await.unwrap());
                let mut target = TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut upgraded, &mut target).await;
            });
            Ok(Response::new(Empty::new()))
        })
    };
    let server = rt
        .block_on(Server::builder().serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), make))
        .unwrap();
    let mut proxy = std::net::TcpStream::connect(server.local_addr()).unwrap();
    // A failure is an error, not a hang.
    proxy.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let target = target.local_addr();
    write!(proxy, "CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n\r\n").unwrap();
    let mut reader = BufReader::new(proxy.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let writer = {
        let mut proxy = proxy.try_clone().unwrap();
        let payload = payload.clone();
        std::thread::spawn(move || proxy.write_all(&payload).unwrap())
    };
    let mut echoed = vec![0; payload.len()];
    reader.read_exact(&mut echoed).unwrap();
    writer.join().unwrap();
    assert!(echoed == payload, "the tunnel changed the bytes");
    proxy.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// An upgraded stream handed to a plain thread: it is written there (through
/// the relay to its worker) and dropped there (sent home and closed).
#[test]
fn upgraded_streams_work_and_close_from_other_threads() {
    let rt = net::unpinned_runtime(1);
    let make = || {
        hyper::service::service_fn(|mut req: Request<Body>| async move {
            let upgrade = hyper::upgrade::on(&mut req);
            roost::task::spawn_local(async move {
                let upgraded = upgrade.await.unwrap();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    rt.block_on(async move {
                        let mut io = TokioIo::new(upgraded);
                        let mut hello = [0; 5];
                        io.read_exact(&mut hello).await.unwrap();
                        io.write_all(b"from a thread: ").await.unwrap();
                        io.write_all(&hello).await.unwrap();
                        io.flush().await.unwrap();
                    });
                    // Dropped here, on this thread.
                });
            });
            let mut response = Response::new(Empty::<Bytes>::new());
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            response.headers_mut().insert("upgrade", "test".parse().unwrap());
            response.headers_mut().insert("connection", "upgrade".parse().unwrap());
            Ok::<_, std::convert::Infallible>(response)
        })
    };
    let server = rt
        .block_on(Server::builder().serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), make))
        .unwrap();
    let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: test\r\n\r\nhello")
        .unwrap();
    let mut all = Vec::new();
    // Ends only if the stream was closed after the thread dropped it.
    stream.read_to_end(&mut all).unwrap();
    let all = String::from_utf8(all).unwrap();
    assert!(all.starts_with("HTTP/1.1 101"), "{all:?}");
    assert!(all.ends_with("\r\n\r\nfrom a thread: hello"), "{all:?}");
}

/// Requests to a WebSocket route that are not handshakes get a status
/// that says what is wrong, and the connection goes on.
#[test]
fn bad_handshakes_are_answered_with_their_status() {
    let rt = net::unpinned_runtime(1);
    let server = start(&rt, Server::builder());
    let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let cases: [(&str, &str, u16); 5] = [
        ("GET", "", 400),
        ("GET", "connection: upgrade\r\nupgrade: h2c\r\n", 400),
        ("GET", "connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n", 400),
        (
            "GET",
            "connection: keep-alive, Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 8\r\n",
            426,
        ),
        ("POST", "connection: upgrade\r\nupgrade: websocket\r\ncontent-length: 0\r\n", 405),
    ];
    for (method, headers, status) in cases {
        write!(stream, "{method} /ws HTTP/1.1\r\nhost: x\r\n{headers}\r\n").unwrap();
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            head.push(line.to_ascii_lowercase());
        }
        assert!(
            head[0].starts_with(&format!("http/1.1 {status}")),
            "{headers:?}: {head:?}"
        );
        if status == 426 {
            assert!(head.contains(&"sec-websocket-version: 13\r\n".to_owned()), "{head:?}");
        }
        let length: usize = head
            .iter()
            .find_map(|h| h.strip_prefix("content-length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert!(!body.is_empty());
    }
    // And a real handshake on the same connection still works.
    stream.write_all(raw_handshake("/ws").as_bytes()).unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status:?}");
    let mut head = String::new();
    while head != "\r\n" {
        head.clear();
        reader.read_line(&mut head).unwrap();
        // RFC 6455's own example key and answer.
        if head.to_ascii_lowercase().starts_with("sec-websocket-accept") {
            assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head:?}");
        }
    }
}

/// Clients that vanish in the middle of a message (a reset after half of a
/// 1 MiB frame), or right after the handshake: each handler ends, and the
/// server goes on answering.
#[test]
fn vanished_clients_end_their_handlers() {
    let rt = net::unpinned_runtime(2);
    let server = start(&rt, Server::builder());
    let addr = server.local_addr();
    for cut in [0usize, 10, 512 * 1024] {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream.write_all(raw_handshake("/counted").as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 101"), "{line:?}");
        while line != "\r\n" {
            line.clear();
            reader.read_line(&mut line).unwrap();
        }
        net::eventually("the handler started", || LIVE.load(Ordering::SeqCst) == 1);
        if cut > 0 {
            // A masked binary frame announcing 1 MiB, cut after `cut` bytes.
            let mut frame = vec![0x82, 0x80 | 127];
            frame.extend_from_slice(&(1u64 << 20).to_be_bytes());
            frame.extend_from_slice(&[1, 2, 3, 4]);
            frame.resize(frame.len() + cut, 0x5a);
            stream.write_all(&frame).unwrap();
        }
        // A reset, not a FIN.
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop((stream, reader));
        net::eventually("the handler ended", || LIVE.load(Ordering::SeqCst) == 0);
    }
    rt.block_on(async {
        let mut socket = connect_ws(addr, "/ws").await;
        socket.send(Message::text("after")).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("after"));
    });
}

/// A server shuts down with WebSockets open: upgraded connections are no
/// longer the server's, so its drain neither waits for nor counts them,
/// and they go on.
#[test]
fn shutdown_does_not_wait_for_upgraded_connections() {
    let rt = net::unpinned_runtime(1);
    let server = start(&rt, Server::builder());
    let addr = server.local_addr();
    rt.block_on(async {
        let mut socket = connect_ws(addr, "/ws").await;
        let report = server.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.forced, 0);
        socket.send(Message::text("still here")).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("still here"));
    });
}

/// Python's `websockets` (Debian's python3-websockets), a client nobody on
/// the team wrote, against `examples/axum.rs`'s `/ws`
/// (`support/websockets_client.py`): 1,000 text and binary messages up to
/// 1 MiB echoed in order, a ping, a close handshake, and a client that
/// vanishes in the middle of a message, after which the server answers.
#[test]
fn python_websockets_against_the_example() {
    let python = examples::system_python();
    if !examples::client_available(python, &["-c", "import websockets"]) {
        return;
    }
    let example = examples::start("axum", &["127.0.0.1:0"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/websockets_client.py");
    let output = Command::new(python)
        .args([script, &format!("ws://{}/ws", example.addr)])
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stdout == b"ok\n",
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
