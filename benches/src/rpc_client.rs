//! An RPC load client: one thread, many connections, on mio; closed loop or
//! open loop.
//!
//! Every request is one frame (a 4-byte big-endian length, then the
//! payload: the framing of tokio-util's `LengthDelimitedCodec`); a
//! [`Workload`] makes each request and checks each response frame (the
//! default, [`Echo`], sends the same payload every time and wants it back).
//!
//! - **Closed loop** ([`run_for`](RpcClient::run_for),
//!   [`run_round_trips`](RpcClient::run_round_trips)): every connection
//!   sends one request, waits for its response, records the round trip's
//!   latency and sends the next.
//! - **Open loop** ([`run_open_loop`](RpcClient::run_open_loop)): requests
//!   leave on a fixed schedule, spread over the connections in turn,
//!   whether or not earlier ones were answered (a connection may then have
//!   several in flight, answered in order), and each latency is measured
//!   from the request's *planned* send time, so that a server that falls
//!   behind is charged for the queue it causes (no coordinated omission).
//!   The schedule runs on a `timerfd` with nanosecond expiry on Linux, and
//!   the client thread's timer slack is set to 1 ns, so a send leaves
//!   within a few microseconds of its plan.
//!
//! The same client drives every server of a benchmark run, so the servers
//! are compared under the same load.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::sys::ticker::Ticker;
pub use crate::sys::CpuTime;

/// The frame header: the payload's length, big-endian.
const PREFIX: usize = 4;

/// Token of the open loop's timer.
const TICKER: Token = Token(usize::MAX);

/// What one timed run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Round trips completed inside the timed window.
    pub round_trips: u64,
    /// Length of the timed window.
    pub elapsed: Duration,
    /// Latency of each round trip, in nanoseconds.
    pub latency: Histogram<u64>,
    /// CPU time the rest of the process (the servers) spent in the window:
    /// the process's CPU time minus this client thread's.
    pub server_cpu: CpuTime,
    /// CPU time of this client thread in the window.
    pub client_cpu: CpuTime,
}

impl RunResult {
    /// What a client thread measured since `cpu_before` (taken with
    /// `crate::sys::cpu_time()` when its run started): the servers' CPU is
    /// the process's minus this thread's.
    pub(crate) fn measured(
        cpu_before: (CpuTime, CpuTime),
        round_trips: u64,
        elapsed: Duration,
        latency: Histogram<u64>,
    ) -> Self {
        let (process, thread) = crate::sys::cpu_time();
        let client_cpu = thread.minus(&cpu_before.1);
        let server_cpu = process.minus(&cpu_before.0).minus(&client_cpu);
        Self {
            round_trips,
            elapsed,
            latency,
            server_cpu,
            client_cpu,
        }
    }

    /// Round trips per second.
    pub fn throughput(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64()
    }

    /// Server CPU time per round trip, in microseconds.
    pub fn server_cpu_us_per_round_trip(&self) -> f64 {
        self.per_round_trip_us(self.server_cpu.total())
    }

    /// The servers' kernel CPU time per round trip, in microseconds.
    pub fn server_kernel_us_per_round_trip(&self) -> f64 {
        self.per_round_trip_us(self.server_cpu.system)
    }

    /// The client's CPU time per round trip, in microseconds.
    pub fn client_cpu_us_per_round_trip(&self) -> f64 {
        self.per_round_trip_us(self.client_cpu.total())
    }

    fn per_round_trip_us(&self, t: Duration) -> f64 {
        t.as_secs_f64() * 1e6 / self.round_trips.max(1) as f64
    }

    /// A latency quantile (0.5 = median, 0.99 = p99), in microseconds.
    pub fn latency_us(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1_000.0
    }
}

/// What the client sends and what it accepts back.
pub trait Workload: Send {
    /// Appends connection `conn`'s next request payload (without the frame
    /// header) to `out`.
    fn request(&mut self, conn: usize, out: &mut Vec<u8>);

    /// Checks the response payload to connection `conn`'s oldest
    /// outstanding request, whose payload was `request`.
    ///
    /// # Errors
    ///
    /// `InvalidData` for a wrong response.
    fn check(&mut self, conn: usize, request: &[u8], response: &[u8]) -> io::Result<()>;
}

/// The same `payload`-byte request every time, echoed back.
#[derive(Debug, Clone)]
pub struct Echo {
    payload: Vec<u8>,
}

impl Echo {
    /// Requests of `size` bytes (0, 1, 2, ...).
    pub fn new(size: usize) -> Self {
        Self {
            payload: (0..size).map(|i| i as u8).collect(),
        }
    }
}

impl Workload for Echo {
    fn request(&mut self, _conn: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.payload);
    }

    fn check(&mut self, _conn: usize, request: &[u8], response: &[u8]) -> io::Result<()> {
        if request == response {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response differs from request",
            ))
        }
    }
}

struct Conn {
    stream: TcpStream,
    /// Framed requests not yet written, from `written` on.
    out: Vec<u8>,
    written: usize,
    /// Bytes received and not yet parsed into frames.
    input: Vec<u8>,
    /// The outstanding requests, oldest first: (payload, time the latency
    /// counts from).
    pending: VecDeque<(Vec<u8>, Instant)>,
    /// Payload buffers of answered requests, to reuse.
    spare: Vec<Vec<u8>>,
}

/// A set of connections to one server, reused across runs.
pub struct RpcClient {
    poll: Poll,
    events: Events,
    /// The connections an event reported ready (kept to reuse its memory).
    ready: Vec<usize>,
    conns: Vec<Conn>,
    workload: Box<dyn Workload>,
    ticker: Option<Ticker>,
}

/// How a run sends its requests and when it ends.
#[derive(Clone, Copy)]
enum Mode {
    /// One request in flight per connection, until this many round trips.
    Count(u64),
    /// One request in flight per connection, for this long.
    For(Duration),
    /// `rate` requests per second on a schedule, for this long.
    Open { rate: f64, duration: Duration },
}

impl RpcClient {
    /// Opens `connections` connections to `addr` for echoed requests of
    /// `payload` bytes, and does one round trip on each (so that connection
    /// set-up is never inside a timed run).
    ///
    /// # Errors
    ///
    /// Connection errors, or a server that answers with the wrong bytes.
    pub fn connect(addr: SocketAddr, connections: usize, payload: usize) -> io::Result<Self> {
        Self::connect_with(addr, connections, Box::new(Echo::new(payload)))
    }

    /// As [`connect`](Self::connect), with requests and checks from
    /// `workload`.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub fn connect_with(addr: SocketAddr, connections: usize, workload: Box<dyn Workload>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(connections);
        for i in 0..connections {
            let std = connect_retrying(addr)?;
            std.set_nodelay(true)?;
            std.set_nonblocking(true)?;
            let mut stream = TcpStream::from_std(std);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)?;
            conns.push(Conn {
                stream,
                out: Vec::new(),
                written: 0,
                input: Vec::new(),
                pending: VecDeque::new(),
                spare: Vec::new(),
            });
        }
        let mut client = Self {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            conns,
            workload,
            ticker: None,
        };
        client.run_round_trips(connections as u64)?;
        Ok(client)
    }

    /// Runs the closed loop for `duration` and reports what it measured.
    ///
    /// # Errors
    ///
    /// Socket errors, or a server that answers with the wrong bytes.
    pub fn run_for(&mut self, duration: Duration) -> io::Result<RunResult> {
        self.run(Mode::For(duration))
    }

    /// Runs the closed loop until `count` round trips have completed.
    ///
    /// # Errors
    ///
    /// As [`run_for`](Self::run_for).
    pub fn run_round_trips(&mut self, count: u64) -> io::Result<RunResult> {
        self.run(Mode::Count(count))
    }

    /// Sends `rate` requests per second for `duration` on a fixed schedule
    /// (see the module documentation), then waits for the last answers.
    /// The result's throughput is the answered requests over the time from
    /// the first planned send to the last answer.
    ///
    /// # Errors
    ///
    /// As [`run_for`](Self::run_for), and `InvalidInput` for a rate that is
    /// not positive.
    pub fn run_open_loop(&mut self, rate: f64, duration: Duration) -> io::Result<RunResult> {
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the rate must be positive"));
        }
        self.run(Mode::Open { rate, duration })
    }

    fn run(&mut self, mode: Mode) -> io::Result<RunResult> {
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds");
        let cpu_before = crate::sys::cpu_time();
        let start = Instant::now();
        let (deadline, target) = match mode {
            Mode::Count(n) => (None, n),
            Mode::For(d) | Mode::Open { duration: d, .. } => (Some(start + d), u64::MAX),
        };
        let closed = !matches!(mode, Mode::Open { .. });
        let mut done = 0u64;
        let mut in_flight = 0u64;
        if closed {
            for i in 0..self.conns.len() {
                if done + in_flight < target {
                    self.send(i, Instant::now())?;
                    in_flight += 1;
                }
            }
        }
        // Open loop: request `sent` is planned for `start + sent / rate`.
        let mut schedule = match mode {
            Mode::Open { rate, duration } => {
                let ticker = match self.ticker.take() {
                    Some(t) => t,
                    None => Ticker::new(self.poll.registry(), TICKER)?,
                };
                self.ticker = Some(ticker);
                Some(Schedule {
                    start,
                    rate,
                    total: (rate * duration.as_secs_f64()).round() as u64,
                    sent: 0,
                })
            }
            _ => None,
        };
        let mut finished_at = start;
        loop {
            if let Some(s) = schedule.as_mut() {
                let now = Instant::now();
                while s.sent < s.total && s.planned(s.sent) <= now {
                    let planned = s.planned(s.sent);
                    let conn = (s.sent % self.conns.len() as u64) as usize;
                    self.send(conn, planned)?;
                    s.sent += 1;
                    in_flight += 1;
                }
                if s.sent < s.total {
                    let ticker = self.ticker.as_mut().expect("the open loop's ticker");
                    ticker.fire_at(s.planned(s.sent))?;
                }
            }
            let sending = schedule.as_ref().is_some_and(|s| s.sent < s.total);
            if in_flight == 0 && !sending {
                break;
            }
            // Without a ticker (not Linux) the poll's timeout is the timer.
            let timeout = match (&schedule, &self.ticker) {
                (Some(s), Some(t)) if sending && !t.precise() => {
                    Some(s.planned(s.sent).saturating_duration_since(Instant::now()))
                }
                _ => Some(Duration::from_millis(100)),
            };
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                // See `connect_retrying`: look again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let stopping = deadline.is_some_and(|d| Instant::now() >= d);
            let mut ready = std::mem::take(&mut self.ready);
            ready.clear();
            ready.extend(
                self.events
                    .iter()
                    .map(|e| e.token())
                    .filter(|&t| t != TICKER)
                    .map(|t| t.0),
            );
            if let Some(t) = self.ticker.as_mut() {
                t.clear()?;
            }
            for &i in &ready {
                self.flush(i)?;
                let answered = self.receive(i, &mut latency)?;
                if answered == 0 {
                    continue;
                }
                done += answered;
                in_flight -= answered;
                finished_at = Instant::now();
                if closed && !stopping && done + in_flight < target {
                    self.send(i, Instant::now())?;
                    in_flight += 1;
                }
            }
            self.ready = ready;
        }
        Ok(RunResult::measured(cpu_before, done, finished_at - start, latency))
    }

    /// Queues connection `i`'s next request (its latency counted from
    /// `since`) and writes what the socket takes.
    fn send(&mut self, i: usize, since: Instant) -> io::Result<()> {
        let conn = &mut self.conns[i];
        let mut payload = conn.spare.pop().unwrap_or_default();
        payload.clear();
        self.workload.request(i, &mut payload);
        let len = u32::try_from(payload.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        conn.out.extend_from_slice(&len.to_be_bytes());
        conn.out.extend_from_slice(&payload);
        conn.pending.push_back((payload, since));
        self.flush(i)
    }

    fn flush(&mut self, i: usize) -> io::Result<()> {
        let Conn {
            stream, out, written, ..
        } = &mut self.conns[i];
        while *written < out.len() {
            match stream.write(&out[*written..]) {
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        out.clear();
        *written = 0;
        Ok(())
    }

    /// Reads what connection `i` has and checks each complete response;
    /// returns how many were answered.
    fn receive(&mut self, i: usize, latency: &mut Histogram<u64>) -> io::Result<u64> {
        let conn = &mut self.conns[i];
        if conn.pending.is_empty() {
            return Ok(0);
        }
        let mut chunk = [0u8; 4096];
        loop {
            match conn.stream.read(&mut chunk) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed")),
                Ok(n) => conn.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut at = 0;
        let mut answered = 0;
        while conn.input.len() - at >= PREFIX {
            let header: [u8; PREFIX] = conn.input[at..at + PREFIX].try_into().expect("four bytes");
            let end = at + PREFIX + u32::from_be_bytes(header) as usize;
            if end > conn.input.len() {
                break;
            }
            let (request, since) = conn
                .pending
                .pop_front()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a response nobody asked for"))?;
            self.workload.check(i, &request, &conn.input[at + PREFIX..end])?;
            let _ = latency.record(since.elapsed().as_nanos().max(1) as u64);
            conn.spare.push(request);
            answered += 1;
            at = end;
        }
        conn.input.drain(..at);
        Ok(answered)
    }
}

/// `connect`, again when a signal interrupts it (EINTR). roost's rings no
/// longer interrupt the threads that used them (`net_uring` tests that),
/// but a blocking client should not fail on a signal either.
fn connect_retrying(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    loop {
        match std::net::TcpStream::connect(addr) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// The open loop's plan.
struct Schedule {
    start: Instant,
    rate: f64,
    total: u64,
    sent: u64,
}

impl Schedule {
    fn planned(&self, k: u64) -> Instant {
        self.start + Duration::from_secs_f64(k as f64 / self.rate)
    }
}
