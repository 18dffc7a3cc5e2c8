//! A closed-loop load client that opens a new TLS connection for every
//! request (a full TLS 1.3 handshake: resumption is off), sends one
//! HTTP/1.1 `GET` with `Connection: close`, reads the response to the end
//! and closes: what a server pays per handshake. On a tokio current-thread
//! runtime with tokio-rustls; a latency is the whole connection's, from
//! the connect to the last byte.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use roost::net::tls::rustls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::rpc_client::RunResult;

/// Connections opened one after another by `concurrency` loops.
pub struct HandshakeClient {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    concurrency: usize,
}

/// What the loops of one run share (all on this thread).
struct Shared {
    latency: RefCell<Histogram<u64>>,
    started: Cell<u64>,
    done: Cell<u64>,
    target: u64,
    deadline: Option<Instant>,
    finished_at: Cell<Instant>,
}

impl HandshakeClient {
    /// A client of `addr` with `concurrency` connections in flight, each
    /// made with `config` (ALPN `http/1.1`, no resumption); one round of
    /// requests is done here.
    ///
    /// # Errors
    ///
    /// Connection or handshake errors, or a server that does not answer
    /// `200`.
    pub fn connect(addr: SocketAddr, concurrency: usize, config: Arc<rustls::ClientConfig>) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let mut client = Self {
            rt,
            local: tokio::task::LocalSet::new(),
            addr,
            config,
            concurrency,
        };
        client.run_requests(concurrency as u64)?;
        Ok(client)
    }

    /// Runs the closed loop for `duration` and reports what it measured.
    ///
    /// # Errors
    ///
    /// Connection or handshake errors, or a response other than `200`.
    pub fn run_for(&mut self, duration: Duration) -> io::Result<RunResult> {
        self.run(Some(duration), u64::MAX)
    }

    /// Runs the closed loop until `count` connections have been served.
    ///
    /// # Errors
    ///
    /// As [`run_for`](Self::run_for).
    pub fn run_requests(&mut self, count: u64) -> io::Result<RunResult> {
        self.run(None, count)
    }

    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult> {
        let cpu_before = crate::sys::cpu_time();
        let start = Instant::now();
        let shared = Rc::new(Shared {
            latency: RefCell::new(Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")),
            started: Cell::new(0),
            done: Cell::new(0),
            target,
            deadline: duration.map(|d| start + d),
            finished_at: Cell::new(start),
        });
        self.local.block_on(&self.rt, async {
            let loops: Vec<_> = (0..self.concurrency)
                .map(|_| tokio::task::spawn_local(one_after_another(self.addr, self.config.clone(), shared.clone())))
                .collect();
            for one in loops {
                one.await.map_err(io::Error::other)??;
            }
            io::Result::Ok(())
        })?;
        let shared = Rc::try_unwrap(shared).unwrap_or_else(|_| unreachable!("every loop has finished"));
        Ok(RunResult::measured(
            cpu_before,
            shared.done.get(),
            shared.finished_at.get() - start,
            shared.latency.into_inner(),
        ))
    }
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";

/// One loop: a connection per request until the run stops.
async fn one_after_another(addr: SocketAddr, config: Arc<rustls::ClientConfig>, shared: Rc<Shared>) -> io::Result<()> {
    let mut response = Vec::with_capacity(256);
    loop {
        if shared.started.get() >= shared.target || shared.deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        shared.started.set(shared.started.get() + 1);
        let opened_at = Instant::now();
        let mut tls = crate::tls::connect(addr, &config).await?;
        tls.write_all(REQUEST).await?;
        response.clear();
        // The server closes after its response, with a close_notify.
        tls.read_to_end(&mut response).await?;
        if !response.starts_with(b"HTTP/1.1 200") {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "status is not 200"));
        }
        drop(tls);
        let now = Instant::now();
        let _ = shared
            .latency
            .borrow_mut()
            .record((now - opened_at).as_nanos().max(1) as u64);
        shared.done.set(shared.done.get() + 1);
        shared.finished_at.set(now);
    }
}
