//! roost's per-core HTTP server (`roost::net::http`) on real sockets:
//! keep-alive and pipelining, chunked bodies, HTTP/2 concurrency, the
//! header timeout, the body limit, graceful shutdown, and hyper's client
//! connections on roost against it.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use std::io::{BufReader, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::{Method, StatusCode};
use roost::net::http::Server;
use roost::net::TcpStream;

use http::{blocking, raw_client, read_response, read_until_closed, Controls};

#[roost::test(worker_threads = 2)]
async fn pipelined_requests_on_one_keep_alive_connection_are_answered_in_order() {
    let server = http::start(Server::builder(), Controls::new(1)).await;
    let addr = server.local_addr();
    blocking(move || {
        let mut stream = raw_client(addr);
        // Five requests in one write: hyper must answer them one by one,
        // in order, on the same connection.
        let mut requests = Vec::new();
        requests.extend_from_slice(b"GET / HTTP/1.1\r\nhost: roost\r\n\r\n");
        requests.extend_from_slice(b"POST /echo HTTP/1.1\r\nhost: roost\r\ncontent-length: 5\r\n\r\nfirst");
        requests.extend_from_slice(b"GET /missing HTTP/1.1\r\nhost: roost\r\n\r\n");
        requests.extend_from_slice(b"POST /echo HTTP/1.1\r\nhost: roost\r\ncontent-length: 6\r\n\r\nsecond");
        requests.extend_from_slice(b"GET / HTTP/1.1\r\nhost: roost\r\nconnection: close\r\n\r\n");
        stream.write_all(&requests).unwrap();
        let mut reader = BufReader::new(stream);
        let expected: [(u16, &[u8]); 5] = [
            (200, b"Hello, world!"),
            (200, b"first"),
            (404, b""),
            (200, b"second"),
            (200, b"Hello, world!"),
        ];
        for (i, (status, body)) in expected.into_iter().enumerate() {
            let res = read_response(&mut reader)
                .unwrap()
                .unwrap_or_else(|| panic!("response {i} missing"));
            assert_eq!((res.status, res.body.as_slice()), (status, body), "response {i}");
        }
        // `connection: close` on the last one: the server closes.
        assert!(read_response(&mut reader).unwrap().is_none());
    })
    .await;
    assert_eq!(server.accepted(), 1, "all five on one connection");
}

#[roost::test(worker_threads = 2)]
async fn chunked_request_and_response_bodies_round_trip_byte_for_byte() {
    let server = http::start(Server::builder(), Controls::new(1)).await;
    let addr = server.local_addr();
    blocking(move || {
        let mut rng = net::Rng::new(9);
        let data: Vec<u8> = (0..1_000_000).map(|_| rng.next_u64() as u8).collect();
        let stream = raw_client(addr);
        let mut writer = stream.try_clone().unwrap();
        let sent = data.clone();
        // Written on its own thread while this one reads the echo, so that
        // neither direction's socket buffer can stall the other.
        let sender = std::thread::spawn(move || {
            writer
                .write_all(
                    b"POST /echo HTTP/1.1\r\nhost: roost\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .unwrap();
            let mut rng = net::Rng::new(10);
            let mut rest = &sent[..];
            while !rest.is_empty() {
                let n = rng.range(1, 40_000).min(rest.len());
                write!(writer, "{n:x}\r\n").unwrap();
                writer.write_all(&rest[..n]).unwrap();
                writer.write_all(b"\r\n").unwrap();
                rest = &rest[n..];
            }
            writer.write_all(b"0\r\n\r\n").unwrap();
        });
        let res = read_response(&mut BufReader::new(stream)).unwrap().expect("a response");
        sender.join().unwrap();
        assert_eq!(res.status, 200);
        assert!(res.chunked, "a streamed echo of a chunked body goes back chunked");
        assert!(res.body == data, "{} bytes back of {}", res.body.len(), data.len());
    })
    .await;
}

#[roost::test(worker_threads = 2)]
async fn a_hundred_concurrent_http2_streams_on_one_connection() {
    // `/gate` answers only once 100 requests are in at the same time, so
    // this passes only if all 100 streams are open concurrently.
    let server = http::start(Server::builder(), Controls::new(100)).await;
    let sender = http::h2_client(server.local_addr()).await;
    let streams: Vec<_> = (0..100)
        .map(|_| {
            let mut sender = sender.clone();
            roost::spawn(async move {
                http::collect(sender.send_request(http::request(Method::GET, "/gate", "")).await).await
            })
        })
        .collect();
    for stream in streams {
        let (status, body) = stream.await.unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"through"[..]));
    }
    assert_eq!(server.accepted(), 1, "one connection for all streams");
}

#[roost::test(worker_threads = 2)]
async fn hyper_clients_over_http1_and_http2_against_the_server() {
    let server = http::start(Server::builder(), Controls::new(1)).await;
    let addr = server.local_addr();
    let mut h1 = http::h1_client(addr).await;
    let mut h2 = http::h2_client(addr).await;
    for round in 0..3 {
        let body = format!("round {round}");
        let (status, got) = http::collect(
            h1.send_request(http::request(Method::POST, "/echo", body.clone()))
                .await,
        )
        .await;
        assert_eq!((status, &got[..]), (StatusCode::OK, body.as_bytes()), "h1");
        let (status, got) = http::collect(
            h2.send_request(http::request(Method::POST, "/echo", body.clone()))
                .await,
        )
        .await;
        assert_eq!((status, &got[..]), (StatusCode::OK, body.as_bytes()), "h2");
    }
    let (status, got) = http::collect(h2.send_request(http::request(Method::GET, "/", "")).await).await;
    assert_eq!((status, &got[..]), (StatusCode::OK, &b"Hello, world!"[..]));
    assert_eq!(server.accepted(), 2, "keep-alive: one connection per client");
}

#[roost::test(worker_threads = 1)]
async fn a_slow_client_is_closed_by_the_header_timeout_while_others_are_served() {
    let builder = Server::builder().header_read_timeout(Duration::from_millis(300));
    let server = http::start(builder, Controls::new(1)).await;
    let addr = server.local_addr();
    blocking(move || {
        // Half a request head; nothing at all; half of the HTTP/2 preface.
        let mut half_head = raw_client(addr);
        half_head.write_all(b"GET / HTTP/1.1\r\nhost: roost\r\n").unwrap();
        let mut silent = raw_client(addr);
        let mut half_preface = raw_client(addr);
        half_preface.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
        // Meanwhile another client is served, on the same (only) worker.
        let res = http::get_hello(addr);
        assert_eq!((res.status, res.body.as_slice()), (200, &b"Hello, world!"[..]));
        // The slow ones are closed (hyper closes without a 408; one would
        // be fine too).
        let answer = read_until_closed(&mut half_head);
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
        assert!(read_until_closed(&mut silent).is_empty());
        assert!(read_until_closed(&mut half_preface).is_empty());
    })
    .await;
    net::eventually("the slow connections are gone", || server.connections() == 0);
    assert_eq!(server.shutdown(Duration::from_secs(60)).await.forced, 0);
}

#[roost::test(worker_threads = 2)]
async fn a_body_over_the_limit_gets_413_with_a_length_or_chunked() {
    let server = http::start(Server::builder().max_body_size(1024), Controls::new(1)).await;
    let addr = server.local_addr();
    blocking(move || {
        // Content-Length over the limit: 413 before the body is read.
        let mut stream = raw_client(addr);
        stream
            .write_all(b"POST /collect HTTP/1.1\r\nhost: roost\r\ncontent-length: 4096\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream);
        let res = read_response(&mut reader).unwrap().expect("a response");
        assert_eq!(res.status, 413);
        assert_eq!(res.headers.get("connection").map(String::as_str), Some("close"));
        assert!(read_until_closed(&mut reader).is_empty(), "closed after the 413");

        // Chunked, growing past the limit: 413 once it does.
        let mut stream = raw_client(addr);
        stream
            .write_all(b"POST /collect HTTP/1.1\r\nhost: roost\r\ntransfer-encoding: chunked\r\n\r\n")
            .unwrap();
        // The server answers and closes once the body passes the limit,
        // so the rest of the writes may meet EPIPE or a reset (the answer
        // is in the socket already, and is read first).
        let chunks = (0..8).flat_map(|_| [&b"200\r\n"[..], &[b'x'; 512][..], &b"\r\n"[..]]);
        for part in chunks.chain([&b"0\r\n\r\n"[..]]) {
            if stream.write_all(part).is_err() {
                break;
            }
        }
        let mut reader = BufReader::new(stream);
        let res = read_response(&mut reader).unwrap().expect("a response");
        assert_eq!(res.status, 413);
        read_until_closed(&mut reader);

        // At the limit exactly: served.
        let mut stream = raw_client(addr);
        stream
            .write_all(b"POST /collect HTTP/1.1\r\nhost: roost\r\ncontent-length: 1024\r\nconnection: close\r\n\r\n")
            .unwrap();
        stream.write_all(&[b'y'; 1024]).unwrap();
        let res = read_response(&mut BufReader::new(stream)).unwrap().expect("a response");
        assert_eq!((res.status, res.body.as_slice()), (200, &b"1024"[..]));
    })
    .await;

    // HTTP/2: the stream gets 413, the connection goes on.
    let mut h2 = http::h2_client(addr).await;
    let (status, _) = http::collect(
        h2.send_request(http::request(Method::POST, "/collect", vec![b'z'; 4096]))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = http::collect(h2.send_request(http::request(Method::GET, "/", "")).await).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"Hello, world!"[..]));
}

#[roost::test(worker_threads = 2)]
async fn graceful_shutdown_finishes_requests_in_flight_and_refuses_new_connections() {
    let controls = Controls::new(1);
    let server = std::rc::Rc::new(http::start(Server::builder(), controls.clone()).await);
    let addr = server.local_addr();
    let mut h1 = http::h1_client(addr).await;
    let mut h2 = http::h2_client(addr).await;
    let in_flight_h1 =
        roost::spawn(
            async move { http::collect(h1.send_request(http::request(Method::GET, "/wait", "")).await).await },
        );
    let in_flight_h2 =
        roost::spawn(
            async move { http::collect(h2.send_request(http::request(Method::GET, "/wait", "")).await).await },
        );
    while controls.waiting.load(Ordering::SeqCst) < 2 {
        roost::time::sleep(Duration::from_millis(1)).await;
    }

    let shutting_down = server.clone();
    let shutdown = roost::spawn(async move { shutting_down.shutdown(Duration::from_secs(60)).await });
    // New connections are refused once the listeners are closed.
    loop {
        match TcpStream::connect(addr).await {
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
                break;
            }
            Ok(_) => roost::time::sleep(Duration::from_millis(1)).await,
        }
    }
    assert!(!shutdown.is_finished(), "shutdown waits for the requests in flight");

    controls.release.add_permits(2);
    for in_flight in [in_flight_h1, in_flight_h2] {
        let (status, body) = in_flight.await.unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"released"[..]));
    }
    let report = shutdown.await.unwrap();
    assert_eq!(report.forced, 0);
    assert_eq!(server.connections(), 0);
    server.wait().await;
}

#[roost::test(worker_threads = 2)]
async fn shutdown_closes_what_is_left_at_the_deadline_and_counts_it() {
    let controls = Controls::new(1);
    let server = http::start(Server::builder(), controls.clone()).await;
    let addr = server.local_addr();
    let mut h1 = http::h1_client(addr).await;
    let stuck = roost::spawn(async move {
        h1.send_request(http::request(Method::GET, "/wait", ""))
            .await
            .map(|_| ())
    });
    while controls.waiting.load(Ordering::SeqCst) < 1 {
        roost::time::sleep(Duration::from_millis(1)).await;
    }
    // The handler is never released: the deadline passes.
    let report = server.shutdown(Duration::from_millis(50)).await;
    assert_eq!(report.forced, 1);
    assert_eq!(server.connections(), 0);
    assert!(stuck.await.unwrap().is_err(), "the client sees its connection closed");
}

#[roost::test(worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_by_the_header_timeout() {
    let builder = Server::builder().header_read_timeout(Duration::from_millis(200));
    let server = http::start(builder, Controls::new(1)).await;
    let addr = server.local_addr();
    blocking(move || {
        let mut stream = raw_client(addr);
        stream.write_all(b"GET / HTTP/1.1\r\nhost: roost\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let res = read_response(&mut reader).unwrap().expect("a response");
        assert_eq!(res.status, 200);
        assert!(!res.headers.contains_key("connection"), "kept alive");
        // No next request: the server closes the connection.
        assert!(read_until_closed(&mut reader).is_empty());
    })
    .await;
    assert_eq!(server.shutdown(Duration::from_secs(60)).await.forced, 0);
}

/// The header timer is one per connection, lent to hyper at each request
/// head (no allocation per request): after several requests on one
/// keep-alive connection it still closes one that stops halfway through a
/// head.
#[roost::test(worker_threads = 1)]
async fn the_header_timeout_still_holds_after_requests_on_a_kept_alive_connection() {
    let builder = Server::builder().header_read_timeout(Duration::from_millis(200));
    let server = http::start(builder, Controls::new(1)).await;
    let addr = server.local_addr();
    blocking(move || {
        let stream = raw_client(addr);
        let mut reader = BufReader::new(stream);
        for _ in 0..3 {
            reader
                .get_mut()
                .write_all(b"GET / HTTP/1.1\r\nhost: roost\r\n\r\n")
                .unwrap();
            let res = read_response(&mut reader).unwrap().expect("a response");
            assert_eq!((res.status, res.body.as_slice()), (200, &b"Hello, world!"[..]));
        }
        reader.get_mut().write_all(b"GET / HTTP/1.1\r\nhost: ro").unwrap();
        assert!(read_until_closed(&mut reader).is_empty());
    })
    .await;
    net::eventually("the connection is gone", || server.connections() == 0);
    assert_eq!(server.shutdown(Duration::from_secs(60)).await.forced, 0);
}
