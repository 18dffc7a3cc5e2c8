//! HTTP benchmark: hyper 1.x on roost against hyper on tokio, closed-loop
//! `GET /` over loopback, one load client (in this process, on one thread)
//! shared by every server of the run.
//!
//! Servers, all with the same service (`GET /` → `200`, `Content-Type:
//! text/plain`, body `Hello, world!`) behind hyper-util's auto builder
//! (HTTP/1.1 with keep-alive, or prior-knowledge h2c, detected per
//! connection) with its default settings:
//!
//! - `roost`: `roost::net::http`, roost's per-core HTTP server, as users
//!   run it, with its defaults (a 30 s header read timeout on roost's
//!   timer wheel, 64 KiB header and 2 MiB body limits): every worker serves
//!   its own `SO_REUSEPORT` listener, hyper straight on roost's `TcpStream`
//!   (no `TokioIo`), `RoostExecutor` (HTTP/2 streams on the connection's
//!   worker);
//! - `roost-raw`: the same by hand, as the tokio servers are: hyper-util's
//!   auto builder with `RoostExecutor` and no timer, inside
//!   `roost::net::serve`'s per-connection handler (in the tables only);
//! - `tokio-mt`: tokio's multi-thread runtime, one accept loop spawning a
//!   task per connection, `TCP_NODELAY`, `TokioIo`, `TokioExecutor`: the
//!   competent tokio user's server;
//! - `tokio-ct`: one tokio current-thread runtime per core, each on its own
//!   thread (pinned as roost's workers are) with its own `SO_REUSEPORT`
//!   listener (socket2), otherwise as `tokio-mt`.
//!
//! Cases:
//!
//! - `http1 GET / x 64`: HTTP/1.1 keep-alive, 64 connections, one request
//!   in flight on each (client: [`roost_benches::http1_client`], a
//!   hand-written parser on mio, the cheapest client we could write);
//! - `h2 GET / x 16x10`: h2c, 16 connections with 10 concurrent streams
//!   each (client: [`roost_benches::h2_client`], the `h2` crate on a tokio
//!   current-thread runtime);
//! - `https1 GET / x 64`, `h2 tls GET / x 16x10`: the same two over TLS 1.3
//!   (ALPN `http/1.1` or `h2`; clients: hyper's HTTP/1.1 client, since the
//!   hand-written one speaks no TLS, and the h2 client, both over
//!   tokio-rustls);
//! - `https handshake + GET x 16`: a new TLS connection for every request
//!   (16 at once, `Connection: close`; [`roost_benches::handshake_client`]):
//!   the handshake rate, and what a handshake costs the server.
//!
//! The HTTPS cases run `roost` (the same server with `Builder::tls`) and
//! hyper + tokio-rustls on `tokio-mt` and `tokio-ct`, each accepting with a
//! 10 s handshake timeout as roost's server does; all three share one
//! server configuration (rustls with ring, a self-signed ECDSA P-256
//! certificate made per run: [`roost_benches::tls`]), with resumption off
//! on both sides (no session cache, no tickets), so every connection pays a
//! full handshake. `roost-raw` has no TLS and is left out of them.
//!
//! Each case runs criterion (time per request, all connections busy), then
//! interleaved runs of a fixed duration (each round runs every server once,
//! in a rotating order) whose medians make the tables and the summary lines:
//! requests/s, p50/p99/p99.9 latency, server CPU per request (the process's
//! CPU time minus the client thread's, so everything the servers and the
//! kernel charged to them spent), its user-space part (the only part a
//! runtime changes: the kernel's TCP work is the same for every server) and
//! the client's own CPU per request, with the ceiling that the cores, the
//! client and the kernel leave (requests/s if the server's user space cost
//! nothing, as rpc.rs computes it). "Best tokio" is the tokio server with
//! the higher median requests/s; the p99 ratio is roost's over that
//! server's (the line also gives it over the lower of the two tokio p99s).
//! The targets: roost at least 1.1x the best tokio on both
//! lines, with p99 no worse than 1.5x.
//!
//! The run measures two placements (`roost_benches::settings::Placement`):
//! first **isolated cores**, as deployed (the load client alone on the last
//! core, every server on the others, one worker or thread per server core;
//! tokio-ct's threads pinned where roost's workers are), then, in a second
//! process of the same binary, **shared cores** (client and servers on
//! every core). The load client costs about as much CPU per request as the
//! servers; on a small machine the medians move by several percent from run
//! to run (interleaving keeps the comparison fair, not the machine quiet).
//!
//! `cargo bench --bench http` is the full mode (2 s runs, 9 rounds);
//! `-- --quick` is the short one (0.4 s runs, 5 rounds; under a minute).
//!
//! Knobs (environment): `ROOST_BENCH_PLACEMENT=isolated|shared` (only that
//! placement), `ROOST_HTTP_WORKERS` (server workers or threads per runtime,
//! default one per server core), `ROOST_HTTP_PIN=0|1` (roost's workers, and
//! so tokio-ct's threads, unpinned or pinned instead of the runtime's
//! default), `ROOST_HTTP_SPIN=<us>` (roost's spin before park),
//! `ROOST_HTTP_TIMER=1` (`roost-raw` and the tokio servers get their
//! runtime's hyper timer too, so hyper arms its 30 s header read timeout
//! per request as `roost` does: `RoostTimer` and hyper-util's
//! `TokioTimer`), `ROOST_HTTP_ONLY=name,name` (only those
//! servers), `ROOST_HTTP_CASES=name,name` (only those cases, of `http1`,
//! `h2`, `https1`, `h2-tls`, `handshake`),
//! `ROOST_HTTP_CLIENT=hyper` (hyper's own client, on a tokio current-thread
//! runtime, drives the http1 case instead of the hand-written one: to see
//! what the cheaper client saves; it does not reopen connections that a
//! server closed while idle, so use it with `--quick`: `roost` closes
//! keep-alive connections idle for its 30 s header read timeout, which the
//! full mode's criterion phase exceeds).
//!
//! Each case ends with a line of counted costs per request for the server
//! threads only (`roost_benches::counters`: user instructions, user and
//! kernel cycles where the machine has a PMU, syscalls, global allocations,
//! context switches, CPU time): `roost` and `roost-raw` share the roost
//! runtime's workers.
//!
//! The hand-written HTTP/1.1 client reopens, before a run and outside its
//! timed window, every connection that a server closed while it was idle.

#[path = "common/side_by_side.rs"]
mod side_by_side;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use roost::net::hyper::{RoostExecutor, RoostTimer};
use roost::net::{serve, ListenOptions};
use roost::runtime::Runtime;
use roost_benches::closed_loop::LoadClient;
use roost_benches::counters::{register_current_thread, Counters};
use roost_benches::counting_alloc::CountingAlloc;
use roost_benches::h2_client::H2Client;
use roost_benches::handshake_client::HandshakeClient;
use roost_benches::http1_client::Http1Client;
use roost_benches::hyper_client::HyperHttp1Client;
use roost_benches::interleave::{interleaved, median_of, print_costs, summary_line, Runs, Stat, Summary};
use roost_benches::rpc_client::RunResult;
use roost_benches::settings::{localhost, run_shared_too, workers_from_env, Placement, Settings};
use roost_benches::tls::BenchTls;
use tokio_rustls::TlsAcceptor;

/// Counts the server threads' calls to the global allocator.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const H1_CONNECTIONS: usize = 64;
const H2_CONNECTIONS: usize = 16;
const H2_STREAMS: usize = 10;
const HANDSHAKES_IN_FLIGHT: usize = 16;
const BODY: &[u8] = b"Hello, world!";
/// The TLS servers' handshake timeout, roost's default.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The servers of the summary lines, in their order.
const SERVERS: [&str; 3] = ["roost", "tokio-mt", "tokio-ct"];

/// Every server, in the order of the tables.
const ALL_SERVERS: [&str; 4] = ["roost", "roost-raw", "tokio-mt", "tokio-ct"];

fn settings() -> Settings {
    Settings::from_args()
}

/// Server workers per runtime: `ROOST_HTTP_WORKERS`, or one per server core.
fn workers(placement: &Placement) -> usize {
    workers_from_env("ROOST_HTTP_WORKERS", placement)
}

fn env_is(name: &str, value: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == value)
}

/// The one service every server runs (roost's server hands it its own
/// size-limited body type, the others hyper's `Incoming`).
async fn hello<B>(_request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

/// Gives both protocols of `builder` the runtime's timer.
fn with_timer<E, T>(builder: &mut auto::Builder<E>, timer: T)
where
    T: hyper::rt::Timer + Clone + Send + Sync + 'static,
{
    builder.http1().timer(timer.clone());
    builder.http2().timer(timer);
}

/// roost's own HTTP server, with its defaults; HTTPS with `tls`.
fn start_roost(rt: &Runtime, tls: Option<&BenchTls>) -> io::Result<SocketAddr> {
    let mut builder = roost::net::http::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls(tls.server.clone());
    }
    let server =
        rt.block_on(builder.serve(rt.handle(), localhost(), || service_fn(hello::<roost::net::http::Body>)))?;
    let addr = server.local_addr();
    // The server runs until the process exits.
    std::mem::forget(server);
    Ok(addr)
}

/// hyper on roost by hand: every worker's own listener, hyper-util's auto
/// builder on roost's streams.
fn start_roost_raw(rt: &Runtime, timer: bool) -> io::Result<SocketAddr> {
    let server = rt.block_on(serve(
        rt.handle(),
        localhost(),
        ListenOptions::new(),
        move |stream| async move {
            let mut builder = auto::Builder::new(RoostExecutor);
            if timer {
                with_timer(&mut builder, RoostTimer);
            }
            let _ = builder.serve_connection(stream, service_fn(hello::<Incoming>)).await;
        },
    ))?;
    let addr = server.local_addr();
    // The server runs until the process exits.
    std::mem::forget(server);
    Ok(addr)
}

/// A connection on tokio, as hyper-util's examples serve it; over TLS
/// (tokio-rustls, with a handshake timeout) when given an acceptor.
async fn tokio_connection(stream: tokio::net::TcpStream, timer: bool, tls: Option<TlsAcceptor>) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if timer {
        with_timer(&mut builder, TokioTimer::new());
    }
    let service = service_fn(hello::<Incoming>);
    let _ = match tls {
        None => builder.serve_connection(TokioIo::new(stream), service).await,
        Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => builder.serve_connection(TokioIo::new(stream), service).await,
            _ => return,
        },
    };
}

fn start_tokio_mt(workers: usize, timer: bool, tls: Option<TlsAcceptor>) -> io::Result<SocketAddr> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(|| register_current_thread("tokio-mt"))
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(localhost()))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(tokio_connection(stream, timer, tls.clone()));
        }
    });
    std::mem::forget(rt);
    Ok(addr)
}

/// A `SO_REUSEPORT` listener on `addr`, as a tokio user makes one.
fn reuse_port_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// One tokio current-thread runtime per roost worker, thread `i` pinned
/// where roost's worker `i` is (`cores[i]`), or left to the scheduler.
fn start_tokio_ct_per_core(cores: &[Option<usize>], timer: bool, tls: Option<TlsAcceptor>) -> io::Result<SocketAddr> {
    let workers = cores.len();
    let first = reuse_port_listener(localhost())?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(reuse_port_listener(addr)?);
    }
    let allowed = roost_benches::cores::allowed().ok();
    for (i, listener) in listeners.into_iter().enumerate() {
        let core = cores[i].and_then(|c| allowed.and_then(|a| a.ids().iter().find(|id| id.index() == c).copied()));
        let tls = tls.clone();
        std::thread::Builder::new()
            .name(format!("tokio-ct-{i}"))
            .spawn(move || {
                register_current_thread("tokio-ct");
                if let Some(core) = core {
                    let _ = core.pin_current_thread();
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(tokio_connection(stream, timer, tls.clone()));
                    }
                });
            })?;
    }
    Ok(addr)
}

/// A load client of any of the cases.
type Client = Box<dyn LoadClient>;

type Subject = roost_benches::interleave::Subject<Client>;

/// One case: its summary label, the requests in flight, the clients.
struct Case {
    label: &'static str,
    in_flight: u64,
    subjects: Vec<Subject>,
}

/// The counter group of a server's threads.
fn group(server: &str) -> &'static str {
    match server {
        "roost" | "roost-raw" => "roost",
        "tokio-mt" => "tokio-mt",
        _ => "tokio-ct",
    }
}

fn main() {
    let settings = settings();
    let placement = Placement::from_env();
    let workers = workers(&placement);
    let timer = env_is("ROOST_HTTP_TIMER", "1");
    println!(
        "http benchmark, {}: GET / -> 200 \"Hello, world!\"; {workers} server workers per runtime{}{}",
        placement.describe(),
        if timer { ", hyper timers on" } else { "" },
        if settings.quick { " (quick)" } else { "" }
    );
    placement.confine_servers();
    let mut builder = Runtime::builder()
        .worker_threads(workers)
        .on_thread_start(|| register_current_thread("roost"));
    // Unset: the runtime's default (pinned where the cores are its own).
    if let Ok(pin) = std::env::var("ROOST_HTTP_PIN") {
        builder = builder.pin_workers(pin != "0");
    }
    if let Some(us) = std::env::var("ROOST_HTTP_SPIN").ok().and_then(|v| v.parse().ok()) {
        builder = builder.spin_before_park(Duration::from_micros(us));
    }
    let rt = builder.build().expect("roost runtime");
    let cores: Vec<_> = rt.handle().metrics().workers.iter().map(|w| w.core).collect();
    let addrs = [
        start_roost(&rt, None).expect("roost server"),
        start_roost_raw(&rt, timer).expect("roost-raw server"),
        start_tokio_mt(workers, timer, None).expect("tokio-mt server"),
        start_tokio_ct_per_core(&cores, timer, None).expect("tokio-ct servers"),
    ];
    // The HTTPS servers (no roost-raw), in the order of ALL_SERVERS.
    let tls = BenchTls::new();
    let acceptor = TlsAcceptor::from(tls.server.clone());
    let tls_addrs = [
        ("roost", start_roost(&rt, Some(&tls)).expect("roost https server")),
        (
            "tokio-mt",
            start_tokio_mt(workers, timer, Some(acceptor.clone())).expect("tokio-mt https server"),
        ),
        (
            "tokio-ct",
            start_tokio_ct_per_core(&cores, timer, Some(acceptor)).expect("tokio-ct https servers"),
        ),
    ];
    placement.place_client();
    let place = if placement.is_shared() {
        "shared cores"
    } else {
        "isolated cores"
    };

    let only: Option<Vec<String>> = std::env::var("ROOST_HTTP_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let keep = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
    let cases_wanted = std::env::var("ROOST_HTTP_CASES").ok();
    let want_case = |case: &str| cases_wanted.as_ref().is_none_or(|c| c.split(',').any(|n| n == case));

    // `ROOST_HTTP_CLIENT=hyper`: hyper's client drives the http1 case.
    let hyper_client = env_is("ROOST_HTTP_CLIENT", "hyper");
    // The servers kept, each with a client made by `client` and its
    // threads' counters.
    let subjects_of = |servers: &[(&'static str, SocketAddr)], client: &dyn Fn(SocketAddr) -> Client| -> Vec<Subject> {
        servers
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|&(name, addr)| Subject {
                name,
                client: client(addr),
                counters: Counters::wait_for_group(group(name), workers),
            })
            .collect()
    };
    let plain: Vec<_> = ALL_SERVERS.into_iter().zip(addrs).collect();
    let subjects = |client: &dyn Fn(SocketAddr) -> Client| subjects_of(&plain, client);
    let tls_subjects = |client: &dyn Fn(SocketAddr) -> Client| subjects_of(&tls_addrs, client);
    let mut cases = Vec::new();
    if want_case("http1") {
        cases.push(Case {
            label: "http1 GET / x 64",
            in_flight: H1_CONNECTIONS as u64,
            subjects: subjects(&|addr| {
                if hyper_client {
                    Box::new(HyperHttp1Client::connect(addr, H1_CONNECTIONS, "/").expect("http1 connect"))
                } else {
                    Box::new(Http1Client::connect(addr, H1_CONNECTIONS, "/").expect("http1 connect"))
                }
            }),
        });
    }
    if want_case("h2") {
        cases.push(Case {
            label: "h2 GET / x 16x10",
            in_flight: (H2_CONNECTIONS * H2_STREAMS) as u64,
            subjects: subjects(&|addr| {
                Box::new(H2Client::connect(addr, H2_CONNECTIONS, H2_STREAMS, "/").expect("h2 connect"))
            }),
        });
    }
    if want_case("https1") {
        let config = tls.client(roost_benches::tls::HTTP1);
        cases.push(Case {
            label: "https1 GET / x 64",
            in_flight: H1_CONNECTIONS as u64,
            subjects: tls_subjects(&|addr| {
                let client = HyperHttp1Client::connect_with(addr, H1_CONNECTIONS, "/", Some(config.clone()));
                Box::new(client.expect("https1 connect"))
            }),
        });
    }
    if want_case("h2-tls") {
        let config = tls.client(roost_benches::tls::H2);
        cases.push(Case {
            label: "h2 tls GET / x 16x10",
            in_flight: (H2_CONNECTIONS * H2_STREAMS) as u64,
            subjects: tls_subjects(&|addr| {
                let client = H2Client::connect_with(addr, H2_CONNECTIONS, H2_STREAMS, "/", Some(config.clone()));
                Box::new(client.expect("h2 tls connect"))
            }),
        });
    }
    if want_case("handshake") {
        let config = tls.client(roost_benches::tls::HTTP1);
        cases.push(Case {
            label: "https handshake + GET x 16",
            in_flight: HANDSHAKES_IN_FLIGHT as u64,
            subjects: tls_subjects(&|addr| {
                let client = HandshakeClient::connect(addr, HANDSHAKES_IN_FLIGHT, config.clone());
                Box::new(client.expect("handshake connect"))
            }),
        });
    }

    // Criterion: time per request (all connections busy), side by side;
    // the second (shared-cores) run of a default run leaves it out.
    side_by_side::criterion_cases(
        &settings,
        cases.iter_mut().map(|case| side_by_side::CriterionCase {
            label: case.label,
            in_flight: case.in_flight,
            subjects: &mut case.subjects,
        }),
        |client, n| client.run_requests(n).expect("run"),
    );

    // Interleaved runs: each round runs every server once, in turn, so that
    // drifts of the machine hit all of them alike. Medians make the summary.
    let results: Vec<_> = cases
        .iter_mut()
        .map(|case| {
            let runs = interleaved(&mut case.subjects, &settings, |c| c.run_for(settings.run));
            (case.label, runs)
        })
        .collect();
    println!();
    println!("{place}:");
    for (label, runs) in &results {
        print_table(label, runs);
    }
    println!();
    for (label, runs) in &results {
        print_summary(&format!("{place}: {label}"), runs, &placement);
    }
    println!();
    for (label, runs) in &results {
        print_costs(&format!("{place}: {label}"), "request", runs);
    }
    println!();
    for w in &rt.handle().metrics().workers {
        println!("roost {}", roost_benches::report::worker_line(w));
    }
    run_shared_too();
}

fn print_table(title: &str, results: &[Runs]) {
    println!(
        "{title}: medians of {} interleaved runs",
        results.first().map_or(0, |r| r.runs.len())
    );
    println!(
        "  {:<10} {:>12} {:>9} {:>9} {:>10} {:>17} {:>17} {:>17}",
        "server",
        "requests/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "server CPU us/req",
        "  of it kernel",
        "client CPU us/req"
    );
    let stats: [Stat; 7] = [
        RunResult::throughput,
        |r| r.latency_us(0.5),
        |r| r.latency_us(0.99),
        |r| r.latency_us(0.999),
        RunResult::server_cpu_us_per_round_trip,
        RunResult::server_kernel_us_per_round_trip,
        RunResult::client_cpu_us_per_round_trip,
    ];
    for Runs { name, .. } in results {
        let [rps, p50, p99, p999, cpu, kernel, client] = stats.map(|stat| median_of(results, name, stat));
        println!(
            "  {name:<10} {rps:>12.0} {p50:>9.1} {p99:>9.1} {p999:>10.1} {cpu:>17.2} {kernel:>17.2} {client:>17.2}"
        );
    }
}

fn print_summary(label: &str, results: &[Runs], placement: &Placement) {
    let sum = Summary::new(results);
    let rps = RunResult::throughput as Stat;
    // The best tokio server is the one with more requests/s (a server left
    // out loses).
    let tokio: Vec<&str> = ["tokio-mt", "tokio-ct"].into_iter().filter(|n| sum.has(n)).collect();
    let best = tokio
        .iter()
        .copied()
        .max_by(|a, b| sum.get(a, rps).total_cmp(&sum.get(b, rps)));
    let best_label = best.map(|b| format!("vs best tokio ({b})")).unwrap_or_default();
    let mut line = sum.values(&SERVERS, rps, 0);
    line.push(sum.ratio("roost", "vs best tokio", &tokio, rps));
    summary_line(label, "requests/s", line);
    let p99 = (|r: &RunResult| r.latency_us(0.99)) as Stat;
    let mut line = sum.values(&SERVERS, p99, 0);
    if let Some(best) = best {
        line.push(sum.ratio("roost", &best_label, &[best], p99));
    }
    summary_line(label, "p99 us", line);
    let cpu = RunResult::server_cpu_us_per_round_trip as Stat;
    let mut line = sum.values(&SERVERS, cpu, 2);
    line.push(
        sum.value("roost", RunResult::client_cpu_us_per_round_trip, 2)
            .replace("roost", "client CPU us/req"),
    );
    summary_line(label, "server CPU us/req", line);
    // What a runtime can change is the servers' user space; the kernel's
    // TCP work and the client's CPU are paid alike by every server.
    let user = (|r: &RunResult| r.server_cpu_us_per_round_trip() - r.server_kernel_us_per_round_trip()) as Stat;
    let mut line = sum.values(&SERVERS, user, 2);
    if let Some(best) = best {
        let client = sum.get(best, RunResult::client_cpu_us_per_round_trip);
        let kernel = sum.get(best, RunResult::server_kernel_us_per_round_trip);
        let ceiling = placement.ceiling(client, kernel);
        line.push(format!(
            "ceiling with free server user space: {ceiling:.0} requests/s = {:.2}x best tokio",
            ceiling / sum.get(best, rps)
        ));
    }
    summary_line(label, "server user-space CPU us/req", line);
}
