//! An HTTP client on roost: hyper's HTTP/1 and HTTP/2 client connections
//! over roost's `TcpStream` (no `TokioIo`), the HTTP/2 one with roost's
//! executor and timer. It GETs a URL over HTTP/1.1, then over h2c (HTTP/2
//! with prior knowledge), and prints each status and body.
//!
//! ```sh
//! cargo run --release --example http -- 127.0.0.1:8080 &
//! cargo run --release --example http_client -- http://127.0.0.1:8080/
//! ```
//!
//! The first argument is the URL (`http://HOST:PORT/PATH`, or just
//! `HOST:PORT`; default `http://127.0.0.1:8080/`).

use std::io;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Uri};
use roost::net::hyper::{RoostExecutor, RoostTimer};
use roost::net::TcpStream;
use roost::runtime::Runtime;

/// What one GET returned.
pub struct Fetched {
    /// The status line's code and reason.
    pub status: hyper::StatusCode,
    /// The whole body.
    pub body: Bytes,
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

/// Parses `http://HOST:PORT/PATH` or `HOST:PORT` into a URI with a path.
pub fn parse_url(arg: &str) -> io::Result<Uri> {
    let full = if arg.contains("://") {
        arg.to_owned()
    } else {
        format!("http://{arg}")
    };
    let uri: Uri = full.parse().map_err(|e| invalid(format!("URL {arg:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid(format!("URL {arg:?}: only http:// (h2c) is supported")));
    }
    Ok(uri)
}

fn request(uri: &Uri) -> io::Result<Request<Empty<Bytes>>> {
    let authority = uri.authority().ok_or_else(|| invalid("URL without a host"))?;
    Request::get(uri.clone())
        .header(hyper::header::HOST, authority.as_str())
        .body(Empty::new())
        .map_err(invalid)
}

async fn connect(uri: &Uri) -> io::Result<TcpStream> {
    let host = uri.host().ok_or_else(|| invalid("URL without a host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.trim_matches(|c| c == '[' || c == ']'), port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// GETs `uri` over one HTTP/1.1 connection.
pub async fn get_http1(uri: &Uri) -> io::Result<Fetched> {
    let stream = connect(uri).await?;
    let (mut sender, conn) = http1::handshake(stream).await.map_err(io::Error::other)?;
    // The connection runs in a task of its own on this thread.
    roost::spawn(conn);
    let res = sender.send_request(request(uri)?).await.map_err(io::Error::other)?;
    let status = res.status();
    let body = res.into_body().collect().await.map_err(io::Error::other)?.to_bytes();
    Ok(Fetched { status, body })
}

/// GETs `uri` over one HTTP/2 connection, with prior knowledge (h2c).
pub async fn get_http2(uri: &Uri) -> io::Result<Fetched> {
    let stream = connect(uri).await?;
    let (mut sender, conn) = http2::Builder::new(RoostExecutor)
        .timer(RoostTimer)
        .handshake(stream)
        .await
        .map_err(io::Error::other)?;
    roost::spawn(conn);
    let res = sender.send_request(request(uri)?).await.map_err(io::Error::other)?;
    let status = res.status();
    let body = res.into_body().collect().await.map_err(io::Error::other)?.to_bytes();
    Ok(Fetched { status, body })
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let uri = parse_url(&arg)?;
    let rt = Runtime::builder().worker_threads(1).build()?;
    rt.block_on(async {
        for (version, fetched) in [("HTTP/1.1", get_http1(&uri).await?), ("HTTP/2", get_http2(&uri).await?)] {
            println!("GET {uri} over {version}: {}", fetched.status);
            println!("{}", String::from_utf8_lossy(&fetched.body));
        }
        Ok(())
    })
}
