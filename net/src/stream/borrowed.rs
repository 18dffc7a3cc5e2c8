//! Borrowed-slice I/O on a stream: `read`, `write`, `write_vectored`,
//! `write_all`, and tokio's `AsyncRead`/`AsyncWrite` (shared with the split
//! halves through [`StreamSocket`]).
//!
//! The readiness rules (cleared after a short read or a short write as well
//! as after `WouldBlock`) live in `crate::stream_io`; every operation here
//! also marks the stream as active for the idle sweep.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

use super::{StreamInner, TcpStream};
use crate::stream_io::{self, StreamSocket};

impl StreamInner {
    fn poll_read_slice(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.touch();
        stream_io::poll_read(&self.reg, cx, buf)
    }
}

impl StreamSocket for StreamInner {
    fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.touch();
        stream_io::poll_read_buf(&self.reg, cx, buf)
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.touch();
        stream_io::poll_write(&self.reg, cx, buf)
    }

    fn poll_write_vectored(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.touch();
        stream_io::poll_write_vectored(&self.reg, cx, bufs)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.io().shutdown(Shutdown::Write)
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
        poll_fn(|cx| self.inner.poll_write(cx, buf)).await
    }

    /// Writes some of `bufs` with one `writev`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_write_vectored(cx, bufs)).await
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

impl_async_read!(TcpStream);
impl_async_write!(TcpStream);
