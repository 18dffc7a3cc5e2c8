//! `hyper::rt::Read` and `hyper::rt::Write` on roost's stream types, through
//! the same [`StreamSocket`](crate::stream_io::StreamSocket) readiness rules
//! as tokio's traits.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::hyper::rt::ReadBufCursor;

use crate::stream_io::StreamSocket;

/// Reads into the unfilled part of hyper's buffer, with no copy.
pub(crate) fn poll_read_cursor<S: StreamSocket + ?Sized>(
    socket: &S,
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: the slice goes to `read(2)` through `poll_read_buf`, which
    // only writes into it and reports how much it wrote; nothing reads it
    // and nothing de-initialises the cursor's initialised bytes.
    let unfilled = unsafe { buf.as_mut() };
    let mut read_buf = tokio::io::ReadBuf::uninit(unfilled);
    ready!(socket.poll_read_buf(cx, &mut read_buf))?;
    let n = read_buf.filled().len();
    // SAFETY: the kernel initialised the first `n` bytes of the unfilled
    // part, and they are within it.
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// `hyper::rt::Read` for a type whose `inner` field derefs to a
/// [`StreamSocket`].
macro_rules! impl_hyper_read {
    ($t: ty) => {
        impl ::hyper::rt::Read for $t {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
                poll_read_cursor(&*self.inner, cx, buf)
            }
        }
    };
}

/// `hyper::rt::Write` (vectored; nothing buffered, so flushing is a no-op)
/// for a type whose `inner` field derefs to a [`StreamSocket`].
macro_rules! impl_hyper_write {
    ($t: ty) => {
        impl ::hyper::rt::Write for $t {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                StreamSocket::poll_write(&*self.inner, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                StreamSocket::poll_write_vectored(&*self.inner, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                StreamSocket::poll_shutdown(&*self.inner, cx)
            }
        }
    };
}

impl_hyper_read!(crate::TcpStream);
impl_hyper_write!(crate::TcpStream);
impl_hyper_read!(crate::OwnedReadHalf);
impl_hyper_write!(crate::OwnedWriteHalf);
impl_hyper_read!(crate::UnixStream);
impl_hyper_write!(crate::UnixStream);
impl_hyper_read!(crate::unix::OwnedReadHalf);
impl_hyper_write!(crate::unix::OwnedWriteHalf);
