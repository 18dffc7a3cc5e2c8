//! Platform calls that socket2 does not cover, behind one small interface.
//!
//! - `linux.rs`: the reuseport CPU-steering program (Linux only; elsewhere
//!   `attach_cpu_steering` says `Unsupported`);
//! - `peer_cred.rs`: the credentials of a Unix socket's peer;
//! - `read.rs`: `read(2)` into uninitialised memory (which
//!   `std::io::Read` may not be given).
//!
//! Everything else goes through socket2 and mio.

// `syscall!` is roost-runtime's, the workspace's one such helper; each
// file imports it and says at every call why the arguments are valid.

mod peer_cred;
pub(crate) use peer_cred::peer_cred;

mod read;
pub(crate) use read::read_uninit;

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
