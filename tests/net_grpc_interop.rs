//! gRPC on roost against clients and servers nobody on the team wrote:
//! tonic's own client and server on tokio, health and reflection as
//! `examples/grpc.rs` serves them, gRPC's C core (python3-grpcio) against
//! the example as a process, and peers that send bad input.

#[path = "support/examples.rs"]
mod examples;
#[path = "support/grpc.rs"]
mod grpc;
#[allow(dead_code)]
#[path = "../examples/grpc.rs"]
mod grpc_example;

use std::io::{Read, Write};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame};
use roost::net::grpc::Server;
use roost_proto::echo_client::EchoClient;
use roost_proto::echo_server::EchoServer;
use tonic::Code;

use grpc::{messages, req, start, unary, Probe};

/// A tokio current-thread runtime on a thread of its own, as a tokio user
/// runs tonic.
fn on_tokio<R: Send + 'static>(f: impl std::future::Future<Output = R> + Send + 'static) -> std::thread::JoinHandle<R> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
}

#[roost::test(worker_threads = 2)]
async fn tonics_own_client_on_tokio_calls_the_roost_server() {
    let probe = Probe::default();
    let server = start(Server::builder(), probe.clone()).await;
    let uri = format!("http://{}", server.local_addr());
    let done = on_tokio(async move {
        let channel = tonic::transport::Endpoint::from_shared(uri)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = EchoClient::new(channel);
        let one = client.unary_echo(req("tokio")).await.unwrap().into_inner().message;
        let ten = messages(client.server_streaming_echo(req("s")).await.unwrap().into_inner()).await;
        let all = client
            .client_streaming_echo(tokio_stream::iter(["x", "y"].map(req)))
            .await
            .unwrap()
            .into_inner()
            .message;
        let bidi = messages(
            client
                .bidirectional_streaming_echo(tokio_stream::iter(["p", "q"].map(req)))
                .await
                .unwrap()
                .into_inner(),
        )
        .await;
        let mut late = tonic::Request::new(req("hang"));
        late.set_timeout(Duration::from_millis(100));
        let status = client.unary_echo(late).await.unwrap_err();
        (one, ten.len(), all, bidi, status.code())
    });
    let (one, ten, all, bidi, late) = grpc::blocking(move || done.join().unwrap()).await;
    assert_eq!(one, "tokio");
    assert_eq!(ten, 10);
    assert_eq!(all, "xy");
    assert_eq!(bidi, ["p", "q"]);
    // tonic's channel times the call out itself too (as `CANCELLED`,
    // "Timeout expired"), racing the server's `DEADLINE_EXCEEDED`; either
    // way the handler is dropped.
    assert!(matches!(late, Code::DeadlineExceeded | Code::Cancelled), "{late:?}");
    probe
        .seen
        .until(|s| s.dropped.load(std::sync::atomic::Ordering::SeqCst) == 1)
        .await;
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn the_roost_channel_calls_tonics_own_server_on_tokio() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = on_tokio(async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tonic::transport::Server::builder()
            .add_service(EchoServer::new(grpc_example::EchoService))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_rx.await;
            })
            .await
    });
    let mut client =
        EchoClient::new(roost::net::grpc::Channel::new(format!("http://{addr}").parse().unwrap()).unwrap());
    assert_eq!(unary(&mut client, "to tokio").await.unwrap(), "to tokio");
    let echoes = messages(client.server_streaming_echo(req("s")).await.unwrap().into_inner()).await;
    assert_eq!(echoes.len(), grpc_example::STREAM_REPEATS);
    let all = client
        .client_streaming_echo(tokio_stream::iter(["1", "2", "3"].map(req)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.message, "123");
    stop_tx.send(()).unwrap();
    grpc::blocking(move || served.join().unwrap()).await.unwrap();
}

/// The example's routes (echo, health, reflection) on a roost server.
async fn example_server() -> roost::net::http::Server {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<EchoServer<grpc_example::EchoService>>().await;
    Server::builder()
        .serve(
            &roost::runtime::Handle::current(),
            "127.0.0.1:0".parse().unwrap(),
            move || grpc_example::routes(&health),
        )
        .await
        .unwrap()
}

#[roost::test(worker_threads = 2)]
async fn health_and_reflection_answer_as_tonics_services_do() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let server = example_server().await;
    let channel = grpc::channel(&server);
    let mut health = HealthClient::new(channel.clone());
    for service in ["", roost_proto::SERVICE_NAME] {
        let check = HealthCheckRequest {
            service: service.into(),
        };
        let status = health.check(check).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    let unknown = HealthCheckRequest {
        service: "no.Such".into(),
    };
    assert_eq!(health.check(unknown).await.unwrap_err().code(), Code::NotFound);

    // Reflection streams on tokio's runtime inside (tonic-reflection spawns
    // with `tokio::spawn`): roost's tokio context serves it.
    let mut reflection = ServerReflectionClient::new(channel);
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([ask]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list of services");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert!(names.contains(&roost_proto::SERVICE_NAME.to_owned()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()), "{names:?}");
    server.shutdown(Duration::from_secs(5)).await;
}

/// A hyper HTTP/2 connection to `addr` on roost, as a peer that writes
/// gRPC by hand.
async fn raw_h2(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http2::SendRequest<
    http_body_util::StreamBody<tokio_stream::wrappers::ReceiverStream<Result<Frame<Bytes>, std::io::Error>>>,
> {
    let stream = roost::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(roost::net::hyper::RoostExecutor, stream)
        .await
        .unwrap();
    drop(roost::spawn(conn));
    sender
}

fn echo_request<B>(addr: std::net::SocketAddr, method: &str, body: B) -> hyper::Request<B> {
    hyper::Request::post(format!("http://{addr}/grpc.examples.echo.Echo/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .unwrap()
}

/// The `grpc-status` of a response, from its head or its trailers.
async fn grpc_status(response: hyper::Response<hyper::body::Incoming>) -> String {
    let (parts, body) = response.into_parts();
    if let Some(status) = parts.headers.get("grpc-status") {
        return status.to_str().unwrap().to_owned();
    }
    let collected = body.collect().await.expect("a complete response");
    let trailers = collected.trailers().expect("trailers with a grpc-status");
    trailers["grpc-status"].to_str().unwrap().to_owned()
}

#[roost::test(worker_threads = 2)]
async fn bad_input_is_answered_or_closed_and_the_worker_serves_on() {
    let probe = Probe::default();
    let server = start(Server::builder(), probe.clone()).await;
    let addr = server.local_addr();

    // The HTTP/2 preface, then garbage: the connection is closed.
    let closed = grpc::blocking(move || {
        let mut peer = std::net::TcpStream::connect(addr).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        peer.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        peer.write_all(&[0xff; 64]).unwrap();
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).map(|_| rest)
    })
    .await;
    assert!(closed.is_ok(), "the connection was not closed: {closed:?}");

    // A length prefix larger than the body that follows it: an error
    // status, not a hang.
    let mut sender = raw_h2(addr).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let response = roost::spawn(sender.send_request(echo_request(addr, "UnaryEcho", body)));
    let mut short = vec![0, 0, 0, 0, 100];
    short.extend_from_slice(b"\x0a\x03abc");
    tx.send(Ok(Frame::data(Bytes::from(short)))).await.unwrap();
    drop(tx);
    let response = response.await.unwrap().unwrap();
    let status = grpc_status(response).await;
    assert_ne!(status, "0", "a truncated message was accepted");

    // A stream reset in the middle of a message: the handler (client
    // streaming, reading) ends, and nothing else does.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let response = roost::spawn(sender.send_request(echo_request(addr, "ClientStreamingEcho", body)));
    tx.send(Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 50, 0x0a, 48, b'a']))))
        .await
        .unwrap();
    probe
        .seen
        .until(|s| s.hanging.load(std::sync::atomic::Ordering::SeqCst) == 1)
        .await;
    // A body error makes hyper reset the stream (RST_STREAM).
    tx.send(Err(std::io::Error::other("the peer gives up"))).await.unwrap();
    let _ = response.await;
    probe
        .seen
        .until(|s| s.dropped.load(std::sync::atomic::Ordering::SeqCst) == 1)
        .await;

    // The same worker, the same connection and new ones serve on.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let response = roost::spawn(sender.send_request(echo_request(addr, "UnaryEcho", body)));
    let mut ok = vec![0, 0, 0, 0, 4];
    ok.extend_from_slice(b"\x0a\x02ok");
    tx.send(Ok(Frame::data(Bytes::from(ok)))).await.unwrap();
    drop(tx);
    assert_eq!(grpc_status(response.await.unwrap().unwrap()).await, "0");
    let mut client = grpc::client(&server);
    for i in 0..4 {
        assert_eq!(
            unary(&mut client, &format!("after {i}")).await.unwrap(),
            format!("after {i}")
        );
    }
    server.shutdown(Duration::from_secs(5)).await;
}

/// `examples/grpc.rs` as a user runs it, a process printing its address,
/// called by tonic's own client on tokio: every echo method and health.
#[test]
fn the_example_process_serves_echo_and_health_to_tonics_client() {
    let example = examples::start("grpc", &["127.0.0.1:0"]);
    let uri = format!("http://{}", example.addr);
    let answers = on_tokio(async move {
        let channel = tonic::transport::Endpoint::from_shared(uri)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut echo = EchoClient::new(channel.clone());
        let one = echo.unary_echo(req("process")).await.unwrap().into_inner().message;
        // Every message checked, not only counted: an error item is not an
        // echo.
        let ten = messages(echo.server_streaming_echo(req("s")).await.unwrap().into_inner()).await;
        let all = echo
            .client_streaming_echo(tokio_stream::iter(["a", "b"].map(req)))
            .await
            .unwrap()
            .into_inner()
            .message;
        let bidi = messages(
            echo.bidirectional_streaming_echo(tokio_stream::iter(["c", "d"].map(req)))
                .await
                .unwrap()
                .into_inner(),
        )
        .await;
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let check = tonic_health::pb::HealthCheckRequest { service: String::new() };
        let serving = health.check(check).await.unwrap().into_inner().status;
        (one, ten, all, bidi, serving)
    })
    .join()
    .unwrap();
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let (one, ten, all, bidi, health) = answers;
    assert_eq!((one.as_str(), all.as_str(), health), ("process", "ab", serving));
    assert_eq!(ten, vec!["s"; 10]);
    assert_eq!(bidi, ["c", "d"]);
}

/// gRPC's C core (python3-grpcio) against `examples/grpc.rs` as a process:
/// the four echo methods, health, an unknown method, a deadline, an
/// oversized message and gzip. Skipped, saying so, where python3 has no
/// `grpc` module, unless `ROOST_REQUIRE_CLIENTS` is set (`.ci/run`
/// installs it and sets that).
#[test]
fn grpcs_c_core_client_talks_to_the_example() {
    let python = examples::system_python();
    if !examples::client_available(python, &["-c", "import grpc"]) {
        return;
    }
    let example = examples::start("grpc", &["127.0.0.1:0"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/grpcio_echo.py");
    let out = std::process::Command::new(python)
        .args([script, &example.addr.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim_end().lines().last(), Some("all ok"), "{stdout}");
}
