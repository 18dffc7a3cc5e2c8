//! gRPC on roost (feature `grpc`): tonic's services served on every
//! worker, and a client [`Channel`] for tonic's generated clients.
//!
//! tonic's own `transport::Server` and `Channel` run on tokio's runtime;
//! this module puts tonic's services and clients on roost's:
//!
//! - **Serving.** [`Builder::serve`] binds one `SO_REUSEPORT` listener per
//!   worker (on top of [`crate::http`], HTTP/2 with prior knowledge) and
//!   serves on each the service that the factory closure builds **on that
//!   worker**: a generated `XxxServer::new(svc)`, several in a
//!   `tonic::service::Routes`, either under interceptors or tower layers.
//!   A call runs on the worker that accepted its connection, start to end:
//!   a handler can `roost::spawn` (the task stays on that worker) and use
//!   state built once per worker. tonic's generated traits still ask for
//!   `Send + Sync` services and `Send` futures, so per-worker state lives
//!   in an `Arc` made on that worker, uncontended.
//! - **Calling.** [`Channel`] is what a tonic generated client calls
//!   through (`EchoClient::new(channel)`): one HTTP/2 connection per
//!   thread, reconnected when it breaks. A call's future stays on the
//!   thread that made it (it is not `Send`): make calls in `roost::spawn`ed
//!   tasks.
//!
//! # What the server does for every call
//!
//! | what | how |
//! |---|---|
//! | deadline | the client's `grpc-timeout`, or [`Builder::timeout`] if sooner: at the deadline the handler (or its response stream) is dropped and the call ends with `DEADLINE_EXCEEDED` |
//! | cancellation | a client's `RST_STREAM`, or its connection closing, drops the handler's future and response stream |
//! | message size | a request message longer than [`Builder::max_message_size`] (4 MiB by default, as gRPC's) fails the call with `RESOURCE_EXHAUSTED` before it is read |
//! | peer address | `tonic::Request::remote_addr()` and `local_addr()` are the connection's |
//! | unknown method | `UNIMPLEMENTED` (tonic's generated servers and `Routes`) |
//! | compression | as the generated server is told (`accept_compressed`, `send_compressed`; tonic's feature `gzip`) |
//! | service errors | a tower layer's error becomes the call's status, as on tonic's server |
//! | shutdown | [`Server::shutdown`](crate::http::Server::shutdown): stop accepting, `GOAWAY`, in-flight calls finish within the grace period |
//! | TLS | `Builder::tls` (feature `tls`): ALPN `h2`, the HTTP server's handshake timeout and counters; `ChannelBuilder::tls` for `https://` channels |
//!
//! # Examples
//!
//! A service made of a closure per worker, called with [`Channel`] from the
//! same runtime. Real services are tonic's generated servers; `roost`'s
//! README ("Serving gRPC") has a complete program with health and
//! reflection.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use hyper::{Request, Response};
//! use roost_net::grpc::{self, Channel, RequestBody};
//! use tonic::body::Body;
//!
//! let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
//! // Answers every call with UNIMPLEMENTED, as a server without that
//! // service would: what a generated `XxxServer` does for unknown methods.
//! let make_service = || {
//!     tower::service_fn(|_req: Request<RequestBody>| async {
//!         Ok::<Response<Body>, Infallible>(tonic::Status::unimplemented("no such method").into_http())
//!     })
//! };
//! let addr = "127.0.0.1:0".parse().unwrap();
//! let server = rt.block_on(grpc::Server::builder().serve(rt.handle(), addr, make_service)).unwrap();
//!
//! let channel = Channel::new(format!("http://{}", server.local_addr()).parse().unwrap()).unwrap();
//! rt.block_on(async {
//!     let mut client = tonic::client::Grpc::new(channel);
//!     client.ready().await.unwrap();
//!     let codec = tonic_prost::ProstCodec::<(), ()>::default();
//!     let path = "/no.Such/Method".parse().unwrap();
//!     let status = client.unary(tonic::Request::new(()), path, codec).await.unwrap_err();
//!     assert_eq!(status.code(), tonic::Code::Unimplemented);
//! });
//! assert_eq!(rt.block_on(server.shutdown(Duration::from_secs(1))).forced, 0);
//! ```

mod body;
mod call;
mod channel;
mod timeout;

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use ::hyper::body::{Body as HttpBody, Bytes};
use ::hyper::{Request, Response};
use roost_runtime::Handle;

pub use body::RequestBody;
pub use channel::{Channel, ChannelBuilder, DEFAULT_CONNECT_TIMEOUT};

use crate::http;
use crate::ListenOptions;

/// The default [`Builder::max_message_size`]: 4 MiB, gRPC's default
/// receive limit.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Starts a gRPC server: [`Server::builder`], as tonic's `Server::builder`.
/// The running server is a [`crate::http::Server`] (its address, counters
/// and graceful shutdown).
#[derive(Debug, Clone, Copy)]
pub struct Server;

impl Server {
    /// A server's settings, with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// Settings of a gRPC server, then [`serve`](Self::serve).
///
/// The connection settings are the HTTP server's
/// ([`crate::http::Builder`]): its header size limit, streams per
/// connection, listen options and the time a new connection has to send
/// the HTTP/2 preface (`header_read_timeout`, 30 s).
#[derive(Debug, Clone)]
pub struct Builder {
    http: http::Builder,
    max_message_size: usize,
    timeout: Option<Duration>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: 4 MiB messages, no server deadline, the HTTP server's
    /// connection defaults.
    pub fn new() -> Self {
        Self {
            http: http::Builder::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            timeout: None,
        }
    }

    /// The longest request message accepted, in bytes (compressed, as it
    /// comes on the wire; tonic's own limit, also 4 MiB by default, checks
    /// it once decompressed). A longer one ends its call with
    /// `RESOURCE_EXHAUSTED`; the connection serves on.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// A deadline for every call (none by default); a client's own
    /// `grpc-timeout`, if sooner, wins.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Serves gRPC over TLS with `config` (feature `tls`), as
    /// [`http::Builder::tls`] serves HTTPS: a configuration that names no
    /// ALPN protocol gets `h2`, the one gRPC speaks.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: impl Into<std::sync::Arc<rustls::ServerConfig>>) -> Self {
        self.http = self.http.tls(crate::tls::server_alpn_or(config.into(), &[b"h2"]));
        self
    }

    /// The connection settings, as an HTTP server's.
    pub fn http(mut self, http: http::Builder) -> Self {
        self.http = http;
        self
    }

    /// How the per-worker listeners are bound (`SO_REUSEPORT` is always on).
    pub fn listen_options(mut self, options: ListenOptions) -> Self {
        self.http = self.http.listen_options(options);
        self
    }

    /// Calls (HTTP/2 streams) a client may have open at once on one
    /// connection (default 200).
    pub fn max_concurrent_streams(mut self, streams: u32) -> Self {
        self.http = self.http.max_concurrent_streams(streams);
        self
    }

    /// Binds `addr` once per worker and serves gRPC on every worker, with
    /// the service that `make_service` builds on each (once per worker).
    ///
    /// The service is a tower service on [`RequestBody`] requests, `Clone`
    /// (it is cloned for each call, as tonic's own server does): tonic's
    /// generated `XxxServer`s, `tonic::service::Routes`, and either of them
    /// under interceptors and tower layers.
    ///
    /// # Errors
    ///
    /// As [`crate::http::Builder::serve`]: binding errors, or `Other` when
    /// the runtime is shutting down.
    pub fn serve<F, S, B>(
        self,
        handle: &Handle,
        addr: SocketAddr,
        make_service: F,
    ) -> impl Future<Output = io::Result<http::Server>> + Send + 'static
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + 'static,
        S::Future: 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: HttpBody<Data = Bytes> + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let Self {
            http,
            max_message_size,
            timeout,
        } = self;
        let builder = http.connection_builder().http2_only();
        let started = http.start_workers(handle, addr, builder, move || call::GrpcConns {
            service: Rc::new(make_service()),
            max_message: max_message_size,
            timeout,
        });
        http::started(started)
    }
}

/// A `Builder` may be sent to the thread that serves.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Builder>();
};
