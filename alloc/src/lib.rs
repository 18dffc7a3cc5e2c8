//! roost-alloc: a per-core buffer arena whose buffers return to their home core.
//!
//! Every thread that allocates a buffer gets an arena (lazily, or installed
//! explicitly by a runtime worker with [`Arena::install`]). A buffer remembers
//! its arena; when its last handle is dropped:
//!
//! - on its home thread, the block goes back on the arena's local free list,
//!   with no atomic read-modify-write;
//! - on another thread, it parks in its [`ReuseSlot`] if it has one and the
//!   slot is empty, or it joins a batch bound for its home arena; one
//!   compare-and-swap carries a whole batch onto the home's return list,
//!   which the home drains when its free list runs dry or on [`maintain`].
//!
//! Handles: [`ArenaBytesMut`] (unique, writable, `bytes::BufMut`) and
//! [`ArenaBytes`] (shared, immutable, `bytes::Buf`). Statistics: [`ArenaMonitor`].
//!
//! # Examples
//!
//! ```
//! use roost_alloc::{Arena, ArenaBytesMut};
//!
//! let arena = Arena::current();
//! let mut buf = ArenaBytesMut::with_capacity(2048);
//! buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
//! let frozen = buf.freeze();
//!
//! // Dropped on another thread: the block is batched for its trip home.
//! std::thread::spawn(move || drop(frozen)).join().unwrap();
//!
//! // The thread exit flushed the batch; draining puts the block back.
//! assert_eq!(roost_alloc::drain_returns(), 1);
//! let stats = arena.stats();
//! assert_eq!(stats.returns_received, 1);
//! assert!(stats.is_balanced());
//! assert_eq!(stats.in_use_bytes, 0);
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod arena;
mod block;
mod bytes;
mod bytes_mut;
mod config;
mod loom;
mod remote;
mod slot;
mod stats;

pub use crate::bytes::ArenaBytes;
pub use crate::bytes_mut::ArenaBytesMut;
pub use arena::{
    drain_returns, flush_returns, maintain, note_ring_dry, Arena, ArenaConfig, ArenaMonitor, DrainNotifier,
    InstallError,
};
pub use block::{CHUNK_SIZE, CLASS_SIZES, MAX_BLOCK_SIZE};
pub use remote::{BATCH_DESTINATIONS, RETURN_BATCH};
pub use slot::ReuseSlot;
pub use stats::ArenaStats;

#[cfg(all(test, loom))]
#[path = "tests/loom_reprovide.rs"]
mod loom_reprovide;
#[cfg(all(test, loom))]
#[path = "tests/loom_returns.rs"]
mod loom_returns;
#[cfg(all(test, loom))]
#[path = "tests/loom_slot.rs"]
mod loom_slot;
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

/// Compile-time promises: every handle crosses threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<ArenaBytesMut>();
    both::<ArenaBytes>();
    both::<ReuseSlot>();
    both::<ArenaMonitor>();
    both::<ArenaConfig>();
}
