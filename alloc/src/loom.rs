//! The one door to synchronisation primitives.
//!
//! Crate code imports atomics, `Arc` and thread-locals from here, never from
//! `std` directly, so that `RUSTFLAGS="--cfg loom" cargo test` swaps every
//! cross-thread path for loom's model-checked versions.
//!
//! Statistics counters are the one exception: they live in `stats.rs` on plain
//! `core` atomics because nothing synchronises through them, and modelling them
//! would only multiply loom's state space.

#[cfg(not(all(test, loom)))]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicIsize, AtomicPtr, AtomicUsize, Ordering};
    }
}

#[cfg(all(test, loom))]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{fence, AtomicIsize, AtomicPtr, AtomicUsize, Ordering};
    }
}

#[cfg(all(test, loom))]
pub(crate) use loom::thread_local;
#[cfg(not(all(test, loom)))]
pub(crate) use std::thread_local;
