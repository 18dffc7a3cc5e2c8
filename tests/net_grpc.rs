//! gRPC on roost (`roost::net::grpc`) on real sockets: the four call kinds,
//! deadlines, cancellation, message limits, unknown methods, compression,
//! the peer address, graceful shutdown, and roost's channel reconnecting
//! and serving every worker.

#[path = "support/grpc.rs"]
mod grpc;

use std::sync::atomic::Ordering;
use std::time::Duration;

use roost::net::grpc::{Channel, Server};
use roost_proto::echo_client::EchoClient;
use tonic::codec::CompressionEncoding;
use tonic::Code;

use grpc::{client, messages, req, start, unary, Probe};

#[roost::test(worker_threads = 2)]
async fn the_four_call_kinds_answer_as_the_echo_service_says() {
    let server = start(Server::builder(), Probe::default()).await;
    let mut client = client(&server);

    assert_eq!(unary(&mut client, "hello").await.unwrap(), "hello");

    let echoes = messages(client.server_streaming_echo(req("ten")).await.unwrap().into_inner()).await;
    assert_eq!(echoes, vec!["ten"; 10]);

    let parts = tokio_stream::iter(["a", "bb", "ccc"].map(req));
    let all = client.client_streaming_echo(parts).await.unwrap().into_inner();
    assert_eq!(all.message, "abbccc");

    // Bidirectional: each message is echoed before the next is sent.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut echoes = client
        .bidirectional_streaming_echo(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    for word in ["one", "two", "three"] {
        tx.send(req(word)).await.unwrap();
        assert_eq!(echoes.message().await.unwrap().unwrap().message, word);
    }
    drop(tx);
    assert!(echoes.message().await.unwrap().is_none());

    assert_eq!(server.shutdown(Duration::from_secs(5)).await.forced, 0);
}

#[roost::test(worker_threads = 2)]
async fn a_call_past_its_deadline_is_dropped_and_answered_deadline_exceeded() {
    let probe = Probe::default();
    let server = start(Server::builder(), probe.clone()).await;
    let mut client = client(&server);

    // The client's deadline (grpc-timeout), on a unary handler that hangs.
    let mut request = tonic::Request::new(req("hang"));
    request.set_timeout(Duration::from_millis(200));
    let status = client.unary_echo(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    probe.seen.until(|s| s.dropped.load(Ordering::SeqCst) == 1).await;

    // A response stream that started and then stalls: cut at the deadline,
    // the trailers say why, the stream is dropped.
    let mut request = tonic::Request::new(req("hang"));
    request.set_timeout(Duration::from_millis(300));
    let mut stream = client.server_streaming_echo(request).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().message, "hang");
    let status = stream.message().await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    probe.seen.until(|s| s.dropped.load(Ordering::SeqCst) == 2).await;

    // Calls within their deadline are untouched.
    let mut request = tonic::Request::new(req("sleep:10"));
    request.set_timeout(Duration::from_secs(30));
    assert_eq!(
        client.unary_echo(request).await.unwrap().into_inner().message,
        "sleep:10"
    );
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn the_servers_own_timeout_bounds_calls_without_a_deadline() {
    let probe = Probe::default();
    let server = start(Server::builder().timeout(Duration::from_millis(200)), probe.clone()).await;
    let mut client = client(&server);
    let status = unary(&mut client, "hang").await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    probe.seen.until(|s| s.dropped.load(Ordering::SeqCst) == 1).await;
    assert_eq!(unary(&mut client, "quick").await.unwrap(), "quick");
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn a_client_that_gives_up_cancels_the_handler() {
    let probe = Probe::default();
    let server = start(Server::builder(), probe.clone()).await;
    let mut client = client(&server);

    // Dropping the call's future resets its stream (RST_STREAM CANCEL).
    let mut call = Box::pin(client.unary_echo(req("hang")));
    tokio::select! {
        _ = &mut call => panic!("a hanging handler answered"),
        () = probe.seen.until(|s| s.hanging.load(Ordering::SeqCst) == 1) => {}
    }
    drop(call);
    probe.seen.until(|s| s.dropped.load(Ordering::SeqCst) == 1).await;

    // A connection that closes cancels its handlers too: a raw HTTP/2
    // connection (hyper's client) that sends a hanging call and is dropped.
    let stream = roost::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(roost::net::hyper::RoostExecutor, stream)
        .await
        .unwrap();
    let conn = roost::spawn(conn);
    let body = http_body_util::Full::new(hyper::body::Bytes::from(grpc_frame(b"\x0a\x04hang")));
    let request = hyper::Request::post(format!(
        "http://{}/grpc.examples.echo.Echo/UnaryEcho",
        server.local_addr()
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(body)
    .unwrap();
    let response = roost::spawn(sender.send_request(request));
    probe.seen.until(|s| s.hanging.load(Ordering::SeqCst) == 2).await;
    response.abort();
    conn.abort();
    drop(sender);
    probe.seen.until(|s| s.dropped.load(Ordering::SeqCst) == 2).await;

    // The server serves on.
    assert_eq!(unary(&mut client, "after").await.unwrap(), "after");
    server.shutdown(Duration::from_secs(5)).await;
}

/// One gRPC message frame (uncompressed) around `message`.
fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

#[roost::test(worker_threads = 2)]
async fn a_message_over_the_limit_is_resource_exhausted_and_the_connection_serves_on() {
    let server = start(Server::builder().max_message_size(64 * 1024), Probe::default()).await;
    let mut client = client(&server).max_encoding_message_size(usize::MAX);
    let status = unary(&mut client, &"x".repeat(100 * 1024)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("65536"), "{status:?}");
    // The same connection (the channel's only one on this thread) serves on.
    assert_eq!(
        unary(&mut client, &"y".repeat(60 * 1024)).await.unwrap().len(),
        60 * 1024
    );

    // The default limit is gRPC's 4 MiB.
    let default = start(Server::builder(), Probe::default()).await;
    let mut client = grpc::client(&default).max_encoding_message_size(usize::MAX);
    let status = unary(&mut client, &"z".repeat(4 * 1024 * 1024 + 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    server.shutdown(Duration::from_secs(5)).await;
    default.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn unknown_services_and_methods_are_unimplemented() {
    let server = start(Server::builder(), Probe::default()).await;
    let mut grpc = tonic::client::Grpc::new(grpc::channel(&server));
    for path in ["/grpc.examples.echo.Echo/NoSuchMethod", "/no.such.Service/UnaryEcho"] {
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<roost_proto::EchoRequest, roost_proto::EchoResponse>::default();
        let status = grpc
            .unary(tonic::Request::new(req("x")), path.parse().unwrap(), codec)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
    }
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn gzip_requests_and_responses_round_trip() {
    let handle = roost::runtime::Handle::current();
    let make = || {
        roost_proto::echo_server::EchoServer::new(Probe::default())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
    };
    let server = Server::builder()
        .serve(&handle, "127.0.0.1:0".parse().unwrap(), make)
        .await
        .unwrap();
    let mut client = grpc::client(&server)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let big = "compressible ".repeat(10_000);
    let response = client.unary_echo(req(&big)).await.unwrap();
    assert_eq!(response.into_inner().message, big);
    // A server that does not accept gzip says so.
    let plain = start(Server::builder(), Probe::default()).await;
    let mut client = grpc::client(&plain).send_compressed(CompressionEncoding::Gzip);
    let status = unary(&mut client, "gz").await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    server.shutdown(Duration::from_secs(5)).await;
    plain.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn handlers_see_the_peer_address_and_can_spawn_on_their_worker() {
    let server = start(Server::builder(), Probe::default()).await;
    let mut client = client(&server);
    let addr = unary(&mut client, "addr").await.unwrap();
    let addr: std::net::SocketAddr = addr.parse().unwrap_or_else(|_| panic!("not an address: {addr}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let spawned = unary(&mut client, "spawn").await.unwrap();
    assert!(spawned.starts_with("spawned on Some("), "{spawned}");
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn graceful_shutdown_lets_calls_in_flight_finish_and_refuses_new_connections() {
    let probe = Probe::default();
    let server = std::sync::Arc::new(start(Server::builder(), probe.clone()).await);
    let addr = server.local_addr();
    let mut client = client(&server);
    // Connected before the shutdown, then a call in flight during it.
    assert_eq!(unary(&mut client, "warm").await.unwrap(), "warm");
    let in_flight = roost::spawn(async move { unary(&mut client, "wait").await });
    probe.seen.until(|s| s.waiting.load(Ordering::SeqCst) == 1).await;
    let stopper = server.clone();
    let stopped = roost::spawn(async move { stopper.shutdown(Duration::from_secs(30)).await });
    // New connections are refused once the listeners are closed ...
    for attempt in 0.. {
        match roost::net::TcpStream::connect(addr).await {
            Err(_) => break,
            Ok(_) if attempt < 2000 => roost::time::sleep(Duration::from_millis(10)).await,
            Ok(_) => panic!("still accepting after 20 s of shutdown"),
        }
    }
    // ... while the call in flight is still served: let it finish.
    probe.seen.gate.add_permits(1);
    assert_eq!(in_flight.await.unwrap().unwrap(), "wait");
    assert_eq!(stopped.await.unwrap().forced, 0);
}

#[roost::test(worker_threads = 2)]
async fn the_channel_reconnects_after_the_server_comes_back() {
    let handle = roost::runtime::Handle::current();
    let server = start(Server::builder(), Probe::default()).await;
    let addr = server.local_addr();
    let channel = Channel::new(format!("http://{addr}").parse().unwrap()).unwrap();
    let mut client = EchoClient::new(channel.clone());
    assert_eq!(unary(&mut client, "first").await.unwrap(), "first");
    server.shutdown(Duration::from_secs(5)).await;

    let status = unary(&mut client, "nobody there").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    let probe = Probe::default();
    let again = Server::builder()
        .serve(&handle, addr, move || {
            roost_proto::echo_server::EchoServer::new(probe.clone())
        })
        .await
        .unwrap();
    assert_eq!(unary(&mut client, "back").await.unwrap(), "back");
    again.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn one_channel_serves_calls_from_every_worker() {
    let server = start(Server::builder(), Probe::default()).await;
    let channel = grpc::channel(&server);
    let handle = roost::runtime::Handle::current();
    let mut calls = Vec::new();
    for worker in 0..2 {
        let channel = channel.clone();
        // A call's future stays on its thread (it is not `Send`): the
        // task sent to the worker spawns it there.
        calls.push(handle.spawn_on(worker, async move {
            roost::spawn(async move {
                let mut client = EchoClient::new(channel);
                let mut answers = Vec::new();
                for i in 0..20 {
                    answers.push(unary(&mut client, &format!("{worker}/{i}")).await.unwrap());
                }
                (roost::runtime::current_worker(), answers)
            })
            .await
            .unwrap()
        }));
    }
    for (worker, call) in calls.into_iter().enumerate() {
        let (ran_on, answers) = call.await.unwrap();
        assert_eq!(ran_on, Some(worker));
        assert_eq!(answers, (0..20).map(|i| format!("{worker}/{i}")).collect::<Vec<_>>());
    }
    // Each worker made its own connection.
    assert_eq!(server.accepted(), 2);
    server.shutdown(Duration::from_secs(5)).await;
}

#[roost::test(worker_threads = 2)]
async fn interceptors_and_tower_layers_wrap_the_service_as_on_tonics_server() {
    use tower::ServiceBuilder;

    let handle = roost::runtime::Handle::current();
    // An interceptor that wants a token, under a concurrency limit and a
    // layer that tags every request: tonic's and tower's pieces as they are.
    let make = || {
        let check = |req: tonic::Request<()>| match req.metadata().get("authorization") {
            Some(token) if token == "Bearer roost" => Ok(req),
            _ => Err(tonic::Status::unauthenticated("no token")),
        };
        ServiceBuilder::new()
            .concurrency_limit(4)
            .map_request(|mut req: hyper::Request<roost::net::grpc::RequestBody>| {
                req.headers_mut().insert("x-tagged", "yes".parse().unwrap());
                req
            })
            .service(roost_proto::echo_server::EchoServer::with_interceptor(
                Probe::default(),
                check,
            ))
    };
    let server = Server::builder()
        .serve(&handle, "127.0.0.1:0".parse().unwrap(), make)
        .await
        .unwrap();
    let mut client = client(&server);
    let status = unary(&mut client, "who").await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let mut request = tonic::Request::new(req("me"));
    request
        .metadata_mut()
        .insert("authorization", "Bearer roost".parse().unwrap());
    assert_eq!(client.unary_echo(request).await.unwrap().into_inner().message, "me");
    let mut request = tonic::Request::new(req("meta:x-tagged"));
    request
        .metadata_mut()
        .insert("authorization", "Bearer roost".parse().unwrap());
    assert_eq!(client.unary_echo(request).await.unwrap().into_inner().message, "yes");
    server.shutdown(Duration::from_secs(5)).await;
}
