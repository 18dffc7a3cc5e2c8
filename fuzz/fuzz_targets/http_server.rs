//! The `http` example's server (`examples/http.rs`, included as it is,
//! served by `roost_net::http` exactly as its `main` does) fed hostile
//! bytes over real loopback connections.
//!
//! One roost runtime per fuzz process (one worker), started on first use.
//! Input: byte 0 chooses how the rest is cut into writes (0: one write; else
//! write lengths from 1 to that byte, from a small generator seeded by it);
//! the rest is written to a fresh connection (`TCP_NODELAY`, so the cuts
//! reach the server as separate segments), then the client half-closes and
//! reads until the server closes.
//!
//! Checked: the server answers with well-formed HTTP/1 responses (status
//! line, headers, bodies framed by their length or chunks; only the last
//! may be cut short) or HTTP/2 frames (starting with its SETTINGS), or
//! closes without a byte; it never panics (libFuzzer reports a panic on a
//! worker as a crash) and closes every connection once the client has
//! gone: every 64 inputs, the server's open connections must drain back to
//! zero. Hangs: a 10 s read or write guard fails the input, and libFuzzer's
//! `-timeout` is the watchdog; memory: `-rss_limit_mb`.

#![no_main]

#[path = "../../examples/http.rs"]
#[allow(dead_code)]
mod http_example;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use roost::net::http::{self, Server};
use roost::runtime::Runtime;

/// A hang guard on the client's socket, not a timing assertion.
const GUARD: Duration = Duration::from_secs(10);
/// Inputs between two checks that the server has closed every connection.
const DRAIN_EVERY: u64 = 64;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The server, started once per process on a thread that keeps its runtime.
fn server() -> &'static Server {
    static SERVER: OnceLock<Arc<Server>> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("fuzz-http-runtime".into())
            .spawn(move || {
                let rt = Runtime::builder()
                    .worker_threads(1)
                    .pin_workers(false)
                    .build()
                    .expect("runtime");
                let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
                // As the example's main: the default settings, its service.
                let server = Arc::new(
                    rt.block_on(http::Server::builder().serve(rt.handle(), addr, || http_example::Hello))
                        .expect("http server"),
                );
                tx.send(server.clone()).unwrap();
                rt.block_on(server.wait());
            })
            .expect("spawn the runtime thread");
        rx.recv().expect("the server started")
    })
}

/// `ROOST_FUZZ_SHOW=1`: print every request and response (to see what a
/// corpus exercises: `cargo fuzz run http_server corpus/http_server -- -runs=0`).
fn show() -> bool {
    static SHOW: OnceLock<bool> = OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("ROOST_FUZZ_SHOW").is_some_and(|v| v == "1"))
}

/// Write lengths: a xorshift generator seeded by `split`, in `1..=split`.
fn cuts(split: u8, len: usize) -> Vec<usize> {
    if split == 0 {
        return vec![len];
    }
    let mut state = 0x9e37_79b9 ^ u32::from(split);
    let mut out = Vec::new();
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (1 + state as usize % usize::from(split)).min(left);
        out.push(n);
        left -= n;
    }
    out
}

/// Checks a sequence of HTTP/1 responses; only the last may be cut short
/// (the server may close in the middle of a body it streams), and after a
/// reset (`reset`: the kernel drops what the client had not read yet) even
/// in its head.
fn check_http1(mut rest: &[u8], reset: bool) {
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut headers);
        let head = match res.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if reset => return,
            Ok(httparse::Status::Partial) => panic!("response head cut short: {:?}", String::from_utf8_lossy(rest)),
            Err(e) => panic!("malformed response head ({e}): {:?}", String::from_utf8_lossy(rest)),
        };
        let status = res.code.expect("a status");
        assert!((100..=599).contains(&status), "status {status}");
        let header = |name: &str| {
            res.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| {
                std::str::from_utf8(h.value)
                    .expect("ASCII header value")
                    .trim()
                    .to_owned()
            })
        };
        let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let length = header("content-length").map(|v| v.parse::<usize>().expect("a numeric content-length"));
        rest = &rest[head..];
        if (100..200).contains(&status) || status == 204 || status == 304 {
            continue;
        }
        if chunked {
            match skip_chunked(rest) {
                Some(after) => rest = after,
                None => return,
            }
        } else if let Some(n) = length {
            if rest.len() < n {
                return;
            }
            rest = &rest[n..];
        } else {
            // Delimited by the close: the rest is its body.
            return;
        }
    }
}

/// Skips one chunked body; `None` if it is cut short by the close.
fn skip_chunked(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete((n, size))) => {
                rest = &rest[n..];
                if size == 0 {
                    // No trailers from this server: the final CRLF.
                    if rest.len() < 2 {
                        return None;
                    }
                    assert_eq!(&rest[..2], b"\r\n", "chunked body's end");
                    return Some(&rest[2..]);
                }
                let size = usize::try_from(size).expect("chunk size");
                if rest.len() < size + 2 {
                    return None;
                }
                assert_eq!(&rest[size..size + 2], b"\r\n", "chunk's end");
                rest = &rest[size + 2..];
            }
            Ok(httparse::Status::Partial) => return None,
            Err(e) => panic!("malformed chunk size ({e:?}): {:?}", String::from_utf8_lossy(rest)),
        }
    }
}

/// Checks a sequence of HTTP/2 frames starting with the server's SETTINGS;
/// only the last may be cut short.
fn check_h2(mut rest: &[u8]) {
    let mut first = true;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let kind = rest[3];
        let stream = u32::from_be_bytes(rest[5..9].try_into().unwrap()) & 0x7fff_ffff;
        if first {
            assert_eq!((kind, stream), (4, 0), "the server's first frame is not SETTINGS");
            first = false;
        }
        assert!(kind <= 9, "unknown frame type {kind} from the server");
        if rest.len() < 9 + len {
            return;
        }
        rest = &rest[9 + len..];
    }
}

fn run(data: &[u8]) {
    static INPUTS: AtomicU64 = AtomicU64::new(0);
    let Some((&split, request)) = data.split_first() else {
        return;
    };
    let server = server();
    let client = TcpStream::connect(server.local_addr()).expect("connect to the server");
    client.set_nodelay(true).unwrap();
    client.set_read_timeout(Some(GUARD)).unwrap();
    client.set_write_timeout(Some(GUARD)).unwrap();
    let mut writer = &client;
    let mut at = 0;
    for n in cuts(split, request.len()) {
        match writer.write_all(&request[at..at + n]) {
            Ok(()) => at += n,
            // The server may close (after a 400, say) before it has it all.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                break
            }
            Err(e) => panic!("writing the request: {e}"),
        }
    }
    let _ = client.shutdown(Shutdown::Write);
    let mut response = Vec::new();
    let mut reader = &client;
    let reset = match reader.read_to_end(&mut response) {
        Ok(_) => false,
        // The server closed with bytes of ours unread: the kernel resets.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e) => panic!("the server neither answered nor closed within {GUARD:?}: {e}"),
    };
    drop(client);
    if show() {
        eprintln!(
            "request {:?}\nresponse{} {:?}",
            String::from_utf8_lossy(request),
            if reset { " (reset)" } else { "" },
            String::from_utf8_lossy(&response)
        );
    }
    if response.starts_with(b"HTTP/") {
        check_http1(&response, reset);
    } else if !response.is_empty() {
        assert!(
            request.starts_with(H2_PREFACE),
            "an answer to a request without the h2 preface that is not HTTP/1: {:?}",
            String::from_utf8_lossy(&response)
        );
        check_h2(&response);
    }
    if INPUTS.fetch_add(1, Ordering::Relaxed) % DRAIN_EVERY == DRAIN_EVERY - 1 {
        let deadline = Instant::now() + GUARD;
        while server.connections() != 0 {
            assert!(
                Instant::now() < deadline,
                "{} connections still open {GUARD:?} after their clients left",
                server.connections()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fuzz_target!(|data: &[u8]| run(data));
