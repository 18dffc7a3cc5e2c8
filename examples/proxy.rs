//! A TCP proxy written as tokio's examples are, ported to roost by changing
//! its `tokio::` paths to `roost::`: every connection to the listen address
//! is forwarded to the server address, bytes copied both ways until each
//! side closes.
//!
//! ```sh
//! cargo run --example proxy -- 127.0.0.1:8081 127.0.0.1:8080
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:8081`), the
//! second the server to forward to (default `127.0.0.1:8080`); the proxy
//! prints the address it listens on.

use std::env;
use std::error::Error;

use roost::io::copy_bidirectional;
use roost::net::{TcpListener, TcpStream};

#[roost::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let listen_addr = env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8081".to_string());
    let server_addr = env::args().nth(2).unwrap_or_else(|| "127.0.0.1:8080".to_string());

    let listener = TcpListener::bind(&listen_addr).await?;
    println!(
        "proxy listening on {} forwarding to {server_addr}",
        listener.local_addr()?
    );

    loop {
        let (mut inbound, peer) = listener.accept().await?;
        let server_addr = server_addr.clone();
        roost::spawn(async move {
            let mut outbound = match TcpStream::connect(&server_addr).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{peer}: cannot reach {server_addr}: {e}");
                    return;
                }
            };
            match copy_bidirectional(&mut inbound, &mut outbound).await {
                Ok((to_server, to_client)) => {
                    eprintln!("{peer}: {to_server} bytes to the server, {to_client} back");
                }
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}
