//! A per-core echo server: every worker accepts on its own `SO_REUSEPORT`
//! listener and echoes what it reads with arena buffers.
//!
//! ```sh
//! cargo run --release --example echo -- 127.0.0.1:7000
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:0`); the
//! server prints the address it serves on.

use std::net::SocketAddr;

use roost::net::{serve, ListenOptions, TcpStream};
use roost::runtime::Runtime;

/// Echoes everything the peer sends until it closes its side.
pub async fn echo(stream: TcpStream) {
    while let Ok(Some(data)) = stream.recv().await {
        let mut reply = stream.alloc_send(data.len());
        reply.extend_from_slice(&data);
        drop(data);
        if stream.send(reply).await.is_err() {
            return;
        }
    }
    let _ = stream.shutdown_std(std::net::Shutdown::Write);
}

fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("listen address: {e}")))?;
    let rt = Runtime::new()?;
    let server = rt.block_on(serve(rt.handle(), addr, ListenOptions::new(), echo))?;
    println!(
        "echo serving on {} with {} workers",
        server.local_addr(),
        rt.worker_count()
    );
    rt.block_on(std::future::pending::<()>());
    Ok(())
}
