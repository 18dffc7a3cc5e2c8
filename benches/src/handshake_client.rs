//! A closed-loop load client that opens a new TLS connection for every
//! request (a full TLS 1.3 handshake: resumption is off), sends one
//! HTTP/1.1 `GET` with `Connection: close`, reads the response to the end
//! and closes: what a server pays per handshake. On a tokio current-thread
//! runtime with tokio-rustls; a latency is the whole connection's, from
//! the connect to the last byte.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost::net::tls::rustls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::closed_loop::{self, LoadClient, Tally};
use crate::rpc_client::RunResult;

/// Connections opened one after another by `concurrency` loops.
pub struct HandshakeClient {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    concurrency: usize,
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
}

impl LoadClient for HandshakeClient {
    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult> {
        let (addr, config, loops) = (self.addr, &self.config, self.concurrency);
        let (measured, _) = closed_loop::run(&self.rt, &self.local, duration, target, |tally| {
            (0..loops)
                .map(|_| one_after_another(addr, config.clone(), tally.clone()))
                .collect()
        })?;
        Ok(measured)
    }
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";

/// One loop: a connection per request until the run stops.
async fn one_after_another(addr: SocketAddr, config: Arc<rustls::ClientConfig>, tally: Rc<Tally>) -> io::Result<()> {
    let mut response = Vec::with_capacity(256);
    while tally.begin() {
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
        tally.answered(opened_at);
    }
    Ok(())
}
