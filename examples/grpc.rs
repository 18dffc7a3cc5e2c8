//! A gRPC server on roost: `grpc.examples.echo.Echo` (the echo service of
//! gRPC's and tonic's own examples), `grpc.health.v1.Health` and server
//! reflection, served by tonic's generated code on every worker.
//!
//! ```text
//! cargo run --release --example grpc -- 127.0.0.1:50051
//! cargo run --release --example grpc -- 127.0.0.1:50443 --tls-cert cert.pem --tls-key key.pem
//! ```
//!
//! With `--tls-cert FILE --tls-key FILE` (PEM) it serves over TLS (ALPN
//! `h2`) and says `grpc serving on ADDR with N workers (tls)`.
//!
//! - `UnaryEcho` answers the message it got;
//! - `ServerStreamingEcho` answers it 10 times;
//! - `ClientStreamingEcho` answers the messages it got, concatenated in
//!   order;
//! - `BidirectionalStreamingEcho` echoes each message as it arrives.
//!
//! Health answers `SERVING` for the server (`""`) and for the echo service;
//! reflection describes both (v1 and v1alpha, as grpcurl asks). Requests
//! accept and responses honour gzip, as the client asks. Ctrl-C (or
//! SIGTERM) shuts down gracefully: `GOAWAY`, and 5 s for calls in flight.
//!
//! The service is also used by `tests/net_grpc*.rs` and `benches/grpc.rs`.

use std::pin::Pin;
use std::time::Duration;

use roost::net::grpc;
use roost::runtime::Runtime;
use roost_proto::echo_server::{Echo, EchoServer};
use roost_proto::{EchoRequest, EchoResponse};
use tokio_stream::{Stream, StreamExt};
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::{Request, Response, Status, Streaming};
use tonic_health::pb::health_server::{Health, HealthServer};

/// A stream of echoes, as the streaming methods answer.
pub type EchoStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

/// How many times `ServerStreamingEcho` repeats the message.
pub const STREAM_REPEATS: usize = 10;

/// The echo service. It holds no state; a service with per-core state
/// would keep it here (each worker builds its own, see [`routes`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoService;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary_echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let message = request.into_inner().message;
        Ok(Response::new(EchoResponse { message }))
    }

    type ServerStreamingEchoStream = EchoStream;

    async fn server_streaming_echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoStream>, Status> {
        let message = request.into_inner().message;
        let echoes = std::iter::repeat_n(message, STREAM_REPEATS).map(|message| Ok(EchoResponse { message }));
        Ok(Response::new(Box::pin(tokio_stream::iter(echoes))))
    }

    async fn client_streaming_echo(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let mut messages = request.into_inner();
        let mut all = String::new();
        while let Some(next) = messages.message().await? {
            all.push_str(&next.message);
        }
        Ok(Response::new(EchoResponse { message: all }))
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

/// The echo server as this example serves it: gzip accepted, and sent when
/// the client accepts it.
pub fn echo_server() -> EchoServer<EchoService> {
    EchoServer::new(EchoService)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
}

/// What every worker serves: echo, health and reflection. Health's state
/// is one for the process (`health` is cloned into every worker); the
/// rest is built on each worker.
///
/// # Panics
///
/// If reflection cannot read the descriptors (a bug in them).
pub fn routes(health: &HealthServer<impl Health>) -> Routes {
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_file_descriptor_set(roost_proto::file_descriptor_set())
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Routes::new(echo_server())
        .add_service(health.clone())
        .add_service(reflection().build_v1().expect("echo's and health's descriptors"))
        .add_service(reflection().build_v1alpha().expect("echo's and health's descriptors"))
}

#[path = "support/listen_args.rs"]
mod listen_args;

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let args = listen_args::ListenArgs::parse(std::env::args().skip(1))?;
    let rt = Runtime::new()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    rt.block_on(reporter.set_serving::<EchoServer<EchoService>>());
    let mut builder = grpc::Server::builder();
    let tls = args.tls_config()?;
    let secured = if tls.is_some() { " (tls)" } else { "" };
    if let Some(config) = tls {
        builder = builder.tls(config);
    }
    let server = rt.block_on(builder.serve(rt.handle(), args.addr, move || routes(&health)))?;
    println!(
        "grpc serving on {} with {} workers{secured}",
        server.local_addr(),
        rt.worker_count()
    );
    rt.block_on(async {
        tokio::select! {
            _ = server.wait() => {}
            _ = roost::signal::ctrl_c() => {}
            _ = async {
                match roost::signal::unix::signal(roost::signal::unix::SignalKind::terminate()) {
                    Ok(mut term) => { term.recv().await; }
                    Err(_) => std::future::pending().await,
                }
            } => {}
        }
        let report = server.shutdown(Duration::from_secs(5)).await;
        if report.forced > 0 {
            eprintln!("grpc: {} connections closed with calls in flight", report.forced);
        }
    });
    Ok(())
}
