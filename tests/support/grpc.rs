//! A gRPC service for the tests (`grpc.examples.echo.Echo` with behaviours
//! chosen by the message), what it saw, and clients.
#![allow(dead_code)]

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roost::net::grpc::{self, Channel};
use roost::net::http;
use roost_proto::echo_client::EchoClient;
use roost_proto::echo_server::{Echo, EchoServer};
use roost_proto::{EchoRequest, EchoResponse};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// What the probe's handlers did, shared by every worker's copy.
#[derive(Debug)]
pub struct Seen {
    /// Handlers that started and will not finish on their own.
    pub hanging: AtomicUsize,
    /// Of those, the ones whose future (or response stream) was dropped.
    pub dropped: AtomicUsize,
    /// Calls that completed normally.
    pub finished: AtomicUsize,
    /// `wait` handlers that are waiting for the gate.
    pub waiting: AtomicUsize,
    /// Opened by the test, a permit per `wait` handler to let through.
    pub gate: tokio::sync::Semaphore,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            hanging: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Seen {
    /// Waits (on roost's clock, for at most 20 s) until `what` holds.
    pub async fn until(&self, what: impl Fn(&Self) -> bool) {
        for _ in 0..2000 {
            if what(self) {
                return;
            }
            roost::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("still not there after 20 s: {self:?}");
    }
}

/// Counts a hanging handler dropped, unless it finished ([`done`](Self::done)).
struct DropGuard {
    seen: Arc<Seen>,
    armed: bool,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if self.armed {
            self.seen.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl DropGuard {
    fn new(seen: &Arc<Seen>) -> Self {
        seen.hanging.fetch_add(1, Ordering::SeqCst);
        Self {
            seen: seen.clone(),
            armed: true,
        }
    }

    /// The handler finished on its own: no longer hanging, not dropped.
    fn done(mut self) {
        self.seen.hanging.fetch_sub(1, Ordering::SeqCst);
        self.armed = false;
    }
}

pub type EchoStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

/// The echo service, with behaviours by message:
///
/// - `hang`: never answers (a guard counts its future dropped);
/// - `sleep:MS`: answers after MS milliseconds;
/// - `wait`: answers once the test lets it through the gate;
/// - `addr`: answers the peer address tonic's request reports;
/// - `meta:NAME`: answers the request's metadata NAME (or `none`);
/// - `spawn`: answers from a task it `roost::spawn`s, with its worker;
/// - anything else: echoed.
///
/// `ServerStreamingEcho` with `hang` sends one message and then never ends
/// (a guard counts the stream dropped); otherwise ten echoes.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub seen: Arc<Seen>,
}

fn reply(message: impl Into<String>) -> Result<Response<EchoResponse>, Status> {
    Ok(Response::new(EchoResponse {
        message: message.into(),
    }))
}

#[tonic::async_trait]
impl Echo for Probe {
    async fn unary_echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let peer = request.remote_addr();
        let metadata = request.metadata().clone();
        let message = request.into_inner().message;
        let out = match message.as_str() {
            "hang" => {
                let _guard = DropGuard::new(&self.seen);
                std::future::pending::<()>().await;
                unreachable!()
            }
            "wait" => {
                self.seen.waiting.fetch_add(1, Ordering::SeqCst);
                self.seen.gate.acquire().await.expect("the gate stays open").forget();
                message
            }
            "addr" => peer.map_or_else(|| "none".to_owned(), |a| a.to_string()),
            "spawn" => {
                let task = roost::spawn(async { roost::runtime::current_worker() });
                let worker = task.await.map_err(|e| Status::internal(e.to_string()))?;
                format!("spawned on {worker:?}")
            }
            m if m.starts_with("meta:") => metadata
                .get(&m[5..])
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned(),
            m if m.starts_with("sleep:") => {
                let ms: u64 = m[6..].parse().map_err(|_| Status::invalid_argument("sleep:MS"))?;
                roost::time::sleep(Duration::from_millis(ms)).await;
                m.to_owned()
            }
            _ => message,
        };
        self.seen.finished.fetch_add(1, Ordering::SeqCst);
        reply(out)
    }

    type ServerStreamingEchoStream = EchoStream;

    async fn server_streaming_echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoStream>, Status> {
        let message = request.into_inner().message;
        if message == "hang" {
            let guard = DropGuard::new(&self.seen);
            let first = tokio_stream::once(Ok(EchoResponse { message }));
            let never = tokio_stream::pending().map(move |()| {
                let _ = &guard;
                Ok(EchoResponse::default())
            });
            return Ok(Response::new(Box::pin(first.chain(never))));
        }
        let echoes = std::iter::repeat_n(message, 10).map(|message| Ok(EchoResponse { message }));
        Ok(Response::new(Box::pin(tokio_stream::iter(echoes))))
    }

    async fn client_streaming_echo(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let guard = DropGuard::new(&self.seen);
        let mut stream = request.into_inner();
        let mut all = String::new();
        while let Some(next) = stream.message().await? {
            all.push_str(&next.message);
        }
        guard.done();
        self.seen.finished.fetch_add(1, Ordering::SeqCst);
        reply(all)
    }

    type BidirectionalStreamingEchoStream = EchoStream;

    async fn bidirectional_streaming_echo(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoStream>, Status> {
        let echoes = request
            .into_inner()
            .map(|next| next.map(|req| EchoResponse { message: req.message }));
        Ok(Response::new(Box::pin(echoes)))
    }
}

/// Serves the probe with `builder` on the current runtime.
pub async fn start(builder: grpc::Builder, probe: Probe) -> http::Server {
    let handle = roost::runtime::Handle::current();
    builder
        .serve(&handle, "127.0.0.1:0".parse().unwrap(), move || {
            EchoServer::new(probe.clone())
        })
        .await
        .expect("serve gRPC")
}

/// A roost channel to `server`.
pub fn channel(server: &http::Server) -> Channel {
    Channel::new(format!("http://{}", server.local_addr()).parse().unwrap()).unwrap()
}

/// tonic's generated client over a roost channel to `server`.
pub fn client(server: &http::Server) -> EchoClient<Channel> {
    EchoClient::new(channel(server))
}

/// A request with `message`.
pub fn req(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
    }
}

/// The messages of a response stream, each of which must be `Ok`.
pub async fn messages(stream: Streaming<EchoResponse>) -> Vec<String> {
    stream.map(|m| m.expect("a message").message).collect().await
}

/// Unary echo of `message`, its answer or status.
pub async fn unary(client: &mut EchoClient<Channel>, message: &str) -> Result<String, Status> {
    client.unary_echo(req(message)).await.map(|r| r.into_inner().message)
}

/// Runs blocking `f` on the blocking pool and waits for it.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    roost::task::spawn_blocking(f).await.expect("blocking task")
}
