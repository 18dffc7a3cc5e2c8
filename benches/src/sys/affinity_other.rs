//! CPU affinity where the platform offers none we use: every CPU is allowed
//! and pinning is refused.

use std::io;

/// One entry per available CPU, numbered from zero.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    let n = std::thread::available_parallelism()?.get();
    Ok((0..n).collect())
}

/// Confining is not supported here.
pub(crate) fn confine_current_thread(_cpus: &[usize]) -> io::Result<()> {
    pin_current_thread(0)
}

/// Pinning is not supported here.
pub(crate) fn pin_current_thread(_cpu: usize) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "thread pinning is only implemented on Linux",
    ))
}
