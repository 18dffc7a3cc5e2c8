//! The scheduling policy of a worker thread: `SCHED_BATCH` on cores the
//! process shares, the normal policy elsewhere.
//!
//! Under `SCHED_BATCH` a thread that wakes up does not preempt the thread
//! running on its core: it goes to an idle core if there is one (wake-up
//! placement is unchanged), and otherwise waits until the running thread
//! blocks or its slice ends. A worker woken by its sockets on a core shared
//! with the program that feeds it (a load generator, a proxy's peer, a
//! sidecar) then finds a batch of events waiting instead of one, and the
//! feeder is not cut off in the middle of its own batch.
//!
//! A thread inherits its creator's policy (`SCHED_RESET_ON_FORK` resets
//! only real-time policies), so the blocking pool's threads put themselves
//! back under the normal policy when they start.

use std::io;

/// Puts the calling thread under `SCHED_BATCH` (`batch`) or back under
/// the normal policy. Neither needs a privilege at nice 0.
///
/// # Errors
///
/// The `sched_setscheduler` error (a seccomp policy may refuse it).
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn set_batch(batch: bool) -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    let policy = if batch { libc::SCHED_BATCH } else { libc::SCHED_OTHER };
    // SAFETY: `param` is a valid, initialised sched_param that outlives the
    // call; pid 0 is the calling thread.
    crate::syscall!(sched_setscheduler(0, policy, &param))?;
    Ok(())
}

/// Not Linux: there is no such policy; the thread keeps its own.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_batch(_batch: bool) -> io::Result<()> {
    Ok(())
}

/// Miri has no scheduler to tell: the thread keeps its policy, and the
/// worker's metrics say it is not a batch.
#[cfg(all(target_os = "linux", miri))]
pub(crate) fn set_batch(_batch: bool) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no scheduling policies under Miri",
    ))
}

/// Whether the calling thread runs under `SCHED_BATCH`.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn is_batch() -> bool {
    // SAFETY: no arguments beyond the calling thread's pid 0.
    let policy = unsafe { libc::sched_getscheduler(0) };
    policy >= 0 && policy & !libc::SCHED_RESET_ON_FORK == libc::SCHED_BATCH
}

/// Not Linux (or Miri): never.
#[cfg(any(not(target_os = "linux"), miri))]
pub(crate) fn is_batch() -> bool {
    false
}

#[cfg(all(test, not(loom), not(miri), target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_goes_batch_and_back() {
        std::thread::spawn(|| {
            assert!(!is_batch());
            set_batch(true).unwrap();
            assert!(is_batch());
            set_batch(false).unwrap();
            assert!(!is_batch());
        })
        .join()
        .unwrap();
    }
}
