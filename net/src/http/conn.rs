//! One worker's part of a [`Server`](super::Server): its accept loop and
//! the task that serves each connection it accepts.
//!
//! Everything here runs on the worker that owns the listener: the service
//! (`Rc`, built once per worker), hyper's connection state and the streams
//! never leave it. The worker talks to the rest of the server only through
//! [`Shared`], whose `watch` channels and counters are `Send + Sync`:
//!
//! - `phase` moves `Running -> Draining -> Closing` and never back. On
//!   `Draining` the accept loop returns (dropping, so closing, its
//!   listener) and every connection starts hyper's graceful shutdown; on
//!   `Closing` the connections still open are dropped (closed) and counted
//!   in `forced`.
//! - Each worker's relay task copies the phase into the worker's
//!   [`LocalPhase`], which its connections read at every wake-up with no
//!   atomic operation or lock; a connection registers its waker there once
//!   and is woken when the phase moves.
//! - `listeners` and `connections` count the accept loops and connection
//!   tasks alive; a guard decrements each on drop, so a task that is
//!   cancelled (runtime shutdown) is counted out as well.
//!
//! Before hyper knows whether a connection speaks HTTP/1 or HTTP/2 (the
//! auto builder reads up to 24 bytes to compare them with the HTTP/2
//! preface), hyper runs no timer of its own, so a client that sends
//! nothing, or part of the preface, would hold the connection for ever.
//! [`Detect`] watches those first bytes and the task closes the connection
//! if they are not decided within the header read timeout; after that,
//! hyper's HTTP/1 `header_read_timeout` takes over.

use std::cell::{Cell, RefCell};
use std::error::Error as StdError;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use ::hyper::body::{Body as HttpBody, Incoming};
use ::hyper::rt::{Read, ReadBufCursor, Write};
use ::hyper::service::Service;
use ::hyper::{Request, Response};
use hyper_util::server::conn::auto;
use slab::Slab;
use tokio::sync::watch;

use super::header_timer::HeaderSlot;
use super::upgrade::HomeIo;
use crate::hyper::RoostExecutor;
use crate::{TcpListener, TcpStream};

/// Where a server is in its life; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Running,
    Draining,
    Closing,
}

/// What the workers of one server share with its [`Server`](super::Server).
///
/// The phase's sender is the `Server`'s alone: the tasks hold receivers.
/// A server dropped while running keeps running (its phase never moves
/// again), and no task ever drops the sender, so cancelling a task (at
/// runtime shutdown) never wakes the tasks that watch the phase.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) phase: watch::Receiver<Phase>,
    pub(crate) listeners: watch::Sender<usize>,
    pub(crate) connections: watch::Sender<usize>,
    pub(crate) accepted: AtomicU64,
    pub(crate) forced: AtomicUsize,
    /// TLS handshakes that failed, timed out or were garbage.
    pub(crate) tls_failures: AtomicU64,
    /// Accept loops that ended on an unexpected error (see
    /// [`Server::failures`](super::Server::failures)).
    pub(crate) failures: std::sync::Mutex<Vec<crate::AcceptFailure>>,
}

impl Shared {
    /// The shared part, and the phase's sender.
    pub(crate) fn new(listeners: usize) -> (Arc<Self>, watch::Sender<Phase>) {
        let (phase_tx, phase) = watch::channel(Phase::Running);
        let shared = Arc::new(Self {
            phase,
            listeners: watch::Sender::new(listeners),
            connections: watch::Sender::new(0),
            accepted: AtomicU64::new(0),
            forced: AtomicUsize::new(0),
            tls_failures: AtomicU64::new(0),
            failures: std::sync::Mutex::new(Vec::new()),
        });
        (shared, phase_tx)
    }
}

/// Resolves once the server's phase is `target` or later; never, if the
/// [`Server`](super::Server) was dropped (its phase can no longer move).
async fn reached(phase: &mut watch::Receiver<Phase>, target: Phase) {
    if phase.wait_for(|p| *p >= target).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One worker's copy of the server's phase (see the module documentation).
#[derive(Debug)]
pub(crate) struct LocalPhase {
    phase: Cell<Phase>,
    waiters: RefCell<Slab<Waker>>,
}

impl LocalPhase {
    pub(crate) fn new() -> Self {
        Self {
            phase: Cell::new(Phase::Running),
            waiters: RefCell::new(Slab::new()),
        }
    }

    /// Moves the phase and wakes every connection waiting for a change.
    fn set(&self, phase: Phase) {
        if self.phase.replace(phase) == phase {
            return;
        }
        // Woken outside the borrow: a waker may register again.
        let wakers: Vec<Waker> = self.waiters.borrow().iter().map(|(_, w)| w.clone()).collect();
        for w in wakers {
            w.wake();
        }
    }
}

/// A connection's registration with its worker's [`LocalPhase`].
struct PhaseWait<'a> {
    local: &'a LocalPhase,
    key: Option<usize>,
}

impl PhaseWait<'_> {
    /// Ready with the phase once it is past `seen`; otherwise keeps this
    /// task's waker registered (one slab entry, updated in place).
    fn poll_past(&mut self, cx: &mut Context<'_>, seen: Phase) -> Poll<Phase> {
        let now = self.local.phase.get();
        if now > seen {
            return Poll::Ready(now);
        }
        let mut waiters = self.local.waiters.borrow_mut();
        match self.key {
            Some(key) => {
                let slot = &mut waiters[key];
                if !slot.will_wake(cx.waker()) {
                    slot.clone_from(cx.waker());
                }
            }
            None => self.key = Some(waiters.insert(cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for PhaseWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.local.waiters.borrow_mut().remove(key);
        }
    }
}

/// Copies the server's phase into the worker's [`LocalPhase`] until it is
/// `Closing` (or the [`Server`](super::Server) is gone).
pub(crate) async fn relay_phase(mut phase: watch::Receiver<Phase>, local: Rc<Worker<impl Sized>>) {
    loop {
        let now = *phase.borrow_and_update();
        local.phase.set(now);
        if now == Phase::Closing || phase.changed().await.is_err() {
            return;
        }
    }
}

/// Counts one accept loop or connection out of `count` when dropped.
struct CountGuard<'a>(&'a watch::Sender<usize>);

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// What a worker serves on each connection: the service hyper calls for
/// every request of one connection, made when the connection is accepted.
///
/// The HTTP server's puts the body limit in front of the user's service
/// (`service.rs`); the gRPC server's adds deadlines, message limits and the
/// peer's address (`crate::grpc`).
pub(crate) trait ConnService: 'static {
    /// The service of one connection.
    type Service: Service<Request<Incoming>, Response = Response<Self::Body>, Error = Box<dyn StdError + Send + Sync>>
        + 'static;
    /// Its response body.
    type Body: HttpBody<Error: Into<Box<dyn StdError + Send + Sync>>> + 'static;

    /// The service for a connection just accepted from `stream`.
    fn connection(&self, stream: &TcpStream) -> Self::Service;
}

/// One worker's state, shared by its accept loop and its connections.
pub(crate) struct Worker<M> {
    pub(crate) make: M,
    pub(crate) builder: auto::Builder<RoostExecutor>,
    pub(crate) header_read_timeout: Option<Duration>,
    pub(crate) shared: Arc<Shared>,
    /// The phase as this worker's connections see it.
    pub(crate) phase: LocalPhase,
    /// TLS, when the server serves HTTPS.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Tls>,
}

/// Accepts until the server drains or the listener breaks, and serves each
/// connection in a task of its own on this worker.
pub(crate) async fn accept_loop<M: ConnService>(listener: TcpListener, worker: Rc<Worker<M>>) {
    let shared = worker.shared.clone();
    let _alive = CountGuard(&shared.listeners);
    let mut phase = shared.phase.clone();
    loop {
        tokio::select! {
            biased;
            _ = reached(&mut phase, Phase::Draining) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    // Counted here, before the task exists, so that a
                    // shutdown never sees an accepted connection as none.
                    shared.connections.send_modify(|n| *n += 1);
                    drop(roost_runtime::spawn_local(serve_connection(stream, worker.clone())));
                }
                // Not a per-connection or exhaustion error (`accept`
                // handles those): the listener itself is broken. Said on
                // stderr and kept for `Server::failures`; the other
                // workers keep serving.
                Err(error) => {
                    let failure = crate::AcceptFailure::new(roost_runtime::current_worker().unwrap_or(0), &error);
                    eprintln!("roost::net::http: {}", failure.message);
                    // Closed before the failure is told: whoever sees it
                    // and connects again reaches the other workers only.
                    drop(listener);
                    shared.failures.lock().unwrap_or_else(|e| e.into_inner()).push(failure);
                    return;
                }
            },
        }
    }
}

/// A worker's TLS settings (feature `tls`).
#[cfg(feature = "tls")]
pub(crate) struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    pub(crate) handshake_timeout: Duration,
}

/// Serves one connection until it ends, the server closes it, or it does
/// not say which protocol it speaks within the header read timeout; over
/// TLS, after a handshake within the handshake timeout.
async fn serve_connection<M: ConnService>(stream: TcpStream, worker: Rc<Worker<M>>) {
    let _alive = CountGuard(&worker.shared.connections);
    let service = worker.make.connection(&stream);
    #[cfg(feature = "tls")]
    if let Some(tls) = &worker.tls {
        let handshake = roost_runtime::time::timeout(tls.handshake_timeout, tls.acceptor.accept(stream));
        let mut phase = PhaseWait {
            local: &worker.phase,
            key: None,
        };
        let stream = tokio::select! {
            biased;
            // A connection still in its handshake has nothing in flight:
            // the server's drain closes it.
            _ = poll_fn(|cx| phase.poll_past(cx, Phase::Running)) => return,
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                // A failed, garbage or silent handshake: counted, closed.
                Ok(Err(_)) | Err(_) => {
                    worker.shared.tls_failures.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
        };
        drop(phase);
        return drive(hyper_util::rt::TokioIo::new(stream), service, &worker).await;
    }
    drive(stream, service, &worker).await;
}

/// Serves hyper on `io` with `service` until the connection ends or the
/// server closes it (see [`serve_connection`]).
async fn drive<M, I>(io: I, service: M::Service, worker: &Worker<M>)
where
    M: ConnService,
    I: Read + Write + Unpin + 'static,
{
    let shared = &worker.shared;
    let mut phase = PhaseWait {
        local: &worker.phase,
        key: None,
    };
    let mut seen = Phase::Running;
    // hyper's header read timer lives in the slot, entered around each
    // poll of the connection (`header_timer.rs`); `Detect` notes there
    // when the protocol is decided.
    let slot = HeaderSlot::new();
    // `Send` for hyper's upgrades, used on this worker only (`upgrade.rs`).
    let io = HomeIo::new(Detect {
        stream: io,
        matched: 0,
        slot: slot.clone(),
    });
    // Once hyper hands an upgraded connection to the service, this future
    // ends and the connection is no longer the server's (see `upgrade.rs`).
    let mut conn = pin!(worker.builder.serve_connection_with_upgrades(io, service));
    let mut detect_timer = worker.header_read_timeout;
    let mut deadline = pin!(roost_runtime::time::sleep(detect_timer.unwrap_or(Duration::MAX)));
    loop {
        tokio::select! {
            biased;
            // Errors (a bad request line, a reset) end this connection only;
            // hyper has already answered what deserved an answer.
            _ = poll_fn(|cx| slot.enter(|| conn.as_mut().poll(cx))) => return,
            now = poll_fn(|cx| phase.poll_past(cx, seen)) => {
                seen = now;
                if now == Phase::Closing {
                    shared.forced.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                slot.enter(|| conn.as_mut().graceful_shutdown());
            }
            _ = deadline.as_mut(), if detect_timer.is_some() => {
                if !slot.is_decided() {
                    return;
                }
                detect_timer = None;
            }
        }
    }
}

/// The HTTP/2 client preface, which hyper-util's auto builder looks for.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A connection's stream (a [`TcpStream`], or TLS over one) that notes
/// when its first bytes decide between HTTP/1 and HTTP/2, as the auto
/// builder's detection does: at the first byte that differs from the
/// HTTP/2 preface, or once the whole preface came.
///
/// Until then it reads through a small stack buffer (at most 24 bytes,
/// once per connection) so that it can look at them; after that, reads go
/// straight into hyper's buffer.
struct Detect<I> {
    stream: I,
    /// Bytes of the preface matched so far.
    matched: usize,
    /// Where the decision is noted.
    slot: Rc<HeaderSlot>,
}

impl<I: Read + Unpin> Read for Detect<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.slot.is_decided() {
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        }
        let mut first = [0u8; H2_PREFACE.len()];
        let want = (H2_PREFACE.len() - this.matched).min(buf.remaining());
        let mut read = ::hyper::rt::ReadBuf::new(&mut first[..want]);
        ready!(Pin::new(&mut this.stream).poll_read(cx, read.unfilled()))?;
        let got = read.filled();
        let expected = &H2_PREFACE[this.matched..this.matched + got.len()];
        if got != expected || this.matched + got.len() == H2_PREFACE.len() {
            this.slot.decide();
        }
        this.matched += got.len();
        buf.put_slice(got);
        Poll::Ready(Ok(()))
    }
}

impl<I: Write + Unpin> Write for Detect<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
