//! An HTTP server on roost: hyper 1.x served on every worker's own
//! `SO_REUSEPORT` listener, HTTP/1.1 and prior-knowledge HTTP/2 (h2c) on
//! the same port.
//!
//! - `GET /`: `200` and `Hello, world!`
//! - `POST /echo`: `200` and the request body, streamed back as it arrives,
//!   up to the server's 2 MiB body limit: a `Content-Length` over it gets
//!   `413`; a chunked body that grows past it has already had its `200`,
//!   so the echo ends there and the connection is closed
//! - anything else: `404`
//!
//! ```sh
//! cargo run --release --example http -- 127.0.0.1:8080
//! curl http://127.0.0.1:8080/
//! curl --http2-prior-knowledge http://127.0.0.1:8080/
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo
//! wrk -c 64 -d 10s http://127.0.0.1:8080/
//! h2load -n 100000 -c 16 -m 10 http://127.0.0.1:8080/
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:0`); the
//! server prints `http serving on ADDR with N workers`. With
//! `--tls-cert FILE --tls-key FILE` (PEM) it serves HTTPS instead, ALPN
//! choosing HTTP/2 or HTTP/1.1, and prints `https serving on ADDR ...`:
//!
//! ```sh
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
//!   -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//!   -keyout key.pem -out cert.pem
//! cargo run --release --example http -- 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem
//! curl --cacert cert.pem https://localhost:8443/
//! curl --http2 --cacert cert.pem https://localhost:8443/
//! h2load -n 100000 -c 16 -m 10 https://127.0.0.1:8443/
//! ```

use std::convert::Infallible;
use std::future::{ready, Ready};

use http_body_util::{Either, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use roost::net::http::{self, Body};
use roost::runtime::Runtime;

/// A fixed body, or the request's own body echoed back.
pub type ResponseBody = Either<Full<Bytes>, Body>;

/// The example's routes, as a hyper service (one per worker).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hello;

impl hyper::service::Service<Request<Body>> for Hello {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Body>) -> Self::Future {
        let res = match (req.method(), req.uri().path()) {
            (&Method::GET, "/") => Response::new(Either::Left(Full::new(Bytes::from_static(b"Hello, world!")))),
            // The body streams back frame by frame: nothing is buffered
            // here, and the response starts before the request has ended.
            (&Method::POST, "/echo") => Response::new(Either::Right(req.into_body())),
            _ => {
                let mut res = Response::new(Either::Left(Full::new(Bytes::from_static(b"not found\n"))));
                *res.status_mut() = StatusCode::NOT_FOUND;
                res
            }
        };
        ready(Ok(res))
    }
}

#[path = "support/listen_args.rs"]
mod listen_args;

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let args = listen_args::ListenArgs::parse(std::env::args().skip(1))?;
    let rt = Runtime::new()?;
    let mut builder = http::Server::builder();
    let tls = args.tls_config()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(config) = tls {
        builder = builder.tls(config);
    }
    let server = rt.block_on(builder.serve(rt.handle(), args.addr, || Hello))?;
    println!(
        "{scheme} serving on {} with {} workers",
        server.local_addr(),
        rt.worker_count()
    );
    rt.block_on(server.wait());
    Ok(())
}
