//! The process-wide signal state: one slot per signal number, the self-pipe,
//! the handler and the `roost-signal` dispatch thread (see the parent
//! module for the design and its invariants).

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use slab::Slab;

/// Signal numbers below this have a slot (Linux's real-time signals end at
/// 64; other Unixes stop earlier).
const SLOT_COUNT: usize = 65;

/// The state of one signal number.
pub(super) struct Slot {
    /// Bumped by the handler once per delivery; only ever compared for
    /// equality, so wrapping around is harmless.
    generation: AtomicUsize,
    /// Set once the handler is installed (under [`SETUP`]).
    installed: AtomicBool,
    /// The wakers of the waiters that are pending on this signal.
    waiters: Mutex<Slab<Waker>>,
}

impl Slot {
    const fn new() -> Self {
        Self {
            generation: AtomicUsize::new(0),
            installed: AtomicBool::new(false),
            waiters: Mutex::new(Slab::new()),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, Slab<Waker>> {
        // A panic while the lock was held cannot leave the slab torn: every
        // critical section is a single slab call or a loop of `wake_by_ref`.
        self.waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The signal handler's action: async-signal-safe by construction.
    fn on_signal(&self, pipe: RawFd) {
        self.generation.fetch_add(1, Ordering::Release);
        let byte = 1u8;
        // SAFETY: `write(2)` is async-signal-safe; `pipe` is the write end of
        // the static socket pair (never closed) and `byte` is valid for one
        // byte. The result is ignored on purpose: EAGAIN means the pipe is
        // full, so a wake-up is already waiting for the dispatcher.
        unsafe { libc::write(pipe, (&raw const byte).cast(), 1) };
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

static SLOTS: [Slot; SLOT_COUNT] = [const { Slot::new() }; SLOT_COUNT];

/// Serialises the setup steps: pipe creation, thread start, handler
/// installation. Never taken by the handler.
static SETUP: Mutex<()> = Mutex::new(());

/// The self-pipe; created once, never closed.
static PIPE: OnceLock<Pipe> = OnceLock::new();

/// Whether the dispatch thread runs (set under [`SETUP`]).
static DISPATCHING: AtomicBool = AtomicBool::new(false);

struct Pipe {
    /// Non-blocking; written only by the handler.
    sender: UnixStream,
    /// Blocking; read only by the dispatch thread.
    receiver: UnixStream,
}

/// Makes sure a handler for `signum` is installed, and returns its slot.
///
/// # Errors
///
/// `InvalidInput` for a signal number out of range or one that cannot be
/// handled (SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV); otherwise the error
/// of creating the pipe, starting the thread or installing the handler.
pub(super) fn register(signum: libc::c_int) -> io::Result<&'static Slot> {
    let slot = usize::try_from(signum)
        .ok()
        .filter(|&n| n > 0)
        .and_then(|n| SLOTS.get(n))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("no such signal: {signum}")))?;
    if signal_hook_registry::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be handled (SIGKILL, SIGSTOP, SIGILL, SIGFPE and SIGSEGV are refused)"),
        ));
    }
    if slot.installed.load(Ordering::Acquire) {
        return Ok(slot);
    }
    // Nothing under SETUP can be left half-done by a panic: each step either
    // completes and records itself, or is retried.
    let _setup = SETUP.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if slot.installed.load(Ordering::Acquire) {
        return Ok(slot);
    }
    let pipe = pipe()?;
    start_dispatcher(pipe)?;
    let fd = pipe.sender.as_raw_fd();
    // SAFETY: the action runs in a signal handler. `Slot::on_signal` is
    // async-signal-safe (one atomic operation and one `write(2)`, no
    // allocation, no lock, no panic), and `slot` is a `'static`. `signum` is
    // not one of signal-hook-registry's FORBIDDEN signals (checked above),
    // so `register` does not panic.
    unsafe { signal_hook_registry::register(signum, move || slot.on_signal(fd)) }?;
    slot.installed.store(true, Ordering::Release);
    Ok(slot)
}

/// The self-pipe, created on first use. Called under [`SETUP`].
fn pipe() -> io::Result<&'static Pipe> {
    if let Some(pipe) = PIPE.get() {
        return Ok(pipe);
    }
    // std creates the pair close-on-exec.
    let (sender, receiver) = UnixStream::pair()?;
    sender.set_nonblocking(true)?;
    Ok(PIPE.get_or_init(|| Pipe { sender, receiver }))
}

/// Starts the dispatch thread unless it runs. Called under [`SETUP`].
fn start_dispatcher(pipe: &'static Pipe) -> io::Result<()> {
    if DISPATCHING.load(Ordering::Acquire) {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("roost-signal".into())
        .spawn(move || dispatch(pipe))?;
    DISPATCHING.store(true, Ordering::Release);
    Ok(())
}

/// The dispatch thread: per wake-up, wakes the waiters of every signal whose
/// generation moved.
fn dispatch(pipe: &'static Pipe) {
    let mut seen = [0usize; SLOT_COUNT];
    let mut buf = [0u8; 64];
    loop {
        match (&pipe.receiver).read(&mut buf) {
            Ok(0) => return, // unreachable: the write end is never closed
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Unreachable in practice (a blocking read of a live socket);
                // say so rather than spin.
                eprintln!("roost-signal: reading the self-pipe failed, signals are no longer delivered: {e}");
                DISPATCHING.store(false, Ordering::Release);
                return;
            }
        }
        for (slot, seen) in SLOTS.iter().zip(seen.iter_mut()) {
            let now = slot.generation.load(Ordering::Acquire);
            if now != *seen {
                *seen = now;
                for (_, waker) in slot.waiters().iter() {
                    waker.wake_by_ref();
                }
            }
        }
    }
}

/// One waiter on one signal: remembers the generation it has seen and, while
/// pending, its waker's place in the slot's list.
#[derive(Debug)]
pub(super) struct Waiter {
    slot: &'static Slot,
    seen: usize,
    key: Option<usize>,
}

impl Waiter {
    /// A waiter that counts only the signals delivered from now on.
    pub(super) fn new(slot: &'static Slot) -> Self {
        Self {
            slot,
            seen: slot.generation.load(Ordering::Acquire),
            key: None,
        }
    }

    /// Ready once a signal arrived since the last `Ready` (or since
    /// creation); several arrivals in between count as one.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.take_arrival() {
            return Poll::Ready(());
        }
        let mut waiters = self.slot.waiters();
        match self.key {
            Some(key) => {
                let registered = &mut waiters[key];
                if !registered.will_wake(cx.waker()) {
                    registered.clone_from(cx.waker());
                }
            }
            None => self.key = Some(waiters.insert(cx.waker().clone())),
        }
        // Re-check under the lock the dispatcher wakes under (see the
        // module's invariants).
        let arrived = self.slot.generation.load(Ordering::Acquire) != self.seen;
        drop(waiters);
        if arrived && self.take_arrival() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// If the generation moved: records it, leaves the waiter list, and
    /// returns true.
    fn take_arrival(&mut self) -> bool {
        let now = self.slot.generation.load(Ordering::Acquire);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        self.deregister();
        true
    }

    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            self.slot.waiters().remove(key);
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.deregister();
    }
}
