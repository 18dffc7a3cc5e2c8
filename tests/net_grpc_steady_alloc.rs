//! roost adds no global allocation to a gRPC call: a unary call served by
//! roost's gRPC server costs its worker no more global allocator calls than
//! the same call costs tonic's own server on a tokio current-thread runtime
//! (what tonic and hyper make on tokio). Counted on the server's thread,
//! with the same client (tonic's, on tokio, on a thread that is not
//! counted), not timed.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[allow(dead_code)]
#[path = "../examples/grpc.rs"]
mod grpc_example;

use std::net::SocketAddr;
use std::time::Duration;

use counting_alloc::CountingAllocator;
use roost::runtime::Runtime;
use roost_proto::echo_client::EchoClient;
use roost_proto::echo_server::EchoServer;
use roost_proto::EchoRequest;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const WARM_UP: usize = 300;
const CALLS: usize = 3_000;

/// Global allocator calls counted per unary call of 64 bytes, made one at a
/// time by tonic's client on its own thread against `addr`.
fn calls_per_call(addr: SocketAddr) -> f64 {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = EchoClient::new(channel);
            let message = "m".repeat(64);
            let mut call = async || {
                let req = EchoRequest {
                    message: message.clone(),
                };
                let res = client.unary_echo(req).await.unwrap();
                assert_eq!(res.into_inner().message.len(), 64);
            };
            for _ in 0..WARM_UP {
                call().await;
            }
            let before = counting_alloc::calls();
            for _ in 0..CALLS {
                call().await;
            }
            (counting_alloc::calls() - before) as f64 / CALLS as f64
        })
    })
    .join()
    .unwrap()
}

#[test]
fn a_unary_call_costs_roost_no_more_allocations_than_tonic_on_tokio() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .pin_workers(false)
        .on_thread_start(counting_alloc::count_this_thread)
        .build()
        .unwrap();
    let server = rt
        .block_on(
            roost::net::grpc::Server::builder().serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), || {
                EchoServer::new(grpc_example::EchoService)
            }),
        )
        .unwrap();
    let roost = calls_per_call(server.local_addr());
    rt.block_on(server.shutdown(Duration::from_secs(10)));

    // tonic's own server on a tokio current-thread runtime, counted the
    // same way.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = std::thread::spawn(move || {
        counting_alloc::count_this_thread();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let incoming =
                tokio_stream::wrappers::TcpListenerStream::new(tokio::net::TcpListener::from_std(listener).unwrap());
            tonic::transport::Server::builder()
                .add_service(EchoServer::new(grpc_example::EchoService))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    let tokio = calls_per_call(addr);
    stop.send(()).unwrap();
    served.join().unwrap();

    eprintln!("global allocator calls per unary call: roost {roost:.2}, tonic on tokio {tokio:.2}");
    assert!(
        roost <= tokio + 0.01,
        "roost's server made {roost:.2} global allocator calls per call, tonic's on tokio {tokio:.2}"
    );
}
