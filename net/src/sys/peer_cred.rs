//! The credentials of a Unix socket's peer: `SO_PEERCRED` on Linux (user,
//! group and process), `getpeereid` on macOS and the BSDs (user and group).

use std::io;
use std::os::fd::RawFd;

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
use roost_runtime::syscall;

/// `(uid, gid, pid)` of the peer of the connected Unix socket `fd`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_cred(fd: RawFd) -> io::Result<(libc::uid_t, libc::gid_t, Option<libc::pid_t>)> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live locals of the size passed; the
    // kernel writes at most `len` bytes into `cred`.
    syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_PEERCRED,
        (&mut cred as *mut libc::ucred).cast(),
        &mut len,
    ))?;
    Ok((cred.uid, cred.gid, Some(cred.pid)))
}

/// `(uid, gid, pid)` of the peer of the connected Unix socket `fd`; the
/// process is not reported here.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
pub(crate) fn peer_cred(fd: RawFd) -> io::Result<(libc::uid_t, libc::gid_t, Option<libc::pid_t>)> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: `uid` and `gid` are live locals that `getpeereid` writes.
    syscall!(getpeereid(fd, &mut uid, &mut gid))?;
    Ok((uid, gid, None))
}

/// Elsewhere: not supported.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
pub(crate) fn peer_cred(_fd: RawFd) -> io::Result<(libc::uid_t, libc::gid_t, Option<libc::pid_t>)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "peer credentials of a Unix socket are not supported on this system",
    ))
}
