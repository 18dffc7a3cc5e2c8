//! The process-wide platform calls of the soak: its descriptor limit and
//! its count of open descriptors.

use std::io;

/// The process's `RLIMIT_NOFILE` (soft, hard).
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut limit))?;
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Sets the soft `RLIMIT_NOFILE`, keeping the hard one.
pub fn set_nofile_soft_limit(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit()?;
    if soft > hard {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor limit {soft} is above the hard limit {hard}"),
        ));
    }
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid rlimit that outlives the call.
    syscall!(setrlimit(libc::RLIMIT_NOFILE, &limit))?;
    Ok(())
}

/// The numbers of the descriptors open in this process, the one used to
/// list them excluded (it is the one that names the listing itself).
pub fn descriptor_numbers() -> io::Result<Vec<u32>> {
    let own = format!("/proc/{}/fd", std::process::id());
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if std::fs::read_link(entry.path()).is_ok_and(|t| t.as_os_str() == own.as_str()) {
            continue;
        }
        numbers.push(fd);
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// How many descriptors are open in this process.
pub fn open_descriptors() -> io::Result<usize> {
    Ok(descriptor_numbers()?.len())
}

/// The soft `RLIMIT_NOFILE` that leaves exactly `spare` descriptors to
/// open: the limit bounds descriptor numbers, not their count, so numbers
/// open above it (inherited ones, say) leave room below it.
pub fn limit_leaving(spare: usize) -> io::Result<u64> {
    Ok(limit_leaving_among(&descriptor_numbers()?, spare))
}

/// The least limit below which `spare` numbers are free, with the sorted
/// descriptor numbers `open` in use.
fn limit_leaving_among(open: &[u32], spare: usize) -> u64 {
    let mut limit: u64 = 0;
    let mut below = 0;
    loop {
        while below < open.len() && u64::from(open[below]) < limit {
            below += 1;
        }
        if limit - below as u64 == spare as u64 {
            return limit;
        }
        limit += 1;
    }
}

/// Whether `e` says that the process is out of descriptors.
pub fn is_emfile(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

/// What each open descriptor is (for a failure's message).
pub fn describe_descriptors() -> String {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return "(cannot list /proc/self/fd)".into();
    };
    let mut all: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| {
            let target = std::fs::read_link(e.path()).map_or_else(|_| "?".into(), |t| t.display().to_string());
            format!("{}={}", e.file_name().to_string_lossy(), target)
        })
        .collect();
    all.sort();
    all.join(" ")
}

#[cfg(test)]
mod tests {
    use super::limit_leaving_among;

    #[test]
    fn a_limit_counts_free_numbers_not_open_descriptors() {
        assert_eq!(limit_leaving_among(&[0, 1, 2], 3), 6);
        // A descriptor numbered far above leaves its count free below.
        assert_eq!(limit_leaving_among(&[0, 1, 2, 251], 3), 6);
        assert_eq!(limit_leaving_among(&[0, 2, 4], 2), 4);
        assert_eq!(limit_leaving_among(&[], 0), 0);
    }
}
