//! roost's HTTP server under an accept fault: an unexpected accept error
//! (injected) ends that worker's accept loop, is reported by the `Server`
//! (`failures`, `check`), and the other worker goes on serving real
//! clients. Before, the HTTP accept loop returned quietly and the server
//! was never told.

#[path = "support/http.rs"]
mod http;

use roost::net::http::Server;

#[roost::test(worker_threads = 2)]
async fn an_unexpected_accept_error_is_reported_and_the_other_worker_serves_on() {
    let server = http::start(Server::builder(), http::Controls::new(1)).await;
    let addr = server.local_addr();
    assert!(server.check().is_ok());
    roost::spawn_on(1, async { roost::net::__inject_accept_errors(libc::EINVAL, 1) })
        .await
        .unwrap();
    // Connect until one lands on worker 1 and meets the error (a connection
    // left in the closed listener's queue is dropped unserved).
    while server.check().is_ok() {
        let _ = http::blocking(move || std::net::TcpStream::connect(addr).map(drop)).await;
        roost::task::yield_now().await;
    }
    let failures = server.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].worker, 1);
    assert_eq!(failures[0].os_error, Some(libc::EINVAL));
    let err = server.check().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker 1"), "{err}");
    // Worker 0 still serves every new client.
    for _ in 0..20 {
        let res = http::blocking(move || http::get_hello(addr)).await;
        assert_eq!(res.status, 200);
    }
}
