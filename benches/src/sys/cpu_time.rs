//! CPU time of the process and of the calling thread (`getrusage`).

use super::CpuTime;
use std::time::Duration;

fn usage(who: libc::c_int) -> CpuTime {
    let mut ru: libc::rusage = unsafe_zeroed();
    // SAFETY: `ru` is a valid, writable rusage; `who` is RUSAGE_SELF or RUSAGE_THREAD.
    if syscall!(getrusage(who, &mut ru)).is_err() {
        return CpuTime::default();
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    CpuTime {
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
    }
}

fn unsafe_zeroed() -> libc::rusage {
    // SAFETY: rusage is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// (CPU time of the whole process, CPU time of the calling thread).
pub(crate) fn cpu_time() -> (CpuTime, CpuTime) {
    (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_THREAD))
}
