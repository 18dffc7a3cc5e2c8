//! The process's resident memory (Linux `VmRSS` and `VmHWM`).

use std::io;

use crate::sys::proc_status;

/// Resident set size of this process, now and at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidentMemory {
    /// Bytes resident now (`VmRSS`).
    pub now: u64,
    /// The most bytes ever resident (`VmHWM`).
    pub peak: u64,
}

/// Reads this process's resident memory.
///
/// # Errors
///
/// `Unsupported` off Linux; otherwise an error reading or parsing
/// `/proc/self/status`.
///
/// # Examples
///
/// ```
/// if let Ok(mem) = roost_benches::memory::resident() {
///     assert!(mem.peak >= mem.now);
/// }
/// ```
pub fn resident() -> io::Result<ResidentMemory> {
    let (now, peak) = proc_status::resident_and_peak()?;
    Ok(ResidentMemory { now, peak })
}

/// `bytes` in MiB with one decimal, e.g. `"12.5 MiB"`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}
