//! Reports: the summary lines, the targets, roost's arena statistics.

use std::collections::BTreeMap;

use roost_alloc::ArenaStats;
use roost_benches::memory::mib;
use roost_benches::report::{comparison_line, ns};

use super::{Case, Results, Subject, ARENA_LIMIT, CROSS_SIZES};

/// Roost's median and its speedup over the best other allocator, per case.
pub(super) type Figures = BTreeMap<Case, (f64, f64)>;

/// One line per case, e.g. `cross-core 2048 B: roost 18.1 ns/op | glibc 700
/// | jemalloc 410 | mimalloc 120 | speedup 6.6x`, then `| ring-only ...`
/// when `with_ring`.
pub(super) fn print_lines(results: &Results, with_ring: bool) -> Figures {
    let mut cases: Vec<Case> = results.keys().map(|(case, _)| *case).collect();
    cases.dedup();
    let mut figures = Figures::new();
    for case in cases {
        let get = |s: Subject| results.get(&(case, s)).copied();
        let others: Vec<(&str, Option<f64>)> = Subject::ALLOCATORS[1..].iter().map(|s| (s.name(), get(*s))).collect();
        let roost = get(Subject::Roost);
        let (mut line, speedup) = comparison_line(&case.to_string(), ("roost", roost), &others);
        if let (Some(roost), Some(speedup)) = (roost, speedup) {
            figures.insert(case, (roost, speedup));
        }
        if let (true, Some(ring)) = (with_ring, get(Subject::RingOnly)) {
            line += &format!(" | ring-only {}", ns(ring));
        }
        println!("{line}");
    }
    figures
}

pub(super) fn print_ring_floor(results: &Results) {
    let floors: Vec<String> = CROSS_SIZES
        .iter()
        .filter_map(|&size| {
            let floor = results.get(&(Case::CrossCore(size), Subject::RingOnly))?;
            Some(format!("{size} B group {}", ns(*floor)))
        })
        .collect();
    if !floors.is_empty() {
        println!(
            "ring-only floor (the same ring, no allocation; ns per item): {}",
            floors.join(" | ")
        );
    }
}

pub(super) fn print_targets(figures: &Figures, interleaved: &Figures) {
    println!();
    println!("targets:");
    if let Some((roost, speedup)) = figures.get(&Case::CrossCore(2048)) {
        let check = interleaved
            .get(&Case::CrossCore(2048))
            .map(|(r, s)| format!("; interleaved cross-check {s:.1}x ({} ns/op)", ns(*r)))
            .unwrap_or_default();
        println!(
            "  cross-core 2048 B at least 3x faster than the best other: {speedup:.1}x ({} ns/op) {}{check}",
            ns(*roost),
            if *speedup >= 3.0 { "MET" } else { "MISSED" }
        );
    }
    let worst_local = figures
        .iter()
        .filter_map(|(case, (roost, _))| match case {
            Case::Local(size) => Some((*size, *roost)),
            Case::CrossCore(_) => None,
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((size, worst)) = worst_local {
        println!(
            "  local alloc+free at most 10 ns in every class: worst {} ns ({size} B) {}",
            ns(worst),
            if worst <= 10.0 { "MET" } else { "MISSED" }
        );
    }
}

pub(super) fn print_arena_stats(stats: &[(usize, ArenaStats)], local: &ArenaStats) {
    println!();
    println!(
        "roost arenas (memory_limit {} each), after the last run of each benchmark:",
        mib(ARENA_LIMIT as u64)
    );
    for (size, s) in stats {
        println!(
            "  cross-core {size} B, thread A: chunk_bytes {}, chunk_bytes_high_water {}, fallback_limit {}, \
             allocations {}, returns_received {}, return_drains {}, in_use_high_water {}",
            mib(s.chunk_bytes),
            mib(s.chunk_bytes_high_water),
            s.fallback_limit,
            s.allocations,
            s.returns_received,
            s.return_drains,
            mib(s.in_use_high_water),
        );
    }
    println!(
        "  local cases, main thread: chunk_bytes {}, chunk_bytes_high_water {}, fallback_limit {}, allocations {}",
        mib(local.chunk_bytes),
        mib(local.chunk_bytes_high_water),
        local.fallback_limit,
        local.allocations
    );
}
