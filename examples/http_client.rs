//! An HTTP client on roost: hyper's HTTP/1 and HTTP/2 client connections
//! over roost's `TcpStream` (no `TokioIo` in the clear), the HTTP/2 one
//! with roost's executor and timer. It GETs a URL over HTTP/1.1, then over
//! HTTP/2, and prints each status and body: for `http://`, HTTP/2 with
//! prior knowledge (h2c); for `https://`, TLS (rustls through
//! `roost::net::tls::connect`, the server's name checked against its
//! certificate) with ALPN `http/1.1`, then `h2`.
//!
//! ```sh
//! cargo run --release --example http -- 127.0.0.1:8080 &
//! cargo run --release --example http_client -- http://127.0.0.1:8080/
//! cargo run --release --example http -- 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem &
//! cargo run --release --example http_client -- https://localhost:8443/ --cacert cert.pem
//! ```
//!
//! The first argument is the URL (`http://HOST:PORT/PATH`,
//! `https://HOST:PORT/PATH`, or just `HOST:PORT`; default
//! `http://127.0.0.1:8080/`). `--cacert FILE` names the PEM certificates
//! that an `https://` server's chain must lead to (needed for `https://`:
//! the example reads no system store).

use std::io;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper::rt::{Read, Write};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use roost::net::hyper::{RoostExecutor, RoostTimer};
use roost::net::tls::{self, rustls};
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

/// Parses `http://HOST:PORT/PATH`, `https://HOST:PORT/PATH` or
/// `HOST:PORT` (plain HTTP) into a URI with a path.
pub fn parse_url(arg: &str) -> io::Result<Uri> {
    let full = if arg.contains("://") {
        arg.to_owned()
    } else {
        format!("http://{arg}")
    };
    let uri: Uri = full.parse().map_err(|e| invalid(format!("URL {arg:?}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid(format!("URL {arg:?}: only http:// and https:// are supported")));
    }
    Ok(uri)
}

/// TLS client settings for `https://`: the roots in the PEM file `cacert`.
pub fn tls_roots(cacert: &str) -> io::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in tls::load_certs(cacert)? {
        roots.add(cert).map_err(|e| invalid(format!("{cacert}: {e}")))?;
    }
    Ok(roots)
}

fn request(uri: &Uri) -> io::Result<Request<Empty<Bytes>>> {
    let authority = uri.authority().ok_or_else(|| invalid("URL without a host"))?;
    Request::get(uri.clone())
        .header(hyper::header::HOST, authority.as_str())
        .body(Empty::new())
        .map_err(invalid)
}

fn host(uri: &Uri) -> io::Result<&str> {
    let host = uri.host().ok_or_else(|| invalid("URL without a host"))?;
    Ok(host.trim_matches(|c| c == '[' || c == ']'))
}

async fn connect(uri: &Uri) -> io::Result<TcpStream> {
    let default_port = if uri.scheme_str() == Some("https") { 443 } else { 80 };
    let stream = TcpStream::connect((host(uri)?, uri.port_u16().unwrap_or(default_port))).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A TLS connection to `uri`'s host offering `alpn` only, which the server
/// must choose; the host name is checked against the certificate.
async fn connect_tls(
    uri: &Uri,
    roots: &rustls::RootCertStore,
    alpn: &[u8],
) -> io::Result<TokioIo<tls::ClientTlsStream<TcpStream>>> {
    let config = Arc::new(tls::client_config(roots.clone(), &[alpn]));
    let stream = tls::connect(config, host(uri)?, connect(uri).await?).await?;
    if stream.get_ref().1.alpn_protocol() != Some(alpn) {
        let wanted = String::from_utf8_lossy(alpn);
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the server did not choose {wanted} by ALPN"),
        ));
    }
    Ok(TokioIo::new(stream))
}

/// GETs `uri` over one HTTP/1.1 connection (TLS for `https://`, with
/// `roots`).
pub async fn get_http1(uri: &Uri, roots: Option<&rustls::RootCertStore>) -> io::Result<Fetched> {
    match (uri.scheme_str(), roots) {
        (Some("https"), Some(roots)) => fetch_http1(connect_tls(uri, roots, b"http/1.1").await?, uri).await,
        (Some("https"), None) => Err(invalid("https:// needs --cacert FILE")),
        _ => fetch_http1(connect(uri).await?, uri).await,
    }
}

/// GETs `uri` over one HTTP/2 connection: TLS with ALPN `h2` for
/// `https://` (with `roots`), prior knowledge (h2c) for `http://`.
pub async fn get_http2(uri: &Uri, roots: Option<&rustls::RootCertStore>) -> io::Result<Fetched> {
    match (uri.scheme_str(), roots) {
        (Some("https"), Some(roots)) => fetch_http2(connect_tls(uri, roots, b"h2").await?, uri).await,
        (Some("https"), None) => Err(invalid("https:// needs --cacert FILE")),
        _ => fetch_http2(connect(uri).await?, uri).await,
    }
}

async fn fetch_http1<I: Read + Write + Unpin + 'static>(io: I, uri: &Uri) -> io::Result<Fetched> {
    let (mut sender, conn) = http1::handshake(io).await.map_err(io::Error::other)?;
    // The connection runs in a task of its own on this thread.
    roost::spawn(conn);
    let res = sender.send_request(request(uri)?).await.map_err(io::Error::other)?;
    let status = res.status();
    let body = res.into_body().collect().await.map_err(io::Error::other)?.to_bytes();
    Ok(Fetched { status, body })
}

async fn fetch_http2<I: Read + Write + Unpin + 'static>(io: I, uri: &Uri) -> io::Result<Fetched> {
    let (mut sender, conn) = http2::Builder::new(RoostExecutor)
        .timer(RoostTimer)
        .handshake(io)
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
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut cacert = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cacert" => cacert = Some(args.next().ok_or_else(|| invalid("--cacert needs a FILE"))?),
            _ if url.is_none() && !arg.starts_with("--") => url = Some(arg),
            _ => return Err(invalid(format!("unexpected argument {arg:?}"))),
        }
    }
    let uri = parse_url(url.as_deref().unwrap_or("http://127.0.0.1:8080/"))?;
    let roots = cacert.as_deref().map(tls_roots).transpose()?;
    let rt = Runtime::builder().worker_threads(1).build()?;
    rt.block_on(async {
        let roots = roots.as_ref();
        for (version, fetched) in [
            ("HTTP/1.1", get_http1(&uri, roots).await?),
            ("HTTP/2", get_http2(&uri, roots).await?),
        ] {
            println!("GET {uri} over {version}: {}", fetched.status);
            println!("{}", String::from_utf8_lossy(&fetched.body));
        }
        Ok(())
    })
}
