//! A closed-loop RPC load client: one thread, many connections, on mio.
//!
//! Every connection sends one request frame (a 4-byte big-endian length,
//! then the payload: the framing of tokio-util's `LengthDelimitedCodec`),
//! waits for the whole response frame, records the round trip's latency and
//! sends the next. The same client drives every server of a benchmark run,
//! so the servers are compared under the same load.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

pub use crate::sys::CpuTime;

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

struct Conn {
    stream: TcpStream,
    /// Bytes of the current request already written.
    written: usize,
    /// Bytes of the current response already read.
    read: usize,
    sent_at: Instant,
    /// A request of the current run is in flight on this connection.
    active: bool,
}

/// A set of connections to one server, reused across runs.
pub struct RpcClient {
    poll: Poll,
    events: Events,
    /// The connections an event reported ready (kept to reuse its memory).
    ready: Vec<usize>,
    conns: Vec<Conn>,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl RpcClient {
    /// Opens `connections` connections to `addr` for requests of `payload`
    /// bytes, and does one round trip on each (so that connection set-up is
    /// never inside a timed run).
    ///
    /// # Errors
    ///
    /// Connection errors, or a server that answers with the wrong bytes.
    pub fn connect(addr: SocketAddr, connections: usize, payload: usize) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(connections);
        for i in 0..connections {
            let std = std::net::TcpStream::connect(addr)?;
            std.set_nodelay(true)?;
            std.set_nonblocking(true)?;
            let mut stream = TcpStream::from_std(std);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)?;
            conns.push(Conn {
                stream,
                written: 0,
                read: 0,
                sent_at: Instant::now(),
                active: false,
            });
        }
        let mut request = (payload as u32).to_be_bytes().to_vec();
        request.extend((0..payload).map(|i| i as u8));
        let mut client = Self {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            conns,
            response: vec![0; request.len()],
            request,
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
        self.run(Stop::After(duration))
    }

    /// Runs the closed loop until `count` round trips have completed.
    ///
    /// # Errors
    ///
    /// As [`run_for`](Self::run_for).
    pub fn run_round_trips(&mut self, count: u64) -> io::Result<RunResult> {
        self.run(Stop::Count(count))
    }

    fn run(&mut self, stop: Stop) -> io::Result<RunResult> {
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds");
        let cpu_before = crate::sys::cpu_time();
        let start = Instant::now();
        let deadline = match stop {
            Stop::After(d) => Some(start + d),
            Stop::Count(_) => None,
        };
        let target = match stop {
            Stop::Count(n) => n,
            Stop::After(_) => u64::MAX,
        };
        let mut done = 0u64;
        let mut in_flight = 0usize;
        // Start one request on every connection.
        for i in 0..self.conns.len() {
            if done + (in_flight as u64) < target {
                self.start_request(i)?;
                in_flight += 1;
            }
        }
        let mut finished_at = start;
        while in_flight > 0 {
            self.poll.poll(&mut self.events, Some(Duration::from_millis(100)))?;
            let stopping = deadline.is_some_and(|d| Instant::now() >= d);
            let mut ready = std::mem::take(&mut self.ready);
            ready.clear();
            ready.extend(self.events.iter().map(|e| e.token().0));
            for &i in &ready {
                if !self.conns[i].active {
                    continue;
                }
                if self.conns[i].written < self.request.len() {
                    self.continue_write(i)?;
                }
                while self.conns[i].read < self.response.len() {
                    let Conn { stream, read, .. } = &mut self.conns[i];
                    match stream.read(&mut self.response[*read..]) {
                        Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed")),
                        Ok(n) => *read += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if self.conns[i].read == self.response.len() {
                    if self.response != self.request {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "response differs from request",
                        ));
                    }
                    let now = Instant::now();
                    let _ = latency.record((now - self.conns[i].sent_at).as_nanos().max(1) as u64);
                    done += 1;
                    in_flight -= 1;
                    self.conns[i].active = false;
                    finished_at = now;
                    if !stopping && done + (in_flight as u64) < target {
                        self.start_request(i)?;
                        in_flight += 1;
                    }
                }
            }
            self.ready = ready;
        }
        Ok(RunResult::measured(cpu_before, done, finished_at - start, latency))
    }

    fn start_request(&mut self, i: usize) -> io::Result<()> {
        let conn = &mut self.conns[i];
        conn.written = 0;
        conn.read = 0;
        conn.sent_at = Instant::now();
        conn.active = true;
        self.continue_write(i)
    }

    fn continue_write(&mut self, i: usize) -> io::Result<()> {
        let Conn { stream, written, .. } = &mut self.conns[i];
        while *written < self.request.len() {
            match stream.write(&self.request[*written..]) {
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

enum Stop {
    After(Duration),
    Count(u64),
}
