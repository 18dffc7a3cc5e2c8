//! RPC benchmark: request/response over loopback, 64-byte requests and
//! responses, 64 connections, one load client shared by every server in the
//! same run.
//!
//! Placement (`roost_benches::settings::Placement`): first with **isolated
//! cores**, as deployed (the client alone on the last core, every server's
//! threads on the others; each runtime gets one worker per server core,
//! tokio-mt as many threads), then, in a second process of the same
//! binary, with **shared cores** (client and servers on every core, one
//! worker per core). `cross-core` and `sharded` need two workers: where the
//! servers have a single core they run two on it (roost's then run under
//! `SCHED_BATCH`, as any roost runtime with more workers than cores), and
//! the first line says so.
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
//! Knobs (environment): `ROOST_BENCH_PLACEMENT=isolated|shared` (only that
//! placement), `ROOST_RPC_WORKERS` (server workers per runtime, instead of
//! one per server core), `ROOST_RPC_PIN=0|1` (roost workers unpinned or
//! pinned, instead of the runtime's default), `ROOST_RPC_SPIN=<us>`
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
use roost_benches::interleave::{interleaved, median_of, print_costs, summary_line, Runs, Stat, Summary};
use roost_benches::rpc_client::{RpcClient, RunResult};
use roost_benches::samples::median;
use roost_benches::settings::{is_second_run, localhost, run_shared_too, workers_from_env, Placement, Settings};
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

/// Server workers per runtime: `ROOST_RPC_WORKERS`, or one per server core.
fn workers(placement: &Placement) -> usize {
    workers_from_env("ROOST_RPC_WORKERS", placement)
}

/// The rr servers, in the order of the summary lines.
const RR_SERVERS: [&str; 4] = ["roost", "roost-noarena", "tokio-mt", "tokio-ct"];

/// The plain roost servers: with the arena and without.
fn start_roost(rt: &Runtime) -> io::Result<[SocketAddr; 2]> {
    let arena = rt.block_on(rpc::start(rt.handle(), localhost(), ListenOptions::new()))?;
    let noarena = rt.block_on(rpc::start(
        rt.handle(),
        localhost(),
        ListenOptions::new().buffer_source(BufferSource::Global),
    ))?;
    let addrs = [arena.local_addr(), noarena.local_addr()];
    // The servers run until the process exits.
    std::mem::forget((arena, noarena));
    Ok(addrs)
}

/// The cross-core servers: with the arena and without.
fn start_cross(rt: &Runtime) -> io::Result<[SocketAddr; 2]> {
    let cross = rt.block_on(start_cross_core(rt, BufferSource::Arena))?;
    let cross_noarena = rt.block_on(start_cross_core(rt, BufferSource::Global))?;
    let addrs = [cross.local_addr(), cross_noarena.local_addr()];
    std::mem::forget((cross, cross_noarena));
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

/// A roost runtime for the servers of a run, with the bench's knobs; with
/// no `driver`, `ROOST_DRIVER` or epoll.
fn roost_runtime(workers: usize, group: &'static str, driver: Option<Driver>) -> Runtime {
    let micros = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_micros)
    };
    let mut builder = Runtime::builder()
        .worker_threads(workers)
        .on_thread_start(move || register_current_thread(group));
    if let Some(driver) = driver {
        builder = builder.driver(driver);
    }
    // Unset: the runtime's default (pinned where the cores are its own).
    if let Ok(pin) = std::env::var("ROOST_RPC_PIN") {
        builder = builder.pin_workers(pin != "0");
    }
    if let Some(spin) = micros("ROOST_RPC_SPIN") {
        builder = builder.spin_before_park(spin);
    }
    if let Some(spin) = micros("ROOST_RPC_BUSY_POLL") {
        builder = builder.busy_poll(spin);
    }
    if driver == Some(Driver::Uring) {
        if let Some(wait) = micros("ROOST_RPC_URING_BATCH") {
            builder = builder.uring_batch_wait(wait);
        }
    }
    let rt = builder.build().expect("roost runtime");
    if driver == Some(Driver::Uring) && rt.handle().metrics().workers.iter().any(|w| w.uring_fallback) {
        println!("{group}: io_uring is not available here; its workers run epoll");
    }
    rt
}

/// The spin of `rt`'s workers so far, for the costs line.
fn spin_of(rt: &Runtime) -> impl Fn() -> u64 + Send + 'static {
    let handle = rt.handle().clone();
    move || handle.metrics().sum(|w| w.spin_nanos)
}

fn main() {
    let settings = settings();
    let placement = Placement::from_env();
    let workers = workers(&placement);
    // cross-core and sharded move work between two workers at least.
    let pair_workers = workers.max(2);
    let off = |name| std::env::var(name).is_ok_and(|v| v == "0");
    let want_pairs = !(off("ROOST_RPC_CROSS") && off("ROOST_RPC_SHARDED"));
    println!(
        "rpc benchmark, {}: {CONNECTIONS} connections, {PAYLOAD} B requests, {workers} server workers per runtime{}{}",
        placement.describe(),
        if pair_workers > workers && want_pairs {
            format!(
                " ({pair_workers} in cross-core and sharded, which need two, on the same {} core{})",
                placement.server_cores().len(),
                if placement.server_cores().len() > 1 { "s" } else { "" }
            )
        } else {
            String::new()
        },
        if settings.quick { " (quick)" } else { "" }
    );
    placement.confine_servers();
    let rt = roost_runtime(workers, "roost", None);
    // roost-uring: the same servers on a runtime with the io_uring driver.
    let rt_uring = roost_runtime(workers, "roost-uring", Some(Driver::Uring));
    // With one worker, cross-core and sharded get runtimes of two.
    let pairs = (pair_workers > workers && want_pairs).then(|| {
        (
            roost_runtime(pair_workers, "roost-pair", None),
            roost_runtime(pair_workers, "roost-uring-pair", Some(Driver::Uring)),
        )
    });
    let (rt2, rt2_uring, group2, group2_uring) = match &pairs {
        Some((a, b)) => (a, b, "roost-pair", "roost-uring-pair"),
        None => (&rt, &rt_uring, "roost", "roost-uring"),
    };
    let [uring_addr, _] = start_roost(&rt_uring).expect("roost-uring servers");
    let [uring_cross_addr, _] = start_cross(rt2_uring).expect("roost-uring cross-core server");
    let kv_uring = kv::start_roost(rt2_uring, BufferSource::Arena).expect("roost-uring kv server");
    let kv_uring_addr = kv_uring.local_addr();
    std::mem::forget(kv_uring);
    let [roost_addr, noarena_addr] = start_roost(&rt).expect("roost servers");
    let [cross_addr, cross_noarena_addr] = start_cross(rt2).expect("roost cross-core servers");
    let kv_roost = kv::start_roost(rt2, BufferSource::Arena).expect("roost kv server");
    let kv_noarena = kv::start_roost(rt2, BufferSource::Global).expect("roost-noarena kv server");
    let kv_addrs = (kv_roost.local_addr(), kv_noarena.local_addr());
    std::mem::forget((kv_roost, kv_noarena));
    let tokio_mt = start_tokio_mt(workers).expect("tokio-mt server");
    let kv_tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(pair_workers)
        .on_thread_start(|| register_current_thread("tokio-mt-kv"))
        .enable_all()
        .build()
        .expect("tokio-mt kv runtime");
    let kv_tokio = kv::start_tokio_mt(&kv_tokio_rt, pair_workers).expect("tokio-mt kv server");
    std::mem::forget(kv_tokio_rt);
    let tokio_ct = start_tokio_ct_per_core(workers).expect("tokio-ct servers");
    placement.place_client();

    let connect = |name, group, threads, addr, spin: Option<Box<dyn Fn() -> u64 + Send>>| Subject {
        name,
        client: RpcClient::connect(addr, CONNECTIONS, PAYLOAD).expect("connect"),
        counters: Counters::wait_for_group(group, threads).with_spin(spin),
    };
    let spin = |rt: &Runtime| -> Option<Box<dyn Fn() -> u64 + Send>> { Some(Box::new(spin_of(rt))) };
    let mut rr = vec![
        connect("roost", "roost", workers, roost_addr, spin(&rt)),
        connect("roost-noarena", "roost", workers, noarena_addr, spin(&rt)),
        connect("roost-uring", "roost-uring", workers, uring_addr, spin(&rt_uring)),
        connect("tokio-mt", "tokio-mt", workers, tokio_mt, None),
        connect("tokio-ct", "tokio-ct", workers, tokio_ct, None),
    ];
    let mut cross = vec![
        connect("roost", group2, pair_workers, cross_addr, spin(rt2)),
        connect("roost-noarena", group2, pair_workers, cross_noarena_addr, spin(rt2)),
        connect(
            "roost-uring",
            group2_uring,
            pair_workers,
            uring_cross_addr,
            spin(rt2_uring),
        ),
    ];
    let kv_connect = |name, group, addr, spin| Subject {
        name,
        client: RpcClient::connect_with(addr, CONNECTIONS, Box::new(kv::KvWorkload::new(CONNECTIONS)))
            .expect("connect"),
        counters: Counters::wait_for_group(group, pair_workers).with_spin(spin),
    };
    let mut sharded = vec![
        kv_connect("roost", group2, kv_addrs.0, spin(rt2)),
        kv_connect("roost-noarena", group2, kv_addrs.1, spin(rt2)),
        kv_connect("roost-uring", group2_uring, kv_uring_addr, spin(rt2_uring)),
        kv_connect("tokio-mt", "tokio-mt-kv", kv_tokio, None),
    ];

    // `ROOST_RPC_ONLY=name,name` keeps only those servers (for profiling).
    if let Ok(only) = std::env::var("ROOST_RPC_ONLY") {
        let keep: Vec<&str> = only.split(',').collect();
        for case in [&mut rr, &mut cross, &mut sharded] {
            case.retain(|s| keep.contains(&s.name));
        }
    }
    if off("ROOST_RPC_CROSS") {
        cross.clear();
    }
    if off("ROOST_RPC_SHARDED") {
        sharded.clear();
    }

    let skip_rr = off("ROOST_RPC_RR");
    let mut no_rr = Vec::new();
    // Criterion: time per round trip (all connections busy), side by side;
    // the second (shared-cores) run of a default run leaves it out.
    if !is_second_run() {
        let mut criterion = Criterion::default()
            .configure_from_args()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(if settings.quick { 200 } else { 1000 }))
            .measurement_time(Duration::from_millis(if settings.quick { 600 } else { 4000 }));
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
    let place = if placement.is_shared() {
        "shared cores"
    } else {
        "isolated cores"
    };
    println!("{place}:");
    print_table("rr 64 B x 64", &rr_results);
    print_table("cross-core 64 B x 64", &cross_results);
    print_table("sharded 64 B x 64", &sharded_results);
    if !open_results.is_empty() {
        print_table(&format!("open loop 64 B x 64 at {rate:.0} requests/s"), &open_results);
    }
    println!();
    let tps = RunResult::throughput as Stat;
    let cpu = RunResult::server_cpu_us_per_round_trip as Stat;
    let kernel = RunResult::server_kernel_us_per_round_trip as Stat;
    let client = RunResult::client_cpu_us_per_round_trip as Stat;
    let rr_line = Summary::new(&rr_results);
    let mut line = rr_line.values(&RR_SERVERS, tps, 0);
    line.push(rr_line.ratio("roost", "vs best tokio", &["tokio-mt", "tokio-ct"], tps));
    line.push(rr_line.ratio("roost", "vs tokio-mt", &["tokio-mt"], tps));
    line.push(rr_line.ratio("roost", "vs tokio-ct", &["tokio-ct"], tps));
    summary_line(place, "rr 64 B x 64", line);
    summary_line(
        place,
        "rr 64 B x 64",
        vec![
            rr_line.value("roost-uring", tps, 0),
            rr_line.ratio("roost-uring", "vs roost", &["roost"], tps),
            rr_line.ratio("roost-uring", "vs tokio-mt", &["tokio-mt"], tps),
            rr_line.ratio("roost-uring", "vs tokio-ct", &["tokio-ct"], tps),
        ],
    );
    let mut line = rr_line.values(&RR_SERVERS, cpu, 2);
    line.push(rr_line.ratio("tokio-mt", "tokio-mt/roost", &["roost"], cpu));
    summary_line(place, "server CPU per round trip (us)", line);
    let mut line = rr_line.values(
        &["roost", "roost-noarena", "roost-uring", "tokio-mt", "tokio-ct"],
        kernel,
        2,
    );
    line.push(rr_line.value("roost", client, 2).replace("roost", "client CPU (us)"));
    summary_line(place, "server kernel CPU per round trip (us)", line);
    let server_kernel = rr_line.get("roost", kernel).min(rr_line.get("tokio-mt", kernel));
    let client_us = rr_line.get("roost", client).min(rr_line.get("tokio-mt", client));
    if server_kernel.is_finite() && client_us.is_finite() {
        // Each round trip costs the client its CPU and the server at least
        // its kernel time (two socket calls on loopback, which every epoll
        // server pays alike).
        let best = placement.ceiling(client_us, server_kernel);
        let mut line = vec![format!("{best:.0} round trips/s")];
        if rr_line.has("tokio-mt") {
            line.push(format!("{:.2}x tokio-mt's median", best / rr_line.get("tokio-mt", tps)));
        }
        summary_line(place, "ceiling for a server with free user space", line);
    }
    let cross_line = Summary::new(&cross_results);
    let mut line = cross_line.values(&["roost", "roost-noarena", "roost-uring"], tps, 0);
    line.push(cross_line.ratio("roost", "roost vs noarena", &["roost-noarena"], tps));
    line.push(cross_line.ratio("roost-uring", "roost-uring vs roost", &["roost"], tps));
    summary_line(place, "cross-core 64 B x 64", line);
    let sharded_line = Summary::new(&sharded_results);
    let mut line = sharded_line.values(&["roost", "roost-noarena", "roost-uring", "tokio-mt"], tps, 0);
    line.push(sharded_line.ratio("roost", "roost vs tokio-mt", &["tokio-mt"], tps));
    line.push(sharded_line.ratio("roost-uring", "roost-uring vs tokio-mt", &["tokio-mt"], tps));
    summary_line(place, "sharded 64 B x 64", line);
    if !open_results.is_empty() {
        let open_line = Summary::new(&open_results);
        let p99 = (|r: &RunResult| r.latency_us(0.99)) as Stat;
        let mut line: Vec<String> = ["roost", "roost-noarena", "roost-uring", "tokio-mt", "tokio-ct"]
            .iter()
            .filter(|n| open_line.has(n))
            .map(|&n| format!("{n} {:.1}/{:.1} us", open_line.get(n, p99), open_line.get(n, cpu)))
            .collect();
        line.push(open_line.ratio("roost", "roost p99 vs tokio-mt", &["tokio-mt"], p99));
        line.push(open_line.ratio("roost-uring", "roost-uring p99 vs tokio-mt", &["tokio-mt"], p99));
        summary_line(
            place,
            &format!("open loop at {rate:.0}/s, p99 / server CPU per round trip"),
            line,
        );
    }
    println!();
    print_costs(&format!("{place}: rr 64 B x 64"), "round trip", &rr_results);
    if !open_results.is_empty() {
        print_costs(
            &format!("{place}: open loop 64 B x 64 at {rate:.0}/s"),
            "round trip",
            &open_results,
        );
    }
    print_costs(&format!("{place}: cross-core 64 B x 64"), "round trip", &cross_results);
    print_costs(&format!("{place}: sharded 64 B x 64"), "round trip", &sharded_results);
    println!();
    print_workers("roost", &rt);
    print_workers("roost-uring", &rt_uring);
    if let Some((a, b)) = &pairs {
        print_workers("roost-pair", a);
        print_workers("roost-uring-pair", b);
    }
    run_shared_too();
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
                "{name} {}: arena allocations {} | slot hits {} | slot parks {} | returns received {} | fallbacks {}{ring}",
                roost_benches::report::worker_line(w),
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
