//! Read and write halves of a stream, for concurrent reading and writing on
//! the stream's worker (the halves share the stream; they are not `Send`).

use std::rc::Rc;

use crate::tcp::stream::StreamInner;

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
/// Dropping it does not shut the connection down (tokio's does, and so does
/// [`unix::OwnedWriteHalf`](crate::unix::OwnedWriteHalf)); call
/// `poll_shutdown` (tokio's `AsyncWriteExt::shutdown`) to send FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    pub(crate) inner: Rc<StreamInner>,
}

impl std::fmt::Debug for StreamInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInner").field("io", self.reg.get_ref()).finish()
    }
}

impl_async_read!(ReadHalf<'_>);
impl_async_read!(OwnedReadHalf);
impl_async_write!(WriteHalf<'_>);
impl_async_write!(OwnedWriteHalf);

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
