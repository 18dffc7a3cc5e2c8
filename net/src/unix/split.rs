//! Read and write halves of a [`UnixStream`], as tokio's `unix::split`
//! module: for reading and writing concurrently on the stream's worker (the
//! halves share the stream; they are not `Send`).

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::rc::Rc;

use super::stream::UnixInner;
use super::{SocketAddr, UnixStream};

/// The read half of [`UnixStream::split`].
pub struct ReadHalf<'a> {
    pub(crate) inner: &'a UnixInner,
}

/// The write half of [`UnixStream::split`].
pub struct WriteHalf<'a> {
    pub(crate) inner: &'a UnixInner,
}

/// The read half of [`UnixStream::into_split`].
pub struct OwnedReadHalf {
    pub(crate) inner: Rc<UnixInner>,
}

/// The write half of [`UnixStream::into_split`].
///
/// As tokio's, dropping it shuts down the write direction (the peer reads
/// end of stream) unless [`forget`](Self::forget) was called; tokio's
/// `AsyncWriteExt::shutdown` does it explicitly.
pub struct OwnedWriteHalf {
    pub(crate) inner: Rc<UnixInner>,
    shutdown_on_drop: bool,
}

impl_async_read!(ReadHalf<'_>);
impl_async_read!(OwnedReadHalf);
impl_async_write!(WriteHalf<'_>);
impl_async_write!(OwnedWriteHalf);

macro_rules! debug_half {
    ($t: ty, $name: literal) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($name).field("io", self.inner.get_ref()).finish()
            }
        }
    };
}

debug_half!(ReadHalf<'_>, "ReadHalf");
debug_half!(WriteHalf<'_>, "WriteHalf");
debug_half!(OwnedReadHalf, "OwnedReadHalf");
debug_half!(OwnedWriteHalf, "OwnedWriteHalf");

impl OwnedReadHalf {
    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// Both halves, unchanged, if they came from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<UnixStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if Rc::ptr_eq(&self.inner, &other.inner) {
            other.forget();
            Ok(UnixStream { inner: self.inner })
        } else {
            Err((self, other))
        }
    }

    /// The stream's local address.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The stream's peer address.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
}

impl OwnedWriteHalf {
    pub(crate) fn new(inner: Rc<UnixInner>) -> Self {
        Self {
            inner,
            shutdown_on_drop: true,
        }
    }

    /// Drops the half without shutting down the write direction.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The stream's local address.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The stream's peer address.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.inner.get_ref().shutdown(Shutdown::Write);
        }
    }
}
