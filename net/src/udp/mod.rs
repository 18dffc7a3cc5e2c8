//! `UdpSocket`: a datagram socket registered with the worker that owns it,
//! with tokio's signatures.
//!
//! # Where a socket lives
//!
//! As a [`TcpStream`](crate::TcpStream), a socket is registered with the
//! reactor of the worker that creates it and stays there: it is neither
//! `Send` nor `Sync`. Where tokio code shares an `Arc<UdpSocket>` between
//! tasks, share an `Rc<UdpSocket>` between tasks of the same worker (every
//! method takes `&self`); to move a socket to another worker, take the `std`
//! socket with [`UdpSocket::into_std`] and register it there with
//! [`UdpSocket::from_std`].
//!
//! One task may wait to receive and one to send at a time (the reactor keeps
//! one waiter per direction): a second task waiting to receive on the same
//! socket replaces the first one's waker, as with tokio's `poll_*` methods.
//! Give each socket one receiving task.
//!
//! # Files
//!
//! - this file: construction, addresses, `connect`, socket options;
//! - `borrowed.rs`: `send_to`/`recv_from`, `send`/`recv`, `peek_from` on
//!   borrowed slices, and the `poll_*` forms (for `UdpFramed`-style code);
//! - `owned.rs`: receiving into buffers of the worker's arena, with
//!   truncation reported instead of hidden.
//!
//! # Invariants
//!
//! - Readiness is cleared only after `WouldBlock`: a datagram socket's short
//!   read says nothing about the queue (unlike a stream's), so the next
//!   datagram must be tried.
//! - The receive slot is closed when the socket is dropped, releasing what
//!   it holds; it holds at most one buffer.

mod borrowed;
mod owned;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use roost_alloc::ReuseSlot;
use roost_runtime::io::Registration;

use crate::addr::each_addr;
use crate::ToSocketAddrs;

pub use owned::TruncatedDatagram;

/// A UDP socket on a roost worker, with tokio's `UdpSocket` methods.
///
/// # Examples
///
/// An echo round trip between two sockets:
///
/// ```
/// use roost_net::UdpSocket;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     client.send_to(b"ping", server.local_addr().unwrap()).await.unwrap();
///
///     let mut buf = [0u8; 64];
///     let (n, from) = server.recv_from(&mut buf).await.unwrap();
///     server.send_to(&buf[..n], from).await.unwrap();
///
///     let (n, _) = client.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
///
/// It never leaves its worker:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<roost_net::UdpSocket>();
/// ```
pub struct UdpSocket {
    reg: Registration<mio::net::UdpSocket>,
    /// Where buffers of the owned receive come from and, dropped on another
    /// core, park.
    rx_slot: ReuseSlot,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UdpSocket {
    /// Binds a socket on the current worker, as tokio's `UdpSocket::bind`:
    /// each address `addr` resolves to is tried in order until one binds
    /// (host names are resolved on the blocking pool, see [`ToSocketAddrs`]).
    ///
    /// # Errors
    ///
    /// The last address's error (`AddrInUse`, `AddrNotAvailable`, ...); the
    /// resolution error; `InvalidInput` if `addr` resolves to no address;
    /// `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::UdpSocket;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(socket.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        each_addr(addr, |addr| std::future::ready(Self::bind_std(addr))).await
    }

    /// Binds `addr` on the current worker, synchronously (the `SocketAddr`
    /// form of [`bind`](Self::bind)).
    ///
    /// # Errors
    ///
    /// As `socket` and `bind` (`AddrInUse`, ...); `Other` off a worker
    /// thread.
    pub fn bind_std(addr: SocketAddr) -> io::Result<Self> {
        Self::from_mio(mio::net::UdpSocket::bind(addr)?)
    }

    /// Registers a bound `std` socket with the current worker (tokio's
    /// `UdpSocket::from_std`; the socket is made non-blocking here).
    ///
    /// # Errors
    ///
    /// `Other` off a worker thread; as `epoll_ctl`.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Self::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<Self> {
        Ok(Self {
            reg: Registration::new(socket)?,
            rx_slot: ReuseSlot::new(),
        })
    }

    /// Deregisters the socket from this worker and returns the `std` socket
    /// (still non-blocking, as tokio's `into_std` leaves it), to move it to
    /// another worker or hand it to blocking code. A parked receive buffer
    /// is released.
    ///
    /// # Errors
    ///
    /// The error of deregistering (the socket is closed then).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.reg.into_inner().map(std::net::UdpSocket::from)
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts, as tokio's
    /// `UdpSocket::connect`: each address `addr` resolves to is tried in
    /// order until one is accepted.
    ///
    /// # Errors
    ///
    /// The last address's error (an address of the other family gives
    /// `InvalidInput` or `AddrNotAvailable`, ...); the resolution error;
    /// `InvalidInput` if `addr` resolves to no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::UdpSocket;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    ///
    ///     a.send(b"hello").await.unwrap();
    ///     let mut buf = [0u8; 16];
    ///     let n = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"hello");
    /// });
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let socket = self.reg.get_ref();
        each_addr(addr, |addr| std::future::ready(socket.connect(addr))).await
    }

    /// The local address (with the port the kernel chose for port 0).
    ///
    /// # Errors
    ///
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.get_ref().local_addr()
    }

    /// The address the socket is connected to.
    ///
    /// # Errors
    ///
    /// `NotConnected` if [`connect`](Self::connect) was not called; as
    /// `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`: whether datagrams may be sent to a broadcast
    /// address.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.reg.get_ref().set_broadcast(on)
    }

    /// Reads `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.reg.get_ref().broadcast()
    }

    /// Sets `IP_TTL`, the time-to-live of outgoing (IPv4) datagrams.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.reg.get_ref().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.reg.get_ref().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`): for example the
    /// `ConnectionRefused` an ICMP port-unreachable left on a connected
    /// socket.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.reg.get_ref().take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.reg.get_ref().as_raw_fd()
    }
}
