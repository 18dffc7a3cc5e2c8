//! The one door to synchronisation primitives.
//!
//! Crate code imports atomics, `Arc` and the cross-thread `UnsafeCell` from
//! here, never from `std` directly, so that
//! `RUSTFLAGS="--cfg loom" cargo test -p roost-runtime --lib --release loom`
//! swaps every cross-thread path for loom's model-checked versions.
//!
//! Three deliberate exceptions, none of which orders anything between
//! threads that a model would have to check:
//!
//! - metrics counters and process-unique ids use plain `core` atomics (nothing
//!   is ordered through them; modelling them would only grow loom's state
//!   space, and loom atomics cannot live in a `static`);
//! - thread-local declarations sit next to their use (`context.rs`), with one
//!   declaration per configuration, because std's `const` initialiser (the
//!   fast path) has no loom counterpart;
//! - `block_on`'s thread parker implements `std::task::Wake`, which only
//!   takes std's `Arc`, and configuration closures (`dyn Fn` hooks, the
//!   arena's drain notifier) live in std `Arc`s, which loom's cannot
//!   replace (it cannot hold an unsized value).

#[cfg(not(all(test, loom)))]
pub(crate) mod sync {
    pub(crate) use std::sync::{mpsc, Arc, Condvar, Mutex};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    }
}

#[cfg(all(test, loom))]
pub(crate) mod sync {
    pub(crate) use loom::sync::{mpsc, Arc, Condvar, Mutex};

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    }
}

#[cfg(not(all(test, loom)))]
pub(crate) use std::thread;

#[cfg(all(test, loom))]
pub(crate) use loom::thread;

pub(crate) mod cell {
    /// An `UnsafeCell` whose accesses loom can check for data races.
    ///
    /// Outside loom it is `core::cell::UnsafeCell` behind loom's
    /// closure-based API, and compiles to a plain pointer access.
    #[cfg(not(all(test, loom)))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(all(test, loom)))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    #[cfg(all(test, loom))]
    pub(crate) use loom::cell::UnsafeCell;
}
