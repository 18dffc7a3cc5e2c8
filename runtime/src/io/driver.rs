//! Which event source a worker's loop waits in: epoll (through mio) or an
//! io_uring ring, and the choice between them ([`Driver`]).
//!
//! The choice is made once per event loop, when the loop starts on its
//! thread (a worker's, or a `block_on` thread's): [`Driver::Uring`] makes a
//! ring there (the kernel interrupts the thread that made a ring when the
//! ring is closed, so it must be the loop's, see `UringToOpen`) and,
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
    /// What the loop's context needs to make the ring, until it does.
    #[cfg(target_os = "linux")]
    Uring(Option<UringToOpen>),
}

/// A ring to be made by the thread whose loop it serves (see
/// [`UringToOpen::open`]), and that loop's eventfd, which other threads
/// already hold to wake it.
#[cfg(target_os = "linux")]
pub(crate) struct UringToOpen {
    config: super::uring::RingConfig,
    eventfd: std::sync::Arc<crate::sys::eventfd::EventFd>,
}

#[cfg(target_os = "linux")]
impl UringToOpen {
    /// Makes and enables the ring on the calling thread, the loop's.
    ///
    /// The thread that makes a ring, like every thread that submits to it,
    /// is the kernel's to interrupt when the ring is closed: the ring's
    /// exit work runs a task-work item on each of them, which cuts short a
    /// blocking call with a timeout (EINTR). Made by the loop's thread, a
    /// worker's ring interrupts only that worker (usually exiting by then),
    /// never the thread that built the runtime.
    ///
    /// Where that fails (io_uring missing or forbidden, a feature lacking),
    /// the loop gets epoll instead (`Ok(Err(poll))`), woken by the same
    /// eventfd: the line on stderr says so, and the caller counts the
    /// fallback.
    ///
    /// # Errors
    ///
    /// No ring, and no epoll instance either (descriptors exhausted, say).
    pub(crate) fn open(self) -> io::Result<Result<Box<super::uring::Ring>, mio::Poll>> {
        let made = super::uring::Ring::new(self.config, self.eventfd.clone()).and_then(|ring| {
            ring.enable()?;
            Ok(ring)
        });
        match made {
            Ok(ring) => Ok(Ok(Box::new(ring))),
            Err(e) => {
                note_fallback(&e);
                epoll_woken_by(&self.eventfd).map(Err)
            }
        }
    }
}

/// An epoll instance that the eventfd `eventfd` wakes: each write to it is
/// an edge (mio registers edge-triggered), so it is never read.
#[cfg(target_os = "linux")]
fn epoll_woken_by(eventfd: &crate::sys::eventfd::EventFd) -> io::Result<mio::Poll> {
    use std::os::fd::AsRawFd;
    let poll = mio::Poll::new()?;
    poll.registry().register(
        &mut mio::unix::SourceFd(&eventfd.as_raw_fd()),
        WAKER_TOKEN,
        mio::Interest::READABLE,
    )?;
    Ok(poll)
}

fn note_fallback(e: &io::Error) {
    if !FALLBACK_LOGGED.swap(true, Ordering::Relaxed) {
        eprintln!("roost: io_uring is not available ({e}); the uring driver falls back to epoll");
    }
}

/// An opened driver: the poller and the unparker other threads use to wake
/// the loop. Which driver the loop got, and whether that is a fallback,
/// the loop's context records once it has its reactor (`Context::new`).
pub(crate) struct Opened {
    pub(crate) poller: Poller,
    pub(crate) unparker: Box<dyn Unpark>,
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
                note_fallback(&e);
                return open_epoll();
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
    Ok(Opened {
        poller: Poller::Uring(Some(UringToOpen {
            config: ring_config,
            eventfd: eventfd.clone(),
        })),
        unparker: Box::new(SharedEventFd(eventfd)),
    })
}

#[cfg(not(target_os = "linux"))]
fn open_uring(_config: DriverConfig) -> io::Result<Opened> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "io_uring exists on Linux only",
    ))
}
