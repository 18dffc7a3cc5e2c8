//! A worker's clock and timer wheel.
//!
//! Ticks are milliseconds since the worker started. A deadline becomes the
//! tick at or after it (rounded up, so a timer never fires early) and the
//! worker processes the wheel up to the current tick rounded down.

use std::task::Waker;
use std::time::{Duration, Instant};

use super::wheel::{TimerKey, Wheel};

pub(crate) struct TimerDriver {
    start: Instant,
    pub(crate) wheel: Wheel,
    fired: Vec<Waker>,
}

impl TimerDriver {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            wheel: Wheel::new(),
            // Sized up front so that the first timers to fire allocate nothing.
            fired: Vec::with_capacity(256),
        }
    }

    /// The first tick at or after `deadline`.
    pub(crate) fn tick_at_or_after(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        let ms = since.as_millis();
        let ceil = if since > Duration::from_millis(ms as u64) {
            ms + 1
        } else {
            ms
        };
        u64::try_from(ceil).unwrap_or(u64::MAX)
    }

    fn tick_of(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Adds a timer for `deadline`; gives the waker back if it is due already.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> Result<TimerKey, Waker> {
        let when = self.tick_at_or_after(deadline);
        self.wheel.insert(when, waker)
    }

    /// Processes the wheel up to `now`; returns the wakers to wake (the
    /// caller wakes them after releasing its borrow of the driver, then
    /// hands the vector back with [`recycle`](Self::recycle)).
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Waker> {
        let tick = self.tick_of(now);
        let mut fired = std::mem::take(&mut self.fired);
        self.wheel.advance(tick, &mut fired);
        fired
    }

    pub(crate) fn recycle(&mut self, mut fired: Vec<Waker>) {
        fired.clear();
        self.fired = fired;
    }

    /// How long the worker may block before the next timer is due.
    pub(crate) fn timeout(&self, now: Instant) -> Option<Duration> {
        let next = self.wheel.next_deadline()?;
        let at = self.start + Duration::from_millis(next);
        Some(at.saturating_duration_since(now))
    }
}
