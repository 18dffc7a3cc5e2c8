//! The HTTP examples run as processes, as a user would: `examples/http.rs`
//! and `examples/axum.rs` driven over HTTP/1.1 (raw sockets) and h2c
//! (hyper's client on roost), and `examples/http_client.rs` against
//! `examples/http.rs`, in the clear and over TLS.

#[path = "support/examples.rs"]
mod examples;
#[path = "support/http.rs"]
mod http;
#[path = "support/tls.rs"]
mod tls_support;

use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Output};

use hyper::{Method, StatusCode};

use http::{raw_client, read_response, RawResponse};

/// One HTTP/1.1 request on a fresh connection.
fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> RawResponse {
    let mut stream = raw_client(addr);
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: roost\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    read_response(&mut BufReader::new(stream)).unwrap().expect("a response")
}

fn text(res: &RawResponse) -> &str {
    std::str::from_utf8(&res.body).expect("UTF-8 body")
}

/// GETs `path` over h2c with hyper's client on a roost runtime.
fn h2_get(addr: SocketAddr, method: Method, path: &str) -> (StatusCode, String) {
    let rt = roost::runtime::Runtime::builder()
        .worker_threads(1)
        .pin_workers(false)
        .build()
        .unwrap();
    let path = path.to_owned();
    rt.block_on(async move {
        let mut h2 = http::h2_client(addr).await;
        let (status, body) = http::collect(h2.send_request(http::request(method, &path, "")).await).await;
        (status, String::from_utf8(body.to_vec()).unwrap())
    })
}

#[test]
fn http_example_routes_over_http1_and_h2c() {
    let server = examples::start("http", &["127.0.0.1:0"]);
    let res = send(server.addr, "GET", "/", b"");
    assert_eq!((res.status, text(&res)), (200, "Hello, world!"));
    let res = send(server.addr, "POST", "/echo", b"echo me");
    assert_eq!((res.status, text(&res)), (200, "echo me"));
    assert_eq!(send(server.addr, "GET", "/elsewhere", b"").status, 404);
    assert_eq!(
        h2_get(server.addr, Method::GET, "/"),
        (StatusCode::OK, "Hello, world!".to_owned())
    );
}

#[test]
fn axum_example_routes_json_path_parameter_and_shared_state() {
    let server = examples::start("axum", &["127.0.0.1:0"]);
    let res = send(server.addr, "GET", "/", b"");
    assert_eq!((res.status, text(&res)), (200, "Hello from axum on roost!\n"));

    let res = send(server.addr, "GET", "/json", b"");
    assert_eq!(res.status, 200);
    assert_eq!(
        res.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(json["message"], "Hello, world!");
    assert!(json["worker"].is_u64(), "{json}");

    let res = send(server.addr, "GET", "/users/42", b"");
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        (res.status, json["id"].as_u64(), json["name"].as_str()),
        (200, Some(42), Some("user 42"))
    );
    // Not a number: axum's own 400.
    assert_eq!(send(server.addr, "GET", "/users/abc", b"").status, 400);

    // The counter is shared by every worker: connections land on either,
    // and the count goes up by one each time.
    for expected in 1..=6 {
        let res = send(server.addr, "POST", "/hits", b"");
        let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!((res.status, json["hits"].as_u64()), (200, Some(expected)));
    }
    let (status, body) = h2_get(server.addr, Method::POST, "/hits");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["hits"], 7);
    assert_eq!(send(server.addr, "GET", "/nowhere", b"").status, 404);
}

/// Runs `examples/http_client.rs` with `args`.
fn http_client(args: &[&str]) -> Output {
    // The server example was started first, so built: this one sits next
    // to it, unless only this test was built.
    let dir = examples::examples_dir();
    if !dir.join("http_client").exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "http_client"])
            .status()
            .unwrap();
        assert!(status.success());
    }
    Command::new(dir.join("http_client")).args(args).output().unwrap()
}

/// What the client prints for `url`'s two GETs of `examples/http.rs`.
fn both_gets(url: &str) -> String {
    format!("GET {url} over HTTP/1.1: 200 OK\nHello, world!\nGET {url} over HTTP/2: 200 OK\nHello, world!\n")
}

#[test]
fn http_client_example_gets_over_http1_then_h2c() {
    let server = examples::start("http", &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.addr);
    let out = http_client(&[&url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), both_gets(&url));
}

/// Over TLS: ALPN `http/1.1`, then `h2`, the server's name checked; a CA
/// that did not sign the certificate, or a name it does not carry, fails.
#[test]
fn http_client_example_gets_over_tls_with_alpn() {
    let pki = tls_support::Pki::new("http-client");
    let (cert, key) = pki.write("server", &pki.server(&["localhost"], 1));
    let server = examples::start(
        "http",
        &[
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = server.addr.port();
    let ca = pki.ca_path();
    let ca = ca.to_str().unwrap();

    let url = format!("https://localhost:{port}/");
    let out = http_client(&[&url, "--cacert", ca]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), both_gets(&url));

    // 127.0.0.1 is not a name on the certificate.
    let out = http_client(&[&format!("https://127.0.0.1:{port}/"), "--cacert", ca]);
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success() && err.contains("certificate"), "{err}");

    // Another CA's roots do not lead to this certificate.
    let other = tls_support::Pki::new("http-client-other");
    let out = http_client(&[&url, "--cacert", other.ca_path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success() && err.contains("certificate"), "{err}");

    // https:// without roots says what is missing.
    let out = http_client(&[&url]);
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success() && err.contains("--cacert"), "{err}");
}
