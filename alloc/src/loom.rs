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
        pub(crate) use std::sync::atomic::{AtomicIsize, AtomicPtr, AtomicUsize, Ordering};
    }
}

#[cfg(all(test, loom))]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{AtomicIsize, AtomicPtr, AtomicUsize, Ordering};
    }
}

pub(crate) mod cell {
    //! A block's `next` and `slot` fields change hands between threads
    //! (owner, returner, parker) through the release/acquire pairs on
    //! `refs`, the return list and the slot. Normally they are plain
    //! `Cell`s; under loom they are loom cells, so that loom reports an
    //! access that is not ordered after the hand-over (a weakened ordering,
    //! a missing fence) as a causality violation.

    #[cfg(not(all(test, loom)))]
    pub(crate) type HandoffCell<T> = std::cell::Cell<T>;

    #[cfg(all(test, loom))]
    pub(crate) struct HandoffCell<T>(loom::cell::UnsafeCell<T>);

    #[cfg(all(test, loom))]
    impl<T: Copy> HandoffCell<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::cell::UnsafeCell::new(value))
        }

        pub(crate) fn get(&self) -> T {
            // SAFETY: callers own the block (see `block.rs`); loom checks it.
            self.0.with(|p| unsafe { *p })
        }

        pub(crate) fn set(&self, value: T) {
            // SAFETY: as in `get`.
            self.0.with_mut(|p| unsafe { *p = value })
        }

        pub(crate) fn replace(&self, value: T) -> T {
            // SAFETY: as in `get`.
            self.0.with_mut(|p| unsafe { std::ptr::replace(p, value) })
        }
    }
}

#[cfg(all(test, loom))]
pub(crate) use loom::thread_local;
#[cfg(not(all(test, loom)))]
pub(crate) use std::thread_local;
