//! The soak's clients: plain std sockets on their own threads, each running
//! seeded sessions one after another (one or two connections each):
//!
//! - `Echo`, `Rpc`, `Http`: every byte sent comes back and is checked
//!   against the seed's stream; a writer thread feeds the socket while the
//!   session's thread reads, so that large transfers cannot deadlock;
//!   some sessions end with a half close (shutdown of the write side, then
//!   the rest is read to the end), HTTP ones use keep-alive and pipelining;
//! - `Slow*`: the same, read a few bytes at a time with pauses while the
//!   server has a megabyte or more to send;
//! - `Reset`: a transfer cut by `SO_LINGER` 0 and close (an RST) midway;
//! - `Idle`: a connection left idle past the idle release (its parked
//!   buffers are swept while it lives), then used again;
//! - `Oversized`, `BadHttp`: hostile input that the servers must refuse by
//!   closing (rpc) or with a 4xx (http), without a hang.
//!
//! A session fails on any error, short read, wrong byte or hang (30 s
//! without progress); the failure names the session's seed.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crate::ctx::{Counters, Ctx};
use crate::http1::{self, Request};
use crate::rng::{Pattern, Rng};

/// A socket that makes no progress for this long is a hang.
pub const HANG: Duration = Duration::from_secs(30);

/// The rpc example's frame limit (a frame above it closes the connection).
const MAX_FRAME: usize = 8 * 1024 * 1024;

type Outcome = Result<(), String>;

trait Context<T> {
    fn context(self, what: &str) -> Result<T, String>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: &str) -> Result<T, String> {
        self.map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => " (no progress: a hang)",
                _ => "",
            };
            format!("{what}: {e}{hint}")
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Echo,
    Rpc,
    Http,
    SlowEcho,
    SlowRpc,
    SlowHttp,
    Reset,
    Oversized,
    BadHttp,
    Idle,
}

impl Kind {
    fn pick(rng: &mut Rng) -> Kind {
        const WEIGHTED: [(Kind, u64); 10] = [
            (Kind::Echo, 5),
            (Kind::Rpc, 5),
            (Kind::Http, 5),
            (Kind::SlowEcho, 1),
            (Kind::SlowRpc, 1),
            (Kind::SlowHttp, 1),
            (Kind::Reset, 4),
            (Kind::Oversized, 1),
            (Kind::BadHttp, 1),
            (Kind::Idle, 1),
        ];
        let total: u64 = WEIGHTED.iter().map(|(_, w)| w).sum();
        let mut at = rng.below(total);
        for (kind, weight) in WEIGHTED {
            if at < weight {
                return kind;
            }
            at -= weight;
        }
        unreachable!("the draw is below the sum of the weights")
    }
}

/// Runs sessions until the soak stops; a failed session records its
/// failure (which stops the soak).
pub fn run_client(ctx: &Ctx, index: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    while let Some(_session) = ctx.gate.enter(&ctx.stop) {
        let session_seed = rng.next_u64();
        let mut session_rng = Rng::new(session_seed);
        let kind = Kind::pick(&mut session_rng);
        if let Err(e) = run_session(ctx, kind, &mut session_rng) {
            ctx.fail(format!(
                "client {index}, {kind:?} session with seed {session_seed:#x}: {e}"
            ));
            return;
        }
    }
}

fn run_session(ctx: &Ctx, kind: Kind, rng: &mut Rng) -> Outcome {
    match kind {
        Kind::Echo => echo(ctx, rng, false),
        Kind::SlowEcho => echo(ctx, rng, true),
        Kind::Rpc => rpc(ctx, rng, false),
        Kind::SlowRpc => rpc(ctx, rng, true),
        Kind::Http => http(ctx, rng, false),
        Kind::SlowHttp => http(ctx, rng, true),
        Kind::Reset => reset(ctx, rng),
        Kind::Oversized => oversized(ctx, rng),
        Kind::BadHttp => bad_http(ctx),
        Kind::Idle => idle(ctx, rng),
    }
}

/// A connected client socket with the hang guard set.
pub fn connect(ctx: &Ctx, addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).context("connecting")?;
    stream
        .set_read_timeout(Some(HANG))
        .context("setting the read timeout")?;
    stream
        .set_write_timeout(Some(HANG))
        .context("setting the write timeout")?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    Counters::add(&ctx.counters.connections, 1);
    Ok(stream)
}

/// A reader that, for its first reads, takes at most a few bytes at a
/// time and pauses before each.
struct SlowRead<R> {
    inner: R,
    slow_reads_left: u32,
    max: usize,
}

impl<R> SlowRead<R> {
    fn new(inner: R, slow: bool) -> Self {
        Self {
            inner,
            slow_reads_left: if slow { 400 } else { 0 },
            max: 16,
        }
    }
}

impl<R: Read> Read for SlowRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.slow_reads_left == 0 {
            return self.inner.read(buf);
        }
        self.slow_reads_left -= 1;
        thread::sleep(Duration::from_millis(1));
        let len = buf.len().min(self.max);
        self.inner.read(&mut buf[..len])
    }
}

/// Reads exactly `len` bytes and checks them against `pattern`.
fn read_verified(r: &mut impl Read, pattern: &mut Pattern, len: usize, what: &str) -> Outcome {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < len {
        let want = (len - got).min(buf.len());
        let n = r.read(&mut buf[..want]).context(what)?;
        if n == 0 {
            return Err(format!(
                "{what}: the server closed the connection after {got} of {len} bytes (bytes lost)"
            ));
        }
        if let Err(at) = pattern.verify(&buf[..n]) {
            return Err(format!("{what}: byte {} of {len} differs from what was sent", got + at));
        }
        got += n;
    }
    Ok(())
}

/// After a half close: the server must end its side too, with nothing more.
fn expect_eof(r: &mut (impl Read + ?Sized), what: &str) -> Outcome {
    let mut byte = [0u8; 1];
    match r.read(&mut byte).context(what)? {
        0 => Ok(()),
        _ => Err(format!("{what}: the server sent more bytes than it was sent")),
    }
}

/// Writes `len` bytes of `pattern` in writes of random sizes.
fn write_pattern(w: &mut impl Write, pattern: &mut Pattern, rng: &mut Rng, len: usize, max_write: usize) -> Outcome {
    let mut buf = vec![0u8; max_write];
    let mut left = len;
    while left > 0 {
        let n = rng.range(1, max_write).min(left);
        pattern.fill(&mut buf[..n]);
        w.write_all(&buf[..n]).context("writing")?;
        left -= n;
    }
    Ok(())
}

/// Runs `write` on its own thread against a clone of `stream` while `read`
/// runs here; if `read` fails, the socket is shut down so the writer ends.
fn duplex(
    stream: &TcpStream,
    write: impl FnOnce(TcpStream) -> Outcome + Send,
    read: impl FnOnce() -> Outcome,
) -> Outcome {
    let writer = stream.try_clone().context("cloning the socket")?;
    thread::scope(|s| {
        let w = s.spawn(move || write(writer));
        let read_result = read();
        if read_result.is_err() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let write_result = w.join().map_err(|_| "the writer thread panicked".to_string())?;
        read_result.and(write_result)
    })
}

fn echo(ctx: &Ctx, rng: &mut Rng, slow: bool) -> Outcome {
    let total = match (slow, rng.chance(10)) {
        (true, _) => rng.range(1 << 20, 2 << 20),
        (false, true) => rng.size(4 << 20),
        (false, false) => rng.size(256 << 10),
    };
    let max_write = rng.range(1, 64 << 10);
    let half_close = rng.chance(60);
    let seed = rng.next_u64();
    let stream = connect(ctx, ctx.addrs.echo)?;
    duplex(
        &stream,
        |mut w| {
            let mut wrng = Rng::new(seed);
            write_pattern(&mut w, &mut Pattern::new(seed), &mut wrng, total, max_write)?;
            if half_close {
                w.shutdown(Shutdown::Write).context("half closing")?;
            }
            Ok(())
        },
        || {
            let mut r = SlowRead::new(&stream, slow);
            read_verified(&mut r, &mut Pattern::new(seed), total, "reading the echo")?;
            if half_close {
                expect_eof(&mut r, "reading the echo's end after a half close")?;
            }
            Ok(())
        },
    )?;
    let c = &ctx.counters;
    Counters::add(&c.echo_bytes, total as u64);
    Counters::add(&c.echo_sessions, 1);
    Counters::add(&c.half_closes, u64::from(half_close));
    Counters::add(&c.slow_reads, u64::from(slow));
    Ok(())
}

fn write_frame(w: &mut impl Write, pattern: &mut Pattern, len: usize) -> Outcome {
    w.write_all(&(len as u32).to_be_bytes())
        .context("writing a frame prefix")?;
    w.write_all(&pattern.take(len)).context("writing a frame")
}

fn read_frame(r: &mut impl Read, pattern: &mut Pattern, len: usize) -> Outcome {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix).context("reading a reply's prefix")?;
    let announced = u32::from_be_bytes(prefix) as usize;
    if announced != len {
        return Err(format!("a reply announces {announced} bytes for a request of {len}"));
    }
    read_verified(r, pattern, len, "reading a reply")
}

fn rpc(ctx: &Ctx, rng: &mut Rng, slow: bool) -> Outcome {
    let sizes: Vec<usize> = (0..rng.range(1, 16))
        .map(|_| match (slow, rng.chance(5)) {
            (true, _) => rng.range(256 << 10, 1 << 20),
            (false, true) => rng.size(1 << 20),
            (false, false) => rng.size(64 << 10),
        })
        .collect();
    let pipelined = slow || rng.chance(50);
    let half_close = rng.chance(40);
    let seed = rng.next_u64();
    let stream = connect(ctx, ctx.addrs.rpc)?;
    let end = |r: &mut dyn Read| {
        if half_close {
            expect_eof(r, "reading the end after a half close")
        } else {
            Ok(())
        }
    };
    if pipelined {
        duplex(
            &stream,
            |mut w| {
                let mut pattern = Pattern::new(seed);
                for &len in &sizes {
                    write_frame(&mut w, &mut pattern, len)?;
                }
                if half_close {
                    w.shutdown(Shutdown::Write).context("half closing")?;
                }
                Ok(())
            },
            || {
                let mut r = BufReader::new(SlowRead::new(&stream, slow));
                let mut pattern = Pattern::new(seed);
                for &len in &sizes {
                    read_frame(&mut r, &mut pattern, len)?;
                }
                end(&mut r)
            },
        )?;
    } else {
        let (mut sent, mut expected) = (Pattern::new(seed), Pattern::new(seed));
        let mut r = BufReader::new(&stream);
        for &len in &sizes {
            write_frame(&mut &stream, &mut sent, len)?;
            read_frame(&mut r, &mut expected, len)?;
        }
        if half_close {
            stream.shutdown(Shutdown::Write).context("half closing")?;
        }
        end(&mut r)?;
    }
    let c = &ctx.counters;
    Counters::add(&c.rpc_bytes, sizes.iter().sum::<usize>() as u64);
    Counters::add(&c.rpc_requests, sizes.len() as u64);
    Counters::add(&c.half_closes, u64::from(half_close));
    Counters::add(&c.slow_reads, u64::from(slow));
    Ok(())
}

fn check_response(
    r: &mut (impl io::BufRead + ?Sized),
    request: &Request,
    index: usize,
) -> Result<http1::Response, String> {
    let what = format!("reading response {index}");
    let res = http1::read_response(r).context(&what)?;
    if res.status != 200 {
        return Err(format!("{what}: status {} instead of 200", res.status));
    }
    let expected = request.expected();
    if res.body.len() != expected.len() {
        return Err(format!(
            "{what}: a body of {} bytes instead of {} (bytes lost)",
            res.body.len(),
            expected.len()
        ));
    }
    if let Some(at) = res.body.iter().zip(expected).position(|(a, b)| a != b) {
        return Err(format!("{what}: body byte {at} differs from what was sent"));
    }
    Ok(res)
}

fn http(ctx: &Ctx, rng: &mut Rng, slow: bool) -> Outcome {
    let mut pattern = Pattern::new(rng.next_u64());
    let count = if slow { 1 } else { rng.range(1, 8) };
    let requests: Vec<Request> = (0..count)
        .map(|_| match (slow, rng.below(10)) {
            (true, _) => Request::Echo(pattern.take(rng.range(1 << 20, 3 << 19))),
            (false, 0..=2) => Request::Hello,
            (false, 3) => Request::Echo(pattern.take(rng.size(1 << 20))),
            (false, _) => Request::Echo(pattern.take(rng.size(64 << 10))),
        })
        .collect();
    let pipelined = count > 1 && rng.chance(40);
    let close_last = rng.chance(30);
    let stream = connect(ctx, ctx.addrs.http)?;
    let mut last_close = false;
    let read_all = |r: &mut dyn io::BufRead, last_close: &mut bool| -> Outcome {
        for (i, request) in requests.iter().enumerate() {
            *last_close = check_response(r, request, i)?.close;
        }
        Ok(())
    };
    if pipelined || slow {
        duplex(
            &stream,
            |mut w| {
                for (i, request) in requests.iter().enumerate() {
                    request
                        .write(&mut w, close_last && i + 1 == count)
                        .context("writing a request")?;
                }
                Ok(())
            },
            || {
                let mut r = BufReader::new(SlowRead::new(&stream, slow));
                read_all(&mut r, &mut last_close)?;
                if close_last {
                    expect_eof(&mut r, "reading after a Connection: close response")?;
                }
                Ok(())
            },
        )?;
    } else {
        let mut r = BufReader::new(&stream);
        for (i, request) in requests.iter().enumerate() {
            request
                .write(&mut &stream, close_last && i + 1 == count)
                .context("writing a request")?;
            last_close = check_response(&mut r, request, i)?.close;
        }
        if close_last {
            expect_eof(&mut r, "reading after a Connection: close response")?;
        }
    }
    if close_last && !last_close {
        return Err("the server did not answer Connection: close in kind".into());
    }
    let c = &ctx.counters;
    let bytes: usize = requests.iter().map(|r| r.expected().len()).sum();
    Counters::add(&c.http_bytes, bytes as u64);
    Counters::add(&c.http_requests, count as u64);
    Counters::add(&c.http_pipelined, if pipelined { count as u64 } else { 0 });
    Counters::add(&c.slow_reads, u64::from(slow));
    Ok(())
}

/// Closes `stream` with an RST: `SO_LINGER` 0, then close.
pub fn reset_close(stream: TcpStream) -> Outcome {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .context("setting SO_LINGER 0")?;
    drop(stream);
    Ok(())
}

/// A transfer cut midway by a reset: after part of a request, or after
/// part of the reply has been read (and checked).
fn reset(ctx: &Ctx, rng: &mut Rng) -> Outcome {
    let seed = rng.next_u64();
    let mut pattern = Pattern::new(seed);
    let sent = rng.range(1, 64 << 10);
    let stream = match rng.below(5) {
        0 => {
            let stream = connect(ctx, ctx.addrs.echo)?;
            (&stream).write_all(&pattern.take(sent)).context("writing")?;
            let read_back = rng.range(0, sent);
            read_verified(
                &mut &stream,
                &mut Pattern::new(seed),
                read_back,
                "reading part of the echo",
            )?;
            stream
        }
        1 => {
            let stream = connect(ctx, ctx.addrs.rpc)?;
            let announced = sent + rng.range(1, 1 << 20);
            (&stream)
                .write_all(&(announced as u32).to_be_bytes())
                .context("writing")?;
            (&stream).write_all(&pattern.take(sent)).context("writing")?;
            stream
        }
        2 => {
            // Whole frames, then a reset while the replies are still
            // coming (a writer thread keeps sending until the reset).
            let stream = connect(ctx, ctx.addrs.rpc)?;
            let frames = rng.range(1, 8);
            let len = rng.range(1, 256 << 10);
            let read_back = rng.range(0, len);
            let writer = stream.try_clone().context("cloning the socket")?;
            let w = thread::spawn(move || {
                let mut pattern = Pattern::new(seed);
                for _ in 0..frames {
                    if write_frame(&mut &writer, &mut pattern, len).is_err() {
                        break;
                    }
                }
            });
            let mut expected = Pattern::new(seed);
            let mut prefix = [0u8; 4];
            (&stream).read_exact(&mut prefix).context("reading a reply's prefix")?;
            read_verified(&mut &stream, &mut expected, read_back, "reading part of a reply")?;
            // Shutting the write side down wakes the writer if it is
            // blocked (the server, blocked on its replies, stopped
            // reading); a FIN goes out first, the RST follows at close.
            let _ = stream.shutdown(Shutdown::Write);
            w.join().map_err(|_| "the writer thread panicked".to_string())?;
            stream
        }
        3 => {
            // A whole request, then a reset in the middle of its echo.
            let stream = connect(ctx, ctx.addrs.http)?;
            let body = pattern.take(rng.range(64 << 10, 1 << 20));
            let writer = stream.try_clone().context("cloning the socket")?;
            let w = thread::spawn(move || Request::Echo(body).write(&mut &writer, false));
            let mut head = [0u8; 256];
            let n = (&stream).read(&mut head).context("reading the start of a response")?;
            if n == 0 {
                return Err("the server closed the connection before its response".into());
            }
            let _ = stream.shutdown(Shutdown::Write);
            let _ = w.join().map_err(|_| "the writer thread panicked".to_string())?;
            stream
        }
        _ => {
            let stream = connect(ctx, ctx.addrs.http)?;
            let announced = sent + rng.range(1, 1 << 20);
            write!(
                &stream,
                "POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: {announced}\r\n\r\n"
            )
            .context("writing")?;
            (&stream).write_all(&pattern.take(sent)).context("writing")?;
            stream
        }
    };
    reset_close(stream)?;
    Counters::add(&ctx.counters.resets, 1);
    Ok(())
}

/// Reads until the server closes; any byte it sends is an error.
fn expect_closed_silently(stream: &TcpStream, what: &str) -> Outcome {
    let mut buf = [0u8; 256];
    match (&*stream).read(&mut buf) {
        Ok(0) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
        Ok(n) => Err(format!("{what}: the server answered with {n} bytes")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// A frame over the rpc server's limit: the server must close the
/// connection without an answer.
fn oversized(ctx: &Ctx, rng: &mut Rng) -> Outcome {
    let stream = connect(ctx, ctx.addrs.rpc)?;
    let len = rng.range(MAX_FRAME + 1, u32::MAX as usize) as u32;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend(Pattern::new(rng.next_u64()).take(rng.range(0, 4096)));
    (&stream).write_all(&frame).context("writing an oversized frame")?;
    expect_closed_silently(&stream, "after an oversized frame")?;
    Counters::add(&ctx.counters.hostile, 1);
    Ok(())
}

/// Garbage instead of a request: a 4xx, then the end of the connection.
fn bad_http(ctx: &Ctx) -> Outcome {
    let stream = connect(ctx, ctx.addrs.http)?;
    (&stream)
        .write_all(b"NOT HTTP AT ALL\r\n\r\n")
        .context("writing garbage")?;
    let mut r = BufReader::new(&stream);
    let res = http1::read_response(&mut r).context("reading the answer to garbage")?;
    if !(400..500).contains(&res.status) {
        return Err(format!("garbage got status {} instead of a 4xx", res.status));
    }
    expect_eof(&mut r, "reading after the answer to garbage")?;
    Counters::add(&ctx.counters.hostile, 1);
    Ok(())
}

/// One of the three servers.
#[derive(Debug, Clone, Copy)]
pub enum Server {
    Echo,
    Rpc,
    Http,
}

impl Server {
    pub const ALL: [Server; 3] = [Server::Echo, Server::Rpc, Server::Http];

    pub fn addr(self, ctx: &Ctx) -> SocketAddr {
        match self {
            Server::Echo => ctx.addrs.echo,
            Server::Rpc => ctx.addrs.rpc,
            Server::Http => ctx.addrs.http,
        }
    }
}

/// One small verified exchange with `server` on `stream`: 100 bytes
/// echoed, a 100-byte frame answered, or `GET /`.
pub fn exchange(stream: &TcpStream, server: Server, tag: u64) -> Outcome {
    stream
        .set_read_timeout(Some(HANG))
        .context("setting the read timeout")?;
    stream
        .set_write_timeout(Some(HANG))
        .context("setting the write timeout")?;
    let what = format!("an exchange with the {server:?} server");
    match server {
        Server::Echo => {
            (&*stream).write_all(&Pattern::new(tag).take(100)).context(&what)?;
            read_verified(&mut &*stream, &mut Pattern::new(tag), 100, &what)
        }
        Server::Rpc => {
            write_frame(&mut &*stream, &mut Pattern::new(tag), 100).map_err(|e| format!("{what}: {e}"))?;
            read_frame(&mut &*stream, &mut Pattern::new(tag), 100).map_err(|e| format!("{what}: {e}"))
        }
        Server::Http => {
            let request = Request::Hello;
            request.write(&mut &*stream, false).context(&what)?;
            // One response to one request: nothing is read past it.
            check_response(&mut BufReader::new(stream), &request, 0).map_err(|e| format!("{what}: {e}"))?;
            Ok(())
        }
    }
}

/// One small verified exchange with each server, on fresh connections.
pub fn probe(ctx: &Ctx, tag: u64) -> Outcome {
    for server in Server::ALL {
        exchange(&connect(ctx, server.addr(ctx))?, server, tag)?;
    }
    Ok(())
}

/// A connection that goes idle past the idle release (so its parked
/// buffers are swept while it lives) and is then used again.
fn idle(ctx: &Ctx, rng: &mut Rng) -> Outcome {
    let server = Server::ALL[rng.below(3) as usize];
    let stream = connect(ctx, server.addr(ctx))?;
    exchange(&stream, server, rng.next_u64())?;
    thread::sleep(ctx.idle_release * 3 / 2);
    for _ in 0..rng.range(1, 4) {
        exchange(&stream, server, rng.next_u64())?;
    }
    Counters::add(&ctx.counters.idles, 1);
    Ok(())
}
