//! A runtime shut down while an HTTP server still runs on it: the server's
//! tasks are cancelled with the runtime and nothing panics.
//!
//! Regression: the server's tasks used to hold the last reference to the
//! phase channel's sender, so cancelling them woke themselves during their
//! own cancellation, which roost's runtime does not survive (a task
//! reference-count underflow; see the ignored test at the end, which shows
//! the runtime bug without the server).

#[path = "support/http.rs"]
mod http;

use roost::net::http::Server;

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

/// The runtime bug itself, for whoever fixes `Core::shutdown` in
/// roost-runtime: a task whose future wakes the task while it is dropped
/// (here: a guard notifying the `Notify` the task waits on) makes the
/// worker's shutdown release the task twice.
#[roost::test(worker_threads = 1)]
#[ignore = "roost-runtime bug: a task woken by its own cancellation at shutdown underflows its reference count"]
async fn runtime_a_task_that_wakes_itself_while_cancelled_at_shutdown() {
    use std::sync::Arc;
    use tokio::sync::Notify;

    struct NotifyOnDrop(Arc<Notify>);
    impl Drop for NotifyOnDrop {
        fn drop(&mut self) {
            self.0.notify_waiters();
        }
    }
    let notify = Arc::new(Notify::new());
    drop(roost::spawn(async move {
        let waiting = notify.clone();
        let guard = NotifyOnDrop(notify);
        waiting.notified().await;
        drop(guard);
    }));
    roost::time::sleep(std::time::Duration::from_millis(10)).await;
}
