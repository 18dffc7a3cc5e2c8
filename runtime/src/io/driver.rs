//! Which event source a worker's loop waits in: epoll (through mio) or an
//! io_uring ring, and the choice between them ([`Driver`]).
//!
//! The choice is made once per event loop, when the runtime is built (or a
//! `block_on` thread makes its loop): [`Driver::Uring`] opens a ring and,
//! where io_uring is missing, forbidden or lacks a feature the driver
//! needs, falls back to epoll, prints one line on stderr (once per process)
//! and says so in the worker's metrics (`WorkerMetrics::uring_fallback`).
//! Starting never fails because of io_uring.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sched::Unpark;
use crate::worker::WAKER_TOKEN;

/// The name of the environment variable that picks the driver of runtimes
/// whose builder does not ([`Builder::driver`](crate::Builder::driver)):
/// `epoll` or `uring`.
pub const DRIVER_ENV: &str = "ROOST_DRIVER";

/// The event source of a runtime's workers.
///
/// # Examples
///
/// ```
/// use roost_runtime::io::Driver;
///
/// let rt = roost_runtime::Runtime::builder()
///     .worker_threads(1)
///     .pin_workers(false)
///     .driver(Driver::Uring)
///     .build()
///     .unwrap();
/// // `Uring` where the kernel allows it, `Epoll` (and a fallback flag) where not.
/// let worker = &rt.handle().metrics().workers[0];
/// assert_eq!(worker.driver == Driver::Epoll, worker.uring_fallback);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Driver {
    /// Readiness from epoll (kqueue on macOS) through mio: the portable
    /// driver, and the default.
    Epoll,
    /// An io_uring ring per worker (Linux): the worker submits a tick's
    /// operations in one `io_uring_enter` and waits in the ring for
    /// completions, timers and wakes from other threads. Falls back to
    /// [`Epoll`](Self::Epoll) where io_uring is not available.
    Uring,
}

impl Driver {
    /// The driver named by `ROOST_DRIVER`, `None` if the variable is unset
    /// or empty.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if it names no driver (it must be `epoll` or `uring`).
    pub fn from_env() -> io::Result<Option<Self>> {
        match std::env::var(DRIVER_ENV) {
            Ok(v) if v.is_empty() => Ok(None),
            Ok(v) => v.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{DRIVER_ENV} is not valid UTF-8 (expected `epoll` or `uring`)"),
            )),
        }
    }

    pub(crate) fn code(self) -> u64 {
        match self {
            Driver::Epoll => 0,
            Driver::Uring => 1,
        }
    }

    pub(crate) fn from_code(code: u64) -> Self {
        if code == 1 {
            Driver::Uring
        } else {
            Driver::Epoll
        }
    }
}

impl std::str::FromStr for Driver {
    type Err = io::Error;

    fn from_str(s: &str) -> io::Result<Self> {
        match s.trim() {
            "epoll" => Ok(Driver::Epoll),
            "uring" | "io_uring" => Ok(Driver::Uring),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown roost driver {other:?} (expected `epoll` or `uring`; from {DRIVER_ENV} or Builder::driver)"),
            )),
        }
    }
}

/// How a loop's driver is to be opened.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DriverConfig {
    pub(crate) driver: Driver,
    /// Submission queue entries of each ring.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) uring_entries: u32,
    /// Buffers of each provided-buffer ring.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) uring_buffers: u16,
    /// Sends of at least this many bytes are zero-copy.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) uring_zero_copy_above: usize,
    /// How long a ring wait that found a completion collects more.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) uring_batch_wait: std::time::Duration,
}

/// What an event loop waits in. The ring itself lives in the loop's
/// `IoDriver` (its registrations submit to it); the loop keeps `Uring` as
/// a marker and polls through the `IoDriver`.
pub(crate) enum Poller {
    Epoll(mio::Poll),
    /// The ring until the loop's context takes it.
    #[cfg(target_os = "linux")]
    Uring(Option<Box<super::uring::Ring>>),
}

/// An opened driver: the poller, the unparker other threads use to wake
/// the loop, and whether io_uring was asked for but not available.
pub(crate) struct Opened {
    pub(crate) poller: Poller,
    pub(crate) unparker: Box<dyn Unpark>,
    pub(crate) fell_back: bool,
}

impl Opened {
    /// The driver the loop actually runs.
    pub(crate) fn driver(&self) -> Driver {
        match self.poller {
            Poller::Epoll(_) => Driver::Epoll,
            #[cfg(target_os = "linux")]
            Poller::Uring(_) => Driver::Uring,
        }
    }
}

static FALLBACK_LOGGED: AtomicBool = AtomicBool::new(false);

/// Opens the driver `config` asks for (see the module documentation).
///
/// # Errors
///
/// Creating the epoll instance or its waker failed.
pub(crate) fn open(config: DriverConfig) -> io::Result<Opened> {
    if config.driver == Driver::Uring {
        match open_uring(config) {
            Ok(opened) => return Ok(opened),
            Err(e) => {
                if !FALLBACK_LOGGED.swap(true, Ordering::Relaxed) {
                    eprintln!("roost: io_uring is not available ({e}); the uring driver falls back to epoll");
                }
                let mut opened = open_epoll()?;
                opened.fell_back = true;
                return Ok(opened);
            }
        }
    }
    open_epoll()
}

fn open_epoll() -> io::Result<Opened> {
    let poll = mio::Poll::new()?;
    let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
    Ok(Opened {
        poller: Poller::Epoll(poll),
        unparker: Box::new(waker),
        fell_back: false,
    })
}

#[cfg(target_os = "linux")]
fn open_uring(config: DriverConfig) -> io::Result<Opened> {
    use crate::sys::eventfd::{EventFd, SharedEventFd};
    let eventfd = std::sync::Arc::new(EventFd::new()?);
    let ring_config = super::uring::RingConfig {
        entries: config.uring_entries,
        buffers: config.uring_buffers,
        zero_copy_above: config.uring_zero_copy_above,
        batch_wait: config.uring_batch_wait,
    };
    let ring = super::uring::Ring::new(ring_config, eventfd.clone())?;
    Ok(Opened {
        poller: Poller::Uring(Some(Box::new(ring))),
        unparker: Box::new(SharedEventFd(eventfd)),
        fell_back: false,
    })
}

#[cfg(not(target_os = "linux"))]
fn open_uring(_config: DriverConfig) -> io::Result<Opened> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "io_uring exists on Linux only",
    ))
}
