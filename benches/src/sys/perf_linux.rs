//! Per-thread event counters through `perf_event_open(2)`.
//!
//! Only the first 64 bytes of `struct perf_event_attr` (the kernel's
//! `PERF_ATTR_SIZE_VER0`) are filled in; every kernel since 2.6.31 accepts
//! that size. Counters start enabled and count one thread, on any CPU; a
//! read returns the count so far (no read_format flags).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};

/// `struct perf_event_attr`, its first (VER0) part.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bit fields: disabled (0), inherit (1), pinned (2), exclusive (3),
    /// exclude_user (4), exclude_kernel (5), exclude_hv (6), ...
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
const PERF_COUNT_SW_CONTEXT_SWITCHES: u64 = 3;
/// `PERF_FLAG_FD_CLOEXEC` (linux/perf_event.h), which libc lacks.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
const EXCLUDE_USER: u64 = 1 << 4;
const EXCLUDE_KERNEL: u64 = 1 << 5;
const EXCLUDE_HV: u64 = 1 << 6;

/// What a counter counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    UserInstructions,
    UserCycles,
    KernelCycles,
    /// Entries into any system call (the `raw_syscalls:sys_enter`
    /// tracepoint).
    Syscalls,
    ContextSwitches,
}

/// The tracepoint's id, from tracefs.
fn syscall_tracepoint() -> io::Result<u64> {
    let mut last = io::Error::from(io::ErrorKind::NotFound);
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        match std::fs::read_to_string(format!("{root}/events/raw_syscalls/sys_enter/id")) {
            Ok(id) => {
                return id
                    .trim()
                    .parse()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One open counter on one thread.
pub(crate) struct Counter {
    file: File,
}

impl Counter {
    /// Starts counting `event` for thread `tid`.
    pub(crate) fn open(event: Event, tid: i32) -> io::Result<Self> {
        let (kind, config, flags) = match event {
            Event::UserInstructions => (
                PERF_TYPE_HARDWARE,
                PERF_COUNT_HW_INSTRUCTIONS,
                EXCLUDE_KERNEL | EXCLUDE_HV,
            ),
            Event::UserCycles => (
                PERF_TYPE_HARDWARE,
                PERF_COUNT_HW_CPU_CYCLES,
                EXCLUDE_KERNEL | EXCLUDE_HV,
            ),
            Event::KernelCycles => (PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, EXCLUDE_USER | EXCLUDE_HV),
            Event::Syscalls => (PERF_TYPE_TRACEPOINT, syscall_tracepoint()?, 0),
            Event::ContextSwitches => (PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, 0),
        };
        let attr = PerfEventAttr {
            kind,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config,
            flags,
            ..PerfEventAttr::default()
        };
        // SAFETY: `attr` is a valid VER0 `perf_event_attr` that lives across
        // the call; pid `tid`, cpu -1 (any), no group, no flags.
        let fd = syscall!(syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            tid as libc::c_int,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC
        ))?;
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Self { file: File::from(fd) })
    }

    /// The count so far.
    pub(crate) fn read(&self) -> io::Result<u64> {
        let mut value = [0u8; 8];
        (&self.file).read_exact(&mut value)?;
        Ok(u64::from_ne_bytes(value))
    }
}

/// The calling thread's id.
pub(crate) fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// The user and kernel CPU time of thread `tid` of this process so far, in
/// clock ticks (`/proc/self/task/<tid>/stat`, fields 14 and 15), and the
/// length of a tick.
pub(crate) fn thread_cpu_ticks(tid: i32) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no ')' in stat"))?;
    // `rest` starts at field 3 (the state): utime is field 14, stime 15.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let parse = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short stat"))
    };
    Ok((parse(11)?, parse(12)?))
}

/// Nanoseconds per clock tick of `/proc/.../stat`.
pub(crate) fn tick_nanos() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        1_000_000_000 / hz as u64
    } else {
        10_000_000
    }
}
