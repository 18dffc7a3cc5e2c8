//! Executor benchmarks: roost-runtime against tokio's current-thread and
//! multi-thread runtimes, side by side in one criterion group per case.
//!
//! ```text
//! cargo bench -p roost-benches --bench runtime               # full run, about a minute and a half
//! cargo bench -p roost-benches --bench runtime -- --quick    # short mode, 5 to 30 seconds
//! cargo bench -p roost-benches --bench runtime -- yield      # cases matching a regex
//! ```
//!
//! # Cases
//!
//! Every measurement runs inside a task of the runtime under test (roost: a
//! task spawned on worker 0 and awaited from `block_on`; tokio: a task
//! spawned from `block_on`), except `remote-spawn`, which is driven from a
//! plain thread. One op is:
//!
//! - **local-spawn**: spawn a task on the current worker and await its
//!   `JoinHandle` (roost `spawn_local`, tokio `tokio::spawn` from a worker,
//!   which also stays on the current worker);
//! - **remote-spawn**: spawn a task from a thread outside the runtime
//!   (`Handle::spawn`), counting the time until every task of the run has
//!   completed (the last one unparks the spawning thread);
//! - **ping-pong**: one request and one reply over two tokio `mpsc`
//!   channels (capacity 1) between two tasks, with [`FLOWS`] such pairs in
//!   flight at once (a one-flow ping-pong on a 2-vCPU VM measures the
//!   hypervisor's wake-up latency, not the runtime). roost places each
//!   pair's two ends on workers 0 and 1; tokio multi-thread places them
//!   itself; tokio current-thread has a single thread;
//! - **ping-pong-colocated**: the same, with both ends of each flow on one
//!   roost worker (flows alternate between workers 0 and 1), which is where
//!   tokio multi-thread runs them (the run prints how often); tokio code
//!   unchanged. A reference for the line above, not a target;
//! - **yield**: `yield_now().await` in a loop, the task alone on its worker;
//! - **timer**: create a one-second sleep, poll it once (which registers
//!   it), drop it (which cancels it).
//!
//! roost runs two pinned workers, tokio multi-thread two workers, tokio
//! current-thread one; both tokio runtimes have I/O and time enabled, as a
//! server's would be.
//!
//! # Output
//!
//! Criterion's report per benchmark, then the counted costs per op of each
//! case (whole case, warm-up included) for the runtime's threads only
//! (roost's and tokio-mt's workers; tokio-ct's is the thread that drives it:
//! the main thread, or for `remote-spawn` the thread that blocks on it), as
//! `roost_benches::counters` counts them, then one line per case:
//! `<case>: roost <x> | tokio-ct <y> | tokio-mt <z> | vs best <r>x`, with
//! medians in ns per op and `r` = the faster tokio's median / roost's
//! (above 1: roost is faster).

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::Thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use roost_benches::counters::{costs_line, register_current_thread, Costs, Counters};
use roost_benches::counting_alloc::CountingAlloc;
use roost_benches::samples::median;
use roost_benches::settings::Placement;

/// Counts the runtime threads' calls to the global allocator.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Concurrent request/reply pairs in the ping-pong case.
const FLOWS: u64 = 64;

const CASES: [&str; 6] = [
    "local-spawn",
    "remote-spawn",
    "ping-pong",
    "ping-pong-colocated",
    "yield",
    "timer",
];
const RUNTIMES: [&str; 3] = ["roost", "tokio-ct", "tokio-mt"];

/// Every timed call criterion made, per (case, runtime): (iterations, ns).
type Log = BTreeMap<(&'static str, &'static str), Vec<(u64, u128)>>;

static LOG: Mutex<Log> = Mutex::new(BTreeMap::new());

/// roost's own counters over each case: (parks, ticks, remote wakes, polls,
/// nanoseconds spun idle).
static ROOST_COUNTERS: Mutex<BTreeMap<&'static str, [u64; 5]>> = Mutex::new(BTreeMap::new());

/// The counted costs of each (case, runtime), per op.
static COSTS: Mutex<BTreeMap<(&'static str, &'static str), Costs>> = Mutex::new(BTreeMap::new());

fn roost_counters(rt: &roost_runtime::Runtime) -> [u64; 5] {
    let m = rt.handle().metrics();
    [
        m.sum(|w| w.parks),
        m.sum(|w| w.ticks),
        m.sum(|w| w.remote_wakes),
        m.sum(|w| w.tasks_polled),
        m.sum(|w| w.spin_nanos),
    ]
}

fn record(case: &'static str, rt: &'static str, iters: u64, took: Duration) -> Duration {
    LOG.lock()
        .unwrap()
        .entry((case, rt))
        .or_default()
        .push((iters, took.as_nanos()));
    took
}

struct Runtimes {
    roost: roost_runtime::Runtime,
    ct: tokio::runtime::Runtime,
    mt: tokio::runtime::Runtime,
}

impl Runtimes {
    fn new() -> Self {
        Self {
            roost: roost_runtime::Runtime::builder()
                .worker_threads(2)
                .on_thread_start(|| register_current_thread("roost"))
                .build()
                .unwrap(),
            ct: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            mt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .on_thread_start(|| register_current_thread("tokio-mt"))
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// Runs `body(iters)` as a task of the chosen runtime and returns the
    /// time it took, measured inside the task.
    fn inside<F, Fut>(&self, rt: &str, iters: u64, body: F) -> Duration
    where
        F: FnOnce(u64) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let timed = async move {
            let start = Instant::now();
            body(iters).await;
            start.elapsed()
        };
        match rt {
            "roost" => self.roost.block_on(self.roost.handle().spawn_on(0, timed)).unwrap(),
            "tokio-ct" => self.ct.block_on(async move { tokio::spawn(timed).await.unwrap() }),
            "tokio-mt" => self.mt.block_on(async move { tokio::spawn(timed).await.unwrap() }),
            _ => unreachable!(),
        }
    }
}

async fn roost_local_spawn(iters: u64) {
    for _ in 0..iters {
        roost_runtime::spawn_local(async { black_box(1u64) }).await.unwrap();
    }
}

async fn tokio_local_spawn(iters: u64) {
    for _ in 0..iters {
        tokio::spawn(async { black_box(1u64) }).await.unwrap();
    }
}

async fn roost_yield(iters: u64) {
    for _ in 0..iters {
        roost_runtime::yield_now().await;
    }
}

async fn tokio_yield(iters: u64) {
    for _ in 0..iters {
        tokio::task::yield_now().await;
    }
}

async fn roost_timer(iters: u64) {
    for _ in 0..iters {
        let mut sleep = roost_runtime::time::sleep(Duration::from_secs(1));
        poll_fn(|cx| {
            let _ = Pin::new(&mut sleep).poll(cx);
            Poll::Ready(())
        })
        .await;
        drop(black_box(sleep));
    }
}

async fn tokio_timer(iters: u64) {
    for _ in 0..iters {
        let sleep = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(sleep);
        poll_fn(|cx| {
            let _ = sleep.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
    }
}

/// Rounds per flow for `iters` ping-pong ops, and the scale back to `iters`.
fn rounds(iters: u64) -> u64 {
    iters.div_ceil(FLOWS).max(1)
}

fn scaled(took: Duration, iters: u64) -> Duration {
    let done = rounds(iters) * FLOWS;
    Duration::from_nanos((took.as_nanos() * u128::from(iters) / u128::from(done)) as u64)
}

/// One flow's requester. It creates the channel it receives replies on and
/// has the responder create the one it receives requests on, each on its
/// own worker's heap, as thread-per-core code does (two channels allocated
/// side by side but written from two cores would share cache lines).
async fn ping<S>(rounds: u64, spawn_pong: S)
where
    S: FnOnce(tokio::sync::mpsc::Sender<u64>, Handoff),
{
    let (to_a, mut from_b) = tokio::sync::mpsc::channel(1);
    let (give_to_b, get_to_b) = tokio::sync::oneshot::channel();
    spawn_pong(to_a, give_to_b);
    let to_b = get_to_b.await.unwrap();
    for i in 0..rounds {
        to_b.send(i).await.unwrap();
        let v = from_b.recv().await.unwrap();
        debug_assert_eq!(v, i + 1);
    }
}

/// How the responder hands its request channel to the requester.
type Handoff = tokio::sync::oneshot::Sender<tokio::sync::mpsc::Sender<u64>>;

/// One flow's responder.
async fn pong(to_a: tokio::sync::mpsc::Sender<u64>, handoff: Handoff) {
    let (to_b, mut from_a) = tokio::sync::mpsc::channel(1);
    handoff.send(to_b).unwrap();
    while let Some(v) = from_a.recv().await {
        if to_a.send(v + 1).await.is_err() {
            return;
        }
    }
}

async fn roost_ping_pong(iters: u64) {
    let rounds = rounds(iters);
    let pings: Vec<_> = (0..FLOWS)
        .map(|_| {
            roost_runtime::spawn_on(
                0,
                ping(rounds, |to_a, handoff| {
                    drop(roost_runtime::spawn_on(1, pong(to_a, handoff)))
                }),
            )
        })
        .collect();
    for p in pings {
        p.await.unwrap();
    }
}

/// The ping-pong as tokio multi-thread actually runs it (see
/// [`tokio_mt_colocation`]): both ends of a flow on one worker, flows spread
/// over the workers. Not the case the targets are set on; printed beside it.
async fn roost_ping_pong_colocated(iters: u64) {
    let rounds = rounds(iters);
    let pings: Vec<_> = (0..FLOWS)
        .map(|i| {
            let worker = (i % 2) as usize;
            roost_runtime::spawn_on(
                worker,
                ping(rounds, move |to_a, handoff| {
                    drop(roost_runtime::spawn_on(worker, pong(to_a, handoff)))
                }),
            )
        })
        .collect();
    for p in pings {
        p.await.unwrap();
    }
}

async fn tokio_ping_pong(iters: u64) {
    let rounds = rounds(iters);
    let pings: Vec<_> = (0..FLOWS)
        .map(|_| tokio::spawn(ping(rounds, |to_a, handoff| drop(tokio::spawn(pong(to_a, handoff))))))
        .collect();
    for p in pings {
        p.await.unwrap();
    }
}

/// Where tokio multi-thread actually runs the two ends of a ping-pong flow:
/// an untimed run in which the requester records its thread before each
/// request and the responder compares it with its own. roost keeps the ends
/// on workers 0 and 1 (0% by construction); tokio's LIFO slot runs a task
/// woken from a worker on that same worker, which turns the case into a
/// single-core one. Returns the share of replies computed on the
/// requester's thread.
fn tokio_mt_colocation(rt: &tokio::runtime::Runtime) -> f64 {
    static NEXT_TAG: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TAG: u64 = NEXT_TAG.fetch_add(1, Ordering::Relaxed));
    const ROUNDS: u64 = 2_000;
    let tag = || TAG.with(|t| *t);
    let same = Arc::new(AtomicU64::new(0));
    let same2 = same.clone();
    rt.block_on(async move {
        let flows: Vec<_> = (0..FLOWS)
            .map(|_| {
                let same = same2.clone();
                tokio::spawn(async move {
                    let at = Arc::new(AtomicU64::new(0));
                    let (to_b, mut from_a) = tokio::sync::mpsc::channel::<u64>(1);
                    let (to_a, mut from_b) = tokio::sync::mpsc::channel::<u64>(1);
                    let at2 = at.clone();
                    let pong = tokio::spawn(async move {
                        while let Some(v) = from_a.recv().await {
                            if at2.load(Ordering::Relaxed) == tag() {
                                same.fetch_add(1, Ordering::Relaxed);
                            }
                            if to_a.send(v + 1).await.is_err() {
                                return;
                            }
                        }
                    });
                    for i in 0..ROUNDS {
                        at.store(tag(), Ordering::Relaxed);
                        to_b.send(i).await.unwrap();
                        from_b.recv().await.unwrap();
                    }
                    drop(to_b);
                    pong.await.unwrap();
                })
            })
            .collect();
        for f in flows {
            f.await.unwrap();
        }
    });
    same.load(Ordering::Relaxed) as f64 / (FLOWS * ROUNDS) as f64
}

/// Counts completed tasks; the one that completes the run unparks the
/// spawning thread.
struct Completion {
    done: AtomicU64,
    target: u64,
    spawner: Thread,
}

impl Completion {
    fn one_done(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.spawner.unpark();
        }
    }

    fn wait(&self) {
        while self.done.load(Ordering::Acquire) < self.target {
            std::thread::park();
        }
    }
}

fn remote_spawn(iters: u64, spawn: impl Fn(Arc<Completion>)) -> Duration {
    let completion = Arc::new(Completion {
        done: AtomicU64::new(0),
        target: iters,
        spawner: std::thread::current(),
    });
    let start = Instant::now();
    for _ in 0..iters {
        spawn(completion.clone());
    }
    completion.wait();
    start.elapsed()
}

fn bench(c: &mut Criterion, rts: &Runtimes, quick: bool) {
    for case in CASES {
        let mut group = c.benchmark_group(case);
        group.sampling_mode(SamplingMode::Flat);
        if quick {
            // criterion's own quick mode stops a benchmark as soon as two
            // consecutive runs agree, or at this time.
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(100));
            group.measurement_time(Duration::from_millis(1500));
        }
        for rt in RUNTIMES {
            std::thread::scope(|scope| {
                // The current-thread runtime needs a thread inside its
                // `Runtime::block_on` to run tasks spawned from outside.
                let stop = (case == "remote-spawn" && rt == "tokio-ct").then(|| {
                    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                    let ct = &rts.ct;
                    scope.spawn(move || {
                        register_current_thread("tokio-ct-remote");
                        ct.block_on(async move {
                            let _ = stopped.await;
                        })
                    });
                    stop
                });
                let before = (rt == "roost").then(|| roost_counters(&rts.roost));
                let counters = match (case, rt) {
                    ("remote-spawn", "tokio-ct") => Counters::wait_for_group("tokio-ct-remote", 1),
                    (_, "tokio-mt") => Counters::wait_for_group("tokio-mt", 2),
                    (_, group) => Counters::for_group(group),
                };
                let counted_from = counters.sample();
                group.bench_function(rt, |b| {
                    b.iter_custom(|iters| {
                        let took = match (case, rt) {
                            ("local-spawn", "roost") => rts.inside(rt, iters, roost_local_spawn),
                            ("local-spawn", _) => rts.inside(rt, iters, tokio_local_spawn),
                            ("yield", "roost") => rts.inside(rt, iters, roost_yield),
                            ("yield", _) => rts.inside(rt, iters, tokio_yield),
                            ("timer", "roost") => rts.inside(rt, iters, roost_timer),
                            ("timer", _) => rts.inside(rt, iters, tokio_timer),
                            ("ping-pong", "roost") => scaled(rts.inside(rt, iters, roost_ping_pong), iters),
                            ("ping-pong", _) => scaled(rts.inside(rt, iters, tokio_ping_pong), iters),
                            ("ping-pong-colocated", "roost") => {
                                scaled(rts.inside(rt, iters, roost_ping_pong_colocated), iters)
                            }
                            ("ping-pong-colocated", _) => scaled(rts.inside(rt, iters, tokio_ping_pong), iters),
                            ("remote-spawn", "roost") => {
                                let h = rts.roost.handle();
                                remote_spawn(iters, |c| drop(h.spawn(async move { c.one_done() })))
                            }
                            ("remote-spawn", _) => {
                                let h = if rt == "tokio-ct" {
                                    rts.ct.handle()
                                } else {
                                    rts.mt.handle()
                                };
                                remote_spawn(iters, |c| drop(h.spawn(async move { c.one_done() })))
                            }
                            _ => unreachable!(),
                        };
                        record(case, rt, iters, took)
                    })
                });
                let counted_to = counters.sample();
                let ops = LOG
                    .lock()
                    .unwrap()
                    .get(&(case, rt))
                    .map_or(0, |c| c.iter().map(|&(i, _)| i).sum());
                COSTS
                    .lock()
                    .unwrap()
                    .insert((case, rt), Costs::per_op(&counted_from, &counted_to, ops));
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
                if let Some(before) = before {
                    let after = roost_counters(&rts.roost);
                    let delta = std::array::from_fn(|i| after[i] - before[i]);
                    ROOST_COUNTERS.lock().unwrap().insert(case, delta);
                }
            });
        }
        group.finish();
    }
}

/// ns/op of one (case, runtime): the median over criterion's measurement
/// samples (the last `samples` calls; in `--quick` mode criterion keeps
/// only its last two, which are pooled).
fn reduce(calls: &[(u64, u128)], quick: bool, samples: usize) -> Option<f64> {
    if calls.is_empty() {
        return None;
    }
    if quick {
        let last = &calls[calls.len().saturating_sub(2)..];
        let (iters, ns) = last.iter().fold((0u64, 0u128), |(i, n), &(ci, cn)| (i + ci, n + cn));
        return Some(ns as f64 / iters.max(1) as f64);
    }
    let mut per_op: Vec<f64> = calls[calls.len().saturating_sub(samples)..]
        .iter()
        .map(|&(i, n)| n as f64 / i.max(1) as f64)
        .collect();
    median(&mut per_op)
}

fn summary(quick: bool, samples: usize) {
    let log = LOG.lock().unwrap();
    if !std::env::args().any(|a| a == "--bench") {
        println!();
        println!("smoke run (no --bench): every case ran once; the figures below are not measurements");
    }
    println!();
    println!("roost worker counters per 1000 ops, whole case (warm-up included):");
    for (case, [parks, ticks, remote, polls, spin]) in ROOST_COUNTERS.lock().unwrap().iter() {
        let ops: u64 = log
            .get(&(*case, "roost"))
            .map_or(0, |c| c.iter().map(|&(i, _)| i).sum());
        let per_k = |v: u64| v as f64 * 1000.0 / ops.max(1) as f64;
        println!(
            "  {case}: parks {:.1} | ticks {:.1} | remote wakes {:.1} | polls {:.1} | idle spin {:.0} ns (all workers, per op)",
            per_k(*parks),
            per_k(*ticks),
            per_k(*remote),
            per_k(*polls),
            *spin as f64 / ops.max(1) as f64
        );
    }
    println!();
    println!("counted costs per op, whole case (warm-up included), the runtime's threads only:");
    let costs = COSTS.lock().unwrap();
    for case in CASES {
        let line: Vec<(&str, Costs)> = RUNTIMES
            .iter()
            .filter_map(|&rt| costs.get(&(case, rt)).map(|c| (rt, *c)))
            .collect();
        if !line.is_empty() {
            println!("{}", costs_line(case, "op", &line));
        }
    }
    println!();
    println!("summary (median ns/op; vs best = faster tokio / roost):");
    for case in CASES {
        let m: Vec<Option<f64>> = RUNTIMES
            .iter()
            .map(|rt| log.get(&(case, *rt)).and_then(|c| reduce(c, quick, samples)))
            .collect();
        let [Some(roost), Some(ct), Some(mt)] = m[..] else {
            continue;
        };
        println!(
            "{case}: roost {roost:.1} | tokio-ct {ct:.1} | tokio-mt {mt:.1} | vs best {:.2}x",
            ct.min(mt) / roost
        );
    }
}

/// The round trip of one cache line between roost's two workers (pinned to
/// two cores), measured with two tasks that block their workers for a few
/// milliseconds. Cross-core cases cost a few of these per op, and on a VM
/// the figure moves with where the host places the two vCPUs; printed so a
/// reader can tell a slow machine from a slow runtime.
fn cross_core_round_trip(rt: &roost_runtime::Runtime) -> f64 {
    const TRIPS: u64 = 200_000;
    let line = Arc::new(AtomicU64::new(0));
    let other = line.clone();
    let echo = rt.handle().spawn_on(1, async move {
        for i in 0..TRIPS {
            while other.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            other.store(2 * i + 2, Ordering::Release);
        }
    });
    let took = rt.block_on(async move {
        let start = Instant::now();
        for i in 0..TRIPS {
            line.store(2 * i + 1, Ordering::Release);
            while line.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        start.elapsed()
    });
    rt.block_on(echo).unwrap();
    took.as_nanos() as f64 / TRIPS as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 10 } else { 30 };
    let mut criterion = Criterion::default()
        .sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    // The runtimes' workers on cores of their own and this (driving)
    // thread on another, as the network benches place their load client,
    // where the machine has a core to spare beside the two workers that
    // ping-pong needs; otherwise every thread on every core.
    let placement = match Placement::from_env() {
        Placement::Isolated { servers, .. } if servers.len() < 2 => {
            println!(
                "runtime benchmark, shared cores: the two workers need {} of this machine's {} cores, so the driving thread shares them",
                2.min(servers.len() + 1),
                servers.len() + 1
            );
            None
        }
        placement => {
            println!("runtime benchmark, {}", placement.describe());
            Some(placement)
        }
    };
    if let Some(placement) = &placement {
        placement.confine_servers();
    }
    // tokio-ct runs on the thread that blocks on it: this one.
    register_current_thread("tokio-ct");
    let rts = Runtimes::new();
    if let Some(placement) = &placement {
        placement.place_client();
    }
    let line_before = cross_core_round_trip(&rts.roost);
    bench(&mut criterion, &rts, quick);
    criterion.final_summary();
    summary(quick, samples);
    let line_after = cross_core_round_trip(&rts.roost);
    println!("cross-core cache-line round trip (workers 0<->1): {line_before:.0} ns before, {line_after:.0} ns after");
    println!(
        "ping-pong placement: tokio-mt computed {:.0}% of replies on the requester's thread (roost: 0%, one end per worker)",
        100.0 * tokio_mt_colocation(&rts.mt)
    );
}
