//! Any Unix signal as a stream of notifications, as `tokio::signal::unix`.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use super::registry::{self, Waiter};

/// A Unix signal number, as tokio's `SignalKind`.
///
/// # Examples
///
/// ```
/// use roost_runtime::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// The signal with number `signum`, which need not be one of the named
    /// ones below (a real-time signal, say).
    pub const fn from_raw(signum: libc::c_int) -> Self {
        Self(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// SIGALRM: a timer set with `alarm(2)` expired.
    pub const fn alarm() -> Self {
        Self(libc::SIGALRM)
    }

    /// SIGCHLD: a child process changed state.
    pub const fn child() -> Self {
        Self(libc::SIGCHLD)
    }

    /// SIGHUP: the terminal hung up; daemons often reload their
    /// configuration on it.
    pub const fn hangup() -> Self {
        Self(libc::SIGHUP)
    }

    /// SIGINT: ctrl-c in a terminal (see [`ctrl_c`](super::ctrl_c)).
    pub const fn interrupt() -> Self {
        Self(libc::SIGINT)
    }

    /// SIGIO: I/O is possible on a descriptor set up for it.
    pub const fn io() -> Self {
        Self(libc::SIGIO)
    }

    /// SIGPIPE: a write to a pipe or socket whose reader is gone.
    pub const fn pipe() -> Self {
        Self(libc::SIGPIPE)
    }

    /// SIGQUIT: ctrl-\ in a terminal.
    pub const fn quit() -> Self {
        Self(libc::SIGQUIT)
    }

    /// SIGTERM: the polite request to stop (what `kill` and service
    /// managers send).
    pub const fn terminate() -> Self {
        Self(libc::SIGTERM)
    }

    /// SIGUSR1.
    pub const fn user_defined1() -> Self {
        Self(libc::SIGUSR1)
    }

    /// SIGUSR2.
    pub const fn user_defined2() -> Self {
        Self(libc::SIGUSR2)
    }

    /// SIGWINCH: the terminal window changed size.
    pub const fn window_change() -> Self {
        Self(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> Self {
        Self::from_raw(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> Self {
        kind.as_raw_value()
    }
}

/// The deliveries of one signal, as tokio's `Signal`: [`recv`](Self::recv)
/// completes once per delivery since the last one it returned (deliveries
/// while nobody waits are coalesced into one).
///
/// A `Signal` is `Send` and `Sync` and may be awaited from any thread, a
/// roost worker or not. Any number may exist for one signal kind; each
/// delivery notifies all of them.
#[derive(Debug)]
pub struct Signal {
    waiter: Waiter,
}

/// Listens for the signal `kind`, as `tokio::signal::unix::signal`.
///
/// The handler is installed by this call (the first one for `kind`) and is
/// never removed: from then on the signal's default action (for example
/// terminating the process on SIGTERM) no longer happens. The returned
/// [`Signal`] counts deliveries from this call on. Unlike tokio's, it works
/// outside a runtime too.
///
/// # Errors
///
/// `InvalidInput` for a signal that cannot be handled (SIGKILL, SIGSTOP,
/// SIGILL, SIGFPE, SIGSEGV) or a number that is no signal; otherwise the
/// error of creating the self-pipe, starting the `roost-signal` thread or
/// installing the handler.
///
/// # Examples
///
/// ```no_run
/// use roost_runtime::signal::unix::{signal, SignalKind};
///
/// # let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let mut hangups = signal(SignalKind::hangup()).unwrap();
///     while hangups.recv().await.is_some() {
///         println!("reloading the configuration");
///     }
/// });
/// ```
///
/// A signal that cannot be handled is an error, not a panic:
///
/// ```
/// use roost_runtime::signal::unix::{signal, SignalKind};
///
/// let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let slot = registry::register(kind.as_raw_value())?;
    Ok(Signal {
        waiter: Waiter::new(slot),
    })
}

impl Signal {
    /// Waits for the next delivery of the signal. Always `Some(())`: the
    /// `Option` is tokio's signature, whose `None` (the runtime shut down)
    /// cannot happen here, since deliveries need no runtime.
    ///
    /// Cancel safe: dropping the future loses no delivery.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery of the signal, registering `cx`'s waker
    /// while there is none.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.waiter.poll(cx).map(Some)
    }
}

/// Compile-time promise: a `Signal` crosses threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Signal>();
    both::<SignalKind>();
}
