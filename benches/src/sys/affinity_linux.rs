//! CPU affinity through `sched_getaffinity` / `sched_setaffinity`.

use std::io;
use std::mem;

/// The CPUs the calling thread may run on, in increasing order.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `set` is a writable `cpu_set_t` of exactly the size we pass;
    // pid 0 means the calling thread.
    syscall!(sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set))?;
    let max = 8 * mem::size_of::<libc::cpu_set_t>();
    // SAFETY: every index is below the set's size in bits.
    Ok((0..max).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).collect())
}

/// Restricts the calling thread to `cpus` (threads it starts afterwards
/// inherit the mask).
pub(crate) fn confine_current_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    for &cpu in cpus {
        if cpu >= 8 * mem::size_of::<libc::cpu_set_t>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cpu {cpu} is out of range"),
            ));
        }
        // SAFETY: `cpu` was checked against the set's size just above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid `cpu_set_t` of exactly the size we pass; pid 0
    // means the calling thread.
    syscall!(sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set))?;
    Ok(())
}

/// Restricts the calling thread to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= 8 * mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cpu {cpu} is out of range"),
        ));
    }
    // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `cpu` was checked against the set's size just above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid `cpu_set_t` of exactly the size we pass; pid 0
    // means the calling thread.
    syscall!(sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set))?;
    Ok(())
}
