//! Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Each worker owns a hierarchical timing wheel (`wheel.rs`) with
//! millisecond ticks: inserting, cancelling and resetting a timer are O(1),
//! and a worker tick costs nothing for timers that are not due, so 100,000
//! pending timers do not slow it down. Timers belong to the worker that
//! first polls them and are only touched on that worker's thread; a timer
//! future dropped anywhere else leaves its entry to expire harmlessly.
//!
//! The deadline type is `std::time::Instant`, re-exported here with
//! `Duration` so that `use roost::time::{Duration, Instant}` works as
//! tokio's does (tokio's `Instant` is a wrapper of the same clock).

mod driver;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub(crate) use driver::TimerDriver;
pub use std::time::{Duration, Instant};

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
