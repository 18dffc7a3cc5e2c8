//! The soak: roost's echo, rpc and HTTP servers (the examples' own code) on
//! one runtime in this process, real loopback sockets, and std clients on
//! their own threads mixing verified traffic, resets, half closes, slow
//! readers, hostile input and descriptor exhaustion for a given time.
//!
//! It fails (exit status 1, one line per failure) unless, afterwards, every
//! client's bytes came back intact, no descriptor is left open beyond the
//! servers' own, and no arena of the server runtime has a block in use or
//! parked (after a bounded wait for the idle sweep and the return lists),
//! beyond the blocks its io_uring driver lends to the kernel's receive ring.
//!
//! ```sh
//! benches/soak --duration 60s          # or ROOST_SOAK_DURATION=60s
//! ROOST_DRIVER=uring benches/soak --duration 60s
//! benches/soak --help
//! ```

#[macro_use]
extern crate roost_runtime;

#[path = "../../../../examples/echo.rs"]
#[allow(dead_code)]
mod echo;
#[path = "../../../../examples/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../../../../examples/rpc.rs"]
#[allow(dead_code)]
mod rpc;

mod clients;
mod ctx;
mod http1;
mod rng;
mod sys;

use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use roost::net::{serve, ListenOptions};
use roost::runtime::{Handle, Runtime, RuntimeMetrics};
use roost_benches::settings::{core_count, localhost};

use crate::ctx::{Addrs, Counters, Ctx};
use crate::rng::Rng;

const USAGE: &str =
    "usage: soak [--duration D] [--clients N] [--workers N] [--seed S] [--emfile-every D] [--idle-release D]
  D: seconds, or a number with s, m or h (default duration 10m)
  environment: ROOST_SOAK_DURATION, ROOST_SOAK_CLIENTS, ROOST_SOAK_WORKERS, ROOST_SOAK_SEED";

/// How long the servers get, after the clients stop, to close their
/// sockets and bring every block home (on top of the idle release).
const SETTLE: Duration = Duration::from_secs(15);

struct Options {
    duration: Duration,
    clients: usize,
    workers: usize,
    seed: u64,
    emfile_every: Duration,
    idle_release: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => s.split_at(at),
        None => (s, "s"),
    };
    let value: f64 = digits.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("bad duration {s:?}"))
}

fn parse_count(s: &str, what: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("bad {what} {s:?} (a positive number)")),
    }
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("bad seed {s:?}"))
}

impl Options {
    fn parse() -> Result<Options, String> {
        let env = |k: &str| std::env::var(k).ok();
        let mut duration = env("ROOST_SOAK_DURATION").map(|s| parse_duration(&s)).transpose()?;
        let mut clients = env("ROOST_SOAK_CLIENTS")
            .map(|s| parse_count(&s, "client count"))
            .transpose()?;
        let mut workers = env("ROOST_SOAK_WORKERS")
            .map(|s| parse_count(&s, "worker count"))
            .transpose()?;
        let mut seed = env("ROOST_SOAK_SEED").map(|s| parse_seed(&s)).transpose()?;
        let mut emfile_every = None;
        let mut idle_release = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--duration" => duration = Some(parse_duration(&value(&arg)?)?),
                "--clients" => clients = Some(parse_count(&value(&arg)?, "client count")?),
                "--workers" => workers = Some(parse_count(&value(&arg)?, "worker count")?),
                "--seed" => seed = Some(parse_seed(&value(&arg)?)?),
                "--emfile-every" => emfile_every = Some(parse_duration(&value(&arg)?)?),
                "--idle-release" => idle_release = Some(parse_duration(&value(&arg)?)?),
                _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
            }
        }
        let duration = duration.unwrap_or(Duration::from_secs(600));
        let seed = seed.unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.as_nanos() as u64 ^ u64::from(std::process::id())
        });
        Ok(Options {
            duration,
            clients: clients.unwrap_or(6),
            workers: workers.unwrap_or_else(core_count),
            seed,
            // About six episodes a run, at least 5 s and at most a minute apart.
            emfile_every: emfile_every.unwrap_or((duration / 6).clamp(Duration::from_secs(5), Duration::from_secs(60))),
            idle_release: idle_release.unwrap_or(Duration::from_secs(2)),
        })
    }
}

/// Arena blocks in use (and parked), summed over the workers.
fn arena_blocks(metrics: &RuntimeMetrics) -> (u64, u64) {
    let arenas = metrics.workers.iter().filter_map(|w| w.arena.as_ref());
    arenas.fold((0, 0), |(used, parked), a| {
        (used + a.in_use_blocks, parked + a.parked_blocks)
    })
}

/// Waits up to `limit` for the process to have exactly `baseline`
/// descriptors open; the count found otherwise.
fn settle_descriptors(baseline: usize, limit: Duration) -> Result<usize, String> {
    let deadline = Instant::now() + limit;
    loop {
        let open = sys::open_descriptors().map_err(|e| format!("listing /proc/self/fd: {e}"))?;
        if open == baseline {
            return Ok(open);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{open} descriptors open {limit:?} after the clients closed theirs, {baseline} before they started (a leak): {}",
                sys::describe_descriptors()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// One descriptor-exhaustion episode: with the clients paused, the limit
/// is set just above what the servers hold and connections are opened
/// until `connect` fails with `EMFILE`; held a while, then the limit is
/// restored and every held connection, and fresh ones, must be served.
fn emfile_episode(ctx: &Ctx, baseline: usize, tag: u64) -> Result<(), String> {
    ctx.gate.pause(clients::HANG * 4)?;
    let result = exhaust_and_recover(ctx, baseline, tag);
    ctx.gate.resume();
    result
}

fn exhaust_and_recover(ctx: &Ctx, baseline: usize, tag: u64) -> Result<(), String> {
    settle_descriptors(baseline, SETTLE).map_err(|e| format!("mid-run: {e}"))?;
    let (soft, _) = sys::nofile_limit().map_err(|e| format!("getrlimit: {e}"))?;
    // An odd headroom: a held connection that a server accepted took two
    // descriptors (ours and its), so once ours fails with EMFILE at least
    // one held connection still waits in a backlog, unaccepted, and that
    // server's accept loop is meeting EMFILE.
    const HEADROOM: usize = 9;
    let limit = sys::limit_leaving(HEADROOM).map_err(|e| format!("listing /proc/self/fd: {e}"))?;
    sys::set_nofile_soft_limit(limit).map_err(|e| format!("setrlimit: {e}"))?;
    let mut held = Vec::new();
    let mut exhausted = Ok(());
    let target = clients::Server::ALL[(tag % 3) as usize];
    let addr = target.addr(ctx);
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => held.push(s),
            Err(e) if sys::is_emfile(&e) => break,
            Err(e) => {
                exhausted = Err(format!("connecting under a descriptor limit: {e}"));
                break;
            }
        }
        if held.len() > HEADROOM {
            exhausted = Err(format!(
                "{} connections under a limit of {HEADROOM} spare descriptors",
                held.len()
            ));
            break;
        }
    }
    // Stay exhausted a while: the accept loop backs off and tries again.
    let mut refusals = 1;
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(60));
        match TcpStream::connect(addr) {
            Err(e) if sys::is_emfile(&e) => refusals += 1,
            Ok(s) => held.push(s),
            Err(e) => exhausted = exhausted.and(Err(format!("connecting while exhausted: {e}"))),
        }
    }
    let restored = sys::set_nofile_soft_limit(soft).map_err(|e| format!("restoring the limit: {e}"));
    exhausted?;
    restored?;
    Counters::add(&ctx.counters.connections, held.len() as u64);
    // Service resumes: for the held connections (the last ones waited in
    // the backlog) and for new ones.
    for (i, stream) in held.iter().enumerate() {
        clients::exchange(stream, target, tag ^ i as u64).map_err(|e| {
            format!(
                "after descriptor exhaustion, held connection {i} of {}: {e}",
                held.len()
            )
        })?;
    }
    clients::probe(ctx, tag).map_err(|e| format!("after descriptor exhaustion: {e}"))?;
    let c = &ctx.counters;
    Counters::add(&c.emfile_episodes, 1);
    Counters::add(&c.emfile_refusals, refusals);
    Counters::add(&c.emfile_held, held.len() as u64);
    Ok(())
}

/// Samples the arenas until `done`, keeping the peak of blocks in use.
fn watch_arenas(handle: Handle, done: Arc<AtomicBool>, peak_used: Arc<AtomicU64>, peak_parked: Arc<AtomicU64>) {
    while !done.load(Relaxed) {
        let (used, parked) = arena_blocks(&handle.metrics());
        peak_used.fetch_max(used, Relaxed);
        peak_parked.fetch_max(parked, Relaxed);
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `limit` for every worker's arena to hold nothing: no block
/// in use, none parked, none on the return list. Blocks lent to the
/// kernel's receive ring (uring driver: `WorkerMetrics::ring_bytes`) are
/// the driver's own, kept for the next receives, not a buffer left behind.
fn settle_arenas(handle: &Handle, limit: Duration) -> Result<RuntimeMetrics, String> {
    let deadline = Instant::now() + limit;
    loop {
        let metrics = handle.metrics();
        let busy: Vec<String> = metrics
            .workers
            .iter()
            .filter_map(|w| {
                let a = w.arena.as_ref()?;
                let unbalanced = !a.is_balanced();
                (w.arena_bytes_held() > 0 || a.parked_blocks > 0 || a.return_list_blocks > 0 || unbalanced).then(|| {
                    format!(
                        "worker {}: {} blocks ({} bytes, {} of them lent to the receive ring) in use, {} parked, {} on the return list{}",
                        w.index,
                        a.in_use_blocks,
                        a.in_use_bytes,
                        w.ring_bytes,
                        a.parked_blocks,
                        a.return_list_blocks,
                        if unbalanced { ", counters unbalanced" } else { "" }
                    )
                })
            })
            .collect();
        if metrics.workers.iter().any(|w| w.arena.is_none()) {
            return Err("a worker has no arena to check".into());
        }
        if busy.is_empty() {
            return Ok(metrics);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "arenas still hold blocks {limit:?} after the clients stopped: {}",
                busy.join("; ")
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    match soak(&options) {
        Ok(()) => {
            println!("soak: ok");
            ExitCode::SUCCESS
        }
        Err(failures) => {
            for f in &failures {
                eprintln!("soak: FAILED: {f}");
            }
            eprintln!(
                "soak: FAILED ({} failures); rerun with --seed {:#x} (same options) to repeat the draws",
                failures.len(),
                options.seed
            );
            ExitCode::FAILURE
        }
    }
}

fn soak(options: &Options) -> Result<(), Vec<String>> {
    let one = |e: String| vec![e];
    let before_runtime = sys::open_descriptors().map_err(|e| one(format!("listing /proc/self/fd: {e}")))?;
    let rt = Runtime::builder()
        .worker_threads(options.workers)
        .build()
        .map_err(|e| one(format!("building the runtime: {e}")))?;
    let handle = rt.handle().clone();
    // `ROOST_DRIVER` picks the workers' driver; with `ROOST_REQUIRE_URING`
    // (as in CI) a fallback to epoll fails the soak rather than passing it
    // on the other driver.
    if std::env::var_os("ROOST_REQUIRE_URING").is_some()
        && handle
            .metrics()
            .workers
            .iter()
            .any(|w| w.driver != roost::runtime::Driver::Uring)
    {
        return Err(one(
            "ROOST_REQUIRE_URING is set but the workers run epoll (ROOST_DRIVER is not uring, or io_uring fell back)"
                .into(),
        ));
    }
    let idle_release = options.idle_release;
    for set in handle.on_each_worker(move || roost::net::idle::set_idle_release(idle_release)) {
        rt.block_on(set)
            .map_err(|e| one(format!("setting the idle release: {e}")))?;
    }
    let listen = || ListenOptions::new().backlog(1024);
    let echo_server = rt
        .block_on(serve(&handle, localhost(), listen(), echo::echo))
        .map_err(|e| one(format!("starting the echo server: {e}")))?;
    let rpc_server = rt
        .block_on(rpc::start(&handle, localhost(), listen()))
        .map_err(|e| one(format!("starting the rpc server: {e}")))?;
    let http_server = rt
        .block_on(
            roost::net::http::Server::builder()
                .listen_options(listen())
                .serve(&handle, localhost(), || http::Hello),
        )
        .map_err(|e| one(format!("starting the http server: {e}")))?;
    let addrs = Addrs {
        echo: echo_server.local_addr(),
        rpc: rpc_server.local_addr(),
        http: http_server.local_addr(),
    };
    let baseline = sys::open_descriptors().map_err(|e| one(format!("listing /proc/self/fd: {e}")))?;
    println!(
        "soak: {:?}, {} clients, {} workers, seed {:#x}; echo {}, rpc {}, http {}; {} descriptors open",
        options.duration, options.clients, options.workers, options.seed, addrs.echo, addrs.rpc, addrs.http, baseline
    );

    let ctx = Arc::new(Ctx::new(addrs, options.idle_release));
    let started = Instant::now();
    let watching = Arc::new(AtomicBool::new(false));
    let (peak_used, peak_parked) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let watcher = {
        let (handle, done, used, parked) = (handle.clone(), watching.clone(), peak_used.clone(), peak_parked.clone());
        thread::spawn(move || watch_arenas(handle, done, used, parked))
    };
    let mut seeds = Rng::new(options.seed);
    let clients: Vec<_> = (0..options.clients)
        .map(|i| {
            let (ctx, seed) = (ctx.clone(), seeds.next_u64());
            thread::Builder::new()
                .name(format!("soak-client-{i}"))
                .spawn(move || clients::run_client(&ctx, i, seed))
                .expect("spawning a client thread")
        })
        .collect();

    let mut next_episode = started + options.emfile_every;
    let mut next_report = started + Duration::from_secs(10);
    while !ctx.stopping() && started.elapsed() < options.duration {
        thread::sleep(Duration::from_millis(50));
        let now = Instant::now();
        if now >= next_episode && now + Duration::from_secs(2) < started + options.duration {
            if let Err(e) = emfile_episode(&ctx, baseline, seeds.next_u64()) {
                ctx.fail(format!("descriptor exhaustion episode: {e}"));
            }
            next_episode = Instant::now() + options.emfile_every;
        }
        if now >= next_report {
            let c = &ctx.counters;
            println!(
                "soak: {:>5.0}s: {} connections, {} echo + {} rpc + {} http requests",
                started.elapsed().as_secs_f64(),
                Counters::get(&c.connections),
                Counters::get(&c.echo_sessions),
                Counters::get(&c.rpc_requests),
                Counters::get(&c.http_requests)
            );
            next_report += Duration::from_secs(10);
        }
    }
    ctx.stop.store(true, Relaxed);
    for client in clients {
        if client.join().is_err() {
            ctx.fail("a client thread panicked".into());
        }
    }
    let ran = started.elapsed();

    // Every client socket is closed now: the servers must close theirs and
    // bring every block home.
    let after = settle_descriptors(baseline, SETTLE);
    let arenas = settle_arenas(&handle, SETTLE + options.idle_release * 2);
    watching.store(true, Relaxed);
    let _ = watcher.join();
    let metrics = handle.metrics();
    let (final_used, final_parked) = arena_blocks(&metrics);
    let open_connections = http_server.connections();

    let c = &ctx.counters;
    let g = Counters::get;
    println!("soak summary");
    println!(
        "  duration            {:.1} s (asked {:?})",
        ran.as_secs_f64(),
        options.duration
    );
    println!("  connections opened  {}", g(&c.connections));
    println!(
        "  echo                {:.1} MiB verified in {} sessions",
        mib(g(&c.echo_bytes)),
        g(&c.echo_sessions)
    );
    println!(
        "  rpc                 {:.1} MiB verified in {} requests",
        mib(g(&c.rpc_bytes)),
        g(&c.rpc_requests)
    );
    println!(
        "  http                {:.1} MiB of bodies verified in {} requests ({} pipelined)",
        mib(g(&c.http_bytes)),
        g(&c.http_requests),
        g(&c.http_pipelined)
    );
    println!("  resets              {}", g(&c.resets));
    println!("  half closes         {}", g(&c.half_closes));
    println!("  slow readers        {}", g(&c.slow_reads));
    println!(
        "  idle connections    {} (idle past the release, then used again)",
        g(&c.idles)
    );
    println!("  hostile inputs      {} (refused as they should be)", g(&c.hostile));
    println!(
        "  EMFILE episodes     {} ({} connects refused with EMFILE, {} held connections served after)",
        g(&c.emfile_episodes),
        g(&c.emfile_refusals),
        g(&c.emfile_held)
    );
    println!(
        "  arena blocks        peak {} in use, {} parked; final {} in use, {} parked, over {} workers",
        peak_used.load(Relaxed),
        peak_parked.load(Relaxed),
        final_used,
        final_parked,
        metrics.workers.len()
    );
    for w in &metrics.workers {
        if let Some(a) = &w.arena {
            println!(
                "    worker {} ({:?}): {} allocations, {} returns received, {} slot parks, high water {:.1} MiB, {} blocks in use ({:.2} MiB lent to the receive ring)",
                w.index,
                w.driver,
                a.allocations,
                a.returns_received,
                a.slot_parks,
                mib(a.in_use_high_water),
                a.in_use_blocks,
                mib(w.ring_bytes)
            );
        }
    }
    let after_text = match &after {
        Ok(n) => n.to_string(),
        Err(_) => sys::open_descriptors().map_or_else(|e| e.to_string(), |n| n.to_string()),
    };
    println!("  descriptors         {before_runtime} before the runtime, {baseline} with the servers up, {after_text} after the clients");

    let mut failures = ctx.failures();
    failures.extend(after.err());
    failures.extend(arenas.err());
    if open_connections != 0 {
        failures.push(format!("the http server still counts {open_connections} connections"));
    }
    let c = &ctx.counters;
    let verified = g(&c.echo_bytes) + g(&c.rpc_bytes) + g(&c.http_requests);
    if failures.is_empty() && verified == 0 {
        failures.push("no traffic was verified".into());
    }

    echo_server.stop();
    rpc_server.stop();
    let report = rt.block_on(http_server.shutdown(Duration::from_secs(5)));
    // Every server has ended: the runtime must drain by itself (each
    // idle sweeper ends at its next sweep, within half the idle release).
    let down = rt.shutdown_timeout(options.idle_release.max(Duration::from_secs(10)));
    println!(
        "  shutdown            {}, {} http connections forced, {} tasks cancelled, {} workers detached; {} descriptors after",
        if down.drained { "drained" } else { "NOT drained" },
        report.forced,
        down.cancelled_tasks,
        down.detached_workers,
        sys::open_descriptors().map_or_else(|e| e.to_string(), |n| n.to_string())
    );
    if !down.drained {
        failures.push(format!(
            "{} tasks were left behind on the runtime after every server had ended (cancelled at the shutdown deadline)",
            down.cancelled_tasks
        ));
    }
    if down.detached_workers > 0 {
        failures.push(format!(
            "{} workers did not exit at shutdown (a hang)",
            down.detached_workers
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_a_unit_or_seconds_and_refuse_the_rest() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }
}
