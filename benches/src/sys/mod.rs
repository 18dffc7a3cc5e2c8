//! Platform calls, one file per mechanism, behind the small interfaces of
//! [`cores`](crate::cores) and [`memory`](crate::memory).

// `syscall!` is roost-runtime's, the workspace's one such helper (in scope
// through `#[macro_use] extern crate roost_runtime` in lib.rs).

#[cfg(target_os = "linux")]
#[path = "affinity_linux.rs"]
pub(crate) mod affinity;

#[cfg(not(target_os = "linux"))]
#[path = "affinity_other.rs"]
pub(crate) mod affinity;

#[cfg(target_os = "linux")]
#[path = "proc_status_linux.rs"]
pub(crate) mod proc_status;

#[cfg(not(target_os = "linux"))]
#[path = "proc_status_other.rs"]
pub(crate) mod proc_status;

#[cfg(target_os = "linux")]
mod cpu_time;

/// CPU time split into user space and kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time in user space.
    pub user: std::time::Duration,
    /// Time in the kernel (system calls, and softirq work charged to the thread).
    pub system: std::time::Duration,
}

impl CpuTime {
    /// User plus kernel time.
    pub fn total(&self) -> std::time::Duration {
        self.user + self.system
    }

    /// `self - other`, field by field, saturating at zero.
    pub fn minus(&self, other: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(other.user),
            system: self.system.saturating_sub(other.system),
        }
    }
}

/// (CPU time of the whole process, CPU time of the calling thread).
#[cfg(target_os = "linux")]
pub(crate) use cpu_time::cpu_time;

/// CPU time is read with Linux's `RUSAGE_THREAD`; elsewhere it reads zero.
#[cfg(not(target_os = "linux"))]
pub(crate) fn cpu_time() -> (CpuTime, CpuTime) {
    (CpuTime::default(), CpuTime::default())
}

#[cfg(target_os = "linux")]
#[path = "perf_linux.rs"]
pub(crate) mod perf;

#[cfg(not(target_os = "linux"))]
#[path = "perf_other.rs"]
pub(crate) mod perf;

#[cfg(target_os = "linux")]
#[path = "ticker_linux.rs"]
pub(crate) mod ticker;

#[cfg(not(target_os = "linux"))]
#[path = "ticker_other.rs"]
pub(crate) mod ticker;
