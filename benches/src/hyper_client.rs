//! hyper's own HTTP/1.1 client as a closed-loop load client, on a tokio
//! current-thread runtime: the yardstick for [`http1_client`](crate::http1_client).
//!
//! One local task per keep-alive connection sends a `GET`, awaits the
//! response, collects its body, records the latency and sends the next.
//! It measures what the hand-written client saves: the load client shares
//! the machine's cores with the servers, so its CPU per request bounds what
//! they can reach.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use roost::net::tls::rustls;

use crate::closed_loop::{self, LoadClient, Tally};
use crate::rpc_client::RunResult;

/// hyper HTTP/1.1 client connections to one server, reused across runs.
pub struct HyperHttp1Client {
    rt: tokio::runtime::Runtime,
    /// Holds the connections' tasks between runs.
    local: tokio::task::LocalSet,
    /// Taken by the slot tasks of a run, given back at its end.
    senders: Vec<SendRequest<Empty<Bytes>>>,
    uri: http::Uri,
    /// Where, and how, to reopen a connection the server closed.
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl HyperHttp1Client {
    /// Opens `connections` keep-alive connections to `addr` (with
    /// `TCP_NODELAY`) that will ask for `path`, and does one request on
    /// each.
    ///
    /// # Errors
    ///
    /// Connection or handshake errors, or a server that does not answer
    /// `200`.
    pub fn connect(addr: SocketAddr, connections: usize, path: &str) -> io::Result<Self> {
        Self::connect_with(addr, connections, path, None)
    }

    /// As [`connect`](Self::connect), over TLS with `tls` when given (the
    /// HTTPS case: ALPN `http/1.1`).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and TLS handshake errors.
    pub fn connect_with(
        addr: SocketAddr,
        connections: usize,
        path: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let local = tokio::task::LocalSet::new();
        let senders = local.block_on(&rt, async {
            let mut senders = Vec::with_capacity(connections);
            for _ in 0..connections {
                senders.push(open(addr, tls.as_ref()).await?);
            }
            io::Result::Ok(senders)
        })?;
        let uri = path
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad path"))?;
        let mut client = Self {
            rt,
            local,
            senders,
            uri,
            addr,
            tls,
        };
        client.run_requests(connections as u64)?;
        Ok(client)
    }
}

impl LoadClient for HyperHttp1Client {
    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult> {
        // Outside the timed window: reopen what a server closed while the
        // client was idle (roost's server closes keep-alive connections
        // idle for its header read timeout, 30 s, which the full mode's
        // criterion phase of the other servers exceeds).
        let (addr, tls) = (self.addr, self.tls.clone());
        let mut senders = std::mem::take(&mut self.senders);
        self.local.block_on(&self.rt, async {
            // The connections' tasks run only in here: let them read the
            // FIN of a closed connection first.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            for sender in &mut senders {
                if sender.is_closed() {
                    *sender = open(addr, tls.as_ref()).await?;
                }
            }
            io::Result::Ok(())
        })?;
        let uri = &self.uri;
        let (measured, senders) = closed_loop::run(&self.rt, &self.local, duration, target, |tally| {
            senders
                .into_iter()
                .map(|sender| connection_loop(sender, uri.clone(), tally.clone()))
                .collect()
        })?;
        self.senders = senders;
        Ok(measured)
    }
}

/// A connection to `addr` (`TCP_NODELAY`; TLS with `tls`), ready for
/// requests.
async fn open(addr: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) -> io::Result<SendRequest<Empty<Bytes>>> {
    match tls {
        None => {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            handshake(TokioIo::new(tcp)).await
        }
        Some(config) => handshake(TokioIo::new(crate::tls::connect(addr, config).await?)).await,
    }
}

/// hyper's HTTP/1.1 handshake on `io`; the connection is driven by a
/// local task.
async fn handshake<I>(io: I) -> io::Result<SendRequest<Empty<Bytes>>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(io::Error::other)?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One connection: request after request until the run stops; gives the
/// connection back.
async fn connection_loop(
    mut sender: SendRequest<Empty<Bytes>>,
    uri: http::Uri,
    tally: Rc<Tally>,
) -> io::Result<SendRequest<Empty<Bytes>>> {
    while tally.begin() {
        let sent_at = Instant::now();
        sender.ready().await.map_err(io::Error::other)?;
        let request = http::Request::get(uri.clone())
            .header(http::header::HOST, "localhost")
            .body(Empty::new())
            .map_err(io::Error::other)?;
        let response = sender.send_request(request).await.map_err(io::Error::other)?;
        if response.status() != http::StatusCode::OK {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "status is not 200"));
        }
        response.into_body().collect().await.map_err(io::Error::other)?;
        tally.answered(sent_at);
    }
    Ok(sender)
}
