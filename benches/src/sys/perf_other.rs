//! Event counters where `perf_event_open` does not exist: none open.

use std::io;

/// What a counter counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    UserInstructions,
    UserCycles,
    KernelCycles,
    Syscalls,
    ContextSwitches,
}

/// A counter that never opens.
pub(crate) struct Counter;

impl Counter {
    pub(crate) fn open(_event: Event, _tid: i32) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "perf_event_open is Linux-only",
        ))
    }

    pub(crate) fn read(&self) -> io::Result<u64> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "perf_event_open is Linux-only",
        ))
    }
}

pub(crate) fn current_tid() -> i32 {
    0
}

pub(crate) fn thread_cpu_ticks(_tid: i32) -> io::Result<(u64, u64)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "per-thread CPU time is read from Linux's /proc",
    ))
}

pub(crate) fn tick_nanos() -> u64 {
    10_000_000
}
