//! An eventfd: the io_uring driver's unparker.
//!
//! Other threads write to it to wake a worker that waits in its ring (the
//! ring keeps a multishot poll on it); the worker never reads it on the hot
//! path. The counter saturates only after 2^64 - 2 wakes; a write that
//! would block then resets it with a read and writes again.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::sched::Unpark;

/// A non-blocking, close-on-exec eventfd.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; the flags are valid.
        let fd = crate::syscall!(eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC))?;
        // SAFETY: `fd` was just returned by eventfd and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    fn write(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: the buffer is a live u64 and its size is passed with it.
        crate::syscall!(write(self.fd.as_raw_fd(), std::ptr::from_ref(&one).cast(), 8)).map(drop)
    }

    fn reset(&self) {
        let mut count: u64 = 0;
        // SAFETY: the buffer is a live, writable u64 and its size is passed
        // with it.
        let _ = crate::syscall!(read(self.fd.as_raw_fd(), std::ptr::from_mut(&mut count).cast(), 8));
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The unparker of a worker on the io_uring driver (the ring holds the
/// other reference, for its poll).
pub(crate) struct SharedEventFd(pub(crate) std::sync::Arc<EventFd>);

impl Unpark for SharedEventFd {
    fn unpark(&self) {
        if let Err(e) = self.0.write() {
            if e.kind() == io::ErrorKind::WouldBlock {
                // Saturated: a wake-up is pending anyway; make room for the
                // next ones.
                self.0.reset();
                let _ = self.0.write();
            }
        }
    }
}
