//! A gRPC client channel on roost's streams: what tonic's generated
//! clients call through, as tonic's `Channel` (which needs tokio's runtime)
//! is on tokio.
//!
//! A [`Channel`] is a cheap, `Send + Sync` handle: clone it into every
//! worker's service. Each thread that calls through it (each worker, or a
//! thread inside `block_on`) has **its own HTTP/2 connection** to the
//! server, made on that thread's first call and used by all of that
//! thread's calls at once (HTTP/2 streams); a call never leaves its worker
//! and no lock is taken on the way.
//!
//! - **Connecting.** The first call of a thread connects (within
//!   [`connect_timeout`](ChannelBuilder::connect_timeout)) and the calls
//!   that come meanwhile wait for that same connection. A connection that
//!   fails, or that the server closes (a `GOAWAY`, a reset), is replaced on
//!   the thread's next call: a channel reconnects by itself, and a call made
//!   while the server is unreachable fails with `UNAVAILABLE`.
//! - **Deadlines.** A call's deadline is the sooner of its own
//!   (`Request::set_timeout`, sent as `grpc-timeout`) and the channel's
//!   [`timeout`](ChannelBuilder::timeout); a call without an answer by then
//!   fails with `DEADLINE_EXCEEDED` and its stream is reset.
//! - **Closing.** The connections close once every clone of the channel is
//!   dropped.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use ::hyper::body::Incoming;
use ::hyper::client::conn::http2;
use ::hyper::http::uri::{Authority, Scheme};
use ::hyper::{Request, Response, Uri};
use tokio::sync::{watch, OnceCell};
use tonic::body::Body as TonicBody;
use tonic::Status;

use super::timeout;
use crate::hyper::{RoostExecutor, RoostTimer};
use crate::TcpStream;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The default [`ChannelBuilder::connect_timeout`]: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A gRPC channel to one server; see the [module](self).
///
/// # Examples
///
/// ```no_run
/// use roost_net::grpc::Channel;
///
/// let channel = Channel::from_static("http://127.0.0.1:50051");
/// // let mut client = EchoClient::new(channel.clone()); // tonic's generated client
/// # let _ = channel;
/// ```
#[derive(Clone)]
pub struct Channel {
    shared: Arc<Shared>,
}

/// What every clone of a channel shares.
struct Shared {
    /// Tells this channel's connections on every thread apart from other
    /// channels'.
    id: u64,
    host: String,
    port: u16,
    /// `http`, or `https` over TLS: what requests carry.
    scheme: Scheme,
    authority: Authority,
    connect_timeout: Duration,
    timeout: Option<Duration>,
    /// TLS (`https://`), with the client configuration.
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Dropped with the last clone: every connection task ends then.
    closed: watch::Sender<()>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("authority", &self.shared.authority)
            .field("connect_timeout", &self.shared.connect_timeout)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Channel`]; from [`Channel::builder`].
#[derive(Debug, Clone)]
pub struct ChannelBuilder {
    uri: Uri,
    connect_timeout: Duration,
    timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl ChannelBuilder {
    /// How long a connection attempt may take (default 10 s); past it the
    /// calls waiting for it fail with `UNAVAILABLE`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A deadline for every call (none by default); a call's own, if
    /// sooner, wins.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// TLS with `config` (feature `tls`), for an `https://` URI: the
    /// server's certificate is checked against the URI's host. A
    /// configuration that names no ALPN protocol gets `h2`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: impl Into<Arc<rustls::ClientConfig>>) -> Self {
        self.tls = Some(crate::tls::client_alpn_or(config.into(), &[b"h2"]));
        self
    }

    /// The channel. It connects on its first call, on each thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a URI that is not `http://host[:port]`, or
    /// `https://host[:port]` with [`tls`](Self::tls) (feature `tls`).
    pub fn build(self) -> io::Result<Channel> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {}", self.uri));
        let https = self.uri.scheme() == Some(&Scheme::HTTPS);
        if !https && self.uri.scheme() != Some(&Scheme::HTTP) {
            return Err(invalid("a gRPC channel needs an http:// or https:// URI"));
        }
        #[cfg(feature = "tls")]
        let tls = match (https, self.tls) {
            (false, None) => None,
            (true, Some(config)) => Some(config),
            (true, None) => {
                return Err(invalid(
                    "an https:// URI needs a TLS configuration (ChannelBuilder::tls)",
                ))
            }
            (false, Some(_)) => return Err(invalid("a channel with a TLS configuration needs an https:// URI")),
        };
        #[cfg(not(feature = "tls"))]
        if https {
            return Err(invalid("an https:// URI needs roost's feature `tls`"));
        }
        let authority = self
            .uri
            .authority()
            .ok_or_else(|| invalid("no host in the URI"))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let scheme = if https { Scheme::HTTPS } else { Scheme::HTTP };
        static IDS: AtomicU64 = AtomicU64::new(0);
        Ok(Channel {
            shared: Arc::new(Shared {
                id: IDS.fetch_add(1, Ordering::Relaxed),
                host,
                port,
                scheme,
                authority,
                connect_timeout: self.connect_timeout,
                timeout: self.timeout,
                #[cfg(feature = "tls")]
                tls,
                closed: watch::Sender::new(()),
            }),
        })
    }
}

impl Channel {
    /// A channel's settings, for `uri` (`http://host:port`).
    pub fn builder(uri: Uri) -> ChannelBuilder {
        ChannelBuilder {
            uri,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// A channel to `uri` with the default settings.
    ///
    /// # Errors
    ///
    /// As [`ChannelBuilder::build`].
    pub fn new(uri: Uri) -> io::Result<Self> {
        Self::builder(uri).build()
    }

    /// A channel to a URI written in the program.
    ///
    /// # Panics
    ///
    /// If `uri` is not a valid `http://host:port` URI.
    pub fn from_static(uri: &'static str) -> Self {
        Self::new(Uri::from_static(uri)).expect("a valid http:// URI")
    }

    /// Connects this thread's connection now, if it has none, rather than
    /// on the first call: to see early that the server is there.
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` if the server cannot be reached.
    ///
    /// # Panics
    ///
    /// Outside a roost worker or `block_on` (the connection is a task of
    /// this thread).
    pub async fn connect(&self) -> Result<(), Status> {
        local(&self.shared).sender(&self.shared).await.map(drop)
    }
}

/// One thread's connection of one channel.
struct Local {
    channel: Weak<Shared>,
    /// The current attempt, or the connection it made: replaced when it
    /// failed or its connection closed.
    current: RefCell<Rc<Attempt>>,
}

/// One connection attempt, shared by the calls that wait for it.
type Attempt = OnceCell<Result<http2::SendRequest<TonicBody>, (io::ErrorKind, String)>>;

thread_local! {
    /// This thread's connections, by channel; a handful at most.
    static LOCAL: RefCell<Vec<(u64, Rc<Local>)>> = const { RefCell::new(Vec::new()) };
}

/// This thread's connection of `shared`'s channel, made empty if it has
/// none; forgets those of channels that are gone.
fn local(shared: &Arc<Shared>) -> Rc<Local> {
    LOCAL.with_borrow_mut(|locals| {
        if let Some((_, local)) = locals.iter().find(|(id, _)| *id == shared.id) {
            return local.clone();
        }
        locals.retain(|(_, local)| local.channel.strong_count() > 0);
        let local = Rc::new(Local {
            channel: Arc::downgrade(shared),
            current: RefCell::new(Rc::new(OnceCell::new())),
        });
        locals.push((shared.id, local.clone()));
        local
    })
}

impl Local {
    /// A sender on this thread's connection: the current one if it is
    /// open, or the next attempt's.
    async fn sender(&self, shared: &Arc<Shared>) -> Result<http2::SendRequest<TonicBody>, Status> {
        let mut attempt = self.current.borrow().clone();
        if let Some(done) = attempt.get() {
            match done {
                Ok(sender) if !sender.is_closed() => return Ok(sender.clone()),
                // Failed, or closed since: a fresh attempt (unless a call
                // before this one started it already).
                _ => {
                    let mut current = self.current.borrow_mut();
                    if Rc::ptr_eq(&current, &attempt) {
                        *current = Rc::new(OnceCell::new());
                    }
                    attempt = current.clone();
                }
            }
        }
        match attempt.get_or_init(|| connect(shared.clone())).await {
            Ok(sender) => Ok(sender.clone()),
            Err((kind, message)) => Err(Status::unavailable(format!(
                "cannot connect to {}: {message} ({kind:?})",
                shared.authority
            ))),
        }
    }
}

/// Connects, spawns the connection's task on this thread, and returns its
/// sender.
async fn connect(shared: Arc<Shared>) -> Result<http2::SendRequest<TonicBody>, (io::ErrorKind, String)> {
    let connecting = async {
        let stream = TcpStream::connect((shared.host.as_str(), shared.port)).await?;
        #[cfg(feature = "tls")]
        if let Some(config) = &shared.tls {
            let stream = crate::tls::connect(config.clone(), &shared.host, stream).await?;
            return start(hyper_util::rt::TokioIo::new(stream), &shared).await;
        }
        start(stream, &shared).await
    };
    match roost_runtime::time::timeout(shared.connect_timeout, connecting).await {
        Ok(Ok(sender)) => Ok(sender),
        Ok(Err(e)) => Err((e.kind(), e.to_string())),
        Err(_) => Err((
            io::ErrorKind::TimedOut,
            format!("no connection within {:?}", shared.connect_timeout),
        )),
    }
}

/// The HTTP/2 handshake on `io`, and the connection's task on this thread.
async fn start<T>(io: T, shared: &Shared) -> io::Result<http2::SendRequest<TonicBody>>
where
    T: ::hyper::rt::Read + ::hyper::rt::Write + Unpin + 'static,
{
    let mut builder = http2::Builder::new(RoostExecutor);
    builder.timer(RoostTimer);
    let (sender, connection) = builder.handshake(io).await.map_err(io::Error::other)?;
    let mut closed = shared.closed.subscribe();
    drop(roost_runtime::spawn_local(async move {
        tokio::select! {
            // The server closed it, or it broke: the next call reconnects.
            _ = connection => {}
            // Every clone of the channel is gone.
            _ = closed.changed() => {}
        }
    }));
    Ok(sender)
}

impl tower::Service<Request<TonicBody>> for Channel {
    type Response = Response<Incoming>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Incoming>, BoxError>>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is the connection's, awaited in the call: a connection
        // is per thread, and a call may be polled on another.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<TonicBody>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            // tonic's clients send the path alone, unless built with an
            // origin: HTTP/2 needs the scheme and authority.
            if req.uri().authority().is_none() {
                let mut parts = std::mem::take(req.uri_mut()).into_parts();
                parts.scheme = Some(shared.scheme.clone());
                parts.authority = Some(shared.authority.clone());
                *req.uri_mut() = Uri::from_parts(parts).map_err(|e| Status::internal(e.to_string()))?;
            }
            let deadline = timeout::sooner(timeout::from_headers(req.headers()), shared.timeout);
            if let (Some(deadline), None) = (deadline, req.headers().get(timeout::GRPC_TIMEOUT)) {
                // The server learns the channel's deadline too.
                req.headers_mut()
                    .insert(timeout::GRPC_TIMEOUT, timeout::encode(deadline));
            }
            let call = async {
                let mut sender = local(&shared).sender(&shared).await?;
                sender.ready().await.map_err(|e| broken(&shared, e))?;
                sender.send_request(req).await.map_err(|e| broken(&shared, e))
            };
            let result = match deadline {
                None => call.await,
                Some(deadline) => match roost_runtime::time::timeout(deadline, call).await {
                    Ok(result) => result,
                    Err(_) => Err(Status::deadline_exceeded(format!("no answer within {deadline:?}"))),
                },
            };
            result.map_err(Into::into)
        })
    }
}

/// The status of a call whose connection failed: tonic's reading of
/// hyper's error (a reset stream keeps its code), `UNAVAILABLE` where that
/// says nothing more than `UNKNOWN`.
fn broken(shared: &Shared, error: ::hyper::Error) -> Status {
    let status = Status::from_error(Box::new(error));
    if status.code() == tonic::Code::Unknown {
        return Status::unavailable(format!(
            "connection to {} failed: {}",
            shared.authority,
            status.message()
        ));
    }
    status
}

/// A channel is shared by every worker.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Channel>();
};
