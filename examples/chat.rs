//! A line-based chat server written as tokio's examples are, ported to
//! roost by changing its `tokio::` paths to `roost::`. It uses tokio-util's
//! `LinesCodec` on roost's `TcpStream` unchanged.
//!
//! ```sh
//! cargo run --example chat -- 127.0.0.1:6142
//! # in two or more terminals
//! nc 127.0.0.1 6142
//! ```
//!
//! Each client first sends its name; every line it sends afterwards goes to
//! all the others as `name: line`. The first argument is the listen address
//! (default `127.0.0.1:6142`); the server prints the address it listens on.

use std::collections::HashMap;
use std::env;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use roost::net::{TcpListener, TcpStream};
use roost::sync::{mpsc, Mutex};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

/// The longest line a client may send; longer ones end its session.
const MAX_LINE: usize = 8 * 1024;

/// Every connected peer's outgoing queue, by address.
struct Shared {
    peers: HashMap<SocketAddr, mpsc::UnboundedSender<String>>,
}

impl Shared {
    fn new() -> Self {
        Shared { peers: HashMap::new() }
    }

    /// Sends `message` to every peer but `sender`.
    fn broadcast(&self, sender: SocketAddr, message: &str) {
        for (addr, tx) in &self.peers {
            if *addr != sender {
                let _ = tx.send(message.to_owned());
            }
        }
    }
}

#[roost::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = env::args().nth(1).unwrap_or_else(|| "127.0.0.1:6142".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("chat listening on {}", listener.local_addr()?);

    let state = Arc::new(Mutex::new(Shared::new()));
    loop {
        let (stream, addr) = listener.accept().await?;
        let state = Arc::clone(&state);
        roost::spawn(async move {
            if let Err(e) = process(state, stream, addr).await {
                eprintln!("{addr}: {e}");
            }
        });
    }
}

async fn process(state: Arc<Mutex<Shared>>, stream: TcpStream, addr: SocketAddr) -> Result<(), Box<dyn Error>> {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    lines.send("Please enter your username:").await?;
    let username = match lines.next().await {
        Some(Ok(line)) => line,
        Some(Err(e)) => return Err(e.into()),
        None => return Ok(()),
    };

    let (tx, mut rx) = mpsc::unbounded_channel();
    {
        let mut state = state.lock().await;
        state.peers.insert(addr, tx);
        state.broadcast(addr, &format!("{username} has joined the chat"));
    }

    loop {
        roost::select! {
            Some(message) = rx.recv() => {
                lines.send(&message).await?;
            }
            line = lines.next() => match line {
                Some(Ok(line)) => {
                    let state = state.lock().await;
                    state.broadcast(addr, &format!("{username}: {line}"));
                }
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    let _ = lines.send("line too long; goodbye").await;
                    break;
                }
                Some(Err(e)) => {
                    eprintln!("{addr}: {e}");
                    break;
                }
                None => break,
            },
        }
    }

    let mut state = state.lock().await;
    state.peers.remove(&addr);
    state.broadcast(addr, &format!("{username} has left the chat"));
    Ok(())
}
