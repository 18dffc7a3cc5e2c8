//! roost: a thread-per-core async runtime for network servers in which
//! network buffers come home to roost.
//!
//! This facade re-exports the layers:
//!
//! - [`alloc`]: the per-core buffer arena, its buffer handles and reuse slots;
//! - [`runtime`]: the thread-per-core executor;
//! - [`net`]: TCP on the executor, with per-stream reuse slots.
#![warn(missing_docs)]

pub use roost_alloc as alloc;
pub use roost_macros::{main, test};
pub use roost_net as net;
pub use roost_runtime as runtime;
#[cfg(unix)]
pub use roost_runtime::signal;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
