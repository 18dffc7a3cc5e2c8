//! Read and write halves of a stream, for concurrent reading and writing on
//! the stream's worker (the halves share the stream; they are not `Send`).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::stream::{self, StreamInner};

/// The read half of [`TcpStream::split`](crate::TcpStream::split).
#[derive(Debug)]
pub struct ReadHalf<'a> {
    pub(crate) inner: &'a StreamInner,
}

/// The write half of [`TcpStream::split`](crate::TcpStream::split).
#[derive(Debug)]
pub struct WriteHalf<'a> {
    pub(crate) inner: &'a StreamInner,
}

/// The read half of [`TcpStream::into_split`](crate::TcpStream::into_split).
#[derive(Debug)]
pub struct OwnedReadHalf {
    pub(crate) inner: Rc<StreamInner>,
}

/// The write half of [`TcpStream::into_split`](crate::TcpStream::into_split).
/// Dropping it does not shut the connection down; call `poll_shutdown`
/// (tokio's `AsyncWriteExt::shutdown`) to send FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    pub(crate) inner: Rc<StreamInner>,
}

impl std::fmt::Debug for StreamInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInner").field("io", self.reg.get_ref()).finish()
    }
}

macro_rules! read_half {
    ($t: ty) => {
        impl AsyncRead for $t {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
                stream::poll_read_buf(&self.inner, cx, buf)
            }
        }
    };
}

macro_rules! write_half {
    ($t: ty) => {
        impl AsyncWrite for $t {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                stream::poll_write(&self.inner, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                stream::poll_write_vectored(&self.inner, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                stream::poll_shutdown(&self.inner)
            }
        }
    };
}

read_half!(ReadHalf<'_>);
read_half!(OwnedReadHalf);
write_half!(WriteHalf<'_>);
write_half!(OwnedWriteHalf);

impl OwnedReadHalf {
    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// Both halves, unchanged, if they came from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<crate::TcpStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if Rc::ptr_eq(&self.inner, &other.inner) {
            drop(other);
            Ok(crate::TcpStream { inner: self.inner })
        } else {
            Err((self, other))
        }
    }
}
