//! `UnixListener`: a listening Unix stream socket on the current worker.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::task::{ready, Context, Poll};

use roost_runtime::io::Registration;

use super::{with_path, SocketAddr, UnixStream};

/// A Unix stream listener registered with the current worker: tokio's
/// `UnixListener`.
///
/// Unlike [`TcpListener::accept`](crate::TcpListener::accept), `accept`
/// returns every error to the caller, as tokio's does (it has no backoff
/// for descriptor exhaustion).
///
/// Dropping the listener does not remove its socket file, as with tokio
/// and `std`: remove the path before binding it again.
pub struct UnixListener {
    reg: Registration<mio::net::UnixListener>,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UnixListener {
    /// Creates a socket bound to `path` and listening, registered with the
    /// current worker (synchronous, as tokio's `UnixListener::bind`).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists already (a socket file left by an
    /// earlier listener included), `NotFound` if its directory does not
    /// exist, `PermissionDenied`, ...: the system's error, its message
    /// naming the path. `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("roost-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// let at = path.clone();
    /// rt.block_on_local(move || async move {
    ///     let listener = UnixListener::bind(&at).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(at.as_path()));
    ///     // The path is taken now.
    ///     let err = UnixListener::bind(&at).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let listener = mio::net::UnixListener::bind(path).map_err(|e| with_path("bind", path, e))?;
        Self::from_mio(listener)
    }

    /// Registers a bound, listening `std` socket with the current worker
    /// (tokio's `from_std`; the socket is made non-blocking here).
    ///
    /// # Errors
    ///
    /// `Other` off a worker thread; as `epoll_ctl`.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        Self::from_mio(mio::net::UnixListener::from_std(listener))
    }

    fn from_mio(listener: mio::net::UnixListener) -> io::Result<Self> {
        Ok(Self {
            reg: Registration::with_interest(listener, mio::Interest::READABLE)?,
        })
    }

    /// Deregisters the listener and returns the `std` socket (still
    /// non-blocking, as tokio's `into_std` leaves it).
    ///
    /// # Errors
    ///
    /// The error of deregistering.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.reg.into_inner().map(std::os::unix::net::UnixListener::from)
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.get_ref().local_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.reg.get_ref().take_error()
    }

    /// Accepts a connection, registered with the current worker, and the
    /// peer's address (usually unnamed).
    ///
    /// # Errors
    ///
    /// As `accept(2)` (`EMFILE`, ...), or registering the new stream.
    ///
    /// # Examples
    ///
    /// See [`UnixStream`].
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls to accept a connection (tokio's `poll_accept`). Only the waker
    /// of the latest call is woken.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (io, addr) = ready!(self.reg.poll_read_io(cx, |l| l.accept()))?;
        Poll::Ready(UnixStream::from_mio(io).map(|stream| (stream, addr)))
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.reg.get_ref().as_raw_fd()
    }
}
