//! Platform calls that socket2 does not cover, behind one small interface.
//!
//! - `linux.rs`: the reuseport CPU-steering program (Linux only; elsewhere
//!   `attach_cpu_steering` says `Unsupported`);
//! - `peer_cred.rs`: the credentials of a Unix socket's peer.
//!
//! Everything else goes through socket2 and mio.

/// Calls a libc function and turns `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the caller passes arguments valid for this libc call.
        let res = unsafe { libc::$fn($($arg, )*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

mod peer_cred;
pub(crate) use peer_cred::peer_cred;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::attach_cpu_steering;

/// CPU steering needs Linux's `SO_ATTACH_REUSEPORT_CBPF`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn attach_cpu_steering(_fd: std::os::fd::RawFd, _groups: u32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "CPU steering of SO_REUSEPORT listeners needs Linux",
    ))
}
