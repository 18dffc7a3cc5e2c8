//! `TcpListener`, and the accept loop that survives descriptor exhaustion.
//!
//! `accept` retries by itself on errors that concern one connection only
//! (the peer gave up before we accepted: `ECONNABORTED`, `EPROTO`, ...). On
//! errors that concern the process or the system (`EMFILE`, `ENFILE`,
//! `ENOBUFS`, `ENOMEM`) it neither spins nor gives up: it sleeps, doubling
//! the pause from 1 ms up to [`MAX_ACCEPT_BACKOFF`], and tries again, so a
//! starved server costs one `accept` call per pause and serves again as soon
//! as descriptors are free. Readiness is kept across the pause (the kernel
//! will not report the pending connections again: epoll is edge-triggered).
//! An accepted connection whose set-up fails (`TCP_NODELAY`, registration
//! with the reactor) is dropped and the loop goes on, after the same pause
//! if the failure was one of those resource errors.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use roost_runtime::io::Registration;
use socket2::{Domain, Protocol, Socket, Type};

use crate::{BufferSource, TcpStream, ToSocketAddrs};

/// The longest pause of the accept loop while descriptors are exhausted.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How listeners are bound and how their accepted streams are set up.
///
/// # Examples
///
/// ```
/// use roost_net::ListenOptions;
///
/// let options = ListenOptions::new().backlog(4096).reuse_port(true).nodelay(true);
/// assert_eq!(options.get_backlog(), 4096);
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    backlog: u32,
    reuse_port: bool,
    cpu_steering: bool,
    nodelay: bool,
    buffers: BufferSource,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ListenOptions {
    /// Backlog 1024, no `SO_REUSEPORT`, no CPU steering, `TCP_NODELAY` on
    /// accepted streams, buffers from the arena.
    pub fn new() -> Self {
        Self {
            backlog: 1024,
            reuse_port: false,
            cpu_steering: false,
            nodelay: true,
            buffers: BufferSource::Arena,
        }
    }

    /// The listen backlog.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// The configured backlog.
    pub fn get_backlog(&self) -> u32 {
        self.backlog
    }

    /// Bind with `SO_REUSEPORT`, so that several listeners (one per worker)
    /// share the address and the kernel spreads connections over them.
    pub fn reuse_port(mut self, yes: bool) -> Self {
        self.reuse_port = yes;
        self
    }

    /// For per-core serving (see [`crate::serve`]): attach a reuseport BPF
    /// program that hands each connection to the listener of the CPU that
    /// received it (Linux).
    pub fn cpu_steering(mut self, yes: bool) -> Self {
        self.cpu_steering = yes;
        self
    }

    /// Whether CPU steering is asked for.
    pub fn get_cpu_steering(&self) -> bool {
        self.cpu_steering
    }

    /// `TCP_NODELAY` on accepted streams.
    pub fn nodelay(mut self, yes: bool) -> Self {
        self.nodelay = yes;
        self
    }

    /// Where accepted streams take their `recv`/`send` buffers.
    pub fn buffer_source(mut self, source: BufferSource) -> Self {
        self.buffers = source;
        self
    }

    /// Creates, binds and starts listening on a socket (not registered with
    /// any worker yet): the part of binding that may run on any thread.
    ///
    /// # Errors
    ///
    /// As `socket`, `bind` (`AddrInUse`, ...) and `listen`.
    pub fn bind_socket(&self, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
        // `Socket::new` sets close-on-exec itself: `SOCK_CLOEXEC` where the
        // system has it (Linux, the BSDs), `FD_CLOEXEC` right after elsewhere
        // (macOS, where it also sets `SO_NOSIGPIPE`).
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(self.backlog.min(i32::MAX as u32) as i32)?;
        Ok(socket.into())
    }
}

/// A TCP listener registered with the current worker.
pub struct TcpListener {
    reg: Registration<mio::net::TcpListener>,
    options: ListenOptions,
    backoff: Cell<Duration>,
    starved: Cell<u64>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

impl TcpListener {
    /// Binds a listener on the current worker, as tokio's
    /// `TcpListener::bind`: each address `addr` resolves to is tried in
    /// order until one binds (host names are resolved on the blocking pool,
    /// see [`ToSocketAddrs`]). Default [`ListenOptions`].
    ///
    /// The listener, and the streams it accepts, stay on the worker that
    /// binds it. For one listener per worker on the same address, see
    /// [`serve`](crate::serve).
    ///
    /// # Errors
    ///
    /// The last address's error (`AddrInUse`, `AddrNotAvailable`, ...); the
    /// resolution error; `InvalidInput` if `addr` resolves to no address;
    /// `Other` off a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::TcpListener;
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        crate::addr::each_addr(addr, |addr| std::future::ready(Self::bind_std(addr))).await
    }

    /// Binds `addr` with the default [`ListenOptions`] on the current worker,
    /// synchronously (the `SocketAddr` form of [`bind`](Self::bind)).
    ///
    /// # Errors
    ///
    /// As [`ListenOptions::bind_socket`]; `Other` off a worker thread.
    pub fn bind_std(addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with(addr, ListenOptions::new())
    }

    /// Binds `addr` with `options` on the current worker.
    ///
    /// # Errors
    ///
    /// As [`bind_std`](Self::bind_std).
    pub fn bind_with(addr: SocketAddr, options: ListenOptions) -> io::Result<Self> {
        let socket = options.bind_socket(addr)?;
        Self::from_std_with(socket, options)
    }

    /// Registers a bound, listening `std` socket with the current worker,
    /// with the default [`ListenOptions`] for the streams it accepts (tokio's
    /// `TcpListener::from_std`; the socket is made non-blocking here).
    ///
    /// # Errors
    ///
    /// `Other` off a worker thread; as `epoll_ctl`.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Self::from_std_with(listener, ListenOptions::new())
    }

    /// Registers a bound, listening `std` socket with the current worker.
    ///
    /// # Errors
    ///
    /// `Other` off a worker thread; as `epoll_ctl`.
    pub fn from_std_with(listener: std::net::TcpListener, options: ListenOptions) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let reg = Registration::with_interest(mio::net::TcpListener::from_std(listener), mio::Interest::READABLE)?;
        Ok(Self {
            reg,
            options,
            backoff: Cell::new(Duration::ZERO),
            starved: Cell::new(0),
        })
    }

    /// The bound address (with the port the kernel chose for port 0).
    ///
    /// # Errors
    ///
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.get_ref().local_addr()
    }

    /// Times `accept` found the process or the system out of descriptors or
    /// memory and paused.
    pub fn starved_count(&self) -> u64 {
        self.starved.get()
    }

    /// Accepts a connection, registered with the current worker, and the
    /// peer's address.
    ///
    /// # Errors
    ///
    /// Errors other than the per-connection and resource-exhaustion ones,
    /// which it handles itself (see the module docs).
    ///
    /// # Examples
    ///
    /// ```
    /// use roost_net::{TcpListener, TcpStream};
    ///
    /// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
    /// rt.block_on_local(|| async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (served, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap());
    ///     assert_eq!(served.peer_addr().unwrap(), peer);
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            let error = match self.accept_io().await {
                Ok((io, peer)) => match self.set_up(io) {
                    Ok(stream) => {
                        self.backoff.set(Duration::ZERO);
                        return Ok((stream, peer));
                    }
                    // Setting up one connection failed (it was reset
                    // already, or registering it hit a limit): drop it, and
                    // pause first if the process or the system is short.
                    Err(e) if is_resource_error(&e) => e,
                    Err(_) => continue,
                },
                Err(e) if is_connection_error(&e) => continue,
                Err(e) if is_resource_error(&e) => e,
                Err(e) => return Err(e),
            };
            debug_assert!(is_resource_error(&error));
            self.starved.set(self.starved.get() + 1);
            let pause = (self.backoff.get() * 2).clamp(Duration::from_millis(1), MAX_ACCEPT_BACKOFF);
            self.backoff.set(pause);
            roost_runtime::time::sleep(pause).await;
        }
    }

    /// The next connection: from the multishot accept on the uring driver,
    /// else `accept4` on readiness.
    async fn accept_io(&self) -> io::Result<(mio::net::TcpStream, SocketAddr)> {
        #[cfg(target_os = "linux")]
        {
            let ring = std::future::poll_fn(|cx| {
                // An injected failure takes the place of the accept each
                // time the loop looks, as on readiness; the connection
                // stays queued for the next look.
                if let Some(e) = take_injected_accept_error() {
                    return std::task::Poll::Ready(Some(Err(e)));
                }
                match self.reg.poll_accept_owned(cx) {
                    Some(std::task::Poll::Ready(r)) => std::task::Poll::Ready(Some(r)),
                    Some(std::task::Poll::Pending) => std::task::Poll::Pending,
                    None => std::task::Poll::Ready(None),
                }
            })
            .await;
            if let Some(accepted) = ring {
                let io = mio::net::TcpStream::from_std(std::net::TcpStream::from(accepted?));
                // The peer's address, which a multishot accept does not
                // report; a connection reset meanwhile has none.
                let peer = io.peer_addr().map_err(|e| {
                    if e.raw_os_error() == Some(libc::ENOTCONN) {
                        io::Error::from_raw_os_error(libc::ECONNABORTED)
                    } else {
                        e
                    }
                })?;
                return Ok((io, peer));
            }
        }
        self.reg
            .read_io(|l| take_injected_accept_error().map_or_else(|| l.accept(), Err))
            .await
    }

    /// Applies the listener's options to an accepted socket and registers
    /// it with the current worker.
    fn set_up(&self, io: mio::net::TcpStream) -> io::Result<TcpStream> {
        if self.options.nodelay {
            io.set_nodelay(true)?;
        }
        TcpStream::from_mio(io, self.options.buffers)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.reg.get_ref().as_raw_fd()
    }
}

std::thread_local! {
    /// Errors injected by [`__inject_accept_errors`]: errno and count.
    static INJECTED_ACCEPT_ERRORS: Cell<Option<(i32, u32)>> = const { Cell::new(None) };
}

fn take_injected_accept_error() -> Option<io::Error> {
    INJECTED_ACCEPT_ERRORS.with(|cell| {
        let (errno, left) = cell.get()?;
        cell.set((left > 1).then_some((errno, left - 1)));
        Some(io::Error::from_raw_os_error(errno))
    })
}

/// Makes the next `count` `accept` calls of listeners on the current
/// thread (once a connection is pending, in place of the `accept(2)` call)
/// fail with OS error `errno`, through the same handling as a real error.
/// `count == 0` cancels a pending injection. For tests of the fault paths
/// only: the OS cannot be made to fail `accept` on demand.
#[doc(hidden)]
pub fn __inject_accept_errors(errno: i32, count: u32) {
    INJECTED_ACCEPT_ERRORS.with(|cell| cell.set((count > 0).then_some((errno, count))));
}

/// How many injected `accept` errors of the current thread are still to
/// come (see [`__inject_accept_errors`]).
#[doc(hidden)]
pub fn __pending_accept_errors() -> u32 {
    INJECTED_ACCEPT_ERRORS.with(|cell| cell.get().map_or(0, |(_, left)| left))
}

/// Errors about one pending connection: skip it and accept the next.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        )
    ) || is_linux_connection_error(e)
        || e.kind() == io::ErrorKind::Interrupted
}

/// Linux's `accept(2)` also passes on `ENONET` (the peer's network went
/// away), an errno other systems do not have.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_linux_connection_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENONET)
}

/// Other systems have no `ENONET`; their per-connection errors are the
/// portable ones above.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_linux_connection_error(_e: &io::Error) -> bool {
    false
}

/// Errors about the process or the system: pause, then try again.
fn is_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
