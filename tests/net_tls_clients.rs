//! The serving examples over TLS (`--tls-cert`/`--tls-key`), as processes,
//! against clients nobody on the team wrote: curl over HTTP/1.1 and
//! HTTP/2, `openssl s_client`, h2load, Python's `ssl` module and gRPC's C
//! core (python3-grpcio). A client that is not installed is skipped, saying
//! so, unless `ROOST_REQUIRE_CLIENTS` is set (`.ci/run` installs them and
//! sets it).

#[path = "support/examples.rs"]
mod examples;
#[path = "support/tls.rs"]
mod tls_support;

use std::process::{Command, Output};

use tls_support::Pki;

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Example `name` over TLS, with a certificate from `pki` for `hosts`.
fn tls_example(pki: &Pki, name: &str, hosts: &[&str]) -> examples::Example {
    let (cert, key) = pki.write("server", &pki.server(hosts, 1));
    examples::start(
        name,
        &[
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
}

/// The http example over TLS, for `localhost` and 127.0.0.1.
fn https_example(pki: &Pki) -> examples::Example {
    tls_example(pki, "http", &["localhost", "127.0.0.1"])
}

#[test]
fn curl_over_http1_and_http2_with_the_test_ca() {
    if !examples::client_available("curl", &["--version"]) {
        return;
    }
    let pki = Pki::new("curl");
    let example = https_example(&pki);
    let ca = pki.ca_path();
    let url = format!("https://localhost:{}", example.addr.port());
    let body = pki.dir.join("body.bin");
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&body, &data).unwrap();
    for version in ["--http1.1", "--http2"] {
        let out = run(
            "curl",
            &[
                "-sS",
                version,
                "--cacert",
                ca.to_str().unwrap(),
                "-w",
                "\n%{http_version}",
                &format!("{url}/"),
            ],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let want = if version == "--http2" { "2" } else { "1.1" };
        assert_eq!(text, format!("Hello, world!\n{want}"), "{version}");
        // 1.5 MB echoed byte for byte (the example's body limit is 2 MiB).
        let out = run(
            "curl",
            &[
                "-sS",
                version,
                "--cacert",
                ca.to_str().unwrap(),
                "--data-binary",
                &format!("@{}", body.display()),
                &format!("{url}/echo"),
            ],
        );
        assert!(
            out.stdout == data,
            "{version}: {} bytes back of {}",
            out.stdout.len(),
            data.len()
        );
    }
}

#[test]
fn openssl_s_client_sees_tls13_and_alpn() {
    if !examples::client_available("openssl", &["version"]) {
        return;
    }
    let pki = Pki::new("openssl");
    let example = https_example(&pki);
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &example.addr.to_string(),
            "-servername",
            "localhost",
            "-alpn",
            "h2,http/1.1",
            "-CAfile",
            pki.ca_path().to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // An HTTP/1.1 request would need ALPN http/1.1; closing stdin ends the
    // session after the handshake.
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ALPN protocol: h2"), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(text.contains("TLSv1.3"), "{text}");
}

#[test]
fn h2load_over_tls() {
    if !examples::client_available("h2load", &["--version"]) {
        return;
    }
    let pki = Pki::new("h2load");
    let example = https_example(&pki);
    let out = run(
        "h2load",
        &[
            "-n",
            "4000",
            "-c",
            "8",
            "-m",
            "10",
            &format!("https://127.0.0.1:{}/", example.addr.port()),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4000 succeeded, 0 failed, 0 errored"), "{text}");
    assert!(text.contains("Application protocol: h2"), "{text}");
}

#[test]
fn pythons_ssl_module_over_http1() {
    if !examples::client_available(examples::system_python(), &["-c", "import ssl"]) {
        return;
    }
    let pki = Pki::new("python");
    let example = https_example(&pki);
    let script = format!(
        "import ssl, http.client\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         c = http.client.HTTPSConnection('localhost', {port}, context=ctx)\n\
         c.request('POST', '/echo', body=b'x' * 100000)\n\
         r = c.getresponse()\n\
         assert r.status == 200 and r.read() == b'x' * 100000\n\
         c.request('GET', '/')\n\
         r = c.getresponse()\n\
         print(r.status, r.read().decode(), c.sock.version())\n",
        ca = pki.ca_path().to_str().unwrap(),
        port = example.addr.port()
    );
    let out = run(examples::system_python(), &["-c", &script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200 Hello, world! TLSv1.3");
}

#[test]
fn grpcs_c_core_over_tls() {
    if !examples::client_available(examples::system_python(), &["-c", "import grpc"]) {
        return;
    }
    let pki = Pki::new("grpcio");
    let example = tls_example(&pki, "grpc", &["localhost"]);
    let script = format!(
        "import grpc\n\
         creds = grpc.ssl_channel_credentials(open({ca:?}, 'rb').read())\n\
         ch = grpc.secure_channel('localhost:{port}', creds)\n\
         enc = lambda s: b'\\x0a' + bytes([len(s)]) + s.encode()\n\
         dec = lambda b: b[2:].decode()\n\
         u = ch.unary_unary('/grpc.examples.echo.Echo/UnaryEcho', request_serializer=enc, response_deserializer=dec)\n\
         print(u('secure', timeout=20))\n",
        ca = pki.ca_path().to_str().unwrap(),
        port = example.addr.port()
    );
    let out = run(examples::system_python(), &["-c", &script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "secure");
}
