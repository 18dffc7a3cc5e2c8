//! CPU affinity: which cores this process may use, and pinning a thread to one.
//!
//! The allowed set is read once per process, on first use, and cached: after a
//! thread pins itself, `sched_getaffinity` on that thread sees only its own
//! core, so reading it again later (for example from inside a worker) would
//! shrink every later runtime to one core.

use std::io;
use std::sync::OnceLock;

static ALLOWED: OnceLock<Vec<usize>> = OnceLock::new();

/// The ids of the cores this process may run on, read once and cached.
///
/// Never empty: if the platform cannot tell, it lists
/// `available_parallelism()` cores numbered from zero.
pub(crate) fn allowed_cores() -> &'static [usize] {
    ALLOWED.get_or_init(|| {
        read_allowed().unwrap_or_else(|_| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n).collect()
        })
    })
}

#[cfg(target_os = "linux")]
fn read_allowed() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bitmask; all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set outlives the call and its size is passed alongside it.
    crate::syscall!(sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set))?;
    let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `core` is below CPU_SETSIZE, the bound CPU_ISSET requires.
        .filter(|&core| unsafe { libc::CPU_ISSET(core, &set) })
        .collect();
    if cores.is_empty() {
        return Err(io::Error::other("sched_getaffinity returned an empty set"));
    }
    Ok(cores)
}

#[cfg(not(target_os = "linux"))]
fn read_allowed() -> io::Result<Vec<usize>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no affinity API"))
}

/// Whether the process's cores look like its own, so that pinning a worker
/// to each of them cannot take a core from anything else: the affinity mask
/// the process was started with leaves out some online cores (a cpuset it
/// was given: `taskset`, a container's `--cpuset-cpus`, Kubernetes' static
/// CPU manager), or every allowed core is isolated from the scheduler
/// (`isolcpus=`). A process that may run on every core of the machine
/// shares them (a laptop, a CI runner, a VM with a sidecar, a container with
/// only a CPU quota), and pinning there keeps a worker on a core that its
/// neighbours want while another core is free.
///
/// Read once with [`allowed_cores`]; off Linux, `false`.
pub(crate) fn cores_are_dedicated() -> bool {
    static DEDICATED: OnceLock<bool> = OnceLock::new();
    *DEDICATED.get_or_init(|| {
        let online = read_cpu_list("/sys/devices/system/cpu/online").unwrap_or_default();
        let isolated = read_cpu_list("/sys/devices/system/cpu/isolated").unwrap_or_default();
        dedicated(allowed_cores(), &online, &isolated)
    })
}

/// The decision of [`cores_are_dedicated`], from the allowed, online and
/// isolated core lists (an empty `online` means unknown: then only
/// isolation counts).
fn dedicated(allowed: &[usize], online: &[usize], isolated: &[usize]) -> bool {
    let narrowed = !online.is_empty() && allowed.iter().all(|c| online.contains(c)) && allowed.len() < online.len();
    let all_isolated = !isolated.is_empty() && allowed.iter().all(|c| isolated.contains(c));
    narrowed || all_isolated
}

#[cfg(target_os = "linux")]
fn read_cpu_list(path: &str) -> Option<Vec<usize>> {
    parse_cpu_list(std::fs::read_to_string(path).ok()?.trim())
}

#[cfg(not(target_os = "linux"))]
fn read_cpu_list(_path: &str) -> Option<Vec<usize>> {
    None
}

/// Parses the kernel's CPU list format (`0-3,8,10-11`; empty: none).
/// `None` on anything else.
#[cfg(any(target_os = "linux", test))]
fn parse_cpu_list(list: &str) -> Option<Vec<usize>> {
    let mut cores = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi): (usize, usize) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
                if lo > hi || hi - lo > 1 << 16 {
                    return None;
                }
                cores.extend(lo..=hi);
            }
            None => cores.push(part.trim().parse().ok()?),
        }
    }
    Some(cores)
}

/// Pins the calling thread to `core`.
///
/// # Errors
///
/// The `sched_setaffinity` error, for example `EINVAL` if the core is not
/// allowed any more.
#[cfg(target_os = "linux")]
pub(crate) fn pin_current_thread(core: usize) -> io::Result<()> {
    if core >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "core id beyond CPU_SETSIZE",
        ));
    }
    // SAFETY: as above, an empty set is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `core` was checked against CPU_SETSIZE.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: the set is initialised and its size passed alongside it.
    crate::syscall!(sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set))?;
    Ok(())
}

/// Pinning is unsupported here: a no-op.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_current_thread(_core: usize) -> io::Result<()> {
    Ok(())
}

/// Lets the calling thread run on every allowed core again (after it was a
/// pinned worker for `Builder::run`).
#[cfg(target_os = "linux")]
pub(crate) fn unpin_current_thread() -> io::Result<()> {
    // SAFETY: as above, an empty set is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &core in allowed_cores() {
        if core < libc::CPU_SETSIZE as usize {
            // SAFETY: `core` was checked against CPU_SETSIZE.
            unsafe { libc::CPU_SET(core, &mut set) };
        }
    }
    // SAFETY: the set is initialised and its size passed alongside it.
    crate::syscall!(sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set))?;
    Ok(())
}

/// Pinning is unsupported here: a no-op.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unpin_current_thread() -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
        assert_eq!(parse_cpu_list("0-"), None);
    }

    #[test]
    fn cores_are_dedicated_only_when_narrowed_or_isolated() {
        // Every online core allowed, none isolated: shared (a laptop, a VM).
        assert!(!dedicated(&[0, 1], &[0, 1], &[]));
        // A cpuset narrower than the machine: given to the process.
        assert!(dedicated(&[2, 3], &[0, 1, 2, 3], &[]));
        // Isolated from the scheduler, all of them or not.
        assert!(dedicated(&[2, 3], &[0, 1, 2, 3], &[2, 3]));
        assert!(dedicated(&[0, 1, 2, 3], &[0, 1, 2, 3], &[0, 1, 2, 3]));
        assert!(!dedicated(&[0, 1, 2, 3], &[0, 1, 2, 3], &[2, 3]));
        // Online unknown: only isolation tells.
        assert!(!dedicated(&[0], &[], &[]));
    }
}
