//! Resident memory is only read on Linux.

use std::io;

/// Not available on this platform.
pub(crate) fn resident_and_peak() -> io::Result<(u64, u64)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "resident memory is only read on Linux",
    ))
}
