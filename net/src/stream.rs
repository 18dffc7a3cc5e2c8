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
//! Besides borrowed-slice I/O (`read`, `write`, tokio's `AsyncRead` and
//! `AsyncWrite`), a stream does owned-buffer I/O on the worker's arena:
//!
//! - [`recv`](TcpStream::recv) fills an arena buffer with one read. The
//!   buffer comes from the stream's RX [`ReuseSlot`] when one is parked there,
//!   and carries that slot: dropped on another core, it parks there, and the
//!   stream's next `recv` on the home core takes it back.
//! - [`send`](TcpStream::send) writes a buffer until the kernel has taken every
//!   byte, then parks it in the TX slot, where
//!   [`alloc_send`](TcpStream::alloc_send) finds it for the next response.
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

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use roost_alloc::{ArenaBytes, ArenaBytesMut, ReuseSlot};
use roost_runtime::io::Registration;
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::idle::{self, IdleKey};
use crate::BufferSource;

/// The default size of a [`TcpStream::recv`] buffer.
pub const DEFAULT_RECV_SIZE: usize = 2048;

pub(crate) struct StreamInner {
    pub(crate) reg: Registration<mio::net::TcpStream>,
    pub(crate) rx_slot: ReuseSlot,
    pub(crate) tx_slot: ReuseSlot,
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

    /// Empties both slots (the stream has been idle).
    pub(crate) fn release_parked(&self) -> bool {
        let rx = self.rx_slot.release_parked();
        let tx = self.tx_slot.release_parked();
        rx || tx
    }

    fn poll_read_slice(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.touch();
        let want = buf.len();
        let n = ready!(self.reg.poll_read_io(cx, |s| (&*s).read(buf)))?;
        if n > 0 && n < want {
            // Drained: skip the `EAGAIN` read that would otherwise follow.
            self.reg.clear_read_ready();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_slice(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.touch();
        let n = ready!(self.reg.poll_write_io(cx, |s| (&*s).write(buf)))?;
        if n < buf.len() {
            self.reg.clear_write_ready();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_slices(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.touch();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let n = ready!(self.reg.poll_write_io(cx, |s| (&*s).write_vectored(bufs)))?;
        if n < total {
            self.reg.clear_write_ready();
        }
        Poll::Ready(Ok(n))
    }

    fn new_buffer(&self, slot: &ReuseSlot, capacity: usize) -> ArenaBytesMut {
        match self.buffers.get() {
            BufferSource::Arena => slot.take_or_alloc(capacity),
            BufferSource::Global => ArenaBytesMut::with_capacity_global(capacity),
        }
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<io::Result<Option<ArenaBytesMut>>> {
        self.touch();
        ready!(self.reg.poll_read_ready(cx))?;
        let mut buf = self.new_buffer(&self.rx_slot, self.recv_size.get());
        loop {
            let spare = buf.spare_capacity_mut();
            // SAFETY: `read` only writes into the slice, and we never read the
            // uninitialised bytes: `set_len` below covers exactly what it wrote.
            let spare: &mut [u8] = unsafe { &mut *(spare as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
            match self.io().read(spare) {
                Ok(0) => {
                    self.park_unused(buf, &self.rx_slot);
                    return Poll::Ready(Ok(None));
                }
                Ok(n) => {
                    // SAFETY: the kernel initialised `n` bytes of the spare capacity.
                    unsafe { buf.set_len(n) };
                    if n < buf.capacity() {
                        // Drained: skip the `EAGAIN` read that would otherwise follow.
                        self.reg.clear_read_ready();
                    }
                    return Poll::Ready(Ok(Some(buf)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg.clear_read_ready();
                    self.park_unused(buf, &self.rx_slot);
                    ready!(self.reg.poll_read_ready(cx))?;
                    buf = self.new_buffer(&self.rx_slot, self.recv_size.get());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.park_unused(buf, &self.rx_slot);
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// Puts a buffer this stream no longer needs into `slot` for the next
    /// operation (dropping it if the slot is taken).
    fn park_unused(&self, mut buf: ArenaBytesMut, slot: &ReuseSlot) {
        if self.buffers.get() == BufferSource::Arena {
            buf.clear();
            let _ = slot.park(buf);
        }
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
/// let stream = TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
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
            rx_slot: ReuseSlot::new(),
            tx_slot: ReuseSlot::new(),
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
        let inner = Rc::try_unwrap(self.inner)
            .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "a split half of this stream is still alive"))?;
        // A duplicate descriptor keeps the connection open after the original
        // is deregistered and closed by `inner`'s drop.
        let dup = SockRef::from(inner.io()).try_clone()?;
        drop(inner);
        Ok(dup.into())
    }

    /// Opens a connection to `addr` from the current worker.
    ///
    /// # Errors
    ///
    /// The connection error (`ConnectionRefused`, ...), or registration errors.
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
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

    /// [`connect`](Self::connect) with a deadline.
    ///
    /// # Errors
    ///
    /// `TimedOut` when `timeout` passes first; otherwise as `connect`.
    pub async fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<Self> {
        match roost_runtime::time::timeout(timeout, Self::connect(addr)).await {
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

    /// Where the buffers of `recv` and `alloc_send` come from.
    pub fn set_buffer_source(&self, source: BufferSource) {
        self.inner.buffers.set(source);
        // A stream that may park arena buffers is swept when idle.
        if source == BufferSource::Arena && self.inner.idle_key.get().is_none() {
            self.inner.idle_key.set(Some(idle::register(&self.inner)));
        }
    }

    /// The buffer source (see [`set_buffer_source`](Self::set_buffer_source)).
    pub fn buffer_source(&self) -> BufferSource {
        self.inner.buffers.get()
    }

    /// Capacity requested for each `recv` buffer (default 2 KiB; rounded up
    /// to the arena's size class).
    pub fn set_recv_size(&self, bytes: usize) {
        self.inner.recv_size.set(bytes.max(1));
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

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.io().set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.io().nodelay()
    }

    /// Turns TCP keepalive on with the given idle time, or off with `None`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        match idle {
            Some(time) => self.sock().set_tcp_keepalive(&TcpKeepalive::new().with_time(time)),
            None => self.sock().set_keepalive(false),
        }
    }

    /// Whether keepalive is on.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.sock().keepalive()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes close send a reset
    /// (see [`set_zero_linger`](Self::set_zero_linger)).
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sock().set_linger(linger)
    }

    /// Makes dropping the stream reset the connection instead of closing it.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock().linger()
    }

    /// Sets `SO_SNDBUF`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.sock().set_send_buffer_size(bytes)
    }

    /// Reads `SO_SNDBUF`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.sock().send_buffer_size()
    }

    /// Sets `SO_RCVBUF`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.sock().set_recv_buffer_size(bytes)
    }

    /// Reads `SO_RCVBUF`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.sock().recv_buffer_size()
    }

    /// The CPU whose network stack handled this connection's packets
    /// (`SO_INCOMING_CPU`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`; `Unsupported` off Linux.
    pub fn incoming_cpu(&self) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            self.sock().cpu_affinity()
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SO_INCOMING_CPU needs Linux",
            ))
        }
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }

    /// Shuts down one or both directions; `Shutdown::Write` sends FIN (half
    /// close) while reading goes on.
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io().shutdown(how)
    }

    /// Reads into `buf`; 0 means end of stream.
    ///
    /// # Errors
    ///
    /// The socket's read error (`ConnectionReset`, ...).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_read_slice(cx, buf)).await
    }

    /// Writes some of `buf`; returns how much the kernel took.
    ///
    /// # Errors
    ///
    /// The socket's write error (`BrokenPipe`, `ConnectionReset`, ...).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_write_slice(cx, buf)).await
    }

    /// Writes some of `bufs` with one `writev`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_write_slices(cx, bufs)).await
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); `WriteZero` if the socket takes nothing.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Reads once into a buffer from the stream's RX slot (or the worker's
    /// arena): `Ok(None)` at end of stream.
    ///
    /// The buffer carries the RX slot: dropped on another core, it parks
    /// there and this stream's next `recv` takes it back.
    ///
    /// # Errors
    ///
    /// The socket's read error.
    pub async fn recv(&self) -> io::Result<Option<ArenaBytesMut>> {
        poll_fn(|cx| self.inner.poll_recv(cx)).await
    }

    /// A buffer of at least `capacity` bytes for sending: the one parked in
    /// the TX slot by the previous [`send`](Self::send) if it is large
    /// enough, else a fresh one from the worker's arena.
    pub fn alloc_send(&self, capacity: usize) -> ArenaBytesMut {
        self.inner.touch();
        self.inner.new_buffer(&self.inner.tx_slot, capacity)
    }

    /// Writes all of `buf`, then parks it in the TX slot for the next
    /// [`alloc_send`](Self::alloc_send).
    ///
    /// # Errors
    ///
    /// The socket's write error (the buffer is dropped).
    pub async fn send(&self, buf: ArenaBytesMut) -> io::Result<()> {
        self.write_all(&buf).await?;
        self.inner.park_unused(buf, &self.inner.tx_slot);
        Ok(())
    }

    /// Writes all of a shared buffer; if this was its last handle, its block
    /// is parked in the TX slot for reuse.
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub async fn send_frozen(&self, buf: ArenaBytes) -> io::Result<()> {
        self.write_all(&buf).await?;
        if let Ok(unique) = buf.try_into_mut() {
            self.inner.park_unused(unique, &self.inner.tx_slot);
        }
        Ok(())
    }

    /// Writes several buffers (a header and a body, say) with `writev` until
    /// the kernel has taken every byte; then parks the first in the TX slot.
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub async fn send_vectored<const N: usize>(&self, bufs: [ArenaBytesMut; N]) -> io::Result<()> {
        let mut index = 0;
        let mut offset = 0;
        while index < N {
            let mut slices = [IoSlice::new(&[]); N];
            slices[0] = IoSlice::new(&bufs[index][offset..]);
            for (dst, src) in slices[1..N - index].iter_mut().zip(&bufs[index + 1..]) {
                *dst = IoSlice::new(src);
            }
            let mut n = self.write_vectored(&slices[..N - index]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            while index < N && n >= bufs[index].len() - offset {
                n -= bufs[index].len() - offset;
                index += 1;
                offset = 0;
            }
            offset += n;
        }
        if let Some(first) = bufs.into_iter().next() {
            self.inner.park_unused(first, &self.inner.tx_slot);
        }
        Ok(())
    }

    /// Releases the buffers parked in this stream's slots now.
    pub fn release_parked(&self) -> bool {
        self.inner.release_parked()
    }

    /// Whether a buffer is parked in the (RX, TX) slots.
    pub fn is_parked(&self) -> (bool, bool) {
        (self.inner.rx_slot.is_parked(), self.inner.tx_slot.is_parked())
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

/// `AsyncRead` for anything that holds a stream's inner state.
pub(crate) fn poll_read_buf(inner: &StreamInner, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    // SAFETY: `read` only writes into the slice, and we only advance
    // `filled` over what it wrote.
    let unfilled = unsafe { &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
    let n = ready!(inner.poll_read_slice(cx, unfilled))?;
    // SAFETY: the kernel initialised `n` bytes.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

pub(crate) fn poll_write(inner: &StreamInner, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    inner.poll_write_slice(cx, buf)
}

pub(crate) fn poll_write_vectored(
    inner: &StreamInner,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    inner.poll_write_slices(cx, bufs)
}

pub(crate) fn poll_shutdown(inner: &StreamInner) -> Poll<io::Result<()>> {
    match inner.io().shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
        other => Poll::Ready(other),
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        poll_read_buf(&self.inner, cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        poll_write(&self.inner, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_write_vectored(&self.inner, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_shutdown(&self.inner)
    }
}
