//! A runtime shut down while an HTTP server still runs on it: the server's
//! tasks are cancelled with the runtime and nothing panics.
//!
//! Regression: the server's tasks used to hold the last reference to the
//! phase channel's sender, so cancelling them woke themselves during their
//! own cancellation, which roost's runtime did not survive then (a task
//! reference-count underflow, fixed in roost-runtime by dropping a task's
//! future in place; its own regression test is in rt_shutdown). The phase's
//! sender is now the `Server`'s alone, so this holds on either runtime.
//!
//! And a server that `Server::shutdown` has ended leaves no task behind.

#[path = "support/http.rs"]
mod http;

use std::time::Duration;

use roost::net::http::Server;
use roost::runtime::Runtime;

#[roost::test(worker_threads = 2)]
async fn a_runtime_shut_down_under_an_idle_server_cancels_it_cleanly() {
    let _server = http::start(Server::builder(), http::Controls::new(1)).await;
}

#[roost::test(worker_threads = 2)]
async fn a_runtime_shut_down_under_a_server_with_open_connections_cancels_it_cleanly() {
    let server = http::start(Server::builder(), http::Controls::new(1)).await;
    let addr = server.local_addr();
    let res = http::blocking(move || http::get_hello(addr)).await;
    assert_eq!(res.status, 200);
    // Two keep-alive connections left open, one HTTP/1 and one HTTP/2.
    let mut h1 = http::h1_client(addr).await;
    let mut h2 = http::h2_client(addr).await;
    let (status, _) = http::collect(h1.send_request(http::request(hyper::Method::GET, "/", "")).await).await;
    assert_eq!(status, 200);
    let (status, _) = http::collect(h2.send_request(http::request(hyper::Method::GET, "/", "")).await).await;
    assert_eq!(status, 200);
}

/// Regression: a server that `Server::shutdown` had ended (listeners and
/// connections all closed) kept one task per worker, its phase relay,
/// until the `Server` handle was dropped, so a graceful runtime shutdown
/// behind it never drained: it waited out its whole deadline and then
/// cancelled them (found by `benches/soak`).
#[test]
fn a_server_ended_by_shutdown_leaves_no_task_for_the_runtime_to_cancel() {
    let rt = Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
    let server = rt.block_on(http::start(Server::builder(), http::Controls::new(1)));
    let addr = server.local_addr();
    let res = rt.block_on(http::blocking(move || http::get_hello(addr)));
    assert_eq!(res.status, 200);
    let report = rt.block_on(server.shutdown(Duration::from_secs(30)));
    assert_eq!(report.forced, 0);
    // The handle stays alive: an ended server must not need it dropped.
    // The deadline is a hang guard (the idle sweeper of the closed
    // connection's worker ends at its next sweep, within 5 s).
    let down = rt.shutdown_timeout(Duration::from_secs(30));
    assert!(down.drained, "tasks were left behind: {down:?}");
    assert_eq!(down.cancelled_tasks, 0);
    drop(server);
}
