//! Datagram I/O on borrowed slices, as tokio's: `send_to`/`recv_from`,
//! `send`/`recv` on a connected socket, `peek_from`, and their `poll_*`
//! forms.
//!
//! A datagram longer than the buffer given to `recv_from`, `recv` or
//! `peek_from` is truncated to the buffer's length and the rest discarded,
//! as `recvfrom(2)` and tokio do. To be told about truncation, receive into
//! an arena buffer with [`UdpSocket::recv_buf_from`].

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};

use socket2::SockRef;
use tokio::io::ReadBuf;

use super::UdpSocket;
use crate::addr::first_addr;
use crate::ToSocketAddrs;

impl UdpSocket {
    /// Sends one datagram to `target` and returns its length, as tokio's
    /// `send_to`. A host name is resolved on the blocking pool and the first
    /// address it gives is used.
    ///
    /// # Errors
    ///
    /// The resolution error, `InvalidInput` when `target` resolves to no
    /// address; the socket's error (`InvalidInput` for a datagram too large
    /// for UDP, `PermissionDenied` for a broadcast address without
    /// [`set_broadcast`](Self::set_broadcast), ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::UdpSocket;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let port = receiver.local_addr().unwrap().port();
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(sender.send_to(b"hi", ("127.0.0.1", port)).await.unwrap(), 2);
    ///
    ///     let mut buf = [0u8; 8];
    ///     let (n, from) = receiver.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..n], from), (&b"hi"[..], sender.local_addr().unwrap()));
    /// });
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = first_addr(&target).await?;
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Waits for a datagram, copies it into `buf` and returns its length and
    /// its sender, as tokio's `recv_from`. A longer datagram is truncated
    /// (see the module docs).
    ///
    /// # Errors
    ///
    /// The socket's error (`ConnectionRefused` on a connected socket whose
    /// peer sent back a port-unreachable, ...).
    ///
    /// # Examples
    ///
    /// See [`send_to`](Self::send_to).
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg.read_io(|s| s.recv_from(buf)).await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram in the
    /// queue: the next receive returns it again.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg.read_io(|s| s.peek_from(buf)).await
    }

    /// Sends one datagram to the connected peer and returns its length.
    ///
    /// # Errors
    ///
    /// `NotConnected` (as `DestinationAddressRequired` on some systems)
    /// without [`connect`](Self::connect); `ConnectionRefused` if an earlier
    /// datagram met a closed port; as [`send_to`](Self::send_to).
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Waits for a datagram from the connected peer and copies it into
    /// `buf`; returns its length. A longer datagram is truncated.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` if the peer's port is closed (reported by ICMP);
    /// as [`recv_from`](Self::recv_from).
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.reg.read_io(|s| s.recv(buf)).await
    }

    /// Polls to send one datagram to `target` (tokio's `poll_send_to`).
    /// Only the waker of the latest call is woken.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to).
    pub fn poll_send_to(&self, cx: &mut Context<'_>, buf: &[u8], target: SocketAddr) -> Poll<io::Result<usize>> {
        self.reg.poll_write_io(cx, |s| s.send_to(buf, target))
    }

    /// Polls to send one datagram to the connected peer (tokio's
    /// `poll_send`).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.reg.poll_write_io(cx, |s| s.send(buf))
    }

    /// Polls to receive one datagram into the unfilled part of `buf`
    /// (tokio's `poll_recv_from`): on success `buf`'s filled part grows by
    /// the datagram (truncated to the space there was) and the sender is
    /// returned. Only the waker of the latest call is woken.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(self.reg.poll_read_io(cx, |s| {
            // SAFETY: `recvfrom` only writes into the slice and never
            // de-initialises it; we initialise only what it wrote, below.
            let unfilled = unsafe { buf.unfilled_mut() };
            SockRef::from(s).recv_from(unfilled)
        }))?;
        fill(buf, n);
        let from = from
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "recvfrom gave a non-IP source address"))?;
        Poll::Ready(Ok(from))
    }

    /// Polls to receive one datagram from the connected peer into the
    /// unfilled part of `buf` (tokio's `poll_recv`).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(self.reg.poll_read_io(cx, |s| {
            // SAFETY: as in `poll_recv_from`: `recv` only writes.
            let unfilled = unsafe { buf.unfilled_mut() };
            SockRef::from(s).recv(unfilled)
        }))?;
        fill(buf, n);
        Poll::Ready(Ok(()))
    }
}

/// Marks the `n` bytes the kernel just wrote into `buf`'s unfilled part as
/// initialised and filled.
fn fill(buf: &mut ReadBuf<'_>, n: usize) {
    // SAFETY: the kernel wrote `n` bytes at the start of the unfilled part
    // (`recvfrom` without `MSG_TRUNC` returns at most the slice's length).
    unsafe { buf.assume_init(n) };
    buf.advance(n);
}
