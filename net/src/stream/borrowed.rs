//! Borrowed-slice I/O on a stream: `read`, `write`, `write_vectored`,
//! `write_all`, and tokio's `AsyncRead`/`AsyncWrite` (also used by the split
//! halves, through the free functions here).
//!
//! Readiness is cleared after a short read or a short write as well as after
//! `WouldBlock` (see the invariants in the module docs of `stream`).

use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{StreamInner, TcpStream};

impl StreamInner {
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
}

impl TcpStream {
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
