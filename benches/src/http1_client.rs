//! A closed-loop HTTP/1.1 load client: one thread, many keep-alive
//! connections, on mio, with a hand-written response parser.
//!
//! Every connection writes one `GET` request, reads the whole response
//! (status line, headers up to the blank line, then `Content-Length` bytes of
//! body), records the latency and sends the next request on the same
//! connection. It checks only what it must to stay in step with the server:
//! a `200` status and the body's length. Nothing is allocated per request.
//!
//! It is as cheap as a client can be (one `write` and usually one `read` per
//! request, no task machinery), because it shares the machine's cores with
//! the servers it measures: each microsecond it spends is one the servers
//! cannot use. `ROOST_HTTP_CLIENT=hyper` runs the http bench with hyper's
//! own client ([`hyper_client`](crate::hyper_client)) instead, for
//! comparison.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::closed_loop::LoadClient;
use crate::rpc_client::RunResult;

/// Largest response head plus body the client accepts.
const RESPONSE_LIMIT: usize = 16 * 1024;

struct Conn {
    stream: TcpStream,
    /// Bytes of the current request already written.
    written: usize,
    /// Bytes of the current response read so far, in `buf[..filled]`.
    buf: Box<[u8]>,
    filled: usize,
    sent_at: Instant,
    /// A request of the current run is in flight on this connection.
    active: bool,
}

/// Keep-alive HTTP/1.1 connections to one server, reused across runs.
pub struct Http1Client {
    addr: SocketAddr,
    poll: Poll,
    events: Events,
    /// The connections an event reported ready (kept to reuse its memory).
    ready: Vec<usize>,
    conns: Vec<Conn>,
    request: Vec<u8>,
}

impl Http1Client {
    /// Opens `connections` connections to `addr` that will ask for `path`,
    /// and does one request on each (so that connection set-up is never
    /// inside a timed run).
    ///
    /// # Errors
    ///
    /// Connection errors, or a server that answers with something other than
    /// a `200` with a `Content-Length`.
    pub fn connect(addr: SocketAddr, connections: usize, path: &str) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(connections);
        for i in 0..connections {
            conns.push(Conn {
                stream: open(&poll, addr, i)?,
                written: 0,
                buf: vec![0; RESPONSE_LIMIT].into_boxed_slice(),
                filled: 0,
                sent_at: Instant::now(),
                active: false,
            });
        }
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
        let mut client = Self {
            addr,
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            conns,
            request,
        };
        client.run_requests(connections as u64)?;
        Ok(client)
    }

    /// Reopens the connections that the server closed while they were idle
    /// between runs (a server may bound keep-alive idle time, as roost's
    /// header read timeout does), so that no run starts on a dead one.
    fn reopen_closed(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        for i in 0..self.conns.len() {
            let closed = match self.conns[i].stream.read(&mut probe) {
                Ok(0) => true,
                Ok(_) => return Err(invalid("bytes from the server between runs")),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
                Err(e) => return Err(e),
            };
            if closed {
                self.poll.registry().deregister(&mut self.conns[i].stream)?;
                self.conns[i].stream = open(&self.poll, self.addr, i)?;
            }
        }
        Ok(())
    }

    /// Reads what connection `i` has; true once its whole response is in.
    fn read_response(&mut self, i: usize) -> io::Result<bool> {
        let conn = &mut self.conns[i];
        loop {
            if conn.filled == conn.buf.len() {
                return Err(invalid("response larger than the client's buffer"));
            }
            match conn.stream.read(&mut conn.buf[conn.filled..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed")),
                Ok(n) => {
                    conn.filled += n;
                    if let Some(total) = response_length(&conn.buf[..conn.filled])? {
                        if conn.filled > total {
                            return Err(invalid("bytes after the response"));
                        }
                        if conn.filled == total {
                            return Ok(true);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn start_request(&mut self, i: usize) -> io::Result<()> {
        let conn = &mut self.conns[i];
        conn.written = 0;
        conn.filled = 0;
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

impl LoadClient for Http1Client {
    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult> {
        self.reopen_closed()?;
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds");
        let cpu_before = crate::sys::cpu_time();
        let start = Instant::now();
        let deadline = duration.map(|d| start + d);
        let mut done = 0u64;
        let mut in_flight = 0usize;
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
                if !self.read_response(i)? {
                    continue;
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
            self.ready = ready;
        }
        Ok(RunResult::measured(cpu_before, done, finished_at - start, latency))
    }
}

/// A connection to `addr`, nodelay, registered as `Token(token)`.
fn open(poll: &Poll, addr: SocketAddr, token: usize) -> io::Result<TcpStream> {
    let std = std::net::TcpStream::connect(addr)?;
    std.set_nodelay(true)?;
    std.set_nonblocking(true)?;
    let mut stream = TcpStream::from_std(std);
    poll.registry()
        .register(&mut stream, Token(token), Interest::READABLE | Interest::WRITABLE)?;
    Ok(stream)
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The length of the response at the start of `bytes` (head and body), once
/// its head is complete; `None` while it is not.
///
/// # Errors
///
/// A status other than `200`, or a head without `Content-Length`.
///
/// # Examples
///
/// ```
/// use roost_benches::http1_client::response_length;
///
/// let response = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, world!";
/// assert_eq!(response_length(&response[..20]).unwrap(), None);
/// assert_eq!(response_length(response).unwrap(), Some(response.len()));
/// assert!(response_length(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_err());
/// ```
pub fn response_length(bytes: &[u8]) -> io::Result<Option<usize>> {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
        return Ok(None);
    };
    let head = &bytes[..head_end];
    if !head.starts_with(b"HTTP/1.1 200 ") {
        return Err(invalid("status is not HTTP/1.1 200"));
    }
    const NAME: &[u8] = b"content-length:";
    let body = head
        .split(|&b| b == b'\n')
        .find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME)).then(|| {
                std::str::from_utf8(&line[NAME.len()..])
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
        })
        .flatten()
        .ok_or_else(|| invalid("no Content-Length"))?;
    Ok(Some(head_end + body))
}
