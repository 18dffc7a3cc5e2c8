//! RPC benchmark: request/response over loopback, 64-byte requests and
//! responses, 64 connections, one load client shared by every server in the
//! same run.
//!
//! Servers, all answering each length-prefixed request frame with the same
//! bytes:
//!
//! - `roost`: `examples/rpc.rs` on roost (arena buffers, reuse slots);
//! - `roost-noarena`: the same code with buffers from the global allocator;
//! - `roost-uring`: `examples/rpc.rs` on a second roost runtime whose
//!   workers run the io_uring driver (`Builder::driver(Driver::Uring)`; it
//!   says so on a line of its own where the kernel makes it fall back to
//!   epoll); `roost` follows `ROOST_DRIVER`, epoll by default;
//! - `tokio-mt`: tokio's multi-thread runtime, one task per connection, one
//!   buffer per connection reused, `TCP_NODELAY`;
//! - `tokio-ct`: one tokio current-thread runtime per core, each with its own
//!   `SO_REUSEPORT` listener.
//!
//! Cases:
//!
//! - **rr**: closed loop, each connection one request in flight;
//! - **open loop**: requests on a fixed schedule at half of tokio-mt's
//!   closed-loop throughput of the same run (or `ROOST_RPC_RATE`), latency
//!   measured from each request's planned send time;
//! - **cross-core**: the request is read on one roost worker, handled on
//!   another (which builds the response and drops the request), and the
//!   response is sent by the first; with and without the arena;
//! - **sharded**: a key-value store split across the workers (`rpc/kv.rs`):
//!   the worker that owns the key answers, the connection's worker sends;
//!   roost, roost-noarena and tokio-mt written as a tokio user would.
//!
//! Each case ends with a line of counted costs per round trip for the
//! server threads only (see `roost_benches::counters`): user instructions,
//! user and kernel cycles (`n/a` without a PMU), syscalls, global
//! allocations, context switches and CPU time.
//!
//! `cargo bench --bench rpc` runs criterion groups and then interleaved runs
//! whose medians make the summary; `-- --quick` is the short mode.
//!
//! Knobs (environment): `ROOST_RPC_WORKERS` (server workers per runtime;
//! fewer than the cores pins the client to the last core),
//! `ROOST_RPC_PIN=0` (roost workers unpinned), `ROOST_RPC_SPIN=<us>`
//! (roost's longest spin before park), `ROOST_RPC_BUSY_POLL=<us>` (roost
//! busy-polls this long instead), `ROOST_RPC_ONLY=name,name` (only those
//! servers), `ROOST_RPC_CROSS=0` (skip the cross-core case),
//! `ROOST_RPC_SHARDED=0` (skip the sharded case), `ROOST_RPC_RR=0` (skip
//! the closed-loop rr runs; the open loop then needs `ROOST_RPC_RATE`),
//! `ROOST_RPC_RATE=<rps>` (the open loop's rate; `0` skips it).

#[path = "../../examples/rpc.rs"]
#[allow(dead_code)]
mod rpc;

#[path = "rpc/kv.rs"]
mod kv;

use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use roost::alloc::ArenaBytesMut;
use roost::net::{serve, BufferSource, ListenOptions, TcpStream};
use roost::runtime::{Driver, Runtime};
use roost_benches::counters::{register_current_thread, Counters};
use roost_benches::counting_alloc::CountingAlloc;
use roost_benches::interleave::{interleaved, median_of, print_costs, Runs, Stat};
use roost_benches::rpc_client::{RpcClient, RunResult};
use roost_benches::samples::median;
use roost_benches::settings::{core_count, localhost, place_client, workers_from_env, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Counts the server threads' calls to the global allocator.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CONNECTIONS: usize = 64;
const PAYLOAD: usize = 64;

fn settings() -> Settings {
    Settings::from_args()
}

/// Server workers per runtime: `ROOST_RPC_WORKERS`, or every allowed core.
fn workers() -> usize {
    workers_from_env("ROOST_RPC_WORKERS")
}

/// The rr servers, in the order of the summary lines.
const RR_SERVERS: [&str; 4] = ["roost", "roost-noarena", "tokio-mt", "tokio-ct"];

/// What the host leaves to win: each round trip costs the client its CPU
/// and the server at least its kernel time (two socket calls on loopback,
/// which every epoll server pays alike). With a server whose user space
/// cost nothing, throughput could not pass this many round trips/s.
fn ceiling(cores: f64, client_us: f64, server_kernel_us: f64) -> f64 {
    cores * 1e6 / (client_us + server_kernel_us)
}

/// The roost servers: plain, no arena, and the two cross-core variants.
fn start_roost(rt: &Runtime) -> io::Result<[SocketAddr; 4]> {
    let arena = rt.block_on(rpc::start(rt.handle(), localhost(), ListenOptions::new()))?;
    let noarena = rt.block_on(rpc::start(
        rt.handle(),
        localhost(),
        ListenOptions::new().buffer_source(BufferSource::Global),
    ))?;
    let cross = rt.block_on(start_cross_core(rt, BufferSource::Arena))?;
    let cross_noarena = rt.block_on(start_cross_core(rt, BufferSource::Global))?;
    let addrs = [
        arena.local_addr(),
        noarena.local_addr(),
        cross.local_addr(),
        cross_noarena.local_addr(),
    ];
    // The servers run until the process exits.
    std::mem::forget((arena, noarena, cross, cross_noarena));
    Ok(addrs)
}

/// A request and the channel on which to send its response back.
type Job = (ArenaBytesMut, mpsc::Sender<ArenaBytesMut>);

/// Cross-core server: worker `w` reads requests and hands them to worker
/// `(w + 1) % n`, which builds the response (and drops the request, on the
/// "wrong" core); worker `w` sends the response.
fn start_cross_core(
    rt: &Runtime,
    buffers: BufferSource,
) -> impl std::future::Future<Output = io::Result<roost::net::Server>> + Send {
    let n = rt.worker_count();
    // One handler task per worker, fed by a channel.
    let handlers: Arc<Vec<mpsc::Sender<Job>>> = Arc::new(
        (0..n)
            .map(|w| {
                let (tx, mut rx) = mpsc::channel::<Job>(1024);
                rt.handle().spawn_on(w, async move {
                    while let Some((request, reply)) = rx.recv().await {
                        let mut response = match buffers {
                            BufferSource::Arena => ArenaBytesMut::with_capacity(request.len()),
                            BufferSource::Global => ArenaBytesMut::with_capacity_global(request.len()),
                        };
                        response.extend_from_slice(&request);
                        drop(request);
                        let _ = reply.send(response).await;
                    }
                });
                tx
            })
            .collect(),
    );
    serve(
        rt.handle(),
        localhost(),
        ListenOptions::new().buffer_source(buffers),
        move |stream| {
            let handlers = handlers.clone();
            async move {
                let _ = cross_core_connection(stream, handlers).await;
            }
        },
    )
}

async fn cross_core_connection(stream: TcpStream, handlers: Arc<Vec<mpsc::Sender<Job>>>) -> io::Result<()> {
    let here = roost::runtime::current_worker().unwrap_or(0);
    let handler = handlers[(here + 1) % handlers.len()].clone();
    let (reply_tx, mut reply_rx) = mpsc::channel::<ArenaBytesMut>(1);
    let mut frames = rpc::Frames::default();
    while let Some(received) = stream.recv().await? {
        let Some(data) = frames.push(received)? else {
            continue;
        };
        handler
            .send((data, reply_tx.clone()))
            .await
            .map_err(|_| io::Error::other("handler gone"))?;
        let response = reply_rx.recv().await.ok_or_else(|| io::Error::other("handler gone"))?;
        stream.send(response).await?;
    }
    Ok(())
}

/// tokio, as a competent tokio user writes it: one buffer per connection,
/// reused; responses written straight from it.
async fn tokio_connection(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let complete = rpc::complete_frames(&buf[..filled])?;
        if complete > 0 {
            stream.write_all(&buf[..complete]).await?;
            buf.copy_within(complete..filled, 0);
            filled -= complete;
        }
    }
}

fn start_tokio_mt(workers: usize) -> io::Result<SocketAddr> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(|| register_current_thread("tokio-mt"))
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(localhost()))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(tokio_connection(stream));
        }
    });
    std::mem::forget(rt);
    Ok(addr)
}

fn start_tokio_ct_per_core(workers: usize) -> io::Result<SocketAddr> {
    let options = ListenOptions::new().reuse_port(true);
    let first = options.bind_socket(localhost())?;
    let addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(options.bind_socket(addr)?);
    }
    for (i, socket) in sockets.into_iter().enumerate() {
        std::thread::Builder::new()
            .name(format!("tokio-ct-{i}"))
            .spawn(move || {
                register_current_thread("tokio-ct");
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    let listener = tokio::net::TcpListener::from_std(socket).unwrap();
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::task::spawn_local(tokio_connection(stream));
                    }
                });
            })?;
    }
    Ok(addr)
}

type Subject = roost_benches::interleave::Subject<RpcClient>;

fn main() {
    let settings = settings();
    let workers = workers();
    println!(
        "rpc benchmark: {CONNECTIONS} connections, {PAYLOAD} B requests, {workers} server workers per runtime{}",
        if settings.quick { " (quick)" } else { "" }
    );
    let pin = std::env::var("ROOST_RPC_PIN").map_or(true, |v| v != "0");
    let micros = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_micros)
    };
    let mut builder = Runtime::builder()
        .worker_threads(workers)
        .pin_workers(pin)
        .on_thread_start(|| register_current_thread("roost"));
    if let Some(spin) = micros("ROOST_RPC_SPIN") {
        builder = builder.spin_before_park(spin);
    }
    if let Some(spin) = micros("ROOST_RPC_BUSY_POLL") {
        builder = builder.busy_poll(spin);
    }
    let rt = builder.build().expect("roost runtime");
    // roost-uring: the same servers on a runtime with the io_uring driver.
    let mut uring_builder = Runtime::builder()
        .worker_threads(workers)
        .pin_workers(pin)
        .driver(Driver::Uring)
        .on_thread_start(|| register_current_thread("roost-uring"));
    if let Some(spin) = micros("ROOST_RPC_SPIN") {
        uring_builder = uring_builder.spin_before_park(spin);
    }
    if let Some(spin) = micros("ROOST_RPC_BUSY_POLL") {
        uring_builder = uring_builder.busy_poll(spin);
    }
    if let Some(wait) = micros("ROOST_RPC_URING_BATCH") {
        uring_builder = uring_builder.uring_batch_wait(wait);
    }
    let rt_uring = uring_builder.build().expect("roost-uring runtime");
    if rt_uring.handle().metrics().workers.iter().any(|w| w.uring_fallback) {
        println!("roost-uring: io_uring is not available here; its workers run epoll");
    }
    let [uring_addr, _, uring_cross_addr, _] = start_roost(&rt_uring).expect("roost-uring servers");
    let kv_uring = kv::start_roost(&rt_uring, BufferSource::Arena).expect("roost-uring kv server");
    let kv_uring_addr = kv_uring.local_addr();
    std::mem::forget(kv_uring);
    let [roost_addr, noarena_addr, cross_addr, cross_noarena_addr] = start_roost(&rt).expect("roost servers");
    let kv_roost = kv::start_roost(&rt, BufferSource::Arena).expect("roost kv server");
    let kv_noarena = kv::start_roost(&rt, BufferSource::Global).expect("roost-noarena kv server");
    let kv_addrs = (kv_roost.local_addr(), kv_noarena.local_addr());
    std::mem::forget((kv_roost, kv_noarena));
    let tokio_mt = start_tokio_mt(workers).expect("tokio-mt server");
    let kv_tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(|| register_current_thread("tokio-mt-kv"))
        .enable_all()
        .build()
        .expect("tokio-mt kv runtime");
    let kv_tokio = kv::start_tokio_mt(&kv_tokio_rt, workers).expect("tokio-mt kv server");
    std::mem::forget(kv_tokio_rt);
    let tokio_ct = start_tokio_ct_per_core(workers).expect("tokio-ct servers");
    place_client(workers);

    let connect = |name, group, addr| Subject {
        name,
        client: RpcClient::connect(addr, CONNECTIONS, PAYLOAD).expect("connect"),
        counters: Counters::wait_for_group(group, workers),
    };
    let mut rr = vec![
        connect("roost", "roost", roost_addr),
        connect("roost-noarena", "roost", noarena_addr),
        connect("roost-uring", "roost-uring", uring_addr),
        connect("tokio-mt", "tokio-mt", tokio_mt),
        connect("tokio-ct", "tokio-ct", tokio_ct),
    ];
    let mut cross = vec![
        connect("roost", "roost", cross_addr),
        connect("roost-noarena", "roost", cross_noarena_addr),
        connect("roost-uring", "roost-uring", uring_cross_addr),
    ];
    let kv_connect = |name, group, addr| Subject {
        name,
        client: RpcClient::connect_with(addr, CONNECTIONS, Box::new(kv::KvWorkload::new(CONNECTIONS)))
            .expect("connect"),
        counters: Counters::wait_for_group(group, workers),
    };
    let mut sharded = vec![
        kv_connect("roost", "roost", kv_addrs.0),
        kv_connect("roost-noarena", "roost", kv_addrs.1),
        kv_connect("roost-uring", "roost-uring", kv_uring_addr),
        kv_connect("tokio-mt", "tokio-mt-kv", kv_tokio),
    ];

    // `ROOST_RPC_ONLY=name,name` keeps only those servers (for profiling).
    if let Ok(only) = std::env::var("ROOST_RPC_ONLY") {
        let keep: Vec<&str> = only.split(',').collect();
        for case in [&mut rr, &mut cross, &mut sharded] {
            case.retain(|s| keep.contains(&s.name));
        }
    }
    let off = |name| std::env::var(name).is_ok_and(|v| v == "0");
    if off("ROOST_RPC_CROSS") {
        cross.clear();
    }
    if off("ROOST_RPC_SHARDED") {
        sharded.clear();
    }

    // Criterion: time per round trip (all connections busy), side by side.
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if settings.quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if settings.quick { 600 } else { 4000 }));
    let skip_rr = off("ROOST_RPC_RR");
    let mut no_rr = Vec::new();
    for (group_name, subjects) in [
        ("rr 64 B x 64", if skip_rr { &mut no_rr } else { &mut rr }),
        ("cross-core 64 B x 64", &mut cross),
        ("sharded 64 B x 64", &mut sharded),
    ] {
        let mut group = criterion.benchmark_group(group_name);
        for subject in subjects.iter_mut() {
            group.bench_function(BenchmarkId::from_parameter(subject.name), |b| {
                b.iter_custom(|iters| {
                    let result = subject
                        .client
                        .run_round_trips(iters.max(CONNECTIONS as u64))
                        .expect("run");
                    black_box(result.elapsed.mul_f64(iters as f64 / result.round_trips as f64))
                })
            });
        }
        group.finish();
    }

    // Interleaved runs: each round runs every server once, in turn, so that
    // drifts of the machine hit all of them alike. Medians make the summary.
    println!();
    let closed = |c: &mut RpcClient| c.run_for(settings.run);
    let rr_results = interleaved(if skip_rr { &mut no_rr } else { &mut rr }, &settings, closed);
    let cross_results = interleaved(&mut cross, &settings, closed);
    let sharded_results = interleaved(&mut sharded, &settings, closed);
    // The open loop: half of tokio-mt's closed-loop median, unless set.
    let rate = std::env::var("ROOST_RPC_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| median_of(&rr_results, "tokio-mt", RunResult::throughput) / 2.0);
    let open_results = if rate > 0.0 && rate.is_finite() {
        interleaved(&mut rr, &settings, |c| c.run_open_loop(rate, settings.run))
    } else {
        Vec::new()
    };
    println!();
    print_table("rr 64 B x 64", &rr_results);
    print_table("cross-core 64 B x 64", &cross_results);
    print_table("sharded 64 B x 64", &sharded_results);
    if !open_results.is_empty() {
        print_table(&format!("open loop 64 B x 64 at {rate:.0} requests/s"), &open_results);
    }
    println!();
    let rr = |name: &str, f: Stat| median_of(&rr_results, name, f);
    let cross = |name: &str, f: Stat| median_of(&cross_results, name, f);
    let tps = RunResult::throughput as Stat;
    let cpu = RunResult::server_cpu_us_per_round_trip as Stat;
    let kernel = RunResult::server_kernel_us_per_round_trip as Stat;
    let client = RunResult::client_cpu_us_per_round_trip as Stat;
    let [roost, noarena, mt, ct] = RR_SERVERS.map(|name| rr(name, tps));
    println!(
        "rr 64 B x 64: roost {roost:.0} | roost-noarena {noarena:.0} | tokio-mt {mt:.0} | tokio-ct {ct:.0} | vs best tokio {:.2}x (vs tokio-mt {:.2}x, vs tokio-ct {:.2}x)",
        roost / mt.max(ct),
        roost / mt,
        roost / ct
    );
    let uring = rr("roost-uring", tps);
    println!(
        "rr 64 B x 64: roost-uring {uring:.0} | vs roost {:.2}x | vs tokio-mt {:.2}x",
        uring / roost,
        uring / mt
    );
    let [roost_cpu, noarena_cpu, mt_cpu, ct_cpu] = RR_SERVERS.map(|name| rr(name, cpu));
    println!(
        "server CPU per round trip (us): roost {roost_cpu:.2} | roost-noarena {noarena_cpu:.2} | tokio-mt {mt_cpu:.2} | tokio-ct {ct_cpu:.2} | tokio-mt/roost {:.2}x",
        mt_cpu / roost_cpu
    );
    let [roost_k, noarena_k, mt_k, ct_k] = RR_SERVERS.map(|name| rr(name, kernel));
    println!(
        "server kernel CPU per round trip (us): roost {roost_k:.2} | roost-noarena {noarena_k:.2} | tokio-mt {mt_k:.2} | tokio-ct {ct_k:.2}; client CPU per round trip (us): {:.2}",
        rr("roost", client)
    );
    let cores = core_count() as f64;
    let best = ceiling(
        cores,
        rr("roost", client).min(rr("tokio-mt", client)),
        roost_k.min(mt_k),
    );
    println!(
        "ceiling on {cores} cores for a server with free user space: {best:.0} round trips/s = {:.2}x tokio-mt's median",
        best / mt
    );
    let (cross_roost, cross_noarena) = (cross("roost", tps), cross("roost-noarena", tps));
    let cross_uring = cross("roost-uring", tps);
    println!(
        "cross-core 64 B x 64: roost {cross_roost:.0} | roost-noarena {cross_noarena:.0} | vs noarena {:.2}x | roost-uring {cross_uring:.0} (vs roost {:.2}x)",
        cross_roost / cross_noarena,
        cross_uring / cross_roost
    );
    if cross_noarena.is_finite() {
        // The allocator is part of the server's user-space time; were all of
        // that user space free, roost-noarena could reach at most this.
        let (all, k) = (cross("roost-noarena", cpu), cross("roost-noarena", kernel));
        let best = ceiling(cores, cross("roost-noarena", client), k);
        println!(
            "cross-core server CPU per round trip (us): roost {:.2} | roost-noarena {all:.2}, of which user space {:.2}; ceiling with free user space: {best:.0} round trips/s = {:.2}x roost-noarena's median",
            cross("roost", cpu),
            all - k,
            best / cross_noarena
        );
    }
    let sharded = |name: &str, f: Stat| median_of(&sharded_results, name, f);
    let (kv_roost, kv_noarena, kv_mt) = (
        sharded("roost", tps),
        sharded("roost-noarena", tps),
        sharded("tokio-mt", tps),
    );
    let kv_uring = sharded("roost-uring", tps);
    println!(
        "sharded 64 B x 64: roost {kv_roost:.0} | roost-noarena {kv_noarena:.0} | tokio-mt {kv_mt:.0} | vs tokio-mt {:.2}x | roost-uring {kv_uring:.0} (vs roost {:.2}x, vs tokio-mt {:.2}x)",
        kv_roost / kv_mt,
        kv_uring / kv_roost,
        kv_uring / kv_mt
    );
    if !open_results.is_empty() {
        let open = |name: &str, f: Stat| median_of(&open_results, name, f);
        let p99 = |r: &RunResult| r.latency_us(0.99);
        let line: Vec<String> = RR_SERVERS
            .iter()
            .map(|&n| format!("{n} {:.1}/{:.1} us", open(n, p99), open(n, cpu)))
            .collect();
        println!(
            "open loop at {rate:.0}/s, p99 / server CPU per round trip: {}",
            line.join(" | ")
        );
    }
    println!();
    print_costs("rr 64 B x 64", "round trip", &rr_results);
    if !open_results.is_empty() {
        print_costs(
            &format!("open loop 64 B x 64 at {rate:.0}/s"),
            "round trip",
            &open_results,
        );
    }
    print_costs("cross-core 64 B x 64", "round trip", &cross_results);
    print_costs("sharded 64 B x 64", "round trip", &sharded_results);
    println!();
    print_workers("roost", &rt);
    print_workers("roost-uring", &rt_uring);
}

/// One line per worker of `rt`: its loop's counters and its arena's (with
/// the receive ring's on the io_uring driver).
fn print_workers(name: &str, rt: &Runtime) {
    for w in &rt.handle().metrics().workers {
        if let Some(a) = &w.arena {
            let ring = if w.driver == Driver::Uring {
                format!(
                    " | ring provided {} reprovided remote {} dry {}",
                    a.ring_provided, a.ring_reprovided_remote, a.ring_dry
                )
            } else {
                String::new()
            };
            println!(
                "{name} worker {} (io sources {}, polls {}, parks {}, ticks {}, idle spin {} ms, spin hits {} misses {}): arena allocations {} | slot hits {} | slot parks {} | returns received {} | fallbacks {}{ring}",
                w.index,
                w.io_sources,
                w.tasks_polled,
                w.parks,
                w.ticks,
                w.spin_nanos / 1_000_000,
                w.spin_hits,
                w.spin_misses,
                a.allocations,
                a.slot_hits,
                a.slot_parks,
                a.returns_received,
                a.fallback_large + a.fallback_limit
            );
        }
    }
}

fn print_table(title: &str, results: &[Runs]) {
    if results.is_empty() {
        return;
    }
    println!(
        "{title}: medians of {} interleaved runs",
        results.first().map_or(0, |r| r.runs.len())
    );
    println!(
        "  {:<14} {:>12} {:>10} {:>10} {:>10} {:>16}",
        "server", "round trips/s", "p50 us", "p99 us", "p99.9 us", "server CPU us/rt"
    );
    for r in results {
        let runs = &r.runs;
        let mut tps: Vec<f64> = runs.iter().map(RunResult::throughput).collect();
        let mut p50: Vec<f64> = runs.iter().map(|r| r.latency_us(0.5)).collect();
        let mut p99: Vec<f64> = runs.iter().map(|r| r.latency_us(0.99)).collect();
        let mut p999: Vec<f64> = runs.iter().map(|r| r.latency_us(0.999)).collect();
        let mut cpu: Vec<f64> = runs.iter().map(RunResult::server_cpu_us_per_round_trip).collect();
        println!(
            "  {:<14} {:>12.0} {:>10.1} {:>10.1} {:>10.1} {:>16.2}",
            r.name,
            median(&mut tps).unwrap_or(0.0),
            median(&mut p50).unwrap_or(0.0),
            median(&mut p99).unwrap_or(0.0),
            median(&mut p999).unwrap_or(0.0),
            median(&mut cpu).unwrap_or(0.0)
        );
    }
}
