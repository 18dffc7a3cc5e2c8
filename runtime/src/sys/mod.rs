//! Platform calls, one file per mechanism, behind one small interface.
//!
//! Only Linux is supported for pinning; elsewhere [`affinity`] reports no
//! restriction (the worker count then falls back to
//! `std::thread::available_parallelism`) and pinning is a no-op.

pub(crate) mod affinity;

/// Calls a libc function and turns a `-1` return into `io::Error::last_os_error()`.
#[allow(unused_macros)]
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the caller passes arguments that satisfy the libc contract
        // of the named function (see each call site).
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use syscall;
