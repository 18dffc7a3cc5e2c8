//! A closed-loop HTTP/2 load client: one thread, a few prior-knowledge h2c
//! connections, several concurrent streams on each, on the `h2` crate and a
//! tokio current-thread runtime.
//!
//! Each stream slot is a local task that sends a `GET` (headers only, end of
//! stream), awaits the response, drains its body (giving the flow-control
//! window back), records the latency and sends the next. The `h2` crate is
//! used directly rather than through hyper's client, which adds a dispatch
//! channel and a task per request on top of it: the client shares the
//! machine's cores with the servers it measures, so it should cost as little
//! as it can.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use roost::net::tls::rustls;

use crate::closed_loop::{self, LoadClient, Tally};
use crate::rpc_client::RunResult;

/// HTTP/2 connections to one server, each with `streams` concurrent
/// requests, reused across runs.
pub struct H2Client {
    rt: tokio::runtime::Runtime,
    /// Holds the connections' driver tasks between runs.
    local: tokio::task::LocalSet,
    senders: Vec<SendRequest<Bytes>>,
    streams: usize,
    uri: http::Uri,
}

fn h2_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io().unwrap_or_else(|| io::Error::other("h2 I/O error"))
    } else {
        io::Error::other(e)
    }
}

impl H2Client {
    /// Opens `connections` h2c connections to `addr` (prior knowledge, with
    /// `TCP_NODELAY`) that will ask for `path` on `streams` concurrent
    /// streams each, and does one request per stream slot (so that set-up is
    /// never inside a timed run).
    ///
    /// # Errors
    ///
    /// Connection or handshake errors, or a server that does not answer
    /// `200`.
    pub fn connect(addr: SocketAddr, connections: usize, streams: usize, path: &str) -> io::Result<Self> {
        Self::connect_with(addr, connections, streams, path, None)
    }

    /// As [`connect`](Self::connect), over TLS with `tls` when given (ALPN
    /// `h2`) instead of h2c.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and TLS handshake errors.
    pub fn connect_with(
        addr: SocketAddr,
        connections: usize,
        streams: usize,
        path: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let local = tokio::task::LocalSet::new();
        let senders = local.block_on(&rt, async {
            let mut senders = Vec::with_capacity(connections);
            for _ in 0..connections {
                let sender = match &tls {
                    None => {
                        let tcp = tokio::net::TcpStream::connect(addr).await?;
                        tcp.set_nodelay(true)?;
                        handshake(tcp).await?
                    }
                    Some(config) => handshake(crate::tls::connect(addr, config).await?).await?,
                };
                senders.push(sender);
            }
            io::Result::Ok(senders)
        })?;
        let authority = if tls.is_some() {
            "https://localhost".to_owned()
        } else {
            format!("http://{addr}")
        };
        let uri = format!("{authority}{path}")
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad path"))?;
        let mut client = Self {
            rt,
            local,
            senders,
            streams,
            uri,
        };
        client.run_requests((connections * streams) as u64)?;
        Ok(client)
    }
}

impl LoadClient for H2Client {
    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult> {
        let (senders, streams, uri) = (&self.senders, self.streams, &self.uri);
        let (measured, _) = closed_loop::run(&self.rt, &self.local, duration, target, |tally| {
            senders
                .iter()
                .flat_map(|sender| (0..streams).map(move |_| sender))
                .map(|sender| stream_slot(sender.clone(), uri.clone(), tally.clone()))
                .collect()
        })?;
        Ok(measured)
    }
}

/// The h2 crate's client handshake on `io`; the connection is driven by a
/// local task.
async fn handshake<I>(io: I) -> io::Result<SendRequest<Bytes>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let (sender, connection) = h2::client::handshake(io).await.map_err(h2_error)?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One stream slot: request after request until the run stops.
async fn stream_slot(sender: SendRequest<Bytes>, uri: http::Uri, tally: Rc<Tally>) -> io::Result<()> {
    let mut sender = sender;
    while tally.begin() {
        let sent_at = Instant::now();
        sender = sender.ready().await.map_err(h2_error)?;
        let request = http::Request::get(uri.clone()).body(()).map_err(io::Error::other)?;
        let (response, _) = sender.send_request(request, true).map_err(h2_error)?;
        let response = response.await.map_err(h2_error)?;
        if response.status() != http::StatusCode::OK {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "status is not 200"));
        }
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(h2_error)?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        tally.answered(sent_at);
    }
    Ok(())
}
