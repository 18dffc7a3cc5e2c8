//! roost-net: TCP on roost's thread-per-core runtime.
//!
//! - [`TcpListener`] and per-core serving with [`serve`]: every worker binds
//!   its own `SO_REUSEPORT` listener on the same address and serves the
//!   connections it accepts, with no hand-off between cores (optionally
//!   steered to the CPU that received each connection).
//! - [`TcpStream`]: borrowed-slice I/O and tokio's `AsyncRead`/`AsyncWrite`,
//!   plus owned-buffer I/O on the worker's arena with a one-entry reuse slot
//!   per direction ([`TcpStream::recv`], [`TcpStream::send`]).
//! - [`idle`]: parked buffers of idle streams are released, so memory stays
//!   bounded with many connections.
//!
//! Streams and listeners are registered with the worker that creates them
//! and stay there (they are not `Send`); see [`TcpStream::into_std`] for the
//! explicit move.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[macro_use]
mod sys;
#[macro_use]
mod stream_io;

mod addr;
pub mod idle;
mod listener;
mod serve;
mod split;
mod stream;
mod udp;

pub use addr::{lookup_host, ToSocketAddrs};
pub use listener::{ListenOptions, TcpListener, MAX_ACCEPT_BACKOFF};
pub use serve::{serve, Server};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use stream::{TcpStream, DEFAULT_RECV_SIZE};
pub use udp::{TruncatedDatagram, UdpSocket};

/// Where a stream's `recv` and `alloc_send` buffers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BufferSource {
    /// The worker's arena, with the stream's reuse slots (the default).
    #[default]
    Arena,
    /// The global allocator, one allocation per buffer, no slots: the arena
    /// switched off (for comparison; same code otherwise).
    Global,
}
