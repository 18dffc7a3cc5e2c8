//! Bad input from HTTP peers: a garbage request line, a 1 MiB header, a
//! connection reset in the middle of a body, a broken HTTP/2 preface. Each
//! gets an HTTP error or a closed connection; the server goes on serving,
//! and its connections, descriptors, reactor sources and arena bytes in
//! use come back to where they were.
//!
//! One test: descriptor counts are per process.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use roost::net::http::Server;

use http::{blocking, raw_client, read_response, read_until_closed};
use net::Leftovers;

/// Waits (without blocking the worker) until the counts are back; a hang
/// guard, not a timing assertion.
async fn back_to(baseline: Leftovers, server: &Server, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = Leftovers::now(server.connections());
        if now == baseline {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {after}: {now:?}, baseline {baseline:?}"
        );
        roost::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn still_serves(addr: SocketAddr, after: &str) {
    let res = blocking(move || http::get_hello(addr)).await;
    assert_eq!(
        (res.status, res.body.as_slice()),
        (200, &b"Hello, world!"[..]),
        "after {after}"
    );
}

#[roost::test(worker_threads = 2)]
async fn bad_peers_get_an_error_or_a_close_and_leave_nothing_behind() {
    let server = http::start(Server::builder(), http::Controls::new(1)).await;
    let addr = server.local_addr();
    // Warm up both workers' paths, then take the baseline.
    for _ in 0..4 {
        still_serves(addr, "warm-up").await;
    }
    roost::time::sleep(Duration::from_millis(50)).await;
    let baseline = Leftovers::now(server.connections());
    let baseline = Leftovers {
        connections: 0,
        ..baseline
    };
    back_to(baseline, &server, "warm-up").await;

    // Garbage instead of a request line: hyper's 400, then a close.
    let answer = blocking(move || {
        let mut stream = raw_client(addr);
        stream
            .write_all(b"\x16\x03\x01\x02\x00 this is not HTTP\r\n\r\n")
            .unwrap();
        read_until_closed(&mut stream)
    })
    .await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    still_serves(addr, "garbage").await;
    back_to(baseline, &server, "garbage").await;

    // A header of 1 MiB: 431, then a close (the write may fail once the
    // server has closed: that is fine).
    let status = blocking(move || {
        let mut stream = raw_client(addr);
        let mut request = b"GET / HTTP/1.1\r\nhost: roost\r\nx-huge: ".to_vec();
        request.resize(request.len() + (1 << 20), b'a');
        request.extend_from_slice(b"\r\n\r\n");
        let _ = stream.write_all(&request);
        let mut reader = BufReader::new(stream);
        let status = read_response(&mut reader).ok().flatten().map(|res| res.status);
        read_until_closed(&mut reader);
        status
    })
    .await;
    assert!(matches!(status, None | Some(431)), "{status:?}");
    still_serves(addr, "a 1 MiB header").await;
    back_to(baseline, &server, "a 1 MiB header").await;

    // A reset in the middle of a body the service is reading.
    blocking(move || {
        let stream = raw_client(addr);
        let mut writer = &stream;
        writer
            .write_all(b"POST /collect HTTP/1.1\r\nhost: roost\r\ncontent-length: 100000\r\n\r\n")
            .unwrap();
        writer.write_all(&[b'r'; 1000]).unwrap();
        // SO_LINGER 0: closing sends a RST instead of a FIN.
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
    })
    .await;
    still_serves(addr, "a reset mid-body").await;
    back_to(baseline, &server, "a reset mid-body").await;

    // A reset in the middle of a streamed echo (request and response both
    // in flight).
    blocking(move || {
        let stream = raw_client(addr);
        let mut writer = &stream;
        writer
            .write_all(b"POST /echo HTTP/1.1\r\nhost: roost\r\ntransfer-encoding: chunked\r\n\r\n")
            .unwrap();
        writer.write_all(b"400\r\n").unwrap();
        writer.write_all(&[b'e'; 1024]).unwrap();
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
    })
    .await;
    still_serves(addr, "a reset mid-echo").await;
    back_to(baseline, &server, "a reset mid-echo").await;

    // The HTTP/2 preface, then garbage instead of frames: GOAWAY and close.
    blocking(move || {
        let mut stream = raw_client(addr);
        stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        stream.write_all(&[0xff; 64]).unwrap();
        read_until_closed(&mut stream);
    })
    .await;
    still_serves(addr, "a broken HTTP/2 connection").await;
    back_to(baseline, &server, "a broken HTTP/2 connection").await;

    assert_eq!(server.shutdown(Duration::from_secs(60)).await.forced, 0);
}
