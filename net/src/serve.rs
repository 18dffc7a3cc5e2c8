//! Per-core serving: one `SO_REUSEPORT` listener per worker.
//!
//! The sockets are created and bound on the calling thread, in worker order
//! (so that port 0 resolves once, and so that listener `i` is the `i`-th of
//! the reuseport group, which CPU steering relies on), then each is handed
//! to its worker, which registers it and runs its own accept loop. A
//! connection is accepted and served on one worker from start to end.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use roost_runtime::{AbortHandle, Handle, JoinHandle};

use crate::{ListenOptions, TcpListener, TcpStream};

/// The per-core listeners started by [`serve`].
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    loops: Vec<AbortHandle>,
}

impl Server {
    /// The address every worker serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting on every worker (connections being served go on).
    pub fn stop(&self) {
        for handle in &self.loops {
            handle.abort();
        }
    }
}

/// Binds `addr` once per worker with `SO_REUSEPORT` and serves every accepted
/// connection with `handler`, on the worker that accepted it.
///
/// # Errors
///
/// Binding errors (`AddrInUse`, ...), or `Other` when the runtime refuses
/// new tasks (it is shutting down).
///
/// # Examples
///
/// ```
/// use roost_net::{serve, ListenOptions};
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// let serving = serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), ListenOptions::new(), |stream| async move {
///     while let Ok(Some(request)) = stream.recv().await {
///         let mut reply = stream.alloc_send(request.len());
///         reply.extend_from_slice(&request);
///         if stream.send(reply).await.is_err() {
///             break;
///         }
///     }
/// });
/// let server = rt.block_on(serving).unwrap();
/// let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
/// use std::io::{Read, Write};
/// client.write_all(b"ping").unwrap();
/// let mut reply = [0; 4];
/// client.read_exact(&mut reply).unwrap();
/// assert_eq!(&reply, b"ping");
/// ```
pub fn serve<F, Fut>(
    handle: &Handle,
    addr: SocketAddr,
    options: ListenOptions,
    handler: F,
) -> impl Future<Output = io::Result<Server>> + Send + 'static
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let started = start(handle, addr, options, handler);
    async move {
        let (local_addr, started) = started?;
        let mut loops = Vec::with_capacity(started.len());
        for accept_loop in started {
            loops.push(accept_loop.await.map_err(io::Error::other)??);
        }
        Ok(Server { local_addr, loops })
    }
}

type Started = (SocketAddr, Vec<JoinHandle<io::Result<AbortHandle>>>);

/// Binds `workers` sockets of one `SO_REUSEPORT` group on `addr` (`options`
/// must have `reuse_port` on), in worker order, so that port 0 resolves once
/// and listener `i` is the group's `i`-th (which CPU steering relies on).
/// Returns the address they share.
pub(crate) fn bind_group(
    options: &ListenOptions,
    addr: SocketAddr,
    workers: usize,
) -> io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    let first = options.bind_socket(addr)?;
    let local_addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(options.bind_socket(local_addr)?);
    }
    if options.get_cpu_steering() {
        crate::sys::attach_cpu_steering(sockets[0].as_raw_fd(), workers as u32)?;
    }
    Ok((local_addr, sockets))
}

/// Binds the sockets here and starts one accept loop per worker.
fn start<F, Fut>(handle: &Handle, addr: SocketAddr, options: ListenOptions, handler: F) -> io::Result<Started>
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let options = options.reuse_port(true);
    let (local_addr, sockets) = bind_group(&options, addr, handle.worker_count())?;
    let handler = Arc::new(handler);
    let mut loops = Vec::with_capacity(sockets.len());
    for (worker, socket) in sockets.into_iter().enumerate() {
        let handler = handler.clone();
        let options = options.clone();
        let started = handle
            .try_spawn_on(worker, async move {
                let listener = TcpListener::from_std_with(socket, options)?;
                Ok(roost_runtime::spawn_local(accept_loop(listener, handler)).abort_handle())
            })
            .map_err(io::Error::other)?;
        loops.push(started);
    }
    Ok((local_addr, loops))
}

async fn accept_loop<F, Fut>(listener: TcpListener, handler: Arc<F>)
where
    F: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                drop(roost_runtime::spawn_local(handler(stream)));
            }
            Err(_) => {
                // Not a per-connection or exhaustion error (those are handled
                // inside `accept`): the listener itself is broken.
                return;
            }
        }
    }
}
