//! Borrowed-slice I/O on a registered stream socket, TCP or Unix: the
//! readiness rules in one place, and tokio's `AsyncRead`/`AsyncWrite` for
//! every stream type and split half through one trait, [`StreamSocket`].
//!
//! # Invariants
//!
//! - Readiness is cleared after `WouldBlock` (the [`Registration`] does
//!   that), and also after a short read or a short write: on a stream
//!   socket the receive queue was drained (or the send buffer filled) at
//!   that moment, so new data (or free space) brings a new edge. A FIN or a
//!   reset that arrived with the data brings none, which is why the reactor
//!   keeps the closed state sticky: clearing readiness never hides it. This
//!   saves the `EAGAIN` read that would otherwise follow every request.
//!   (Datagram sockets must not do this: see `udp`.)
//! - Nothing here reads bytes the kernel has not written, nor hands them
//!   to code that may: a `ReadBuf`'s unfilled part goes to `read(2)` as raw
//!   memory (never as `&mut [u8]` to `std::io::Read`), and only what it
//!   reports written is marked initialised.

use std::io::{self, IoSlice, Write};
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

use mio::event::Source;
use roost_runtime::io::Registration;
use tokio::io::ReadBuf;

use crate::sys;

/// Reads into the unfilled part of a `ReadBuf` (`AsyncRead`) once the
/// socket is readable: one `read(2)` into the possibly uninitialised
/// memory (see `sys/read.rs`), then only what the kernel wrote is marked
/// initialised and filled.
pub(crate) fn poll_read_buf<S>(
    reg: &Registration<S>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>>
where
    S: Source + AsRawFd,
{
    // SAFETY: the slice goes only to `read_uninit`, which writes into it and
    // never de-initialises a byte; we mark initialised only what it wrote.
    let unfilled = unsafe { buf.unfilled_mut() };
    let want = unfilled.len();
    let n = ready!(reg.poll_read_io(cx, |s| sys::read_uninit(s.as_raw_fd(), &mut *unfilled)))?;
    if n > 0 && n < want {
        // Drained: skip the `EAGAIN` read that would otherwise follow.
        reg.clear_read_ready();
    }
    // SAFETY: the kernel initialised the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// Writes some of `buf` once the socket is writable.
pub(crate) fn poll_write<S>(reg: &Registration<S>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>
where
    S: Source,
    for<'a> &'a S: Write,
{
    let n = ready!(reg.poll_write_io(cx, |mut s| s.write(buf)))?;
    if n < buf.len() {
        reg.clear_write_ready();
    }
    Poll::Ready(Ok(n))
}

/// Writes some of `bufs` with one `writev` once the socket is writable.
pub(crate) fn poll_write_vectored<S>(
    reg: &Registration<S>,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>>
where
    S: Source,
    for<'a> &'a S: Write,
{
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let n = ready!(reg.poll_write_io(cx, |mut s| s.write_vectored(bufs)))?;
    if n < total {
        reg.clear_write_ready();
    }
    Poll::Ready(Ok(n))
}

/// A stream socket as tokio's io traits see it: implemented by the state a
/// stream shares with its split halves.
pub(crate) trait StreamSocket {
    fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>>;

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    fn poll_write_vectored(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>>;

    /// `shutdown(Shutdown::Write)`: sends FIN.
    fn shutdown_write(&self) -> io::Result<()>;

    /// `AsyncWrite::poll_shutdown`: a socket the peer has already
    /// disconnected counts as shut down. A socket whose sends may still be
    /// in flight in the kernel (an io_uring send whose future was dropped)
    /// overrides this to wait for them first: the FIN must not overtake
    /// them.
    fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(self.send_fin())
    }

    /// `shutdown_write`, with a socket the peer already disconnected
    /// counted as shut down.
    fn send_fin(&self) -> io::Result<()> {
        match self.shutdown_write() {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }
}

/// `AsyncRead` for a type whose `inner` field derefs to a [`StreamSocket`].
macro_rules! impl_async_read {
    ($t: ty) => {
        impl tokio::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::stream_io::StreamSocket::poll_read_buf(&*self.inner, cx, buf)
            }
        }
    };
}

/// `AsyncWrite` (vectored, no buffering: `poll_flush` is a no-op) for a type
/// whose `inner` field derefs to a [`StreamSocket`].
macro_rules! impl_async_write {
    ($t: ty) => {
        impl tokio::io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::stream_io::StreamSocket::poll_write(&*self.inner, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::stream_io::StreamSocket::poll_write_vectored(&*self.inner, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::stream_io::StreamSocket::poll_shutdown(&*self.inner, cx)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::UnixStream;

    /// Through a real worker and its reactor (small enough for Miri, which
    /// checks that no uninitialised byte is read or marked filled): reads
    /// into a `Vec`'s uninitialised spare capacity, short reads, end of
    /// stream.
    #[test]
    fn async_reads_fill_only_what_the_kernel_wrote() {
        let rt = roost_runtime::Runtime::builder()
            .worker_threads(1)
            .pin_workers(false)
            .tokio_compat(false)
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all(b"hello").await.unwrap();
            let mut buf = Vec::with_capacity(64);
            let n = b.read_buf(&mut buf).await.unwrap();
            assert_eq!(n, 5);
            assert_eq!(buf, b"hello");
            // A read into a smaller window than what is queued.
            a.write_all(&[9; 100]).await.unwrap();
            let mut small = [0u8; 10];
            b.read_exact(&mut small).await.unwrap();
            assert_eq!(small, [9; 10]);
            let mut rest = Vec::with_capacity(8);
            while rest.len() < 90 {
                rest.reserve(8);
                b.read_buf(&mut rest).await.unwrap();
            }
            assert_eq!(rest, vec![9; 90]);
            // Split halves go through the same path.
            let (mut rd, _wr) = b.split();
            drop(a);
            let mut end = Vec::with_capacity(4);
            assert_eq!(rd.read_buf(&mut end).await.unwrap(), 0);
            assert!(end.is_empty());
        });
    }
}
