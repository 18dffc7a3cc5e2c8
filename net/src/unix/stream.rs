//! `UnixStream`: a connected Unix stream socket on the worker that owns it.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::rc::Rc;
use std::task::{Context, Poll};

use roost_runtime::io::Registration;
use tokio::io::ReadBuf;

use super::{with_path, OwnedReadHalf, OwnedWriteHalf, ReadHalf, SocketAddr, UCred, WriteHalf};
use crate::stream_io::{self, StreamSocket};

pub(crate) type UnixInner = Registration<mio::net::UnixStream>;

impl StreamSocket for UnixInner {
    fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        stream_io::poll_read_buf(self, cx, buf)
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        stream_io::poll_write(self, cx, buf)
    }

    fn poll_write_vectored(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        stream_io::poll_write_vectored(self, cx, bufs)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.get_ref().shutdown(Shutdown::Write)
    }
}

/// A Unix stream socket on a roost worker: tokio's `UnixStream`, with
/// tokio's `AsyncRead` and `AsyncWrite` (vectored writes included).
///
/// # Examples
///
/// ```
/// use roost_net::{UnixListener, UnixStream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let dir = std::env::temp_dir().join(format!("roost-doc-unix-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("echo.sock");
/// # let _ = std::fs::remove_file(&path);
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(move || async move {
///     let listener = UnixListener::bind(&path).unwrap();
///     let mut client = UnixStream::connect(&path).await.unwrap();
///     let (mut served, _addr) = listener.accept().await.unwrap();
///
///     client.write_all(b"hello").await.unwrap();
///     let mut buf = [0u8; 5];
///     served.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// It never leaves its worker:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<roost_net::UnixStream>();
/// ```
pub struct UnixStream {
    pub(crate) inner: Rc<UnixInner>,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UnixStream {
    pub(crate) fn from_mio(io: mio::net::UnixStream) -> io::Result<Self> {
        Ok(Self {
            inner: Rc::new(Registration::new(io)?),
        })
    }

    /// Connects, from the current worker, to the socket bound at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is bound at `path`, `ConnectionRefused` if the
    /// socket there does not listen, `WouldBlock` if its backlog is full (as
    /// tokio); the message names the path. `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let err = roost_net::UnixStream::connect("/nonexistent/roost.sock").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     assert!(err.to_string().contains("/nonexistent/roost.sock"));
    /// });
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let io = mio::net::UnixStream::connect(path).map_err(|e| with_path("connect to", path, e))?;
        let stream = Self::from_mio(io)?;
        poll_fn(|cx| stream.inner.poll_write_ready(cx)).await?;
        if let Some(e) = stream.take_error()? {
            return Err(with_path("connect to", path, e));
        }
        Ok(stream)
    }

    /// A pair of connected, unnamed sockets, both on the current worker.
    ///
    /// # Errors
    ///
    /// As `socketpair` (`EMFILE`, ...); `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let (mut a, mut b) = roost_net::UnixStream::pair().unwrap();
    ///     a.write_all(b"ping").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"ping");
    /// });
    /// ```
    pub fn pair() -> io::Result<(Self, Self)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    /// Registers a connected `std` socket with the current worker (tokio's
    /// `from_std`; the socket is made non-blocking here).
    ///
    /// # Errors
    ///
    /// `Other` off a worker thread; as `epoll_ctl`.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Self::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// Deregisters the socket from this worker and returns the `std` socket
    /// (still non-blocking, as tokio's `into_std` leaves it).
    ///
    /// # Errors
    ///
    /// `WouldBlock` if a split half still refers to the stream; otherwise
    /// the error of deregistering.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let inner = Rc::try_unwrap(self.inner)
            .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "a split half of this stream is still alive"))?;
        inner.into_inner().map(std::os::unix::net::UnixStream::from)
    }

    /// This end's address (unnamed for a connecting socket or a pair).
    ///
    /// # Errors
    ///
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer's address (the listener's path for a connected client).
    ///
    /// # Errors
    ///
    /// As `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The peer's credentials (see [`UCred`]).
    ///
    /// # Errors
    ///
    /// As `getsockopt(SO_PEERCRED)` or `getpeereid`; `Unsupported` on
    /// systems with neither.
    pub fn peer_cred(&self) -> io::Result<UCred> {
        let (uid, gid, pid) = crate::sys::peer_cred(self.as_raw_fd())?;
        Ok(UCred { uid, gid, pid })
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }

    /// Shuts down one or both directions now, as `std`'s `shutdown`. (Named
    /// so that tokio's `AsyncWriteExt::shutdown().await`, which shuts down
    /// the write side, is not hidden by it.)
    ///
    /// # Errors
    ///
    /// As `shutdown(2)` (`NotConnected`, ...).
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Borrowed read and write halves, to read and write concurrently from
    /// two tasks (or two branches of a `select`) on this worker.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf { inner: &self.inner }, WriteHalf { inner: &self.inner })
    }

    /// Owned read and write halves, for two tasks on this worker. As with
    /// tokio, dropping the write half shuts down the write direction (see
    /// [`OwnedWriteHalf`]).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                inner: self.inner.clone(),
            },
            OwnedWriteHalf::new(self.inner),
        )
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get_ref().as_raw_fd()
    }
}

impl_async_read!(UnixStream);
impl_async_write!(UnixStream);
