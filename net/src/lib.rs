//! roost-net: TCP, UDP and Unix sockets on roost's thread-per-core runtime,
//! with tokio's signatures (`tokio::net` becomes `roost_net`).
//!
//! - [`TcpListener`] and per-core serving with [`serve`]: every worker binds
//!   its own `SO_REUSEPORT` listener on the same address and serves the
//!   connections it accepts, with no hand-off between cores (optionally
//!   steered to the CPU that received each connection).
//!   [`TcpListener::bind`] is async over [`ToSocketAddrs`], as tokio's; the
//!   synchronous forms are [`TcpListener::bind_std`] and
//!   [`TcpListener::from_std`].
//! - [`TcpStream`]: [`connect`](TcpStream::connect) over [`ToSocketAddrs`],
//!   borrowed-slice I/O and tokio's `AsyncRead`/`AsyncWrite`, plus
//!   owned-buffer I/O on the worker's arena with a one-entry reuse slot per
//!   direction ([`TcpStream::recv`], [`TcpStream::send`]).
//! - [`UdpSocket`]: tokio's datagram methods, plus a receive into arena
//!   buffers that reports truncated datagrams ([`UdpSocket::recv_buf_from`],
//!   [`TruncatedDatagram`]).
//! - [`unix`]: [`UnixListener`] and [`UnixStream`], with split halves and
//!   peer credentials, and [`UnixDatagram`].
//! - [`ToSocketAddrs`] and [`lookup_host`]: literal addresses are converted
//!   inline; host names are resolved on the runtime's blocking pool, never
//!   on a worker.
//! - [`idle`]: parked buffers of idle streams are released, so memory stays
//!   bounded with many connections.
//!
//! Sockets are registered with the worker that creates them and stay there
//! (they are not `Send`, unlike tokio's): share one between tasks of its
//! worker with `Rc`, and move one to another worker explicitly through its
//! `into_std` and `from_std`.
//!
//! # Platforms
//!
//! Linux, and macOS (x86_64 and aarch64; checked, not run, in CI). What
//! needs Linux says so and falls back elsewhere:
//! [`serve`] with [`ListenOptions::cpu_steering`] fails with `Unsupported`,
//! [`TcpStream::incoming_cpu`] returns `Unsupported`,
//! [`TruncatedDatagram::len`] is `None` (the datagram's size is unknown, only
//! that it did not fit), and [`unix::UCred::pid`] is `None`
//! (`getpeereid` has no process id).
//!
//! # Examples
//!
//! ```
//! use roost_net::{TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
//! rt.block_on_local(|| async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = roost_runtime::spawn_local(async move {
//!         let (mut stream, _) = listener.accept().await.unwrap();
//!         let mut line = [0u8; 5];
//!         stream.read_exact(&mut line).await.unwrap();
//!         stream.write_all(&line).await.unwrap();
//!     });
//!     let mut client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello").await.unwrap();
//!     let mut echoed = [0u8; 5];
//!     client.read_exact(&mut echoed).await.unwrap();
//!     assert_eq!(&echoed, b"hello");
//!     server.await.unwrap();
//! });
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod sys;
#[macro_use]
mod stream_io;

mod addr;
#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(feature = "hyper")]
pub mod http;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod idle;
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
mod udp;
pub mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
#[doc(hidden)]
pub use tcp::listener::{__inject_accept_errors, __pending_accept_errors};
pub use tcp::listener::{ListenOptions, TcpListener, MAX_ACCEPT_BACKOFF};
pub use tcp::serve::{serve, AcceptFailure, Server};
pub use tcp::stream::{TcpStream, DEFAULT_RECV_SIZE};
pub use tcp::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use udp::{TruncatedDatagram, UdpSocket};
pub use unix::{UnixDatagram, UnixListener, UnixStream};

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
