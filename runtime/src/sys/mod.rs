//! Platform calls, one file per mechanism, behind one small interface.
//!
//! Only Linux is supported for pinning; elsewhere [`affinity`] reports no
//! restriction (the worker count then falls back to
//! `std::thread::available_parallelism`) and pinning is a no-op.

pub(crate) mod affinity;
#[cfg(target_os = "linux")]
pub(crate) mod eventfd;
pub(crate) mod sched;

/// Calls a libc function and turns a `-1` return into
/// `io::Error::last_os_error()`: the one such helper of the workspace
/// (roost-net and the benchmarks use it as `roost_runtime::syscall!`).
///
/// The call is `unsafe`; every use says why its arguments satisfy the
/// function's contract in a `// SAFETY:` comment in front of it.
#[doc(hidden)]
#[macro_export]
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the call site's own `// SAFETY:` comment covers the
        // arguments.
        let res = unsafe { $crate::__libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
