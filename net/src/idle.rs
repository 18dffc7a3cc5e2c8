//! Idle release: streams that have been idle give back their parked buffers.
//!
//! One parked buffer per stream and direction is unbounded memory on a
//! server with many connections (the lesson Linux learned), so each worker
//! keeps a registry of its streams and a sweeper task that runs every half
//! [`idle_release`] period while the worker has streams. A stream whose
//! counter of sweeps-since-last-operation reaches two has been idle for at
//! least half the period and at most the whole period; its slots are emptied
//! (the buffers go back on the arena's free lists). Every operation on the
//! stream resets its counter: a plain `Cell` write, no clock read.
//!
//! # Invariants
//!
//! - The registry holds weak references: it never keeps a stream alive, and
//!   a stream removes its entry when dropped.
//! - Everything here is touched only by the worker that owns the streams.
//! - `sweeping` is set while a sweeper task of this thread may run, and is
//!   cleared however that task ends: it finds no stream left, it is
//!   cancelled, or its spawn is refused (a worker shutting down, a
//!   `block_on` loop whose runtime shuts down): a guard inside the task's
//!   future clears it when the future is dropped, polled or not. A flag
//!   left set would leave every later stream of the thread unswept. Each
//!   sweeper has a generation, so that the late drop of an old one never
//!   clears the flag of its successor.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use slab::Slab;

use crate::tcp::stream::StreamInner;

/// The default idle-release time.
pub const DEFAULT_IDLE_RELEASE: Duration = Duration::from_secs(10);

struct Registry {
    streams: RefCell<Slab<Weak<StreamInner>>>,
    release_after: Cell<Duration>,
    sweeping: Cell<bool>,
    /// The generation of the latest sweeper spawned.
    generation: Cell<u64>,
}

thread_local! {
    static REGISTRY: Registry = const {
        Registry {
            streams: RefCell::new(Slab::new()),
            release_after: Cell::new(DEFAULT_IDLE_RELEASE),
            sweeping: Cell::new(false),
            generation: Cell::new(0),
        }
    };
}

/// A stream's entry in its worker's registry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleKey(usize);

/// Sets, for the streams of the current worker, how long a stream may stay
/// idle before its parked buffers are released. Takes effect from the next
/// sweep.
pub fn set_idle_release(after: Duration) {
    REGISTRY.with(|r| r.release_after.set(after.max(Duration::from_millis(2))));
}

/// The current worker's idle-release time.
pub fn idle_release() -> Duration {
    REGISTRY.with(|r| r.release_after.get())
}

pub(crate) fn register(stream: &Rc<StreamInner>) -> IdleKey {
    REGISTRY.with(|r| {
        let key = r.streams.borrow_mut().insert(Rc::downgrade(stream));
        if !r.sweeping.get() {
            r.sweeping.set(true);
            let generation = r.generation.get().wrapping_add(1);
            r.generation.set(generation);
            // Refused (the worker or its runtime is shutting down): the
            // future is dropped unpolled and its guard clears the flag, so
            // the thread's next stream tries again.
            let _ = roost_runtime::try_spawn_local(sweep(SweeperGuard(generation)));
        }
        IdleKey(key)
    })
}

pub(crate) fn unregister(key: IdleKey) {
    let _ = REGISTRY.try_with(|r| {
        if let Ok(mut streams) = r.streams.try_borrow_mut() {
            if streams.contains(key.0) {
                streams.remove(key.0);
            }
        }
    });
}

/// One pass: count a sweep on every stream, release the idle ones.
/// Returns false when the worker has no streams left.
fn sweep_once() -> bool {
    REGISTRY.with(|r| {
        let streams = r.streams.borrow();
        if streams.is_empty() {
            r.sweeping.set(false);
            return false;
        }
        // No allocation: releasing a slot never touches the registry, and
        // the upgraded handle is never the last one (its owner holds another).
        for (_, weak) in streams.iter() {
            if let Some(stream) = weak.upgrade() {
                let sweeps = stream.idle_sweeps.get().saturating_add(1);
                stream.idle_sweeps.set(sweeps);
                if sweeps >= 2 {
                    stream.release_parked();
                }
            }
        }
        true
    })
}

/// Clears `sweeping` when its sweeper's future is dropped, unless a newer
/// sweeper was spawned meanwhile.
struct SweeperGuard(u64);

impl Drop for SweeperGuard {
    fn drop(&mut self) {
        // The registry may be gone already when the thread exits.
        let _ = REGISTRY.try_with(|r| {
            if r.generation.get() == self.0 {
                r.sweeping.set(false);
            }
        });
    }
}

/// Whether a sweeper is running (or about to) for the current thread's
/// streams. For tests.
#[doc(hidden)]
pub fn __sweeping() -> bool {
    REGISTRY.with(|r| r.sweeping.get())
}

async fn sweep(guard: SweeperGuard) {
    let _guard = guard;
    loop {
        roost_runtime::time::sleep(idle_release() / 2).await;
        if !sweep_once() {
            return;
        }
    }
}
