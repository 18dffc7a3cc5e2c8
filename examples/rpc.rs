//! A per-core request/response server. Frames carry a 4-byte big-endian
//! length prefix (the default framing of tokio-util's
//! `LengthDelimitedCodec`); each request frame is answered with a response
//! frame of the same bytes.
//!
//! ```sh
//! cargo run --release --example rpc -- 127.0.0.1:7001
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:0`); the
//! server prints the address it serves on. Used by the tests and by
//! `cargo bench --bench rpc`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use roost::alloc::ArenaBytesMut;
use roost::net::{serve, ListenOptions, Server, TcpStream};
use roost::runtime::{Handle, Runtime};

/// Length of the frame prefix.
pub const PREFIX: usize = 4;

/// The largest frame accepted (LengthDelimitedCodec's default).
pub const MAX_FRAME: usize = 8 * 1024 * 1024;

/// Starts the per-core RPC server on `addr`.
pub fn start(
    handle: &Handle,
    addr: SocketAddr,
    options: ListenOptions,
) -> impl Future<Output = io::Result<Server>> + Send {
    serve(handle, addr, options, |stream| async move {
        let _ = handle_connection(stream).await;
    })
}

/// Serves one connection until the peer closes it. A frame longer than
/// [`MAX_FRAME`] ends the connection with `InvalidData`.
pub async fn handle_connection(stream: TcpStream) -> io::Result<()> {
    let mut frames = Frames::default();
    while let Some(received) = stream.recv().await? {
        if let Some(complete) = frames.push(received)? {
            let mut reply = stream.alloc_send(complete.len());
            reply.extend_from_slice(&complete);
            stream.send(reply).await?;
        }
    }
    Ok(())
}

/// Reassembles frames across reads: what a read completes comes out whole,
/// an incomplete tail waits for the next read.
#[derive(Default)]
pub struct Frames {
    partial: Option<ArenaBytesMut>,
}

impl Frames {
    /// Adds the bytes of one read; returns the complete frames they finish,
    /// if any, in one buffer.
    ///
    /// # Errors
    ///
    /// `InvalidData` for a frame longer than [`MAX_FRAME`].
    pub fn push(&mut self, received: ArenaBytesMut) -> io::Result<Option<ArenaBytesMut>> {
        let mut data = match self.partial.take() {
            Some(mut pending) => {
                pending.extend_from_slice(&received);
                pending
            }
            None => received,
        };
        let complete = complete_frames(&data)?;
        if complete < data.len() {
            let rest = &data[complete..];
            let wanted = if rest.len() >= PREFIX {
                PREFIX + frame_len(rest)?
            } else {
                PREFIX
            };
            let mut pending = ArenaBytesMut::with_capacity(wanted.max(rest.len()));
            pending.extend_from_slice(rest);
            self.partial = Some(pending);
            data.truncate(complete);
        }
        Ok((complete > 0).then_some(data))
    }
}

/// Length of the payload announced by the prefix at the start of `data`.
fn frame_len(data: &[u8]) -> io::Result<usize> {
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    Ok(len)
}

/// How many leading bytes of `data` form complete frames.
///
/// # Errors
///
/// `InvalidData` for a frame longer than [`MAX_FRAME`].
pub fn complete_frames(data: &[u8]) -> io::Result<usize> {
    let mut at = 0;
    while data.len() - at >= PREFIX {
        let end = at + PREFIX + frame_len(&data[at..])?;
        if end > data.len() {
            break;
        }
        at = end;
    }
    Ok(at)
}

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("listen address: {e}")))?;
    let rt = Runtime::new()?;
    let server = rt.block_on(start(rt.handle(), addr, ListenOptions::new()))?;
    println!(
        "rpc serving on {} with {} workers",
        server.local_addr(),
        rt.worker_count()
    );
    rt.block_on(std::future::pending::<()>());
    Ok(())
}
