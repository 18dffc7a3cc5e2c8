//! A closed-loop gRPC load client: one thread, a few prior-knowledge h2c
//! connections, several concurrent calls on each, gRPC spoken by hand on
//! the `h2` crate and a tokio current-thread runtime.
//!
//! A call is what a gRPC client sends for a unary or server-streaming
//! method: `POST /<service>/<method>` with `content-type: application/grpc`
//! and `te: trailers`, a body of one length-prefixed message (a zero
//! compression flag, the length as a big-endian `u32`, the protobuf
//! bytes), end of stream. The client then reads the response's messages,
//! checks that each is the expected protobuf bytes and that there are as
//! many as expected, and checks the trailers' `grpc-status: 0`; anything
//! else (another HTTP status, a compressed or malformed message, a missing
//! or non-zero `grpc-status`) fails the run with `InvalidData`. A call's
//! latency runs from its headers being sent to its trailers arriving.
//!
//! Like [`h2_client`](crate::h2_client), it skips tonic's and hyper's
//! client layers (a dispatch channel, a task and a codec per call): the
//! client shares the machine with the servers it measures, so it should
//! cost as little as it can. The messages are compared as bytes, not
//! decoded: an echo's response (`EchoResponse { message }`) encodes to
//! the same bytes as its request (`EchoRequest { message }`).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use h2::client::SendRequest;
use h2::RecvStream;
use http::header::{HeaderValue, CONTENT_TYPE, TE};
use http::{HeaderMap, Method, Request, StatusCode};

use crate::closed_loop::{self, LoadClient, Tally};
use crate::rpc_client::RunResult;

/// The gRPC message prefix: a compression flag and a big-endian `u32`
/// length.
const PREFIX: usize = 5;

/// The header (or trailer) that carries a call's status code.
const GRPC_STATUS: &str = "grpc-status";

/// One kind of call: the method's path, the request message and what the
/// server must answer.
#[derive(Debug, Clone)]
pub struct GrpcCall {
    path: String,
    /// The request body: one prefixed message.
    body: Bytes,
    /// The protobuf bytes every response message must be.
    response: Bytes,
    /// Response messages per call.
    responses: usize,
}

impl GrpcCall {
    /// A call of `path` (`/package.Service/Method`) whose request is the
    /// protobuf bytes `request`, answered by `responses` messages of the
    /// protobuf bytes `response` each.
    pub fn new(path: &str, request: &[u8], response: &[u8], responses: usize) -> Self {
        let mut body = Vec::with_capacity(PREFIX + request.len());
        body.push(0);
        body.extend_from_slice(&(request.len() as u32).to_be_bytes());
        body.extend_from_slice(request);
        Self {
            path: path.to_owned(),
            body: body.into(),
            response: Bytes::copy_from_slice(response),
            responses,
        }
    }

    /// A call of an echo method of `grpc.examples.echo.Echo` (`method`:
    /// `UnaryEcho`, `ServerStreamingEcho`) whose message is `message`,
    /// answered by `responses` echoes of it.
    pub fn echo(method: &str, message: &str, responses: usize) -> Self {
        let encoded = echo_message(message);
        Self::new(
            &format!("/grpc.examples.echo.Echo/{method}"),
            &encoded,
            &encoded,
            responses,
        )
    }

    /// Response messages per call.
    pub fn responses(&self) -> usize {
        self.responses
    }
}

/// `EchoRequest { message }` (and `EchoResponse { message }`) as protobuf:
/// field 1, length-delimited (`0x0a`), the length as a varint, the bytes.
///
/// # Examples
///
/// ```
/// use roost_benches::grpc_client::echo_message;
/// assert_eq!(echo_message("hi"), b"\x0a\x02hi");
/// assert_eq!(echo_message(&"x".repeat(200))[..3], [0x0a, 0xc8, 0x01]);
/// ```
pub fn echo_message(message: &str) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut len = message.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(message.as_bytes());
    out
}

/// gRPC connections to one server, each with `streams` concurrent calls,
/// reused across runs.
pub struct GrpcClient {
    rt: tokio::runtime::Runtime,
    /// Holds the connections' driver tasks between runs.
    local: tokio::task::LocalSet,
    senders: Vec<SendRequest<Bytes>>,
    streams: usize,
    call: Rc<Call>,
}

/// A [`GrpcCall`] ready to send: its URI and headers made once.
struct Call {
    uri: http::Uri,
    headers: HeaderMap,
    spec: GrpcCall,
}

fn h2_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io().unwrap_or_else(|| io::Error::other("h2 I/O error"))
    } else {
        io::Error::other(e)
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl GrpcClient {
    /// Opens `connections` h2c connections to `addr` (prior knowledge, with
    /// `TCP_NODELAY`) that will make `call` on `streams` concurrent streams
    /// each, and makes one call per stream slot (so that set-up is never
    /// inside a timed run).
    ///
    /// # Errors
    ///
    /// Connection or handshake errors, or a server that answers wrongly
    /// (see the module documentation).
    pub fn connect(addr: SocketAddr, connections: usize, streams: usize, call: GrpcCall) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let local = tokio::task::LocalSet::new();
        let senders = local.block_on(&rt, async {
            let mut senders = Vec::with_capacity(connections);
            for _ in 0..connections {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                let (sender, connection) = h2::client::handshake(tcp).await.map_err(h2_error)?;
                tokio::task::spawn_local(async move {
                    let _ = connection.await;
                });
                senders.push(sender);
            }
            io::Result::Ok(senders)
        })?;
        let uri = format!("http://{addr}{}", call.path)
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad path"))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        let mut client = Self {
            rt,
            local,
            senders,
            streams,
            call: Rc::new(Call {
                uri,
                headers,
                spec: call,
            }),
        };
        client.run_requests((connections * streams) as u64)?;
        Ok(client)
    }
}

impl LoadClient for GrpcClient {
    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult> {
        let (senders, streams, call) = (&self.senders, self.streams, &self.call);
        let (measured, _) = closed_loop::run(&self.rt, &self.local, duration, target, |tally| {
            senders
                .iter()
                .flat_map(|sender| (0..streams).map(move |_| sender))
                .map(|sender| call_slot(sender.clone(), call.clone(), tally.clone()))
                .collect()
        })?;
        Ok(measured)
    }
}

/// One stream slot: call after call until the run stops.
async fn call_slot(sender: SendRequest<Bytes>, call: Rc<Call>, tally: Rc<Tally>) -> io::Result<()> {
    let mut sender = sender;
    // Received bytes not yet parsed into messages, kept across calls.
    let mut input = BytesMut::new();
    while tally.begin() {
        let sent_at = Instant::now();
        sender = sender.ready().await.map_err(h2_error)?;
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = call.uri.clone();
        *request.headers_mut() = call.headers.clone();
        let (response, mut send) = sender.send_request(request, false).map_err(h2_error)?;
        send.send_data(call.spec.body.clone(), true).map_err(h2_error)?;
        let response = response.await.map_err(h2_error)?;
        if response.status() != StatusCode::OK {
            return Err(invalid(format!("HTTP status {}", response.status())));
        }
        // A trailers-only answer (an error) carries its status in the
        // headers.
        if response.headers().contains_key(GRPC_STATUS) {
            return Err(invalid(format!(
                "trailers-only answer: {}",
                grpc_status(response.headers())
            )));
        }
        let mut body = response.into_body();
        let messages = read_messages(&mut body, &mut input, &call.spec.response).await?;
        let trailers = body.trailers().await.map_err(h2_error)?;
        let trailers = trailers.unwrap_or_default();
        if trailers.get(GRPC_STATUS).is_none_or(|s| s != "0") {
            return Err(invalid(format!("trailers: {}", grpc_status(&trailers))));
        }
        if messages != call.spec.responses {
            return Err(invalid(format!(
                "{messages} response messages, expected {}",
                call.spec.responses
            )));
        }
        tally.answered(sent_at);
    }
    Ok(())
}

/// Reads `body` to its end, checking each message against `expected`;
/// returns how many there were.
async fn read_messages(body: &mut RecvStream, input: &mut BytesMut, expected: &[u8]) -> io::Result<usize> {
    input.clear();
    let mut messages = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(h2_error)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        input.extend_from_slice(&chunk);
        while input.len() >= PREFIX {
            let len = u32::from_be_bytes([input[1], input[2], input[3], input[4]]) as usize;
            if input.len() < PREFIX + len {
                break;
            }
            if input[0] != 0 {
                return Err(invalid(format!("compressed message (flag {})", input[0])));
            }
            if &input[PREFIX..PREFIX + len] != expected {
                return Err(invalid("response message differs from the expected one".to_owned()));
            }
            input.advance(PREFIX + len);
            messages += 1;
        }
    }
    if !input.is_empty() {
        return Err(invalid(format!("{} bytes of a truncated message", input.len())));
    }
    Ok(messages)
}

/// `grpc-status <code>, grpc-message <text>` from headers or trailers, for
/// an error.
fn grpc_status(headers: &HeaderMap) -> String {
    let text = |name: &str| {
        headers
            .get(name)
            .map_or("(none)", |v| v.to_str().unwrap_or("(not text)"))
            .to_owned()
    };
    format!(
        "grpc-status {}, grpc-message {}",
        text(GRPC_STATUS),
        text("grpc-message")
    )
}
