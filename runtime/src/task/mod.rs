//! Tasks: one heap allocation per spawned future, reference counted.
//!
//! A task is a `raw::Header` (state word, vtable, owning worker, run-queue
//! and slab bookkeeping, inbox link, join waker) followed by the output slot
//! and the future. Every handle to it (the worker's slab entry, the
//! `JoinHandle`, wakers, abort handles, inbox entries) is one reference in
//! the state word; see `state.rs` for the bits and who may flip them.
//!
//! # Invariants
//!
//! - A task belongs to one worker for its whole life and is polled, cancelled
//!   and dropped only there (a task refused at spawn, never shared, is the
//!   one exception: its spawner drops it).
//! - The future is dropped before `COMPLETE` is set; the output is dropped
//!   by the join handle's thread or, without a handle, by the worker. So a
//!   `!Send` future or output never leaves its worker, even when the last
//!   reference (a waker) dies on another thread.
//! - A task is in the run queue at most once (`queued`) and in the inbox at
//!   most once (`NOTIFIED`); a wake while it is already scheduled is a no-op,
//!   and a wake after it completed is a no-op.

mod abort;
mod error;
pub(crate) mod join;
mod join_set;
pub(crate) mod raw;
mod spawn;
pub(crate) mod state;
pub(crate) mod waker;
mod yield_now;

pub use crate::blocking::spawn_blocking;
pub use abort::AbortHandle;
pub use error::JoinError;
pub use join::JoinHandle;
pub use join_set::JoinSet;
pub use spawn::{spawn, spawn_local, spawn_on, try_spawn_local};
pub use yield_now::{yield_now, YieldNow};

#[cfg(all(test, loom))]
#[path = "tests/loom_task.rs"]
mod loom_task;
#[cfg(all(test, not(loom)))]
#[path = "tests/unit.rs"]
mod unit;
