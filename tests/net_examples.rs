//! The programs of `examples/` ported from tokio (echo, proxy, chat, UDP
//! echo), run as processes and driven by clients the team did not write:
//! std's sockets and tokio-util's `LinesCodec` on tokio's own runtime.

#[path = "support/examples.rs"]
mod examples;
#[path = "support/net.rs"]
mod net;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, LinesCodec};

const LIMIT: Option<Duration> = Some(Duration::from_secs(30));

/// Writes `data` on one thread while reading it back on this one, so that
/// neither side's socket buffer can fill up and stall the other.
fn round_trip(mut stream: TcpStream, data: Vec<u8>) -> Vec<u8> {
    stream.set_read_timeout(LIMIT).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        for chunk in data.chunks(7919) {
            writer.write_all(chunk).unwrap();
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    sender.join().unwrap();
    back
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = net::Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn tokio_echo_echoes_concurrent_connections_byte_for_byte() {
    let echo = examples::start("tokio_echo", &["127.0.0.1:0"]);
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let addr = echo.addr;
            std::thread::spawn(move || {
                let data = random_bytes(i, 256 * 1024 + i as usize);
                let back = round_trip(TcpStream::connect(addr).unwrap(), data.clone());
                assert!(back == data, "client {i}: {} bytes back of {}", back.len(), data.len());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn proxy_forwards_both_ways_and_passes_the_half_close_on() {
    let echo = examples::start("tokio_echo", &["127.0.0.1:0"]);
    let server = echo.addr.to_string();
    let proxy = examples::start("proxy", &["127.0.0.1:0", &server]);
    let data = random_bytes(7, 1 << 20);
    // read_to_end returning proves the FIN went client -> proxy -> echo and
    // the echo's close came back the same way.
    let back = round_trip(TcpStream::connect(proxy.addr).unwrap(), data.clone());
    assert!(back == data, "{} bytes back of {}", back.len(), data.len());
}

#[test]
fn proxy_closes_the_client_when_the_server_is_unreachable() {
    // A port nobody listens on: bind one, note it, close it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let proxy = examples::start("proxy", &["127.0.0.1:0", &dead]);
    let mut client = TcpStream::connect(proxy.addr).unwrap();
    client.set_read_timeout(LIMIT).unwrap();
    let mut buf = [0u8; 16];
    let n = client.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without data");
}

#[test]
fn chat_relays_lines_between_clients_using_tokio_utils_codec() {
    let chat = examples::start("chat", &["127.0.0.1:0"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let within = |what: &'static str| move |_| panic!("chat: no {what} within the limit");
        let limit = LIMIT.unwrap();
        let connect = || async {
            let s = tokio::net::TcpStream::connect(chat.addr).await.unwrap();
            Framed::new(s, LinesCodec::new())
        };
        let mut alice = connect().await;
        let mut bob = connect().await;
        for (client, name) in [(&mut alice, "alice"), (&mut bob, "bob")] {
            let prompt = tokio::time::timeout(limit, client.next())
                .await
                .unwrap_or_else(within("prompt"));
            assert_eq!(prompt.unwrap().unwrap(), "Please enter your username:");
            client.send(name).await.unwrap();
        }
        // The names travel on two connections, and nothing orders two
        // connections' bytes (on loopback each CPU's backlog is processed on
        // its own, so writes from a client thread that moved between CPUs
        // may arrive in either order): the server may register bob before
        // alice. Whoever it registers second is announced to the other,
        // and only then are both in the room.
        let (hearer, joined) = tokio::time::timeout(limit, async {
            tokio::select! {
                line = alice.next() => ("alice", line),
                line = bob.next() => ("bob", line),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("chat: no join within the limit"));
        let other = if hearer == "alice" { "bob" } else { "alice" };
        assert_eq!(
            joined.unwrap().unwrap(),
            format!("{other} has joined the chat"),
            "told to {hearer}"
        );
        alice.send("hello, bob").await.unwrap();
        let heard = tokio::time::timeout(limit, bob.next())
            .await
            .unwrap_or_else(within("message"));
        assert_eq!(heard.unwrap().unwrap(), "alice: hello, bob");
        drop(bob);
        let left = tokio::time::timeout(limit, alice.next())
            .await
            .unwrap_or_else(within("leave"));
        assert_eq!(left.unwrap().unwrap(), "bob has left the chat");

        // A line over the server's limit ends that session with a message,
        // and the server goes on serving others.
        let mut mallory = connect().await;
        let _prompt = mallory.next().await;
        mallory.send("mallory").await.unwrap();
        let _ = tokio::time::timeout(limit, alice.next())
            .await
            .unwrap_or_else(within("join"));
        // Exactly one byte over the limit and no newline: the server reads
        // all of it before it refuses, so it closes with nothing unread (no
        // reset) and the goodbye arrives.
        tokio::io::AsyncWriteExt::write_all(mallory.get_mut(), &[b'x'; 8 * 1024 + 1])
            .await
            .unwrap();
        let bye = tokio::time::timeout(limit, mallory.next())
            .await
            .unwrap_or_else(within("goodbye"));
        assert_eq!(bye.unwrap().unwrap(), "line too long; goodbye");
        let end = tokio::time::timeout(limit, mallory.next())
            .await
            .unwrap_or_else(within("close"));
        assert!(end.is_none(), "closed after the goodbye");
        alice.send("still here").await.unwrap();
        let left = tokio::time::timeout(limit, alice.next())
            .await
            .unwrap_or_else(within("leave"));
        assert_eq!(left.unwrap().unwrap(), "mallory has left the chat");
    });
}

#[test]
fn udp_echo_returns_every_datagram_to_its_sender() {
    let echo = examples::start("udp_echo", &["127.0.0.1:0"]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(LIMIT).unwrap();
    client.connect(echo.addr).unwrap();
    let mut buf = vec![0u8; 65536];
    for (i, len) in [0usize, 1, 64, 1400, 9000, 65507].into_iter().enumerate() {
        let data = random_bytes(i as u64, len);
        // One datagram at a time on loopback: nothing is dropped.
        client.send(&data).unwrap();
        let got = client
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no echo of {len} bytes: {e}"));
        assert_eq!(&buf[..got], &data[..], "datagram of {len} bytes");
    }
}
