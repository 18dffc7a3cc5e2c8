//! CPU affinity: which cores this process may use, and pinning a thread to one.
//!
//! The allowed set is read once per process, on first use, and cached: after a
//! thread pins itself, `sched_getaffinity` on that thread sees only its own
//! core, so reading it again later (for example from inside a worker) would
//! shrink every later runtime to one core.

use std::io;
use std::sync::OnceLock;

static ALLOWED: OnceLock<Vec<usize>> = OnceLock::new();

/// The ids of the cores this process may run on, read once and cached.
///
/// Never empty: if the platform cannot tell, it lists
/// `available_parallelism()` cores numbered from zero.
pub(crate) fn allowed_cores() -> &'static [usize] {
    ALLOWED.get_or_init(|| {
        read_allowed().unwrap_or_else(|_| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n).collect()
        })
    })
}

#[cfg(target_os = "linux")]
fn read_allowed() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bitmask; all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set outlives the call and its size is passed alongside it.
    crate::syscall!(sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set))?;
    let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `core` is below CPU_SETSIZE, the bound CPU_ISSET requires.
        .filter(|&core| unsafe { libc::CPU_ISSET(core, &set) })
        .collect();
    if cores.is_empty() {
        return Err(io::Error::other("sched_getaffinity returned an empty set"));
    }
    Ok(cores)
}

#[cfg(not(target_os = "linux"))]
fn read_allowed() -> io::Result<Vec<usize>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no affinity API"))
}

/// Pins the calling thread to `core`.
///
/// # Errors
///
/// The `sched_setaffinity` error, for example `EINVAL` if the core is not
/// allowed any more.
#[cfg(target_os = "linux")]
pub(crate) fn pin_current_thread(core: usize) -> io::Result<()> {
    if core >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "core id beyond CPU_SETSIZE",
        ));
    }
    // SAFETY: as above, an empty set is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `core` was checked against CPU_SETSIZE.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: the set is initialised and its size passed alongside it.
    crate::syscall!(sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set))?;
    Ok(())
}

/// Pinning is unsupported here: a no-op.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_current_thread(_core: usize) -> io::Result<()> {
    Ok(())
}

/// Lets the calling thread run on every allowed core again (after it was a
/// pinned worker for `Builder::run`).
#[cfg(target_os = "linux")]
pub(crate) fn unpin_current_thread() -> io::Result<()> {
    // SAFETY: as above, an empty set is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &core in allowed_cores() {
        if core < libc::CPU_SETSIZE as usize {
            // SAFETY: `core` was checked against CPU_SETSIZE.
            unsafe { libc::CPU_SET(core, &mut set) };
        }
    }
    // SAFETY: the set is initialised and its size passed alongside it.
    crate::syscall!(sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set))?;
    Ok(())
}

/// Pinning is unsupported here: a no-op.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unpin_current_thread() -> io::Result<()> {
    Ok(())
}
