//! The open-loop client's timer where there is no `timerfd`: none; the
//! client's poll timeout (rounded up to milliseconds by mio) is the timer,
//! so open-loop latencies there carry up to a millisecond of send delay.

use std::io;
use std::time::Instant;

use mio::{Registry, Token};

/// No timer of its own.
pub(crate) struct Ticker;

impl Ticker {
    pub(crate) fn new(_registry: &Registry, _token: Token) -> io::Result<Self> {
        Ok(Self)
    }

    pub(crate) fn precise(&self) -> bool {
        false
    }

    pub(crate) fn fire_at(&mut self, _at: Instant) -> io::Result<()> {
        Ok(())
    }

    pub(crate) fn clear(&mut self) -> io::Result<()> {
        Ok(())
    }
}
