//! A UDP echo server written as tokio's examples are, ported to roost by
//! changing its `tokio::` paths to `roost::`: every datagram goes back to
//! its sender.
//!
//! ```sh
//! cargo run --example udp_echo -- 127.0.0.1:8080
//! # in another terminal
//! nc -u 127.0.0.1 8080
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:8080`); the
//! server prints the address it listens on. Datagrams longer than its
//! 64 KiB buffer cannot exist over IPv4/IPv6 UDP, so none is truncated.

use std::env;
use std::error::Error;

use roost::net::UdpSocket;

#[roost::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let socket = UdpSocket::bind(&addr).await?;
    println!("udp echo listening on {}", socket.local_addr()?);

    let mut buf = vec![0u8; 65536];
    loop {
        let (len, peer) = socket.recv_from(&mut buf).await?;
        if let Err(e) = socket.send_to(&buf[..len], peer).await {
            eprintln!("{peer}: {e}");
        }
    }
}
