//! Platform calls, one file per mechanism, behind the small interfaces of
//! [`cores`](crate::cores) and [`memory`](crate::memory).

/// Calls a libc function and turns its `-1` into `io::Error::last_os_error()`.
///
/// The call is `unsafe`: every use says why its arguments are valid in a
/// `// SAFETY:` comment in front of the macro.
#[allow(unused_macros)]
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the caller's own `// SAFETY:` comment covers the arguments.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

#[cfg(target_os = "linux")]
#[path = "affinity_linux.rs"]
pub(crate) mod affinity;

#[cfg(not(target_os = "linux"))]
#[path = "affinity_other.rs"]
pub(crate) mod affinity;

#[cfg(target_os = "linux")]
#[path = "proc_status_linux.rs"]
pub(crate) mod proc_status;

#[cfg(not(target_os = "linux"))]
#[path = "proc_status_other.rs"]
pub(crate) mod proc_status;

#[cfg(target_os = "linux")]
mod cpu_time;

/// (CPU time of the whole process, CPU time of the calling thread).
#[cfg(target_os = "linux")]
pub(crate) use cpu_time::cpu_time;

/// CPU time is read with Linux's `RUSAGE_THREAD`; elsewhere it reads zero.
#[cfg(not(target_os = "linux"))]
pub(crate) fn cpu_time() -> (std::time::Duration, std::time::Duration) {
    (std::time::Duration::ZERO, std::time::Duration::ZERO)
}
