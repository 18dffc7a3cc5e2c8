//! gRPC benchmark: tonic services served by roost against tonic's own
//! server on tokio, closed-loop calls over loopback, one load client (in
//! this process, on one thread) shared by every server of the run.
//!
//! Servers, all with the same service: `grpc.examples.echo.Echo`
//! (roost-proto's generated `EchoServer`) over an `Echo` written here,
//! `UnaryEcho` answering its message, `ServerStreamingEcho` answering it
//! 10 times, the two client-streaming methods `UNIMPLEMENTED`; no
//! compression, no router (the generated server is the whole service on
//! every server):
//!
//! - `roost`: `roost::net::grpc::Server`, as users run it, with its
//!   defaults (4 MiB messages, 200 streams per connection): every worker
//!   serves its own `SO_REUSEPORT` listener and runs each call on the
//!   worker that accepted its connection;
//! - `roost-hand` (tables only): the same service assembled by hand on
//!   `roost::net::http` as before `roost::net::grpc` existed
//!   (`TowerToHyperService` over the generated server): no deadlines, no
//!   peer address, no message limit; the gap to `roost` is what those cost;
//! - `tokio-mt`: tonic's `transport::Server` (its defaults, `TCP_NODELAY`
//!   on its accepted connections) on tokio's multi-thread runtime with as
//!   many worker threads as roost has workers: the tonic user's server;
//! - `tokio-ct`: one tokio current-thread runtime per roost worker, each on
//!   its own thread (pinned as roost's workers are) with its own
//!   `SO_REUSEPORT` listener (socket2) and tonic's `transport::Server` on
//!   it, otherwise as `tokio-mt`.
//!
//! Cases (64 h2c connections with 4 calls in flight on each, closed loop):
//!
//! - `unary 64B x 64x4`: `UnaryEcho` of a 64-byte message;
//! - `server-stream 10 x 64x4`: `ServerStreamingEcho` of the same message,
//!   one call being the request, 10 response messages and the trailers.
//!
//! Client: [`roost_benches::grpc_client`], gRPC spoken by hand on the `h2`
//! crate (on a tokio current-thread runtime), the cheapest client we could
//! write: it checks every response message and the trailers'
//! `grpc-status: 0`, and a wrong answer fails the run. A call's latency
//! runs from its request to its trailers.
//!
//! Each case runs criterion (time per call, all streams busy), then
//! interleaved runs of a fixed duration (each round runs every server once,
//! in a rotating order) whose medians make the tables and the summary lines:
//! calls/s (and messages/s), p50/p99/p99.9 latency, server CPU per call
//! (the process's CPU time minus the client thread's, so everything the
//! servers and the kernel charged to them spent), its kernel part, the
//! client's own CPU per call, and the ceiling that the cores, the client
//! and the kernel leave (calls/s if the server's user space cost nothing).
//! "Best tokio" is the tokio server with the higher median calls/s.
//!
//! The targets, for the unary case on isolated cores: roost at
//! least 1.5x tokio-mt's calls/s and 1.2x tokio-ct's, server CPU per call
//! at most 0.65x tokio-mt's, and p99 no higher than the best tokio's. The
//! summary lines print those ratios beside their targets.
//!
//! The run measures two placements (`roost_benches::settings::Placement`):
//! first **isolated cores**, as deployed (the load client alone on the last
//! core, every server on the others, one worker or thread per server core;
//! tokio-ct's threads pinned where roost's workers are), then, in a second
//! process of the same binary, **shared cores** (client and servers on
//! every core).
//!
//! `cargo bench --bench grpc` is the full mode (2 s runs, 9 rounds);
//! `-- --quick` is the short one (0.4 s runs, 5 rounds; about a minute).
//!
//! Knobs (environment): `ROOST_BENCH_PLACEMENT=isolated|shared` (only that
//! placement), `ROOST_GRPC_WORKERS` (server workers or threads per runtime,
//! default one per server core), `ROOST_GRPC_PIN=0|1` (roost's workers,
//! and so tokio-ct's threads, unpinned or pinned instead of the runtime's
//! default), `ROOST_GRPC_ONLY=name,name` (only those servers: to profile
//! one), `ROOST_GRPC_CASES=unary|stream` (only that case).
//!
//! Each case ends with a line of counted costs per call for the server
//! threads only (`roost_benches::counters`: user instructions, user and
//! kernel cycles where the machine has a PMU, syscalls, global allocations,
//! context switches, CPU time).

#[path = "common/side_by_side.rs"]
mod side_by_side;

use std::io;
use std::iter::{Map, RepeatN};
use std::net::SocketAddr;

use roost::runtime::Runtime;
use roost_benches::closed_loop::LoadClient;
use roost_benches::counters::{register_current_thread, Counters};
use roost_benches::counting_alloc::CountingAlloc;
use roost_benches::grpc_client::{GrpcCall, GrpcClient};
use roost_benches::interleave::{interleaved, median_of, print_costs, summary_line, Runs, Stat, Summary};
use roost_benches::rpc_client::RunResult;
use roost_benches::settings::{localhost, run_shared_too, workers_from_env, Placement, Settings};
use roost_proto::echo_server::{Echo, EchoServer};
use roost_proto::{EchoRequest, EchoResponse};
use tonic::codegen::tokio_stream;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

/// Counts the server threads' calls to the global allocator.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CONNECTIONS: usize = 64;
const STREAMS: usize = 4;
/// The echoed message's length, in bytes.
const MESSAGE: usize = 64;
/// `ServerStreamingEcho`'s answers per call.
const STREAMED: usize = 10;

/// The servers of the summary lines.
const SERVERS: [&str; 3] = ["roost", "tokio-mt", "tokio-ct"];
/// Every server, in the order of the tables: `roost-hand` is in the tables
/// only.
const ALL_SERVERS: [&str; 4] = ["roost", "roost-hand", "tokio-mt", "tokio-ct"];

/// The counter group of a server's threads.
fn group(server: &str) -> &'static str {
    match server {
        "roost" | "roost-hand" => "roost",
        "tokio-mt" => "tokio-mt",
        _ => "tokio-ct",
    }
}
const TOKIO: [&str; 2] = ["tokio-mt", "tokio-ct"];

/// The echo service every server runs.
#[derive(Debug, Clone, Copy)]
struct Svc;

/// `ServerStreamingEcho`'s answer: the echo, [`STREAMED`] times.
type Echoes = tokio_stream::Iter<Map<RepeatN<EchoResponse>, fn(EchoResponse) -> Result<EchoResponse, Status>>>;

#[tonic::async_trait]
impl Echo for Svc {
    async fn unary_echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse {
            message: request.into_inner().message,
        }))
    }

    type ServerStreamingEchoStream = Echoes;

    async fn server_streaming_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::ServerStreamingEchoStream>, Status> {
        let echo = EchoResponse {
            message: request.into_inner().message,
        };
        let echoes = std::iter::repeat_n(echo, STREAMED).map(Ok as fn(EchoResponse) -> Result<EchoResponse, Status>);
        Ok(Response::new(tokio_stream::iter(echoes)))
    }

    async fn client_streaming_echo(
        &self,
        _request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }

    type BidirectionalStreamingEchoStream = Echoes;

    async fn bidirectional_streaming_echo(
        &self,
        _request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::BidirectionalStreamingEchoStream>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }
}

/// Server workers per runtime: `ROOST_GRPC_WORKERS`, or one per server core.
fn workers(placement: &Placement) -> usize {
    workers_from_env("ROOST_GRPC_WORKERS", placement)
}

/// roost's gRPC server, with its defaults.
fn start_roost(rt: &Runtime) -> io::Result<SocketAddr> {
    let server =
        rt.block_on(roost::net::grpc::Server::builder().serve(rt.handle(), localhost(), || EchoServer::new(Svc)))?;
    let addr = server.local_addr();
    // The server runs until the process exits.
    std::mem::forget(server);
    Ok(addr)
}

/// The same service assembled by hand as the README's axum recipe does,
/// before `roost::net::grpc` existed: hyper-util's tower adapter as the
/// per-worker service of `roost::net::http` (its body limit, no deadlines,
/// no peer address, no message limit of its own). What the gRPC server's
/// per-call work costs is the difference.
fn start_roost_hand(rt: &Runtime) -> io::Result<SocketAddr> {
    let make = || hyper_util::service::TowerToHyperService::new(EchoServer::new(Svc));
    let server = rt.block_on(roost::net::http::Server::builder().serve(rt.handle(), localhost(), make))?;
    let addr = server.local_addr();
    std::mem::forget(server);
    Ok(addr)
}

/// tonic's server on `listener`, `TCP_NODELAY` on every connection (what
/// `Server::serve` sets up; `serve_with_incoming` leaves it to the
/// incoming stream).
async fn serve_tonic(listener: tokio::net::TcpListener) {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let _ = tonic::transport::Server::builder()
        .serve_with_incoming(EchoServer::new(Svc), incoming)
        .await;
}

fn start_tokio_mt(workers: usize) -> io::Result<SocketAddr> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(|| register_current_thread("tokio-mt"))
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(localhost()))?;
    let addr = listener.local_addr()?;
    rt.spawn(serve_tonic(listener));
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
fn start_tokio_ct_per_core(cores: &[Option<usize>]) -> io::Result<SocketAddr> {
    let first = reuse_port_listener(localhost())?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..cores.len() {
        listeners.push(reuse_port_listener(addr)?);
    }
    let allowed = roost_benches::cores::allowed().ok();
    for (i, listener) in listeners.into_iter().enumerate() {
        let core = cores[i].and_then(|c| allowed.and_then(|a| a.ids().iter().find(|id| id.index() == c).copied()));
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
                    serve_tonic(tokio::net::TcpListener::from_std(listener).unwrap()).await;
                });
            })?;
    }
    Ok(addr)
}

type Subject = roost_benches::interleave::Subject<GrpcClient>;

/// One case: its summary label, the calls in flight, the messages each
/// call answers, whether the targets apply, the clients.
struct Case {
    label: &'static str,
    in_flight: u64,
    responses: usize,
    targets: bool,
    subjects: Vec<Subject>,
}

fn main() {
    let settings = Settings::from_args();
    let placement = Placement::from_env();
    let workers = workers(&placement);
    println!(
        "grpc benchmark, {}: grpc.examples.echo.Echo, {MESSAGE}-byte messages, no compression; \
         {workers} server workers per runtime{}",
        placement.describe(),
        if settings.quick { " (quick)" } else { "" }
    );
    placement.confine_servers();
    let mut builder = Runtime::builder()
        .worker_threads(workers)
        .on_thread_start(|| register_current_thread("roost"));
    // Unset: the runtime's default (pinned where the cores are its own).
    if let Ok(pin) = std::env::var("ROOST_GRPC_PIN") {
        builder = builder.pin_workers(pin != "0");
    }
    let rt = builder.build().expect("roost runtime");
    let addrs = [
        start_roost(&rt).expect("roost server"),
        start_roost_hand(&rt).expect("roost-hand server"),
        start_tokio_mt(workers).expect("tokio-mt server"),
        start_tokio_ct_per_core(&rt.handle().metrics().workers.iter().map(|w| w.core).collect::<Vec<_>>())
            .expect("tokio-ct servers"),
    ];
    placement.place_client();
    let place = if placement.is_shared() {
        "shared cores"
    } else {
        "isolated cores"
    };

    let only: Option<Vec<String>> = std::env::var("ROOST_GRPC_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let keep = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
    let cases_wanted = std::env::var("ROOST_GRPC_CASES").ok();
    let want_case = |case: &str| cases_wanted.as_ref().is_none_or(|c| c.split(',').any(|n| n == case));

    let message = "m".repeat(MESSAGE);
    // The servers kept, each with a client making `call` and its threads'
    // counters.
    let subjects = |call: &GrpcCall| -> Vec<Subject> {
        ALL_SERVERS
            .iter()
            .zip(addrs)
            .filter(|(name, _)| keep(name))
            .map(|(&name, addr)| Subject {
                name,
                client: GrpcClient::connect(addr, CONNECTIONS, STREAMS, call.clone())
                    .unwrap_or_else(|e| panic!("{name}: first calls: {e}")),
                counters: Counters::wait_for_group(group(name), workers),
            })
            .collect()
    };
    let mut cases = Vec::new();
    if want_case("unary") {
        cases.push(Case {
            label: "unary 64B x 64x4",
            in_flight: (CONNECTIONS * STREAMS) as u64,
            responses: 1,
            targets: !placement.is_shared(),
            subjects: subjects(&GrpcCall::echo("UnaryEcho", &message, 1)),
        });
    }
    if want_case("stream") {
        cases.push(Case {
            label: "server-stream 10 x 64x4",
            in_flight: (CONNECTIONS * STREAMS) as u64,
            responses: STREAMED,
            targets: false,
            subjects: subjects(&GrpcCall::echo("ServerStreamingEcho", &message, STREAMED)),
        });
    }

    // Criterion: time per call (all streams busy), side by side; the
    // second (shared-cores) run of a default run leaves it out.
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
            let case: &Case = case;
            (case, runs)
        })
        .collect();
    println!();
    println!("{place}:");
    for (case, runs) in &results {
        print_table(case, runs);
    }
    println!();
    for (case, runs) in &results {
        print_summary(&format!("{place}: {}", case.label), case, runs, &placement);
    }
    println!();
    for (case, runs) in &results {
        print_costs(&format!("{place}: {}", case.label), "call", runs);
    }
    println!();
    for w in &rt.handle().metrics().workers {
        println!("roost {}", roost_benches::report::worker_line(w));
    }
    run_shared_too();
}

fn print_table(case: &Case, results: &[Runs]) {
    println!(
        "{}: medians of {} interleaved runs",
        case.label,
        results.first().map_or(0, |r| r.runs.len())
    );
    println!(
        "  {:<10} {:>10} {:>12} {:>9} {:>9} {:>10} {:>18} {:>14} {:>18}",
        "server",
        "calls/s",
        "messages/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "server CPU us/call",
        "  of it kernel",
        "client CPU us/call"
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
        let [calls, p50, p99, p999, cpu, kernel, client] = stats.map(|stat| median_of(results, name, stat));
        let messages = calls * case.responses as f64;
        println!(
            "  {name:<10} {calls:>10.0} {messages:>12.0} {p50:>9.1} {p99:>9.1} {p999:>10.1} {cpu:>18.2} {kernel:>14.2} {client:>18.2}"
        );
    }
}

/// `ratio (target <text>)` where the case has the targets and the
/// ratio has its baseline (a server left out has neither).
fn target(ratio: String, case: &Case, text: &str) -> String {
    if case.targets && !ratio.is_empty() {
        format!("{ratio} (target {text})")
    } else {
        ratio
    }
}

fn print_summary(label: &str, case: &Case, results: &[Runs], placement: &Placement) {
    let sum = Summary::new(results);
    let calls = RunResult::throughput as Stat;
    // The best tokio server is the one with more calls/s (a server left out
    // loses).
    let tokio: Vec<&str> = TOKIO.into_iter().filter(|n| sum.has(n)).collect();
    let best = tokio
        .iter()
        .copied()
        .max_by(|a, b| sum.get(a, calls).total_cmp(&sum.get(b, calls)));

    let mut line = sum.values(&SERVERS, calls, 0);
    line.push(target(
        sum.ratio("roost", "vs tokio-mt", &["tokio-mt"], calls),
        case,
        ">= 1.5x",
    ));
    line.push(target(
        sum.ratio("roost", "vs tokio-ct", &["tokio-ct"], calls),
        case,
        ">= 1.2x",
    ));
    summary_line(label, "calls/s", line);
    if case.responses > 1 {
        let messages = SERVERS
            .iter()
            .filter(|n| sum.has(n))
            .map(|n| format!("{n} {:.0}", sum.get(n, calls) * case.responses as f64))
            .collect();
        summary_line(label, "messages/s", messages);
    }

    let p99 = (|r: &RunResult| r.latency_us(0.99)) as Stat;
    let mut line = sum.values(&SERVERS, p99, 0);
    if let Some(best) = best {
        line.push(target(
            sum.ratio("roost", &format!("vs best tokio ({best})"), &[best], p99),
            case,
            "<= 1x",
        ));
    }
    // Against the lower of the tokio p99s too.
    let lowest = tokio
        .iter()
        .copied()
        .min_by(|a, b| sum.get(a, p99).total_cmp(&sum.get(b, p99)));
    if let Some(lowest) = lowest.filter(|&l| Some(l) != best) {
        line.push(sum.ratio("roost", &format!("vs lowest tokio p99 ({lowest})"), &[lowest], p99));
    }
    summary_line(label, "p99 us", line);

    let cpu = RunResult::server_cpu_us_per_round_trip as Stat;
    let mut line = sum.values(&SERVERS, cpu, 2);
    line.push(target(
        sum.ratio("roost", "vs tokio-mt", &["tokio-mt"], cpu),
        case,
        "<= 0.65x",
    ));
    line.push(sum.ratio("roost", "vs tokio-ct", &["tokio-ct"], cpu));
    line.push(
        sum.value("roost", RunResult::client_cpu_us_per_round_trip, 2)
            .replace("roost", "client CPU us/call"),
    );
    summary_line(label, "server CPU us/call", line);

    // What a runtime can change is the servers' user space; the kernel's
    // TCP work and the client's CPU are paid alike by every server.
    let user = (|r: &RunResult| r.server_cpu_us_per_round_trip() - r.server_kernel_us_per_round_trip()) as Stat;
    let mut line = sum.values(&SERVERS, user, 2);
    if let Some(best) = best {
        let client = sum.get(best, RunResult::client_cpu_us_per_round_trip);
        let kernel = sum.get(best, RunResult::server_kernel_us_per_round_trip);
        let ceiling = placement.ceiling(client, kernel);
        line.push(format!(
            "ceiling with free server user space: {ceiling:.0} calls/s = {:.2}x best tokio",
            ceiling / sum.get(best, calls)
        ));
    }
    summary_line(label, "server user-space CPU us/call", line);
}
