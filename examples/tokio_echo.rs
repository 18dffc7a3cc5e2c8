//! A TCP echo server written as tokio's examples are, ported to roost by
//! changing its `tokio::` paths to `roost::` and nothing else.
//!
//! ```sh
//! cargo run --example tokio_echo -- 127.0.0.1:8080
//! # in another terminal
//! nc 127.0.0.1 8080
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:8080`);
//! the server prints the address it listens on. Every connection is served
//! on the worker that accepted it (worker 0 here: see `examples/echo.rs`
//! for the per-core version).

use std::env;
use std::error::Error;

use roost::io::{AsyncReadExt, AsyncWriteExt};
use roost::net::TcpListener;

#[roost::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo listening on {}", listener.local_addr()?);

    loop {
        let (mut socket, _) = listener.accept().await?;
        roost::spawn(async move {
            let mut buf = vec![0; 4096];
            loop {
                let n = match socket.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("read error: {e}");
                        return;
                    }
                };
                if let Err(e) = socket.write_all(&buf[..n]).await {
                    eprintln!("write error: {e}");
                    return;
                }
            }
        });
    }
}
