//! The errors of refused spawns and misused `block_on`.

use std::fmt;
use std::io;

/// Why a spawn was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The runtime is shutting down (or gone).
    Shutdown,
    /// `spawn_local` outside a worker thread, or `spawn` with no runtime.
    NoRuntime,
    /// `spawn_on` a worker that stopped while the runtime runs on (its
    /// reactor failed for good; see
    /// [`Handle::reactor_faults`](crate::Handle::reactor_faults)).
    WorkerStopped {
        /// The stopped worker's index.
        worker: usize,
    },
    /// `spawn_on` with a worker index out of range.
    NoSuchWorker {
        /// The index asked for.
        worker: usize,
        /// How many workers there are.
        workers: usize,
    },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Shutdown => f.write_str("the roost runtime is shutting down"),
            SpawnError::NoRuntime => f.write_str("not on a roost worker thread"),
            SpawnError::WorkerStopped { worker } => write!(f, "roost worker {worker} has stopped (its reactor failed)"),
            SpawnError::NoSuchWorker { worker, workers } => {
                write!(
                    f,
                    "worker index {worker} out of range (the runtime has {workers} workers)"
                )
            }
        }
    }
}

impl std::error::Error for SpawnError {}

impl From<SpawnError> for io::Error {
    fn from(e: SpawnError) -> Self {
        io::Error::other(e)
    }
}

/// Why [`Handle::try_block_on`] could not run the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockOnError {
    /// Called from a roost worker thread: blocking it would stop every task
    /// on that worker, including (often) the one being waited for.
    InsideRuntime,
    /// The runtime is shutting down: the future was refused or cancelled.
    Shutdown,
    /// The calling thread's event loop could not be made (its reactor:
    /// for example, the process is out of file descriptors), or its reactor
    /// failed for good while the future ran (the future was dropped; see
    /// [`Handle::reactor_faults`](crate::Handle::reactor_faults)).
    Io(io::ErrorKind),
}

impl fmt::Display for BlockOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockOnError::InsideRuntime => f.write_str(
                "block_on called from a roost worker thread: blocking a worker would deadlock it; \
                 `.await` the future (or spawn it) instead",
            ),
            BlockOnError::Shutdown => f.write_str("block_on: the roost runtime is shutting down"),
            BlockOnError::Io(kind) => write!(f, "block_on: the thread's event loop has no working reactor: {kind}"),
        }
    }
}

impl std::error::Error for BlockOnError {}
