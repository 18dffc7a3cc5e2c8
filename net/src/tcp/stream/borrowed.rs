//! Borrowed-slice I/O on a stream: tokio's `AsyncRead`/`AsyncWrite` (shared
//! with the split halves through [`StreamSocket`]), so that tokio's
//! `AsyncReadExt`/`AsyncWriteExt` give `read`, `write_all`, ... as on a
//! tokio stream.
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

impl StreamSocket for StreamInner {
    fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.touch();
        // On the uring driver: a copy out of the buffers the kernel
        // received into.
        #[cfg(target_os = "linux")]
        {
            // SAFETY: the slice goes only to `poll_recv_copy`, which writes
            // into it and never de-initialises a byte; we mark initialised
            // only what it wrote.
            let unfilled = unsafe { buf.unfilled_mut() };
            if let Some(copied) = self.reg.poll_recv_copy(cx, unfilled, self.recv_size.get()) {
                let n = std::task::ready!(copied)?;
                // SAFETY: `poll_recv_copy` initialised the first `n` bytes.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
        }
        stream_io::poll_read_buf(&self.reg, cx, buf)
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.touch();
        // A write must not overtake a ring send still in flight.
        std::task::ready!(self.reg.poll_sends_done(cx));
        stream_io::poll_write(&self.reg, cx, buf)
    }

    fn poll_write_vectored(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.touch();
        std::task::ready!(self.reg.poll_sends_done(cx));
        stream_io::poll_write_vectored(&self.reg, cx, bufs)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.io().shutdown(Shutdown::Write)
    }

    fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The FIN must not overtake a ring send still in flight (one whose
        // future was dropped, say): shutdown(2) does not wait for it.
        std::task::ready!(self.reg.poll_sends_done(cx));
        Poll::Ready(self.send_fin())
    }
}

// No inherent `read`, `write`, `write_all` or `write_vectored`: they would
// hide tokio's `AsyncReadExt`/`AsyncWriteExt` methods of the same names
// (inherent methods win method resolution), so ported tokio code would warn
// that its imports are unused. The owned-buffer sends use these instead.
impl TcpStream {
    /// Writes all of `buf` (the body of `send`).
    ///
    /// # Errors
    ///
    /// The socket's write error; `WriteZero` if the socket takes nothing.
    pub(super) async fn write_all_slice(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = poll_fn(|cx| self.inner.poll_write(cx, buf)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Writes some of `bufs` with one `writev` (the body of `send_vectored`).
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub(super) async fn write_slices(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_write_vectored(cx, bufs)).await
    }
}

impl_async_read!(TcpStream);
impl_async_write!(TcpStream);
