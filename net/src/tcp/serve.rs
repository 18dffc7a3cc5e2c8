//! Per-core serving: one `SO_REUSEPORT` listener per worker.
//!
//! The sockets are created and bound on the calling thread, in worker order
//! (so that port 0 resolves once, and so that listener `i` is the `i`-th of
//! the reuseport group, which CPU steering relies on), then each is handed
//! to its worker, which registers it and runs its own accept loop. A
//! connection is accepted and served on one worker from start to end.
//!
//! # Faults
//!
//! `accept` handles per-connection errors and resource exhaustion itself
//! (see `listener.rs`). Any other error means the listener is broken: that
//! worker's accept loop closes its listener (so that the kernel stops
//! queueing connections for it; the rest of the reuseport group takes them)
//! and reports the error to its [`Server`], as does a loop cancelled by
//! anything but [`Server::stop`] or the runtime's shutdown (its worker
//! stopped on a reactor failure). The other workers go on accepting;
//! [`Server::wait`] and [`Server::check`] give the error. With CPU
//! steering, a closed listener shifts the group's indices, so connections
//! then reach other workers than their CPU's: one more reason to act on
//! the error.
//!
//! # Invariants
//!
//! - Each accept loop reports its end exactly once (a guard it owns does,
//!   however the loop ends), so `running` counts the loops still accepting.
//! - `AcceptState` is shared by the server's workers and whoever holds the
//!   `Server`; it is behind a mutex taken only when a loop ends or someone
//!   asks, never per connection.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use roost_runtime::{AbortHandle, Handle, JoinHandle};

use crate::{ListenOptions, TcpListener, TcpStream};

/// The per-core listeners started by [`serve`].
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    loops: Vec<AbortHandle>,
    state: Arc<Accepting>,
}

/// An accept loop that ended on an error (see [`Server::failures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptFailure {
    /// The worker whose loop ended.
    pub worker: usize,
    /// The error's kind.
    pub kind: io::ErrorKind,
    /// The OS error code, if the error had one.
    pub os_error: Option<i32>,
    /// What happened, as text.
    pub message: String,
}

impl AcceptFailure {
    /// The failure of worker `worker`'s loop on `error`.
    pub(crate) fn new(worker: usize, error: &io::Error) -> Self {
        Self {
            worker,
            kind: error.kind(),
            os_error: error.raw_os_error(),
            message: format!("worker {worker} stopped accepting: {error}"),
        }
    }

    /// The failure as an `io::Error` (same kind; the text names the worker).
    pub fn error(&self) -> io::Error {
        io::Error::new(self.kind, self.message.clone())
    }
}

#[derive(Debug, Default)]
struct Accepting {
    state: Mutex<AcceptState>,
}

#[derive(Debug, Default)]
struct AcceptState {
    /// Accept loops still accepting.
    running: usize,
    /// Set by `Server::stop`: the loops' cancellation is no failure.
    stopping: bool,
    failures: Vec<AcceptFailure>,
    /// Tasks in `Server::wait`.
    waiters: Vec<Waker>,
}

impl Accepting {
    fn lock(&self) -> std::sync::MutexGuard<'_, AcceptState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn loop_ended(&self, failure: Option<AcceptFailure>) {
        let waiters = {
            let mut state = self.lock();
            state.running -= 1;
            if let Some(failure) = failure {
                eprintln!("roost::net::serve: {}", failure.message);
                state.failures.push(failure);
            }
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Owned by one accept loop: reports its end to the server, however it
/// ends (an error, or a cancellation).
struct LoopEnd {
    state: Arc<Accepting>,
    worker: usize,
    reported: bool,
}

impl LoopEnd {
    fn new(state: Arc<Accepting>, worker: usize) -> Self {
        state.lock().running += 1;
        Self {
            state,
            worker,
            reported: false,
        }
    }

    fn failed(mut self, error: &io::Error) {
        self.reported = true;
        self.state.loop_ended(Some(AcceptFailure::new(self.worker, error)));
    }
}

impl Drop for LoopEnd {
    fn drop(&mut self) {
        if self.reported {
            return;
        }
        // Cancelled. By `Server::stop` or the runtime's shutdown: the end
        // that was asked for. Otherwise the worker itself stopped.
        let current = Handle::try_current();
        let asked = self.state.lock().stopping || current.as_ref().is_none_or(Handle::is_shutting_down);
        let failure = (!asked).then(|| {
            let fault = current.and_then(|h| {
                h.reactor_faults()
                    .into_iter()
                    .find(|f| f.worker == Some(self.worker) && f.stopped)
            });
            match fault {
                Some(fault) => AcceptFailure {
                    worker: self.worker,
                    kind: fault.kind,
                    os_error: fault.os_error,
                    message: format!("worker {} stopped accepting: {fault}", self.worker),
                },
                None => AcceptFailure {
                    worker: self.worker,
                    kind: io::ErrorKind::Other,
                    os_error: None,
                    message: format!(
                        "worker {} stopped accepting: its accept loop was cancelled",
                        self.worker
                    ),
                },
            }
        });
        self.state.loop_ended(failure);
    }
}

impl Server {
    /// The address every worker serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting on every worker (connections being served go on).
    pub fn stop(&self) {
        self.state.lock().stopping = true;
        for handle in &self.loops {
            handle.abort();
        }
    }

    /// Waits until an accept loop fails or every loop has ended.
    ///
    /// Resolves to the first failure as soon as one worker stopped
    /// accepting on an error (the other workers go on accepting: see the
    /// module docs), or to `Ok(())` once every loop ended without one
    /// ([`stop`](Self::stop), or the runtime's shutdown). The future does
    /// not borrow the server and may be awaited on any thread's loop.
    ///
    /// # Errors
    ///
    /// The first [`AcceptFailure`], as an `io::Error` of the same kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::{serve, ListenOptions};
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
    /// let serving = serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), ListenOptions::new(), |_stream| async {});
    /// let server = rt.block_on(serving).unwrap();
    /// assert!(server.check().is_ok());
    /// assert_eq!(server.accepting_workers(), 2);
    /// // Stopping is no failure: every loop ended, none on an error.
    /// server.stop();
    /// rt.block_on(server.wait()).unwrap();
    /// assert_eq!(server.accepting_workers(), 0);
    /// assert!(server.failures().is_empty());
    /// ```
    pub fn wait(&self) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let state = self.state.clone();
        poll_fn(move |cx| {
            let mut s = state.lock();
            if let Some(failure) = s.failures.first() {
                return Poll::Ready(Err(failure.error()));
            }
            if s.running == 0 {
                return Poll::Ready(Ok(()));
            }
            if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                s.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// Whether every accept loop is healthy so far, without waiting.
    ///
    /// # Errors
    ///
    /// The first [`AcceptFailure`], as for [`wait`](Self::wait).
    pub fn check(&self) -> io::Result<()> {
        match self.state.lock().failures.first() {
            Some(failure) => Err(failure.error()),
            None => Ok(()),
        }
    }

    /// Every accept loop that ended on an error, in the order they ended.
    pub fn failures(&self) -> Vec<AcceptFailure> {
        self.state.lock().failures.clone()
    }

    /// How many workers are accepting now.
    pub fn accepting_workers(&self) -> usize {
        self.state.lock().running
    }
}

/// A `Server` may be asked from any thread, and its failures sent: both
/// are `Send + Sync`.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Server>();
    send_and_sync::<AcceptFailure>();
};

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
    let state = Arc::new(Accepting::default());
    let started = start(handle, addr, options, handler, &state);
    async move {
        let (local_addr, started) = started?;
        let mut loops = Vec::with_capacity(started.len());
        for accept_loop in started {
            loops.push(accept_loop.await.map_err(io::Error::other)??);
        }
        Ok(Server {
            local_addr,
            loops,
            state,
        })
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
fn start<F, Fut>(
    handle: &Handle,
    addr: SocketAddr,
    options: ListenOptions,
    handler: F,
    state: &Arc<Accepting>,
) -> io::Result<Started>
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
        let state = state.clone();
        let started = handle
            .try_spawn_on(worker, async move {
                let listener = TcpListener::from_std_with(socket, options)?;
                let end = LoopEnd::new(state, worker);
                Ok(roost_runtime::spawn_local(accept_loop(listener, handler, end)).abort_handle())
            })
            .map_err(io::Error::other)?;
        loops.push(started);
    }
    Ok((local_addr, loops))
}

async fn accept_loop<F, Fut>(listener: TcpListener, handler: Arc<F>, end: LoopEnd)
where
    F: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    // Declared in this order so that a cancelled loop drops (closes) its
    // listener before `end` reports: who hears of the end finds the
    // listener closed.
    let end = end;
    let listener = listener;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                drop(roost_runtime::spawn_local(handler(stream)));
            }
            Err(e) => {
                // Not a per-connection or exhaustion error (those are handled
                // inside `accept`): the listener itself is broken. Close it
                // first, so that the kernel stops queueing connections for
                // it, then tell the server.
                drop(listener);
                end.failed(&e);
                return;
            }
        }
    }
}
