//! Failed TLS handshakes leave nothing behind: a thousand clients that send
//! garbage, an HTTP request, a truncated record, or that refuse the
//! server's certificate, each close their connection only, are counted in
//! `Server::tls_handshake_failures`, and leave descriptors, io sources,
//! arena bytes and RSS where they were; the server answers after them. One
//! test in its own binary, so that no other test's sockets move the counts.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;
#[path = "support/tls.rs"]
mod tls_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use roost::net::http::Server;
use roost::net::tls;
use roost::net::TcpStream;

use http::{blocking, Controls};
use net::Leftovers;
use tls_support::Pki;

/// Leftovers the heap bytes live in this process (what a leak would grow).
struct LiveBytes;

static LIVE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

// SAFETY: forwards every call to the system allocator unchanged, and only
// counts the sizes.
unsafe impl std::alloc::GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as i64, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

/// The process's resident set, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Waits until the counts are back and `failures` handshakes have failed
/// (a hang guard, not a timing assertion).
async fn settle(server: &Server, baseline: Leftovers, failures: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = Leftovers::now(server.connections());
        if now == baseline && server.tls_handshake_failures() >= failures {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now:?} against {baseline:?}, {} failed handshakes of {failures}",
            server.tls_handshake_failures()
        );
        roost::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `rounds` bad clients: three kinds of garbage from std sockets, then
/// clients that do not trust the certificate.
async fn bad_clients(addr: std::net::SocketAddr, stranger: &Pki, rounds: usize) {
    let garbage = rounds * 3 / 4;
    blocking(move || {
        for i in 0..garbage {
            let mut peer = std::net::TcpStream::connect(addr).unwrap();
            peer.set_read_timeout(http::LIMIT).unwrap();
            let junk: &[u8] = match i % 3 {
                0 => b"GET / HTTP/1.1\r\nhost: x\r\n\r\n",
                // A handshake record header announcing more than it sends.
                1 => &[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00],
                _ => &[0xff; 64],
            };
            let _ = peer.write_all(junk);
            let _ = peer.shutdown(std::net::Shutdown::Write);
            let mut rest = Vec::new();
            let _ = peer.read_to_end(&mut rest);
        }
    })
    .await;
    for _ in garbage..rounds {
        let stream = TcpStream::connect(addr).await.unwrap();
        assert!(tls::connect(stranger.client(&[b"http/1.1"]), "localhost", stream)
            .await
            .is_err());
    }
}

async fn get_hello(pki: &Pki, addr: std::net::SocketAddr) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let stream = tls::connect(pki.client(&[b"http/1.1"]), "localhost", stream)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    let conn = roost::spawn(conn);
    let req = Request::get("/")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "Hello, world!");
    drop(sender);
    let _ = conn.await;
}

#[roost::test(worker_threads = 2)]
async fn a_thousand_failed_handshakes_leave_nothing_behind() {
    let pki = Pki::new("faults");
    let stranger = Pki::new("faults-stranger");
    let cert = pki.server(&["localhost"], 1);
    let server = http::start(Server::builder().tls(cert.config()), Controls::new(1)).await;
    let addr = server.local_addr();

    // Warm up both kinds of path, good and bad, then take the baselines.
    for _ in 0..4 {
        get_hello(&pki, addr).await;
    }
    bad_clients(addr, &stranger, 200).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.connections() > 0 || server.tls_handshake_failures() < 200 {
        assert!(Instant::now() < deadline, "the warm-up's connections did not close");
        roost::time::sleep(Duration::from_millis(5)).await;
    }
    let baseline = Leftovers::now(server.connections());
    let rss_before = rss();
    let live_before = LIVE.load(std::sync::atomic::Ordering::Relaxed);

    bad_clients(addr, &stranger, 1000).await;
    settle(&server, baseline, 1200).await;
    // The heap: back where it was, give or take the runtime's caches (a
    // leak of even 256 bytes per handshake would pass this bound).
    let live = LIVE.load(std::sync::atomic::Ordering::Relaxed) - live_before;
    assert!(
        live < 256 << 10,
        "{live} more heap bytes live after 1000 failed handshakes"
    );
    // RSS, where it means something: AddressSanitizer's quarantine holds
    // freed memory (and LeakSanitizer checks for leaks there instead).
    if std::env::var_os("ASAN_OPTIONS").is_none() {
        let grown = rss().saturating_sub(rss_before);
        // Allocator slack, not a leak: a leak of even 8 KiB per handshake
        // would be 8 MiB here.
        assert!(grown < 4 << 20, "RSS grew by {grown} bytes over 1000 failed handshakes");
    }

    get_hello(&pki, addr).await;
    assert_eq!(server.shutdown(Duration::from_secs(5)).await.forced, 0);
}
