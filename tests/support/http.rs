//! Helpers for the `net_http*` tests: a test service with routes that
//! stream, collect, wait and gate; a small HTTP/1 response reader for raw
//! sockets; hyper client connections on roost's `TcpStream`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Either, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use roost::net::http::{self, Body};
use roost::net::hyper::{RoostExecutor, RoostTimer};
use roost::net::TcpStream;
use roost::runtime::Handle;
use tokio::sync::{Barrier, Semaphore};

/// A hang guard for raw sockets, not a timing assertion.
pub const LIMIT: Option<Duration> = Some(Duration::from_secs(30));

/// How the tests steer the service, shared by every worker's copy.
pub struct Controls {
    /// Requests that reached `GET /wait`.
    pub waiting: AtomicUsize,
    /// `GET /wait` answers once it gets a permit.
    pub release: Semaphore,
    /// `GET /gate` answers once this many gate requests are in at once.
    pub gate: Barrier,
}

impl Controls {
    pub fn new(gate: usize) -> Arc<Self> {
        Arc::new(Self {
            waiting: AtomicUsize::new(0),
            release: Semaphore::new(0),
            gate: Barrier::new(gate),
        })
    }
}

pub type TestBody = Either<Full<Bytes>, Body>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<TestBody> {
    let mut res = Response::new(Either::Left(Full::new(body.into())));
    *res.status_mut() = status;
    res
}

/// The routes:
/// - `GET /`: `Hello, world!`
/// - `POST /echo`: the body streamed back
/// - `POST /collect`: the whole body read, then its length (an error
///   reading it fails the request: the server's 413 for a body too large)
/// - `GET /wait`: answers `released` once the test adds a permit
/// - `GET /gate`: answers `through` once `gate` of them are in flight
#[derive(Clone)]
pub struct TestService(pub Arc<Controls>);

impl hyper::service::Service<Request<Body>> for TestService {
    type Response = Response<TestBody>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Response<TestBody>>>>>;

    fn call(&self, req: Request<Body>) -> Self::Future {
        let controls = self.0.clone();
        Box::pin(async move {
            match (req.method().clone(), req.uri().path()) {
                (Method::GET, "/") => Ok(text(StatusCode::OK, "Hello, world!")),
                (Method::POST, "/echo") => Ok(Response::new(Either::Right(req.into_body()))),
                (Method::POST, "/collect") => {
                    let body = req.into_body().collect().await?.to_bytes();
                    Ok(text(StatusCode::OK, body.len().to_string()))
                }
                (Method::GET, "/wait") => {
                    controls.waiting.fetch_add(1, Ordering::SeqCst);
                    controls.release.acquire().await.unwrap().forget();
                    Ok(text(StatusCode::OK, "released"))
                }
                (Method::GET, "/gate") => {
                    controls.gate.wait().await;
                    Ok(text(StatusCode::OK, "through"))
                }
                _ => Ok(text(StatusCode::NOT_FOUND, "")),
            }
        })
    }
}

/// Starts the test service on a loopback port of the current runtime.
pub async fn start(builder: http::Builder, controls: Arc<Controls>) -> http::Server {
    builder
        .serve(&Handle::current(), "127.0.0.1:0".parse().unwrap(), move || {
            TestService(controls.clone())
        })
        .await
        .expect("http server")
}

/// Runs blocking socket code off the worker (the test body runs on one).
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    roost::task::spawn_blocking(f).await.expect("blocking client panicked")
}

/// A std client socket with the hang guard set.
pub fn raw_client(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(LIMIT).unwrap();
    stream.set_write_timeout(LIMIT).unwrap();
    stream
}

/// One HTTP/1 response as read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// Whether the body came chunked.
    pub chunked: bool,
}

/// Reads the next response, or `None` at a clean end of stream before
/// one starts. A body without length or chunking runs to the end.
pub fn read_response<R: Read>(reader: &mut BufReader<R>) -> io::Result<Option<RawResponse>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("status line {line:?}")))?;
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("header {trimmed:?}")))?;
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("chunk size {line:?}")))?;
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = headers.get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "content-length"))?;
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if status >= 200 && status != 204 && status != 304 {
        reader.read_to_end(&mut body)?;
    }
    Ok(Some(RawResponse {
        status,
        headers,
        body,
        chunked,
    }))
}

/// Reads until the peer closes; `Ok` with whatever came (a reset counts
/// as closed).
pub fn read_until_closed<R: Read>(reader: &mut R) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
                panic!("the server did not close the connection: {e}")
            }
            Err(_) => return out,
        }
    }
}

/// One `GET /` on a fresh raw connection: the server still serves.
pub fn get_hello(addr: SocketAddr) -> RawResponse {
    use std::io::Write;
    let mut stream = raw_client(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: roost\r\nconnection: close\r\n\r\n")
        .unwrap();
    read_response(&mut BufReader::new(stream)).unwrap().expect("a response")
}

/// A hyper HTTP/1 client connection (its connection task spawned here).
pub async fn h1_client(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
    drop(roost::spawn(conn));
    sender
}

/// A hyper HTTP/2 client connection, with roost's executor and timer.
pub async fn h2_client(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(RoostExecutor)
        .timer(RoostTimer)
        .handshake(stream)
        .await
        .unwrap();
    drop(roost::spawn(conn));
    sender
}

/// A request with `body` (HTTP/2 needs no host header; HTTP/1 gets one).
pub fn request(method: Method, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(format!("http://roost{path}"))
        .header("host", "roost")
        .body(Full::new(body.into()))
        .unwrap()
}

/// Sends `req` and collects the answer.
pub async fn collect(res: hyper::Result<Response<hyper::body::Incoming>>) -> (StatusCode, Bytes) {
    let res = res.expect("response");
    let status = res.status();
    (status, res.into_body().collect().await.expect("body").to_bytes())
}
