//! What a server's threads cost, counted: user instructions, user and
//! kernel cycles, system calls, context switches, CPU time and global
//! allocations, summed over the threads of one server and divided by the
//! round trips (or requests) of a run.
//!
//! Server threads join a named group when they start
//! ([`register_current_thread`]; roost's and tokio's `on_thread_start`
//! hooks call it), and [`Counters::for_group`] opens, for every thread of a
//! group, one `perf_event_open` counter per event: hardware counters
//! (instructions and cycles, split by privilege level), the
//! `raw_syscalls:sys_enter` tracepoint and the context-switch software
//! event. Whatever the machine refuses (no PMU in a VM, a strict
//! `perf_event_paranoid`, no tracefs) reads as `None` and prints `n/a`: a
//! run never fails for a missing counter. Allocations come from
//! [`CountingAlloc`](crate::counting_alloc::CountingAlloc), when the bench
//! binary installs it. CPU time comes from `/proc/self/task/<tid>/stat`
//! (clock ticks, so it is coarse on short runs).
//!
//! Reading the counters is the load client's work (its syscalls are not the
//! server's): take a [`Sample`] before and after a run, and
//! [`Costs::per_op`] of the difference.

use std::fmt;
use std::sync::Mutex;

use crate::counting_alloc;
use crate::sys::perf::{self, Counter, Event};

const EVENTS: [Event; 5] = [
    Event::UserInstructions,
    Event::UserCycles,
    Event::KernelCycles,
    Event::Syscalls,
    Event::ContextSwitches,
];

/// Every registered thread: (group name, group number, thread id).
static THREADS: Mutex<Vec<(&'static str, u8, i32)>> = Mutex::new(Vec::new());

/// Puts the calling thread in the group `name` (a server), so that
/// [`Counters::for_group`] counts it and its allocations count for the
/// group. At most 15 groups per process.
///
/// # Panics
///
/// Panics if a 16th group is named.
pub fn register_current_thread(name: &'static str) {
    let tid = perf::current_tid();
    let group = {
        let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
        let group = match threads.iter().find(|(n, _, _)| *n == name) {
            Some(&(_, g, _)) => g,
            None => {
                let next = threads.iter().map(|&(_, g, _)| g).max().unwrap_or(0) + 1;
                assert!(usize::from(next) < counting_alloc::GROUPS, "too many counter groups");
                next
            }
        };
        threads.push((name, group, tid));
        group
    };
    // After the push: the registry's own allocation is not the server's.
    counting_alloc::join_group(group);
}

/// Whether this binary counts allocations (installs `CountingAlloc`).
fn counting_allocations() -> bool {
    // A group of its own for the probe, joined by a short-lived thread.
    const PROBE: u8 = (counting_alloc::GROUPS - 1) as u8;
    std::thread::spawn(|| {
        counting_alloc::join_group(PROBE);
        let before = counting_alloc::calls(PROBE);
        drop(std::hint::black_box(Box::new(1u64)));
        counting_alloc::calls(PROBE) > before
    })
    .join()
    .unwrap_or(false)
}

/// The open counters of one group's threads.
pub struct Counters {
    name: &'static str,
    group: Option<u8>,
    tids: Vec<i32>,
    /// Per event, one counter per thread, or `None` if any thread's failed.
    events: Vec<Option<Vec<Counter>>>,
    allocations: bool,
    tick_nanos: u64,
    /// The server's idle spin so far, in nanoseconds (roost's metrics).
    spin: Option<Box<dyn Fn() -> u64 + Send>>,
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counters")
            .field("group", &self.name)
            .field("threads", &self.tids.len())
            .finish_non_exhaustive()
    }
}

impl Counters {
    /// Opens the counters of every thread registered in group `name` so far
    /// (none: every figure reads `n/a`).
    pub fn for_group(name: &'static str) -> Self {
        let (group, tids) = {
            let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
            let group = threads.iter().find(|(n, _, _)| *n == name).map(|&(_, g, _)| g);
            let tids: Vec<i32> = threads
                .iter()
                .filter(|(n, _, _)| *n == name)
                .map(|&(_, _, t)| t)
                .collect();
            (group, tids)
        };
        let events = EVENTS
            .iter()
            .map(|&event| {
                if tids.is_empty() {
                    return None;
                }
                tids.iter().map(|&tid| Counter::open(event, tid).ok()).collect()
            })
            .collect();
        Self {
            name,
            group,
            tids,
            events,
            allocations: counting_allocations(),
            tick_nanos: perf::tick_nanos(),
            spin: None,
        }
    }

    /// Counts the server's idle spin too, as `spin` reports it (its total
    /// so far, in nanoseconds): roost's workers publish theirs in their
    /// metrics. `None`: not counted (`n/a`).
    pub fn with_spin(mut self, spin: Option<Box<dyn Fn() -> u64 + Send>>) -> Self {
        self.spin = spin;
        self
    }

    /// As [`for_group`](Self::for_group), once `threads` threads have
    /// joined the group (tokio's start asynchronously), or after 5 s.
    pub fn wait_for_group(name: &'static str, threads: usize) -> Self {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let joined = THREADS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|(n, _, _)| *n == name)
                .count();
            if joined >= threads || std::time::Instant::now() >= deadline {
                return Self::for_group(name);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The group's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The threads counted.
    pub fn threads(&self) -> usize {
        self.tids.len()
    }

    /// The counts so far.
    pub fn sample(&self) -> Sample {
        let mut values = [None; 5];
        for (value, counters) in values.iter_mut().zip(&self.events) {
            *value = counters
                .as_ref()
                .and_then(|cs| cs.iter().map(|c| c.read().ok()).sum::<Option<u64>>());
        }
        let cpu = (!self.tids.is_empty())
            .then(|| {
                self.tids
                    .iter()
                    .map(|&t| perf::thread_cpu_ticks(t).ok())
                    .try_fold((0, 0), |(u, k), t| t.map(|(tu, tk)| (u + tu, k + tk)))
            })
            .flatten()
            .map(|(u, k)| (u * self.tick_nanos, k * self.tick_nanos));
        Sample {
            values,
            cpu_nanos: cpu,
            allocations: match (self.allocations, self.group) {
                (true, Some(g)) => Some(counting_alloc::calls(g)),
                _ => None,
            },
            spin_nanos: self.spin.as_ref().map(|f| f()),
        }
    }
}

/// Counts at one moment, summed over a group's threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// In the order of `EVENTS`.
    values: [Option<u64>; 5],
    /// (user, kernel) CPU nanoseconds.
    cpu_nanos: Option<(u64, u64)>,
    allocations: Option<u64>,
    spin_nanos: Option<u64>,
}

/// What one operation (a round trip, a request) cost a server, on average
/// over a run; `None` where the counter is not available.
#[derive(Debug, Clone, Copy, Default)]
pub struct Costs {
    /// Instructions retired in user space.
    pub insn_user: Option<f64>,
    /// CPU cycles in user space.
    pub cycles_user: Option<f64>,
    /// CPU cycles in the kernel.
    pub cycles_kernel: Option<f64>,
    /// System calls entered.
    pub syscalls: Option<f64>,
    /// Context switches.
    pub context_switches: Option<f64>,
    /// User CPU time, in nanoseconds.
    pub cpu_user_ns: Option<f64>,
    /// Kernel CPU time, in nanoseconds.
    pub cpu_kernel_ns: Option<f64>,
    /// Calls to the global allocator (alloc, alloc_zeroed, realloc).
    pub allocations: Option<f64>,
    /// Time spent spinning idle before parking, in nanoseconds (wall
    /// clock, so an upper bound on the CPU it took).
    pub spin_ns: Option<f64>,
}

impl Costs {
    /// The costs per operation between `before` and `after`, for `ops`
    /// operations.
    pub fn per_op(before: &Sample, after: &Sample, ops: u64) -> Self {
        let ops = ops.max(1) as f64;
        let per = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?) as f64 / ops);
        let v = |i: usize| per(before.values[i], after.values[i]);
        Costs {
            insn_user: v(0),
            cycles_user: v(1),
            cycles_kernel: v(2),
            syscalls: v(3),
            context_switches: v(4),
            cpu_user_ns: per(before.cpu_nanos.map(|c| c.0), after.cpu_nanos.map(|c| c.0)),
            cpu_kernel_ns: per(before.cpu_nanos.map(|c| c.1), after.cpu_nanos.map(|c| c.1)),
            allocations: per(before.allocations, after.allocations),
            spin_ns: per(before.spin_nanos, after.spin_nanos),
        }
    }

    /// The median of each figure over `runs` (a figure missing from any
    /// run is missing).
    pub fn median(runs: &[Costs]) -> Costs {
        let m = |f: fn(&Costs) -> Option<f64>| -> Option<f64> {
            let mut values: Vec<f64> = runs.iter().map(f).collect::<Option<Vec<f64>>>()?;
            crate::samples::median(&mut values)
        };
        Costs {
            insn_user: m(|c| c.insn_user),
            cycles_user: m(|c| c.cycles_user),
            cycles_kernel: m(|c| c.cycles_kernel),
            syscalls: m(|c| c.syscalls),
            context_switches: m(|c| c.context_switches),
            cpu_user_ns: m(|c| c.cpu_user_ns),
            cpu_kernel_ns: m(|c| c.cpu_kernel_ns),
            allocations: m(|c| c.allocations),
            spin_ns: m(|c| c.spin_ns),
        }
    }
}

fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

impl fmt::Display for Costs {
    /// `insn_u <n> cyc_u <n> cyc_k <n> syscalls <x.xx> allocs <x.xxx> cs
    /// <x.xxx> cpu_u_ns <n> cpu_k_ns <n> spin_ns <n>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "insn_u {} cyc_u {} cyc_k {} syscalls {} allocs {} cs {} cpu_u_ns {} cpu_k_ns {} spin_ns {}",
            figure(self.insn_user, 0),
            figure(self.cycles_user, 0),
            figure(self.cycles_kernel, 0),
            figure(self.syscalls, 2),
            figure(self.allocations, 3),
            figure(self.context_switches, 3),
            figure(self.cpu_user_ns, 0),
            figure(self.cpu_kernel_ns, 0),
            figure(self.spin_ns, 0),
        )
    }
}

/// `<label> per <op>: name <costs> | name <costs> | ...`, the summary line
/// of one case.
pub fn costs_line(label: &str, op: &str, costs: &[(&str, Costs)]) -> String {
    let parts: Vec<String> = costs.iter().map(|(name, c)| format!("{name} {c}")).collect();
    format!("{label} per {op}: {}", parts.join(" | "))
}
