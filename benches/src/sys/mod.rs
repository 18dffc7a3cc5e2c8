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
