//! `UnixDatagram`: a Unix datagram socket on the worker that owns it, with
//! tokio's signatures.
//!
//! As for [`UdpSocket`](crate::UdpSocket): readiness is cleared only after
//! `WouldBlock` (a short datagram says nothing about the queue), one task
//! may wait to receive and one to send at a time, and a datagram longer
//! than the buffer is truncated, as `recvfrom(2)` does.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::task::{ready, Context, Poll};

use roost_runtime::io::Registration;
use tokio::io::ReadBuf;

use super::{with_path, SocketAddr};

/// A Unix datagram socket registered with the current worker: tokio's
/// `UnixDatagram`.
///
/// # Examples
///
/// ```
/// use roost_net::unix::UnixDatagram;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"ping").await.unwrap();
///     let mut buf = [0u8; 16];
///     let n = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
pub struct UnixDatagram {
    reg: Registration<mio::net::UnixDatagram>,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UnixDatagram {
    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<Self> {
        Ok(Self {
            reg: Registration::new(socket)?,
        })
    }

    /// A socket bound to `path`, on the current worker.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists already, `NotFound` if its directory
    /// does not, ...: the system's error, its message naming the path.
    /// `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::unix::UnixDatagram;
    ///
    /// let dir = std::env::temp_dir().join(format!("roost-doc-dgram-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let (server_path, client_path) = (dir.join("server"), dir.join("client"));
    /// # let _ = (std::fs::remove_file(&server_path), std::fs::remove_file(&client_path));
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(move || async move {
    ///     let server = UnixDatagram::bind(&server_path).unwrap();
    ///     let client = UnixDatagram::bind(&client_path).unwrap();
    ///     client.send_to(b"request", &server_path).await.unwrap();
    ///     let mut buf = [0u8; 64];
    ///     let (n, from) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"request");
    ///     assert_eq!(from.as_pathname(), Some(client_path.as_path()));
    /// });
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        Self::from_mio(mio::net::UnixDatagram::bind(path).map_err(|e| with_path("bind", path, e))?)
    }

    /// A socket bound to no address (it can send, and receive replies only
    /// once connected).
    ///
    /// # Errors
    ///
    /// As `socket(2)`; `Other` off a worker thread.
    pub fn unbound() -> io::Result<Self> {
        Self::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A pair of connected, unnamed sockets, both on the current worker.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`; `Other` off a worker thread.
    pub fn pair() -> io::Result<(Self, Self)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    /// Registers a `std` socket with the current worker (made non-blocking
    /// here).
    ///
    /// # Errors
    ///
    /// `Other` off a worker thread; as `epoll_ctl`.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Self::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    /// Deregisters the socket and returns the `std` socket (still
    /// non-blocking).
    ///
    /// # Errors
    ///
    /// The error of deregistering.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        self.reg.into_inner().map(std::os::unix::net::UnixDatagram::from)
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts.
    ///
    /// # Errors
    ///
    /// As `connect(2)` (`NotFound`, `ConnectionRefused`, ...), the message
    /// naming the path.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.reg
            .get_ref()
            .connect(path)
            .map_err(|e| with_path("connect to", path, e))
    }

    /// Sends one datagram to the socket bound at `target`.
    ///
    /// # Errors
    ///
    /// As `sendto(2)`: `NotFound` if nothing is bound there,
    /// `ConnectionRefused` if the socket there was closed, ...
    pub async fn send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        let target = target.as_ref();
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Waits for a datagram, copies it into `buf` (truncated if longer) and
    /// returns its length and sender.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg.read_io(|s| s.recv_from(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](Self::connect); as `send(2)`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Waits for a datagram from the connected peer and copies it into
    /// `buf` (truncated if longer).
    ///
    /// # Errors
    ///
    /// As `recv(2)`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.reg.read_io(|s| s.recv(buf)).await
    }

    /// Polls to send one datagram to `target` (tokio's `poll_send_to`).
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to).
    pub fn poll_send_to(&self, cx: &mut Context<'_>, buf: &[u8], target: impl AsRef<Path>) -> Poll<io::Result<usize>> {
        self.reg.poll_write_io(cx, |s| s.send_to(buf, target.as_ref()))
    }

    /// Polls to send one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.reg.poll_write_io(cx, |s| s.send(buf))
    }

    /// Polls to receive one datagram into the unfilled part of `buf`
    /// (tokio's `poll_recv_from`; truncated to the space there was).
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(self.reg.poll_read_io(cx, |s| s.recv_from(buf.initialize_unfilled())))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// Polls to receive one datagram from the connected peer into the
    /// unfilled part of `buf`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(self.reg.poll_read_io(cx, |s| s.recv(buf.initialize_unfilled())))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// This socket's address.
    ///
    /// # Errors
    ///
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](Self::connect); as `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.get_ref().peer_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.reg.get_ref().take_error()
    }

    /// Shuts down one or both directions (tokio's `shutdown`, synchronous
    /// here as there).
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.reg.get_ref().shutdown(how)
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.reg.get_ref().as_raw_fd()
    }
}
