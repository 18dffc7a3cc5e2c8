//! `UCred`: the credentials of a Unix socket's peer, as tokio's.

/// The user, group and (where the system reports it) process of the peer of
/// a [`UnixStream`](super::UnixStream), as they were when it connected.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let (a, _b) = roost_net::UnixStream::pair().unwrap();
///     let cred = a.peer_cred().unwrap();
///     println!("peer: uid {}, gid {}", cred.uid(), cred.gid());
///     # #[cfg(target_os = "linux")]
///     assert_eq!(cred.pid().map(|pid| pid as u32), Some(std::process::id()));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UCred {
    pub(crate) uid: libc::uid_t,
    pub(crate) gid: libc::gid_t,
    pub(crate) pid: Option<libc::pid_t>,
}

impl UCred {
    /// The peer's user id.
    pub fn uid(&self) -> libc::uid_t {
        self.uid
    }

    /// The peer's group id.
    pub fn gid(&self) -> libc::gid_t {
        self.gid
    }

    /// The peer's process id: `Some` on Linux (`SO_PEERCRED`), `None` where
    /// the system does not report it (`getpeereid` on macOS and the BSDs).
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.pid
    }
}
