//! TCP: listeners ([`TcpListener`](crate::TcpListener), bound alone or as a
//! per-core `SO_REUSEPORT` group), streams with a reuse slot per direction
//! ([`TcpStream`](crate::TcpStream)), their split halves, and per-core
//! serving ([`serve`](crate::serve)), beside [`unix`](crate::unix) and the
//! UDP socket.
//!
//! The split halves are here under tokio's path:
//! `tokio::net::tcp::OwnedReadHalf` becomes `roost_net::tcp::OwnedReadHalf`
//! (the same types as at the crate root).

pub(crate) mod listener;
pub(crate) mod serve;
mod split;
pub(crate) mod stream;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
