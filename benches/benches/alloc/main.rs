//! Allocation benchmarks: roost-alloc against glibc, jemalloc and mimalloc.
//!
//! ```text
//! cargo bench -p roost-benches --bench alloc               # full run, a few minutes
//! cargo bench -p roost-benches --bench alloc -- --quick    # short mode, under a minute
//! cargo bench -p roost-benches --bench alloc -- 'local 2048'   # groups matching a regex
//! target/release/deps/alloc-* --probe cross-core roost 2048 5  # one case, for profilers
//! ```
//!
//! # Cases
//!
//! - **cross-core**: thread A allocates a buffer and writes its first 8 bytes,
//!   thread B frees it; A and B are pinned to different cores and the
//!   buffers travel through [`roost_benches::handoff`], a bounded SPSC ring
//!   that keeps at least [`IN_FLIGHT`] buffers alive between them and moves
//!   them in chunks of [`CHUNK`]. One op is one allocation plus one remote
//!   free, timed end to end. Sizes: [`CROSS_SIZES`]. Each group also times
//!   `ring-only`: the same ring carrying the same 32-byte items with no
//!   allocation at all, the floor under every allocator (and a gauge of how
//!   expensive cross-core traffic is on the machine at that moment).
//! - **local**: allocation and free on one thread, for every roost size class.
//!
//! Each criterion group holds the allocators side by side:
//!
//! - `roost`: `ArenaBytesMut::with_capacity(n)`. Thread A installs an arena
//!   with a memory limit of [`ARENA_LIMIT`]; thread B is a plain thread whose
//!   drops batch the blocks home, and which calls
//!   `roost_alloc::flush_returns()` whenever it runs out of work and at the
//!   end of each run (inside the timing).
//! - `glibc`, `jemalloc`, `mimalloc`: their `GlobalAlloc` implementations
//!   called directly (`alloc`/`dealloc` with a `Layout`); no
//!   `#[global_allocator]` is set, so one binary compares all four.
//!
//! Items in the ring are 32 bytes for every allocator (an `ArenaBytesMut`, or
//! a pointer, a length and a `Layout`), so the ring costs them all the same.
//!
//! # Output
//!
//! Criterion's report per benchmark; then one summary line per case with the
//! medians (`speedup` = best other / roost); an interleaved cross-check of the
//! cross-core cases (the allocators take turns, run after run, so that a
//! change in the machine's speed between two benchmarks cannot pass for a
//! difference between allocators: small cloud VMs do change speed); the
//! resident memory of a fresh process running each cross-core case; and
//! roost's arena statistics.
//!
//! Without `--bench` (as `cargo test --benches` runs it) every case runs once,
//! briefly, as a smoke test.

use std::alloc::{handle_alloc_error, GlobalAlloc, System};
use std::collections::BTreeMap;
use std::fmt;
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use mimalloc::MiMalloc;
use roost_alloc::{Arena, ArenaBytesMut, ArenaConfig, ArenaMonitor, ArenaStats, CLASS_SIZES};
use roost_benches::cores::{self, CoreSet};
use roost_benches::global_alloc::{
    buffer_layout, AllocProducer, FreeConsumer, RawBuffer, RingOnlyConsumer, RingOnlyProducer,
};
use roost_benches::handoff::{Consumer, Handoff, HandoffConfig, Producer};
use roost_benches::memory::mib;
use roost_benches::report::ns;
use roost_benches::samples::{median, SampleLog};
use tikv_jemallocator::Jemalloc;

mod report;
mod resident;

use report::{print_arena_stats, print_lines, print_ring_floor, print_targets, Figures};
use resident::{memory_child, print_memory, CHILD_FLAG};

/// Buffer sizes of the cross-core case.
const CROSS_SIZES: [usize; 4] = [64, 2048, 16 << 10, 64 << 10];
/// Buffers kept alive between the two threads of the cross-core case.
const IN_FLIGHT: usize = 4096;
/// Buffers per ring operation.
const CHUNK: usize = 64;
/// Memory limit of the arenas installed on the allocating threads. At 64 KiB
/// the ring alone holds up to `IN_FLIGHT + 2 * CHUNK` buffers (264 MiB of
/// blocks), plus those on their way home and the chunk headers.
const ARENA_LIMIT: usize = 512 << 20;

static MIMALLOC: MiMalloc = MiMalloc;
static JEMALLOC: Jemalloc = Jemalloc;
static SYSTEM: System = System;

/// What a benchmark runs: one of the four allocators, or the bare ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Roost,
    Glibc,
    Jemalloc,
    Mimalloc,
    /// The cross-core ring with no allocation: the floor under the others.
    RingOnly,
}

impl Subject {
    /// The allocators compared, in the order of the summary.
    const ALLOCATORS: [Subject; 4] = [Subject::Roost, Subject::Glibc, Subject::Jemalloc, Subject::Mimalloc];
    /// What each cross-core group times.
    const CROSS: [Subject; 5] = [
        Subject::Roost,
        Subject::Glibc,
        Subject::Jemalloc,
        Subject::Mimalloc,
        Subject::RingOnly,
    ];

    fn name(self) -> &'static str {
        match self {
            Subject::Roost => "roost",
            Subject::Glibc => "glibc",
            Subject::Jemalloc => "jemalloc",
            Subject::Mimalloc => "mimalloc",
            Subject::RingOnly => "ring-only",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::CROSS.into_iter().find(|s| s.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    CrossCore(usize),
    Local(usize),
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Case::CrossCore(size) => write!(f, "cross-core {size} B"),
            Case::Local(size) => write!(f, "local {size} B"),
        }
    }
}

// ---------------------------------------------------------------------------
// Cross-core: producers and consumers for the handoff pipeline.
// ---------------------------------------------------------------------------

const _: () = assert!(std::mem::size_of::<RawBuffer>() == std::mem::size_of::<ArenaBytesMut>());

struct RoostProducer {
    size: usize,
}

impl Producer for RoostProducer {
    type Item = ArenaBytesMut;

    #[inline]
    fn make(&mut self, seq: u64) -> ArenaBytesMut {
        let mut buf = ArenaBytesMut::with_capacity(self.size);
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf
    }
}

struct RoostConsumer;

impl Consumer<ArenaBytesMut> for RoostConsumer {
    #[inline]
    fn consume(&mut self, buf: ArenaBytesMut) {
        drop(buf);
    }

    fn idle(&mut self) {
        roost_alloc::flush_returns();
    }
}

fn arena_config() -> ArenaConfig {
    ArenaConfig::new().memory_limit(ARENA_LIMIT)
}

/// A running cross-core pipeline, and the producer's arena for roost.
struct CrossCore {
    handoff: Handoff,
    arena: Option<ArenaMonitor>,
}

fn handoff_config(cores: &CoreSet) -> HandoffConfig {
    let [a, b] = cores.pick_two();
    HandoffConfig {
        in_flight: IN_FLIGHT,
        chunk: CHUNK,
        producer_core: Some(a),
        consumer_core: Some(b),
    }
}

fn start_global<G: GlobalAlloc + Sync>(config: HandoffConfig, alloc: &'static G, size: usize) -> Handoff {
    Handoff::start(
        config,
        move || AllocProducer::new(alloc, size),
        // SAFETY: paired with an `AllocProducer` over the same allocator.
        move || unsafe { FreeConsumer::new(alloc) },
    )
}

fn start_cross_core(subject: Subject, size: usize, cores: &CoreSet) -> CrossCore {
    let config = handoff_config(cores);
    let handoff = match subject {
        Subject::Roost => {
            let (tx, rx) = mpsc::channel();
            let handoff = Handoff::start(
                config,
                move || {
                    let monitor = Arena::install(arena_config()).expect("a fresh thread takes an arena");
                    tx.send(monitor).expect("the bench waits for the arena");
                    RoostProducer { size }
                },
                || RoostConsumer,
            );
            let arena = rx.recv().expect("the producer installs its arena");
            return CrossCore {
                handoff,
                arena: Some(arena),
            };
        }
        Subject::Glibc => start_global(config, &SYSTEM, size),
        Subject::Jemalloc => start_global(config, &JEMALLOC, size),
        Subject::Mimalloc => start_global(config, &MIMALLOC, size),
        Subject::RingOnly => Handoff::start(config, || RingOnlyProducer, || RingOnlyConsumer),
    };
    CrossCore { handoff, arena: None }
}

// ---------------------------------------------------------------------------
// Local: alloc + free on the calling thread.
// ---------------------------------------------------------------------------

fn local_global<G: GlobalAlloc>(alloc: &G, size: usize, iters: u64) -> Duration {
    let layout = buffer_layout(black_box(size));
    let start = Instant::now();
    for _ in 0..iters {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc.alloc(layout) };
        if ptr.is_null() {
            handle_alloc_error(layout);
        }
        let ptr = black_box(ptr);
        // SAFETY: just allocated with this layout, freed once.
        unsafe { alloc.dealloc(ptr, layout) };
    }
    start.elapsed()
}

fn local_roost(size: usize, iters: u64) -> Duration {
    let size = black_box(size);
    let start = Instant::now();
    for _ in 0..iters {
        drop(black_box(ArenaBytesMut::with_capacity(size)));
    }
    start.elapsed()
}

fn local_ops(subject: Subject, size: usize, iters: u64) -> Duration {
    match subject {
        Subject::Roost => local_roost(size, iters),
        Subject::Glibc => local_global(&SYSTEM, size, iters),
        Subject::Jemalloc => local_global(&JEMALLOC, size, iters),
        Subject::Mimalloc => local_global(&MIMALLOC, size, iters),
        Subject::RingOnly => unreachable!("the ring has no local case"),
    }
}

// ---------------------------------------------------------------------------
// Driver.
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Args {
    bench: bool,
    quick: bool,
    filter: Option<String>,
    child: Option<(Subject, usize, f64)>,
    probe: Option<(String, Subject, usize, f64)>,
}

impl Args {
    fn parse() -> Self {
        let mut args = Args::default();
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--bench" => args.bench = true,
                "--quick" => args.quick = true,
                CHILD_FLAG => {
                    let subject = it.next().and_then(|a| Subject::from_name(&a));
                    let size = it.next().and_then(|s| s.parse().ok());
                    let secs = it.next().and_then(|s| s.parse().ok());
                    match (subject, size, secs) {
                        (Some(a), Some(s), Some(t)) => args.child = Some((a, s, t)),
                        _ => panic!("usage: {CHILD_FLAG} SUBJECT SIZE SECONDS"),
                    }
                }
                "--probe" => {
                    let kind = it.next().filter(|k| k == "cross-core" || k == "local");
                    let subject = it.next().and_then(|a| Subject::from_name(&a));
                    let size = it.next().and_then(|s| s.parse().ok());
                    let secs = it.next().and_then(|s| s.parse().ok());
                    match (kind, subject, size, secs) {
                        (Some(k), Some(a), Some(s), Some(t)) => args.probe = Some((k, a, s, t)),
                        _ => panic!("usage: --probe cross-core|local SUBJECT SIZE SECONDS"),
                    }
                }
                flag if flag.starts_with('-') => {} // other harness flags: ignored
                filter => args.filter = Some(filter.to_owned()),
            }
        }
        args
    }
}

/// Sampling settings for one kind of case.
#[derive(Clone, Copy)]
struct Timing {
    warm_up: Duration,
    measurement: Duration,
    samples: usize,
}

struct Plan {
    cross: Timing,
    local: Timing,
    /// Rounds of the interleaved cross-check, and the length of each run.
    rounds: usize,
    run_time: Duration,
    /// Seconds each memory child runs its case.
    memory_secs: f64,
    resamples: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let ms = Duration::from_millis;
        let timing = |warm_up, measurement, samples| Timing {
            warm_up: ms(warm_up),
            measurement: ms(measurement),
            samples,
        };
        if quick {
            Plan {
                cross: timing(150, 300, 10),
                local: timing(60, 150, 10),
                rounds: 5,
                run_time: ms(25),
                memory_secs: 0.2,
                resamples: 2_000,
            }
        } else {
            Plan {
                cross: timing(1000, 3000, 30),
                local: timing(300, 1000, 30),
                rounds: 15,
                run_time: ms(60),
                memory_secs: 1.0,
                resamples: 20_000,
            }
        }
    }
}

/// Medians (ns per op) by case and subject.
type Results = BTreeMap<(Case, Subject), f64>;

fn bench_cross_core(
    c: &mut Criterion,
    plan: &Plan,
    cores: &CoreSet,
    results: &mut Results,
) -> Vec<(usize, ArenaStats)> {
    let mut arena_stats = Vec::new();
    for size in CROSS_SIZES {
        let case = Case::CrossCore(size);
        let mut group = c.benchmark_group(case.to_string());
        group
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(plan.cross.warm_up)
            .measurement_time(plan.cross.measurement)
            .sample_size(plan.cross.samples);
        for subject in Subject::CROSS {
            let mut cross: Option<CrossCore> = None;
            let mut log = SampleLog::default();
            group.bench_function(subject.name(), |b| {
                let cross = cross.get_or_insert_with(|| start_cross_core(subject, size, cores));
                b.iter_custom(|iters| {
                    let elapsed = cross.handoff.run(iters);
                    log.record(iters, elapsed);
                    elapsed
                });
            });
            if let Some(median) = log.median_ns_per_op(plan.cross.samples) {
                results.insert((case, subject), median);
            }
            if let Some(arena) = cross.as_ref().and_then(|c| c.arena.as_ref()) {
                arena_stats.push((size, arena.stats()));
            }
        }
        group.finish();
    }
    arena_stats
}

fn bench_local(c: &mut Criterion, plan: &Plan, results: &mut Results) {
    for size in CLASS_SIZES {
        let case = Case::Local(size);
        let mut group = c.benchmark_group(case.to_string());
        group
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(plan.local.warm_up)
            .measurement_time(plan.local.measurement)
            .sample_size(plan.local.samples);
        for subject in Subject::ALLOCATORS {
            let mut log = SampleLog::default();
            group.bench_function(subject.name(), |b| {
                b.iter_custom(|iters| {
                    let elapsed = local_ops(subject, size, iters);
                    log.record(iters, elapsed);
                    elapsed
                });
            });
            if let Some(median) = log.median_ns_per_op(plan.local.samples) {
                results.insert((case, subject), median);
            }
        }
        group.finish();
    }
}

/// The cross-core cases again, with the subjects taking turns run after run;
/// medians over `rounds`. Each subject's runs last about `run_time` (at
/// least `8 * IN_FLIGHT` ops), long enough to reach its steady state.
fn interleaved(sizes: &[usize], rounds: usize, run_time: Duration, cores: &CoreSet) -> Results {
    let mut results = Results::new();
    for &size in sizes {
        let crosses: Vec<(Subject, CrossCore, u64)> = Subject::CROSS
            .into_iter()
            .map(|s| {
                let cross = start_cross_core(s, size, cores);
                let probe = 8 * IN_FLIGHT as u64;
                let per_op = cross.handoff.run(probe).as_secs_f64() / probe as f64;
                let n = (run_time.as_secs_f64() / per_op) as u64;
                (s, cross, n.clamp(probe, 512 * IN_FLIGHT as u64))
            })
            .collect();
        let mut per_op: Vec<Vec<f64>> = vec![Vec::new(); crosses.len()];
        for _ in 0..rounds {
            for (i, (_, cross, n)) in crosses.iter().enumerate() {
                let elapsed = cross.handoff.run(*n);
                per_op[i].push(elapsed.as_nanos() as f64 / *n as f64);
            }
        }
        for ((subject, _, _), mut values) in crosses.into_iter().zip(per_op) {
            if let Some(m) = median(&mut values) {
                results.insert((Case::CrossCore(size), subject), m);
            }
        }
    }
    results
}

/// Runs one case for `secs` without criterion, printing each run's time per
/// op: for profilers (`perf record`, `valgrind`) and for looking at the spread.
fn probe(kind: &str, subject: Subject, size: usize, secs: f64, cores: &CoreSet) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut per_op = Vec::new();
    if kind == "cross-core" {
        let cross = start_cross_core(subject, size, cores);
        let n = 64 * IN_FLIGHT as u64;
        cross.handoff.run(n);
        while Instant::now() < deadline {
            per_op.push(cross.handoff.run(n).as_nanos() as f64 / n as f64);
        }
        if let Some(arena) = &cross.arena {
            println!("{:?}", arena.stats());
        }
    } else {
        let n = 1 << 20;
        local_ops(subject, size, n);
        while Instant::now() < deadline {
            per_op.push(local_ops(subject, size, n).as_nanos() as f64 / n as f64);
        }
    }
    let runs: Vec<String> = per_op.iter().map(|v| ns(*v)).collect();
    println!("{kind} {size} B {}: ns/op per run: {}", subject.name(), runs.join(" "));
    if let Some(m) = median(&mut per_op) {
        println!("median {} ns/op over {} runs", ns(m), per_op.len());
    }
}

/// Runs every case briefly, without criterion (`cargo test --benches`).
fn smoke(cores: &CoreSet, results: &mut Results) {
    for size in CROSS_SIZES {
        for subject in Subject::CROSS {
            let cross = start_cross_core(subject, size, cores);
            let n = 2 * IN_FLIGHT as u64;
            cross.handoff.run(n);
            let elapsed = cross.handoff.run(n);
            results.insert((Case::CrossCore(size), subject), elapsed.as_nanos() as f64 / n as f64);
        }
    }
    for size in CLASS_SIZES {
        for subject in Subject::ALLOCATORS {
            let n = 10_000;
            local_ops(subject, size, n);
            let elapsed = local_ops(subject, size, n);
            results.insert((Case::Local(size), subject), elapsed.as_nanos() as f64 / n as f64);
        }
    }
}

fn main() {
    let args = Args::parse();
    if let Some((subject, size, secs)) = args.child {
        memory_child(subject, size, secs);
        return;
    }
    // Read the core list once, before any thread is pinned.
    let cores = cores::allowed().expect("read the allowed cores");
    // The local cases run on this thread: give it the same arena as thread A.
    let main_arena = Arena::install(arena_config()).expect("main has no arena yet");
    if let Some((kind, subject, size, secs)) = args.probe {
        probe(&kind, subject, size, secs, cores);
        return;
    }
    let [a, b] = cores.pick_two();
    println!(
        "roost alloc bench: cores {:?}; cross-core: A on {a}, B on {b}, {IN_FLIGHT} buffers in flight, \
         ring of {} items of {} B moved {CHUNK} at a time; roost arena memory_limit {}{}",
        cores.ids(),
        handoff_config(cores).ring_capacity(),
        std::mem::size_of::<ArenaBytesMut>(),
        mib(ARENA_LIMIT as u64),
        if args.quick { "; quick mode" } else { "" },
    );
    if a == b {
        println!("warning: only one core is allowed; the cross-core case runs both threads on it");
    }

    let mut results = Results::new();
    if !args.bench {
        smoke(cores, &mut results);
        println!("smoke run (not a measurement):");
        print_lines(&results, true);
        return;
    }

    let started = Instant::now();
    let plan = Plan::new(args.quick);
    let mut c = Criterion::default()
        .without_plots()
        .nresamples(plan.resamples)
        .noise_threshold(0.05);
    if let Some(filter) = &args.filter {
        c = c.with_filter(filter);
    }
    let arena_stats = bench_cross_core(&mut c, &plan, cores, &mut results);
    bench_local(&mut c, &plan, &mut results);
    c.final_summary();

    // The cross-core sizes that the filter let through.
    let sizes: Vec<usize> = CROSS_SIZES
        .into_iter()
        .filter(|&size| results.contains_key(&(Case::CrossCore(size), Subject::Roost)))
        .collect();
    println!();
    println!("summary (criterion medians, ns per op; op = one alloc + one free; speedup = best other / roost):");
    let figures = print_lines(&results, false);
    print_ring_floor(&results);
    let mut checked = Figures::new();
    if !sizes.is_empty() {
        println!();
        println!(
            "interleaved cross-check (the subjects take turns, {} rounds of about {} ms each; medians):",
            plan.rounds,
            plan.run_time.as_millis()
        );
        checked = print_lines(&interleaved(&sizes, plan.rounds, plan.run_time, cores), true);
    }
    print_targets(&figures, &checked);
    print_arena_stats(&arena_stats, &main_arena.stats());
    print_memory(&sizes, plan.memory_secs);
    println!();
    println!("total {:.1} s (compile time excluded)", started.elapsed().as_secs_f64());
}
