//! Resident memory from `/proc/self/status` (`VmRSS`, `VmHWM`).

use std::io;

/// `(VmRSS, VmHWM)` of this process, in bytes.
pub(crate) fn resident_and_peak() -> io::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> io::Result<u64> {
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} missing in /proc/self/status")))?;
        // The line reads like "VmRSS:\t    1234 kB".
        let kib = line
            .trim_start_matches(':')
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))?;
        Ok(kib * 1024)
    };
    Ok((field("VmRSS")?, field("VmHWM")?))
}
