//! A per-core HTTP server on hyper 1.x (feature `hyper`): every worker
//! accepts on its own `SO_REUSEPORT` listener and serves its connections
//! with hyper-util's auto builder, HTTP/1.1 (keep-alive, pipelining) and
//! prior-knowledge HTTP/2 (h2c) detected per connection.
//!
//! The service is built once per worker by a factory closure, so a service
//! and its futures may be `!Send` (`Rc` state per core): a connection,
//! its requests and their bodies stay on the worker that accepted it.
//!
//! # Defaults
//!
//! | setting | default | over it |
//! |---|---|---|
//! | [`header_read_timeout`](Builder::header_read_timeout) | 30 s | the connection is closed (hyper sends no `408`) |
//! | [`max_header_size`](Builder::max_header_size) | 64 KiB | HTTP/1: `431` and close; HTTP/2: the stream is reset (`REFUSED_STREAM`, as curl shows), the connection goes on |
//! | [`max_body_size`](Builder::max_body_size) | 2 MiB | `413 Payload Too Large`; HTTP/1 closes after it |
//! | [`max_concurrent_streams`](Builder::max_concurrent_streams) | 200 | HTTP/2 streams past it wait (hyper's default) |
//! | [`listen_options`](Builder::listen_options) | [`ListenOptions::new`] | backlog 1024, `TCP_NODELAY` |
//!
//! The header read timeout also bounds how long an idle HTTP/1 keep-alive
//! connection waits for its next request (hyper starts it when it waits for
//! a request head). Bad input from a peer (a garbage request line: `400`; a
//! reset in the middle of a body) ends that connection only; nothing
//! panics and the worker goes on serving.
//!
//! # Shutdown
//!
//! [`Server::shutdown`] stops accepting on every worker (the listeners are
//! closed, so new connections are refused), asks each connection to finish
//! gracefully (hyper's `graceful_shutdown`: HTTP/1 finishes its request in
//! flight, HTTP/2 sends `GOAWAY` and finishes its open streams), waits up to
//! a deadline, then closes what is left and reports how many it closed.
//!
//! # Examples
//!
//! ```
//! use std::convert::Infallible;
//! use std::io::{Read, Write};
//! use std::time::Duration;
//!
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use roost_net::http::{self, Body};
//!
//! let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
//! let make_service = || {
//!     hyper::service::service_fn(|_req: Request<Body>| async {
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("Hello, world!"))))
//!     })
//! };
//! let server = rt
//!     .block_on(http::Server::builder().serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), make_service))
//!     .unwrap();
//!
//! let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
//! client.write_all(b"GET / HTTP/1.1\r\nhost: roost\r\nconnection: close\r\n\r\n").unwrap();
//! let mut response = String::new();
//! client.read_to_string(&mut response).unwrap();
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.ends_with("Hello, world!"));
//!
//! let report = rt.block_on(server.shutdown(Duration::from_secs(5)));
//! assert_eq!(report.forced, 0);
//! ```

mod body;
pub(crate) mod conn;
mod header_timer;
mod service;
mod upgrade;
#[cfg(feature = "ws")]
pub mod ws;

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ::hyper::body::Body as HttpBody;
use ::hyper::service::Service;
use ::hyper::{Request, Response};
use hyper_util::server::conn::auto;
use roost_runtime::{Handle, JoinHandle};
use tokio::sync::watch;

pub use body::{Body, BodyTooLarge};

use crate::hyper::{RoostExecutor, RoostTimer};
use crate::{ListenOptions, TcpListener};
use conn::{Phase, Shared, Worker};

/// The default [`Builder::header_read_timeout`]: 30 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [`Builder::max_header_size`]: 64 KiB.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;
/// The default [`Builder::max_body_size`]: 2 MiB.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 2 * 1024 * 1024;
/// The default [`Builder::max_concurrent_streams`] (hyper's): 200.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 200;

/// The smallest header size hyper's HTTP/1 reader accepts as its buffer
/// limit.
const MIN_HEADER_SIZE: usize = 8192;

/// Settings of a [`Server`], then [`serve`](Builder::serve) to start it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use roost_net::http::Server;
///
/// let builder = Server::builder()
///     .header_read_timeout(Duration::from_secs(10))
///     .max_header_size(16 * 1024)
///     .max_body_size(1 << 20);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    header_read_timeout: Option<Duration>,
    max_header_size: usize,
    max_body_size: u64,
    max_concurrent_streams: u32,
    listen_options: ListenOptions,
    /// HTTPS: the TLS configuration.
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
    /// How long a TLS handshake may take, from the accept.
    #[cfg(feature = "tls")]
    tls_handshake_timeout: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults of the module's table (30 s, 64 KiB, 2 MiB, 200
    /// streams, [`ListenOptions::new`]).
    pub fn new() -> Self {
        Self {
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            listen_options: ListenOptions::new(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: crate::tls::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Serves HTTPS with `config` (feature `tls`) on every worker: each
    /// connection's handshake must finish within the handshake timeout
    /// (10 s, [`tls_handshake_timeout`](Self::tls_handshake_timeout)),
    /// counting from its accept, so that a client that never sends its
    /// ClientHello is closed too. A configuration that names no ALPN
    /// protocols gets `h2` and `http/1.1` ([`crate::tls::ALPN_HTTP`]);
    /// hyper serves the protocol the client then speaks. A failed,
    /// garbage or late handshake closes that connection only and is
    /// counted in [`Server::tls_handshake_failures`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: impl Into<Arc<rustls::ServerConfig>>) -> Self {
        self.tls = Some(crate::tls::server_alpn_or(config.into(), &crate::tls::ALPN_HTTP));
        self
    }

    /// How long a TLS client has, from its accept, to finish its handshake
    /// (default 10 s), when the server serves [`tls`](Self::tls).
    #[cfg(feature = "tls")]
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// How long a client may take to send a complete request head (HTTP/1),
    /// and to show which protocol it speaks (any connection); `None` waits
    /// for ever. A client over it has its connection closed (hyper sends no
    /// `408`), whether it stalled in a request head or before its first
    /// bytes. Also the idle time allowed between two HTTP/1 keep-alive
    /// requests.
    pub fn header_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.header_read_timeout = timeout.into();
        self
    }

    /// The largest request head accepted, in bytes: hyper's HTTP/1 read
    /// buffer limit (`max_buf_size`, at least 8 KiB: smaller values are
    /// raised to that) and HTTP/2's `SETTINGS_MAX_HEADER_LIST_SIZE`. Over
    /// it, HTTP/1 answers `431 Request Header Fields Too Large` and closes.
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.max_header_size = bytes.max(MIN_HEADER_SIZE);
        self
    }

    /// The largest request body a service may read, in bytes. A request
    /// whose `Content-Length` is larger is answered `413` before the
    /// service is called; a chunked (or HTTP/2) body that grows past it
    /// makes [`Body`] fail with [`BodyTooLarge`] and the server answer
    /// `413` in place of the service.
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// HTTP/2 streams a client may have open at once on one connection.
    pub fn max_concurrent_streams(mut self, streams: u32) -> Self {
        self.max_concurrent_streams = streams;
        self
    }

    /// How the per-worker listeners are bound and their streams set up
    /// (`SO_REUSEPORT` is always on: one listener per worker).
    pub fn listen_options(mut self, options: ListenOptions) -> Self {
        self.listen_options = options;
        self
    }

    /// hyper-util's auto builder with these settings, on roost's executor
    /// and timer.
    pub(crate) fn connection_builder(&self) -> auto::Builder<RoostExecutor> {
        let mut builder = auto::Builder::new(RoostExecutor);
        builder
            .http1()
            .timer(header_timer::HeaderTimer)
            .keep_alive(true)
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(self.max_header_size);
        builder
            .http2()
            .timer(RoostTimer)
            .max_header_list_size(u32::try_from(self.max_header_size).unwrap_or(u32::MAX))
            .max_concurrent_streams(self.max_concurrent_streams)
            // RFC 8441's extended CONNECT: WebSockets over HTTP/2.
            .enable_connect_protocol();
        builder
    }

    /// Binds `addr` once per worker with `SO_REUSEPORT` and serves HTTP on
    /// every worker, with a service that `make_service` builds on each
    /// worker (once per worker; every connection of that worker calls it).
    ///
    /// The sockets are bound before this returns its future (so port 0
    /// resolves once); the future completes when every worker is accepting.
    ///
    /// # Errors
    ///
    /// Binding errors (`AddrInUse`, ...), or `Other` when the runtime
    /// refuses new tasks (it is shutting down).
    ///
    /// # Examples
    ///
    /// A service with per-core state in an `Rc` (a hit counter per worker):
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// use http_body_util::Full;
    /// use hyper::body::Bytes;
    /// use hyper::{Request, Response};
    /// use roost_net::http::{Body, Server};
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
    /// let make_service = || {
    ///     let hits = Rc::new(Cell::new(0u64));
    ///     hyper::service::service_fn(move |_req: Request<Body>| {
    ///         let hits = hits.clone();
    ///         async move {
    ///             hits.set(hits.get() + 1);
    ///             let body = format!("hit {} on this core", hits.get());
    ///             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(body))))
    ///         }
    ///     })
    /// };
    /// let server = rt.block_on(Server::builder().serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), make_service));
    /// assert!(server.unwrap().local_addr().port() != 0);
    /// ```
    pub fn serve<F, S, B>(
        self,
        handle: &Handle,
        addr: SocketAddr,
        make_service: F,
    ) -> impl Future<Output = io::Result<Server>> + Send + 'static
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: Service<Request<Body>, Response = Response<B>> + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: HttpBody + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        started(self.start(handle, addr, make_service))
    }

    /// Binds the sockets here and starts one accept loop per worker.
    #[allow(clippy::type_complexity)]
    fn start<F, S, B>(
        self,
        handle: &Handle,
        addr: SocketAddr,
        make_service: F,
    ) -> io::Result<(Server, Vec<JoinHandle<io::Result<()>>>)>
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: Service<Request<Body>, Response = Response<B>> + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: HttpBody + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let max_body = self.max_body_size;
        let builder = self.connection_builder();
        self.start_workers(handle, addr, builder, move || service::HttpConns {
            service: Rc::new(make_service()),
            max_body,
        })
    }

    /// Binds the sockets here and starts one accept loop per worker, each
    /// serving with hyper `builder` what `make_worker` (called once on every
    /// worker) makes for each of its connections.
    #[allow(clippy::type_complexity)]
    pub(crate) fn start_workers<F, M>(
        self,
        handle: &Handle,
        addr: SocketAddr,
        builder: auto::Builder<RoostExecutor>,
        make_worker: F,
    ) -> io::Result<(Server, Vec<JoinHandle<io::Result<()>>>)>
    where
        F: Fn() -> M + Send + Sync + 'static,
        M: conn::ConnService,
    {
        let options = self.listen_options.clone().reuse_port(true);
        let workers = handle.worker_count();
        let (local_addr, sockets) = crate::tcp::serve::bind_group(&options, addr, workers)?;
        let (shared, phase) = Shared::new(workers);
        let make_worker = Arc::new(make_worker);
        let header_read_timeout = self.header_read_timeout;
        #[cfg(feature = "tls")]
        let (tls, handshake_timeout) = (self.tls.clone(), self.tls_handshake_timeout);
        let mut started = Vec::with_capacity(workers);
        for (index, socket) in sockets.into_iter().enumerate() {
            let (make_worker, builder, options) = (make_worker.clone(), builder.clone(), options.clone());
            let worker_shared = shared.clone();
            #[cfg(feature = "tls")]
            let tls = tls.clone();
            let spawned = handle.try_spawn_on(index, async move {
                let listener = match TcpListener::from_std_with(socket, options) {
                    Ok(listener) => listener,
                    Err(e) => {
                        worker_shared.listeners.send_modify(|n| *n -= 1);
                        return Err(e);
                    }
                };
                let worker = Rc::new(Worker {
                    make: make_worker(),
                    builder,
                    header_read_timeout,
                    phase: conn::LocalPhase::new(),
                    shared: worker_shared,
                    #[cfg(feature = "tls")]
                    tls: tls.map(|config| conn::Tls {
                        acceptor: tokio_rustls::TlsAcceptor::from(config),
                        handshake_timeout,
                    }),
                });
                drop(roost_runtime::spawn_local(conn::relay_phase(
                    worker.shared.phase.clone(),
                    worker.clone(),
                )));
                drop(roost_runtime::spawn_local(conn::accept_loop(listener, worker)));
                Ok(())
            });
            match spawned {
                Ok(join) => started.push(join),
                Err(e) => {
                    // This worker and those after it never start.
                    shared.listeners.send_modify(|n| *n -= workers - index);
                    phase.send_replace(Phase::Draining);
                    return Err(io::Error::other(e));
                }
            }
        }
        Ok((
            Server {
                local_addr,
                phase,
                shared,
            },
            started,
        ))
    }
}

/// Waits until every worker of a server just started is accepting; stops
/// those that did start if one could not.
pub(crate) async fn started(started: io::Result<(Server, Vec<JoinHandle<io::Result<()>>>)>) -> io::Result<Server> {
    let (server, started) = started?;
    for worker in started {
        if let Err(e) = worker.await.map_err(io::Error::other).and_then(|r| r) {
            // Stop the workers that did start.
            server.phase.send_replace(Phase::Draining);
            return Err(e);
        }
    }
    Ok(server)
}

/// Serves HTTP with the default settings ([`Builder::new`]); see
/// [`Builder::serve`].
///
/// # Errors
///
/// As [`Builder::serve`].
///
/// # Examples
///
/// ```
/// use http_body_util::Full;
/// use hyper::body::Bytes;
/// use hyper::{Request, Response};
/// use roost_net::http::{self, Body};
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// let server = rt.block_on(http::serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), || {
///     hyper::service::service_fn(|_req: Request<Body>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
///     })
/// }));
/// assert!(server.is_ok());
/// ```
pub fn serve<F, S, B>(
    handle: &Handle,
    addr: SocketAddr,
    make_service: F,
) -> impl Future<Output = io::Result<Server>> + Send + 'static
where
    F: Fn() -> S + Send + Sync + 'static,
    S: Service<Request<Body>, Response = Response<B>> + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: HttpBody + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    Builder::new().serve(handle, addr, make_service)
}

/// A running per-core HTTP server, from [`Builder::serve`].
///
/// It is `Send + Sync`: shut it down from any thread or task. Dropping it
/// does not stop the server; call [`shutdown`](Self::shutdown).
///
/// # Examples
///
/// Shut down from another task while the main one waits for the end:
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use hyper::{Request, Response};
/// use roost_net::http::{Body, Server};
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// let make_service = || {
///     hyper::service::service_fn(|_req: Request<Body>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
///     })
/// };
/// let addr = "127.0.0.1:0".parse().unwrap();
/// let server = Arc::new(rt.block_on(Server::builder().serve(rt.handle(), addr, make_service)).unwrap());
/// let stopper = server.clone();
/// rt.handle().spawn_on(1, async move {
///     let report = stopper.shutdown(Duration::from_secs(1)).await;
///     assert_eq!(report.forced, 0);
/// });
/// rt.block_on(server.wait());
/// assert_eq!(server.connections(), 0);
/// assert_eq!(server.accepted(), 0);
/// ```
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    phase: watch::Sender<Phase>,
    shared: Arc<Shared>,
}

/// What [`Server::shutdown`] did: see the [module](self)'s example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections still open at the deadline, closed without finishing.
    pub forced: usize,
}

impl Server {
    /// The settings' builder ([`Builder::new`]).
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The address every worker serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections open now, on all workers.
    pub fn connections(&self) -> usize {
        *self.shared.connections.borrow()
    }

    /// Connections accepted since the server started, on all workers.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// TLS handshakes that failed since the server started (a client that
    /// sent garbage, offered nothing the server accepts, or did not finish
    /// within the handshake timeout); always 0 without TLS.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.shared.tls_failures.load(Ordering::Relaxed)
    }

    /// Shuts the server down gracefully: stops accepting on every worker
    /// and waits until their listeners are closed (new connections are
    /// refused from then on), lets every connection finish what it is
    /// serving (hyper's graceful shutdown) for up to `grace`, then closes
    /// the connections that are left, and returns once all are closed.
    ///
    /// Calling it again, or from several tasks, is harmless: each call
    /// waits for the same end, and the report counts every forced close.
    ///
    /// # Examples
    ///
    /// See the [module](self).
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        self.phase.send_if_modified(|phase| {
            let start = *phase == Phase::Running;
            if start {
                *phase = Phase::Draining;
            }
            start
        });
        let mut listeners = self.shared.listeners.subscribe();
        let _ = listeners.wait_for(|n| *n == 0).await;
        let mut connections = self.shared.connections.subscribe();
        let timed_out = roost_runtime::time::timeout(grace, connections.wait_for(|n| *n == 0))
            .await
            .is_err();
        if timed_out {
            self.phase.send_replace(Phase::Closing);
            let _ = connections.wait_for(|n| *n == 0).await;
        }
        // The server has ended. Closing also ends every worker's phase
        // relay (it returns on Closing): without it those tasks lived until
        // the `Server` was dropped, and a graceful runtime shutdown behind
        // an ended server could not drain (tests/net_http_teardown.rs).
        self.phase.send_replace(Phase::Closing);
        ShutdownReport {
            forced: self.shared.forced.load(Ordering::Relaxed),
        }
    }

    /// The accept loops that ended on an unexpected error (each also said
    /// so on stderr): that worker's listener is closed, the other workers
    /// keep serving. Transient errors (descriptor or memory exhaustion, a
    /// connection reset before it was accepted) are backed off instead and
    /// never end a loop.
    pub fn failures(&self) -> Vec<crate::AcceptFailure> {
        self.shared.failures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The first of [`failures`](Self::failures) as an `io::Error` (same
    /// kind), or `Ok(())` if every accept loop is healthy or ended by
    /// [`shutdown`](Self::shutdown).
    ///
    /// # Errors
    ///
    /// The first accept loop's failure.
    pub fn check(&self) -> io::Result<()> {
        self.failures().first().map_or(Ok(()), |f| Err(f.error()))
    }

    /// Waits until the server has ended: every worker stopped accepting
    /// (after [`shutdown`](Self::shutdown), or because its listener broke)
    /// and every connection is closed. A server that is never shut down
    /// runs for ever: `rt.block_on(server.wait())` serves until the process
    /// ends.
    pub async fn wait(&self) {
        let _ = self.shared.listeners.subscribe().wait_for(|n| *n == 0).await;
        let _ = self.shared.connections.subscribe().wait_for(|n| *n == 0).await;
    }
}

/// A `Server` may be shut down from any thread: it is `Send + Sync`.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Server>();
    send_and_sync::<Builder>();
};
