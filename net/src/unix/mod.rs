//! Unix domain sockets: [`UnixListener`] and [`UnixStream`], and
//! [`UnixDatagram`], with tokio's signatures (`tokio::net::unix` becomes
//! `roost_net::unix`).
//!
//! # Where a socket lives
//!
//! As TCP sockets, Unix sockets are registered with the worker that creates
//! them and stay there (they are neither `Send` nor `Sync`); `into_std` and
//! `from_std` move one to another worker explicitly. Reads and writes follow
//! the stream readiness rules of `crate::stream_io` (readiness cleared after
//! a short read or write; the closed state is sticky).
//!
//! # Errors
//!
//! `bind` and `connect` errors keep the kind the system gave (`AddrInUse`
//! for a path that is taken, `NotFound` for a path with no socket,
//! `ConnectionRefused` for a socket file nobody listens on, ...); their
//! message names the path, and the system's error is their
//! [`source`](std::error::Error::source).

mod datagram;
mod listener;
mod split;
mod stream;
mod ucred;

use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
/// The address of a Unix socket: a path, or unnamed (tokio's
/// `tokio::net::unix::SocketAddr` has the same methods).
pub use std::os::unix::net::SocketAddr;
pub use stream::UnixStream;
pub use ucred::UCred;

/// A socket call on a path failed: the system's error, with the path.
#[derive(Debug)]
struct PathError {
    op: &'static str,
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path.display(), self.source)
    }
}

impl Error for PathError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// `source` with the same kind, its message naming `op` and `path`.
fn with_path(op: &'static str, path: &Path, source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        PathError {
            op,
            path: path.to_owned(),
            source,
        },
    )
}
