//! The open-loop client's timer: a `timerfd` with an absolute expiry in
//! nanoseconds, registered with the client's mio `Poll`, so the poll wakes
//! at the planned send time rather than at the next millisecond (mio rounds
//! its timeouts up to milliseconds).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A one-shot timer that the poll reports as readable when it expires.
pub(crate) struct Ticker {
    fd: OwnedFd,
    /// The expiry armed last (re-arming the same one is skipped).
    armed: Option<Instant>,
}

fn monotonic_now() -> io::Result<libc::timespec> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    syscall!(clock_gettime(libc::CLOCK_MONOTONIC, &mut ts))?;
    Ok(ts)
}

impl Ticker {
    /// A timer registered with `registry` under `token`. Also sets the
    /// calling thread's timer slack to 1 ns, so that its poll's wake-ups are
    /// not deferred by the default 50 µs.
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<Self> {
        // SAFETY: plain flags; the result is checked.
        let fd = syscall!(timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC
        ))?;
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        // SAFETY: PR_SET_TIMERSLACK takes an integer argument; the rest are unused.
        syscall!(prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0))?;
        Ok(Self { fd, armed: None })
    }

    /// Whether the timer wakes the poll at the planned time (here: yes).
    pub(crate) fn precise(&self) -> bool {
        true
    }

    /// Arms the timer for `at` (at once if that has passed).
    pub(crate) fn fire_at(&mut self, at: Instant) -> io::Result<()> {
        if self.armed == Some(at) {
            return Ok(());
        }
        self.armed = Some(at);
        let now = Instant::now();
        let mut ts = monotonic_now()?;
        let ahead = at.saturating_duration_since(now);
        let nanos = ts.tv_nsec as u64 + u64::from(ahead.subsec_nanos()) + 1;
        ts.tv_sec += ahead.as_secs() as libc::time_t + (nanos / 1_000_000_000) as libc::time_t;
        ts.tv_nsec = (nanos % 1_000_000_000) as libc::c_long;
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: ts,
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not wanted.
        syscall!(timerfd_settime(
            self.fd.as_raw_fd(),
            libc::TFD_TIMER_ABSTIME,
            &spec,
            std::ptr::null_mut()
        ))?;
        Ok(())
    }

    /// Consumes an expiry, if one is pending (the poll is edge-triggered:
    /// the next expiry is reported again).
    pub(crate) fn clear(&mut self) -> io::Result<()> {
        let mut expirations = 0u64;
        // SAFETY: reads at most 8 bytes into `expirations`.
        match syscall!(read(
            self.fd.as_raw_fd(),
            (&mut expirations as *mut u64).cast(),
            std::mem::size_of::<u64>()
        )) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}
