//! `TcpStream`: a connection registered with the worker that owns it.
//!
//! # Where a stream lives
//!
//! A stream is registered with the reactor of the worker that created it and
//! stays there: it is neither `Send` nor `Sync`. Moving a connection to
//! another worker is explicit: [`TcpStream::into_std`] deregisters it and
//! gives back the `std` socket, which can be sent anywhere and registered
//! again with [`TcpStream::from_std`] on the target worker.
//!
//! # Buffers
//!
//! Besides borrowed-slice I/O through tokio's `AsyncRead` and `AsyncWrite`
//! (`read`, `write_all`, ... come from tokio's `AsyncReadExt` and
//! `AsyncWriteExt`, as on a tokio stream; no inherent method of the same
//! name hides them), a stream does owned-buffer I/O on the worker's arena:
//!
//! - [`recv`](TcpStream::recv) fills an arena buffer with one read. The
//!   buffer comes from the stream's RX [`ReuseSlot`] when one is parked there,
//!   and carries that slot: dropped on another core, it parks there, and the
//!   stream's next `recv` on the home core takes it back.
//! - [`send`](TcpStream::send) writes a buffer until the kernel has taken every
//!   byte, then parks it in the TX slot, where
//!   [`alloc_send`](TcpStream::alloc_send) finds it for the next response.
//!
//! On the io_uring driver (see `roost_runtime::io::Driver`), `recv` returns
//! the arena buffer the kernel received into (the worker's provided-buffer
//! ring; the RX slot is not used), borrowed-slice reads copy out of those
//! buffers, and `send` hands its buffer to the kernel until it lets go of
//! it, then parks it in the TX slot. A stream that has received through
//! the ring cannot leave its worker with [`TcpStream::into_std`].
//!
//! # Invariants
//!
//! - Readiness is cleared after `WouldBlock`, and also after a short read or
//!   a short write: the receive queue was drained (or the send buffer
//!   filled) at that moment, so new data (or free space) brings a new edge.
//!   A FIN or a reset that arrived with the data brings none, which is why
//!   the reactor keeps the closed state sticky: clearing readiness never
//!   hides it. Events are dispatched on this same thread between task
//!   polls, never between an operation and the clear that follows it. This
//!   saves the `EAGAIN` read that would otherwise follow every request.
//! - The slots are closed when the stream is dropped (releasing what they
//!   hold), and emptied when it has been idle for the worker's idle-release
//!   time (see [`crate::idle`]).
//!
//! # Files
//!
//! - this file: the stream, its construction and connection, addresses,
//!   shutdown and the split halves;
//! - `borrowed.rs`: borrowed-slice I/O and tokio's `AsyncRead`/`AsyncWrite`
//!   (the readiness rules themselves are in `crate::stream_io`);
//! - `options.rs`: socket options;
//! - `owned.rs`: owned-buffer I/O on the worker's arena and the reuse slots.

mod borrowed;
mod options;
mod owned;

use std::cell::{Cell, OnceCell};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use roost_alloc::ReuseSlot;
use roost_runtime::io::Registration;
use socket2::SockRef;

use crate::idle::{self, IdleKey};
use crate::{BufferSource, ToSocketAddrs};

pub use self::owned::DEFAULT_RECV_SIZE;

pub(crate) struct StreamInner {
    pub(crate) reg: Registration<mio::net::TcpStream>,
    /// The reuse slots, made at the first owned-buffer receive or send: a
    /// stream read and written through borrowed slices only (hyper, TLS,
    /// tokio's traits) never pays their two allocations.
    rx_slot: OnceCell<ReuseSlot>,
    tx_slot: OnceCell<ReuseSlot>,
    /// Idle sweeps since the last operation (see `idle`).
    pub(crate) idle_sweeps: Cell<u8>,
    idle_key: Cell<Option<IdleKey>>,
    buffers: Cell<BufferSource>,
    recv_size: Cell<usize>,
}

impl StreamInner {
    #[inline]
    fn touch(&self) {
        self.idle_sweeps.set(0);
    }

    fn io(&self) -> &mio::net::TcpStream {
        self.reg.get_ref()
    }

    /// The receive direction's reuse slot (made on first use).
    pub(crate) fn rx_slot(&self) -> &ReuseSlot {
        self.rx_slot.get_or_init(ReuseSlot::new)
    }

    /// The send direction's reuse slot (made on first use).
    pub(crate) fn tx_slot(&self) -> &ReuseSlot {
        self.tx_slot.get_or_init(ReuseSlot::new)
    }

    /// Whether a buffer is parked in the (RX, TX) slots.
    pub(crate) fn parked(&self) -> (bool, bool) {
        let parked = |slot: &OnceCell<ReuseSlot>| slot.get().is_some_and(ReuseSlot::is_parked);
        (parked(&self.rx_slot), parked(&self.tx_slot))
    }

    /// Empties both slots (the stream has been idle).
    pub(crate) fn release_parked(&self) -> bool {
        let sent = self.reg.take_sent_buffer().is_some();
        let release = |slot: &OnceCell<ReuseSlot>| slot.get().is_some_and(ReuseSlot::release_parked);
        let rx = release(&self.rx_slot);
        let tx = release(&self.tx_slot);
        sent || rx || tx
    }
}

impl Drop for StreamInner {
    fn drop(&mut self) {
        if let Some(key) = self.idle_key.take() {
            idle::unregister(key);
        }
    }
}

/// A TCP connection on a roost worker.
///
/// # Examples
///
/// ```no_run
/// use roost_net::TcpStream;
///
/// # async fn demo() -> std::io::Result<()> {
/// let stream = TcpStream::connect("127.0.0.1:7000").await?;
/// let mut request = stream.alloc_send(64);
/// request.extend_from_slice(&[0, 0, 0, 4, b'p', b'i', b'n', b'g']);
/// stream.send(request).await?;
/// if let Some(reply) = stream.recv().await? {
///     println!("{} bytes", reply.len());
/// }
/// # Ok(())
/// # }
/// ```
///
/// It never leaves its worker:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<roost_net::TcpStream>();
/// ```
pub struct TcpStream {
    pub(crate) inner: Rc<StreamInner>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl TcpStream {
    /// Wraps a connected, non-blocking mio stream and registers it with the
    /// current worker.
    pub(crate) fn from_mio(io: mio::net::TcpStream, buffers: BufferSource) -> io::Result<Self> {
        let reg = Registration::new(io)?;
        let inner = Rc::new(StreamInner {
            reg,
            rx_slot: OnceCell::new(),
            tx_slot: OnceCell::new(),
            idle_sweeps: Cell::new(0),
            idle_key: Cell::new(None),
            buffers: Cell::new(buffers),
            recv_size: Cell::new(DEFAULT_RECV_SIZE),
        });
        let stream = Self { inner };
        stream.set_buffer_source(buffers);
        Ok(stream)
    }

    /// Registers a connected `std` stream with the current worker (the
    /// receiving end of an explicit move between workers).
    ///
    /// # Errors
    ///
    /// If the calling thread is not a roost worker, or registration fails.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Self::from_mio(mio::net::TcpStream::from_std(stream), BufferSource::Arena)
    }

    /// Deregisters the stream from this worker and returns the `std` socket,
    /// to move the connection to another worker (see [`from_std`](Self::from_std)).
    /// Parked buffers are released.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if a split half still refers to the stream;
    /// otherwise the error of deregistering.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        if self.inner.reg.has_received_data() {
            // On the uring driver, the stream's multishot receive may hold
            // data the socket no longer has: it would be lost.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this stream has received through the io_uring driver: received data would be lost if it left \
                 its worker (move a stream before its first read)",
            ));
        }
        let inner = Rc::try_unwrap(self.inner)
            .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "a split half of this stream is still alive"))?;
        // A duplicate descriptor keeps the connection open after the original
        // is deregistered and closed by `inner`'s drop.
        let dup = SockRef::from(inner.io()).try_clone()?;
        drop(inner);
        Ok(dup.into())
    }

    /// Opens a connection from the current worker to `addr`, as tokio's
    /// `TcpStream::connect`: each address `addr` resolves to is tried in
    /// order until one connects (host names are resolved on the blocking
    /// pool, see [`ToSocketAddrs`]).
    ///
    /// The stream is registered with the worker that calls `connect` and
    /// stays there (it is not `Send`).
    ///
    /// # Errors
    ///
    /// The last address's connection error (`ConnectionRefused`, ...); the
    /// resolution error; `InvalidInput` if `addr` resolves to no address;
    /// `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::{TcpListener, TcpStream};
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let stream = TcpStream::connect(addr).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    ///     // Names work too; `localhost` may resolve to `::1` first, which
    ///     // this listener does not serve: the next address is tried.
    ///     let by_name = TcpStream::connect(("localhost", addr.port())).await.unwrap();
    ///     assert_eq!(by_name.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        crate::addr::each_addr(addr, Self::connect_addr).await
    }

    /// Connects to one address (the body of `connect`).
    async fn connect_addr(addr: SocketAddr) -> io::Result<Self> {
        let io = mio::net::TcpStream::connect(addr)?;
        let stream = Self::from_mio(io, BufferSource::Arena)?;
        // Wait for the handshake: writable, then check the socket's error.
        poll_fn(|cx| stream.inner.reg.poll_write_ready(cx)).await?;
        loop {
            if let Some(e) = stream.take_error()? {
                return Err(e);
            }
            match stream.peer_addr() {
                Ok(_) => return Ok(stream),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    stream.inner.reg.clear_write_ready();
                    poll_fn(|cx| stream.inner.reg.poll_write_ready(cx)).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`connect`](Self::connect) to one address, with a deadline.
    ///
    /// # Errors
    ///
    /// `TimedOut` when `timeout` passes first; otherwise as `connect`.
    pub async fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<Self> {
        match roost_runtime::time::timeout(timeout, Self::connect_addr(addr)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect to {addr} timed out after {timeout:?}"),
            )),
        }
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.inner.io())
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` before the handshake completes; as `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().peer_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }

    /// Shuts down one or both directions now, as `std`'s `shutdown`;
    /// `Shutdown::Write` sends FIN (half close) while reading goes on.
    ///
    /// Named so that tokio's `AsyncWriteExt::shutdown().await` (which shuts
    /// down the write side) is not hidden by an inherent method of the same
    /// name: ported tokio code calls that one unchanged.
    ///
    /// On the io_uring driver, a send whose future was dropped may still be
    /// in the kernel; this call does not wait for it, so the FIN may go
    /// first. `AsyncWriteExt::shutdown().await` waits for it.
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io().shutdown(how)
    }

    /// Borrowed read and write halves, to read and write concurrently from
    /// two tasks (or two branches of a `select`) on this worker.
    pub fn split(&self) -> (crate::ReadHalf<'_>, crate::WriteHalf<'_>) {
        (
            crate::ReadHalf { inner: &self.inner },
            crate::WriteHalf { inner: &self.inner },
        )
    }

    /// Owned read and write halves, for two tasks on this worker.
    pub fn into_split(self) -> (crate::OwnedReadHalf, crate::OwnedWriteHalf) {
        (
            crate::OwnedReadHalf {
                inner: self.inner.clone(),
            },
            crate::OwnedWriteHalf { inner: self.inner },
        )
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}
