//! Receiving datagrams into buffers of the worker's arena, with truncation
//! detected and reported.
//!
//! [`UdpSocket::recv_buf_from`] waits until the socket is readable, then
//! takes a buffer from the socket's receive slot (or the worker's arena)
//! and lets `recvmsg(2)` write the datagram into the buffer's spare
//! capacity, which is never seen as initialised bytes before the kernel
//! has written it. A datagram that did not fit is not returned cut short:
//! the call fails with an `InvalidData` error carrying a
//! [`TruncatedDatagram`] that names both sizes and the sender. (On Linux
//! the datagram's real size is known from `MSG_TRUNC`; elsewhere only that
//! it was larger.)
//!
//! The buffer carries the slot, like a stream's `recv` buffer: dropped on
//! another core, it parks there and the socket's next receive on its home
//! core takes it back.

use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};

use roost_alloc::ArenaBytesMut;
use socket2::{MaybeUninitSlice, SockRef};

use super::UdpSocket;

/// With this flag Linux's `recvmsg` returns the datagram's real length,
/// even when it was longer than the buffer.
#[cfg(any(target_os = "linux", target_os = "android"))]
const REAL_LENGTH: libc::c_int = libc::MSG_TRUNC;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const REAL_LENGTH: libc::c_int = 0;

/// The error payload of a receive whose datagram did not fit in the buffer
/// (the `io::Error` has kind `InvalidData`; the datagram is discarded, as
/// the kernel discards what did not fit).
///
/// # Examples
///
/// ```
/// use roost_net::{TruncatedDatagram, UdpSocket};
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     sender.send_to(&[7u8; 5000], receiver.local_addr().unwrap()).await.unwrap();
///
///     let err = receiver.recv_buf_from(512).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
///     let truncated = TruncatedDatagram::of(&err).unwrap();
///     assert!(truncated.capacity < 5000);
///     assert_eq!(truncated.from, sender.local_addr().unwrap());
///     # #[cfg(target_os = "linux")]
///     assert_eq!(truncated.len, Some(5000));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedDatagram {
    /// The datagram's length, where the system reports it (Linux); `None`
    /// where it only says the datagram was longer than the buffer.
    pub len: Option<usize>,
    /// The space the buffer had for it.
    pub capacity: usize,
    /// The sender.
    pub from: SocketAddr,
}

impl TruncatedDatagram {
    /// The truncation an error reports, if it is one.
    pub fn of(err: &io::Error) -> Option<&Self> {
        err.get_ref().and_then(|inner| inner.downcast_ref())
    }
}

impl fmt::Display for TruncatedDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.len {
            Some(len) => write!(
                f,
                "datagram of {len} bytes from {} truncated: the receive buffer has room for {} bytes",
                self.from, self.capacity
            ),
            None => write!(
                f,
                "datagram from {} truncated: longer than the {}-byte receive buffer",
                self.from, self.capacity
            ),
        }
    }
}

impl Error for TruncatedDatagram {}

impl From<TruncatedDatagram> for io::Error {
    fn from(truncated: TruncatedDatagram) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, truncated)
    }
}

impl UdpSocket {
    /// Waits for a datagram and receives it into a buffer of at least
    /// `capacity` bytes from the worker's arena (the whole size-class block
    /// is offered to the kernel); returns it and its sender.
    ///
    /// Unlike [`recv_from`](Self::recv_from), a datagram that does not fit
    /// is reported, never returned cut short.
    ///
    /// # Errors
    ///
    /// `InvalidData` with a [`TruncatedDatagram`] if the datagram was longer
    /// than the buffer (it is discarded, and the next receive gets the next
    /// datagram); the socket's error otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::UdpSocket;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     sender.send_to(b"request", receiver.local_addr().unwrap()).await.unwrap();
    ///
    ///     let (datagram, from) = receiver.recv_buf_from(1500).await.unwrap();
    ///     assert_eq!(&datagram[..], b"request");
    ///     assert!(datagram.capacity() >= 1500);
    ///     assert_eq!(from, sender.local_addr().unwrap());
    /// });
    /// ```
    pub async fn recv_buf_from(&self, capacity: usize) -> io::Result<(ArenaBytesMut, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_buf_from(cx, capacity)).await
    }

    /// [`recv_buf_from`](Self::recv_buf_from) for a connected socket: the
    /// datagram only.
    ///
    /// # Errors
    ///
    /// As [`recv_buf_from`](Self::recv_buf_from).
    pub async fn recv_buf(&self, capacity: usize) -> io::Result<ArenaBytesMut> {
        let (datagram, _from) = self.recv_buf_from(capacity).await?;
        Ok(datagram)
    }

    /// Polls to receive one datagram into an arena buffer (see
    /// [`recv_buf_from`](Self::recv_buf_from)). Only the waker of the latest
    /// call is woken.
    ///
    /// # Errors
    ///
    /// As [`recv_buf_from`](Self::recv_buf_from).
    pub fn poll_recv_buf_from(
        &self,
        cx: &mut Context<'_>,
        capacity: usize,
    ) -> Poll<io::Result<(ArenaBytesMut, SocketAddr)>> {
        loop {
            // Take a buffer only once there is something to read into it.
            ready!(self.reg.poll_read_ready(cx))?;
            let mut buf = self.rx_slot.take_or_alloc(capacity);
            match recv_into(self.reg.get_ref(), &mut buf) {
                Ok(from) => return Poll::Ready(Ok((buf, from))),
                Err(e) => {
                    buf.clear();
                    let _ = self.rx_slot.park(buf);
                    match e.kind() {
                        io::ErrorKind::WouldBlock => self.reg.clear_read_ready(),
                        io::ErrorKind::Interrupted => {}
                        _ => return Poll::Ready(Err(e)),
                    }
                }
            }
        }
    }
}

/// One `recvmsg` into `buf`'s spare capacity (`buf` is empty).
fn recv_into(socket: &mio::net::UdpSocket, buf: &mut ArenaBytesMut) -> io::Result<SocketAddr> {
    let spare = buf.spare_capacity_mut();
    let capacity = spare.len();
    let mut iov = [MaybeUninitSlice::new(spare)];
    let (n, flags, from) = SockRef::from(socket).recv_from_vectored_with_flags(&mut iov, REAL_LENGTH)?;
    let from = from
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "recvmsg gave a non-IP source address"))?;
    if flags.is_truncated() || n > capacity {
        return Err(TruncatedDatagram {
            len: (n > capacity).then_some(n),
            capacity,
            from,
        }
        .into());
    }
    // SAFETY: `recvmsg` wrote the datagram's `n` bytes (`n <= capacity`, it
    // was not truncated) at the start of the spare capacity, right after the
    // buffer's `len()` filled bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(from)
}
