//! Resident memory: each cross-core case in a fresh process.

use std::process::Command;
use std::time::{Duration, Instant};

use roost_benches::cores;
use roost_benches::memory::{self, mib};

use super::{start_cross_core, Subject, ARENA_LIMIT, IN_FLIGHT};

pub(super) const CHILD_FLAG: &str = "--memory-child";

/// What a child process reports about one cross-core case.
#[derive(Debug, Clone, Default)]
struct MemoryReport {
    baseline: u64,
    resident: u64,
    peak: u64,
    ops: u64,
    /// chunk_bytes, chunk_bytes_high_water, fallback_limit, in_use_high_water.
    arena: Option<[u64; 4]>,
}

/// Child process: run one cross-core case for `secs`, then report resident
/// memory while the pipeline is still up (every buffer freed and sent home).
pub(super) fn memory_child(subject: Subject, size: usize, secs: f64) {
    let cores = cores::allowed().expect("read the allowed cores");
    let baseline = memory::resident().expect("read VmRSS").now;
    let cross = start_cross_core(subject, size, cores);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut ops = 0;
    while ops == 0 || Instant::now() < deadline {
        let n = 16 * IN_FLIGHT as u64;
        cross.handoff.run(n);
        ops += n;
    }
    let mem = memory::resident().expect("read VmRSS");
    let mut line = format!("{CHILD_FLAG} {baseline} {} {} {ops}", mem.now, mem.peak);
    if let Some(arena) = &cross.arena {
        let s = arena.stats();
        line += &format!(
            " {} {} {} {}",
            s.chunk_bytes, s.chunk_bytes_high_water, s.fallback_limit, s.in_use_high_water
        );
    }
    println!("{line}");
}

fn run_memory_child(subject: Subject, size: usize, secs: f64) -> Result<MemoryReport, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args([CHILD_FLAG, subject.name(), &size.to_string(), &secs.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("child failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_FLAG))
        .ok_or_else(|| "child printed no report".to_string())?;
    let nums: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    if nums.len() < 4 {
        return Err(format!("bad child report: {line}"));
    }
    Ok(MemoryReport {
        baseline: nums[0],
        resident: nums[1],
        peak: nums[2],
        ops: nums[3],
        arena: (nums.len() >= 8).then(|| [nums[4], nums[5], nums[6], nums[7]]),
    })
}

pub(super) fn print_memory(sizes: &[usize], secs: f64) {
    println!();
    println!(
        "resident memory after each cross-core case: a fresh process per case runs it for {secs:.1} s; \
         VmRSS with the pipeline idle and every buffer freed (peak = VmHWM):"
    );
    for &size in sizes {
        let mut line = format!("  cross-core {size} B:");
        let mut arena_line = None;
        for (i, subject) in Subject::ALLOCATORS.into_iter().enumerate() {
            line += if i == 0 { " " } else { " | " };
            match run_memory_child(subject, size, secs) {
                Ok(r) => {
                    line += &format!("{} {} (peak {})", subject.name(), mib(r.resident), mib(r.peak));
                    if let Some([chunk, chunk_high, fallback, in_use_high]) = r.arena {
                        let limit = ARENA_LIMIT as u64;
                        let within = r.peak <= limit && chunk_high <= limit;
                        arena_line = Some(format!(
                            "    roost: chunk_bytes {}, chunk_bytes_high_water {}, fallback_limit {fallback}, \
                             in_use_high_water {}, VmRSS before the run {}, {} ops; peak {} the {} limit",
                            mib(chunk),
                            mib(chunk_high),
                            mib(in_use_high),
                            mib(r.baseline),
                            r.ops,
                            if within { "within" } else { "OVER" },
                            mib(limit),
                        ));
                    }
                }
                Err(e) => line += &format!("{} error: {e}", subject.name()),
            }
        }
        println!("{line}");
        if let Some(a) = arena_line {
            println!("{a}");
        }
    }
}
