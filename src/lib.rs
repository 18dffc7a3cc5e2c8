//! roost: a thread-per-core async runtime for network servers in which
//! network buffers come home to roost.
//!
//! A tokio program runs on roost when its `tokio::` paths become `roost::`
//! paths:
//!
//! ```no_run
//! use roost::io::{AsyncReadExt, AsyncWriteExt};
//! use roost::net::TcpListener;
//!
//! #[roost::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (mut socket, _) = listener.accept().await?;
//!         roost::spawn(async move {
//!             let mut buf = [0; 1024];
//!             loop {
//!                 let n = match socket.read(&mut buf).await {
//!                     Ok(0) | Err(_) => return,
//!                     Ok(n) => n,
//!                 };
//!                 if socket.write_all(&buf[..n]).await.is_err() {
//!                     return;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! What differs, on purpose: [`spawn`] runs the task on the current worker
//! and does not need `Send` (a thread-per-core runtime never moves tasks);
//! [`spawn_on`] puts `Send` work on a given core; [`net::serve`] runs an
//! accept loop on every worker, each with its own `SO_REUSEPORT` listener.
//!
//! The layers:
//!
//! - [`alloc`]: the per-core buffer arena, its buffer handles and reuse slots;
//! - [`runtime`]: the thread-per-core executor;
//! - [`net`]: TCP, UDP and Unix sockets on the executor, with per-stream
//!   reuse slots.
#![warn(missing_docs)]

pub use roost_alloc as alloc;
pub use roost_macros::{main, test};
pub use roost_net as net;
pub use roost_runtime as runtime;
#[cfg(unix)]
pub use roost_runtime::signal;

pub use roost_runtime::{spawn, spawn_on};

/// Tasks: [`spawn`](task::spawn) (on the current worker, `!Send` allowed),
/// [`spawn_local`](task::spawn_local), [`spawn_on`](task::spawn_on),
/// [`spawn_blocking`](task::spawn_blocking), [`yield_now`](task::yield_now),
/// [`JoinHandle`](task::JoinHandle), [`JoinSet`](task::JoinSet).
pub mod task {
    pub use roost_runtime::task::*;
}

/// Time on roost's timer wheel: `sleep`, `sleep_until`, `timeout`,
/// `interval`, with `std`'s `Instant` and `Duration`.
pub mod time {
    pub use roost_runtime::time::*;
}

/// tokio's I/O traits and their extension traits, re-exported:
/// `use roost::io::{AsyncReadExt, AsyncWriteExt}` works as with tokio.
pub mod io {
    pub use tokio::io::*;
}

/// tokio's synchronisation primitives (`mpsc`, `oneshot`, `Mutex`,
/// `Notify`, ...), re-exported; they work across roost's workers.
pub mod sync {
    pub use tokio::sync::*;
}

pub use tokio::{join, pin, select, try_join};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
