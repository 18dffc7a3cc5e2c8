//! hyper 1.x on roost (feature `hyper`): the I/O traits on roost's streams,
//! an executor that spawns on the current worker, and a timer on roost's
//! wheel.
//!
//! - [`hyper::rt::Read`] and
//!   [`hyper::rt::Write`] are implemented directly on
//!   [`TcpStream`](crate::TcpStream), [`UnixStream`](crate::UnixStream) and
//!   their owned halves: hyper reads straight into its own buffer (the
//!   kernel writes into its unfilled part; nothing is zeroed or copied) and
//!   writes with `writev`. No `TokioIo` wrapper is needed.
//! - [`RoostExecutor`] spawns hyper's background futures (HTTP/2 streams
//!   and connection tasks) with [`roost_runtime::spawn`], on the worker that
//!   serves the connection, so they need not be `Send`.
//! - [`RoostTimer`] gives hyper roost's timers (`header_read_timeout`,
//!   keep-alive timeouts, HTTP/2 keep-alive pings).
//!
//! # Examples
//!
//! An HTTP/1 server connection and a client connection on one worker:
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use roost_net::hyper::{RoostExecutor, RoostTimer};
//! use roost_net::{TcpListener, TcpStream};
//!
//! let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
//! let body = rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     roost_runtime::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
//!             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hi"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(RoostTimer)
//!             .serve_connection(stream, service)
//!             .await
//!             .unwrap();
//!     });
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
//!     roost_runtime::spawn(conn);
//!     let req = Request::get("/").header("host", "roost").body(Full::new(Bytes::new())).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     res.into_body().collect().await.unwrap().to_bytes()
//! });
//! assert_eq!(body, "hi");
//! # let _ = RoostExecutor;
//! ```

mod io;
mod timer;

use std::future::Future;

pub use timer::{RoostSleep, RoostTimer};

/// hyper's executor on roost: spawns each future on the **current worker**
/// with [`roost_runtime::spawn`], so futures need not be `Send` (hyper's
/// local-executor support, for HTTP/1 upgrades and HTTP/2).
///
/// # Panics
///
/// Executing outside a roost worker (or `block_on`) panics, as
/// `roost_runtime::spawn` does.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoostExecutor;

impl<F> ::hyper::rt::Executor<F> for RoostExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        drop(roost_runtime::spawn(future));
    }
}
