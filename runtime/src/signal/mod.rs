//! Unix signals as futures: [`ctrl_c`] and [`unix::signal`], with tokio's
//! paths and behaviour.
//!
//! # Design
//!
//! Everything is process-wide and created once, on first use:
//!
//! - **A slot per signal number** (a `static` table): a generation counter,
//!   an "installed" flag and the list of waiting wakers.
//! - **A self-pipe**: a Unix socket pair. The write end is non-blocking and
//!   only the signal handler writes to it; the read end is blocking and only
//!   the dispatch thread reads it.
//! - **The handler**, one per signal number, installed through
//!   `signal-hook-registry` the first time that signal is asked for and never
//!   removed (as in tokio: from then on the signal's default action, such as
//!   SIGINT killing the process, no longer happens).
//! - **The dispatch thread** `roost-signal`, started on first use. Per
//!   wake-up it drains the pipe, and for each signal whose generation moved
//!   since its last look it wakes every registered waker.
//!
//! A waiter ([`unix::Signal`], and [`ctrl_c`] through it) remembers the
//! generation it has seen; it is ready once the generation differs. Signals
//! that arrive while nobody polls are coalesced into one notification, as in
//! tokio.
//!
//! # Invariants
//!
//! - The handler is async-signal-safe: it does one atomic `fetch_add` on its
//!   slot's generation and one `write(2)` of one byte to the non-blocking
//!   pipe, ignoring the result (a full pipe already holds a wake-up). It
//!   neither allocates, locks nor panics. `signal-hook-registry` saves and
//!   restores `errno` around it.
//! - No lost wake-up: the handler bumps the generation before it writes the
//!   byte; the dispatch thread reads the generation after reading the byte,
//!   then wakes under the waiter list's lock; a waiter inserts its waker and
//!   re-reads the generation under that same lock. Either the waiter's
//!   insertion precedes the dispatcher's lock (and it is woken), or the
//!   dispatcher's unlock precedes the insertion (and the waiter sees the new
//!   generation).
//! - Setup (pipe, thread, handler) happens under one mutex, never in the
//!   handler; a failed step returns an `io::Error` and is retried by the
//!   next caller.
//!
//! Wakers of roost tasks are `Send` and wake across threads (through the
//! worker's inbox), so the dispatch thread wakes any task on any worker.
//!
//! This module uses `std::sync` directly rather than the crate's loom shim:
//! its state lives in `static`s, which loom's types cannot, and the handler
//! runs outside any model.
//!
//! # Examples
//!
//! ```no_run
//! # let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
//! rt.block_on(async {
//!     roost_runtime::signal::ctrl_c().await.expect("listening for ctrl-c");
//!     println!("shutting down");
//! });
//! ```

mod registry;
pub mod unix;

use std::io;

/// Completes when the process next receives SIGINT (ctrl-c in a terminal),
/// as tokio's `tokio::signal::ctrl_c`.
///
/// The first call installs a process-wide SIGINT handler, when the future is
/// first polled; it is never removed, so from then on SIGINT no longer
/// terminates the process. Only signals that arrive after the first poll
/// count. Any number of `ctrl_c` futures may wait at once: one SIGINT
/// completes all of them. Unlike tokio's, it works outside a runtime too
/// (it needs no reactor).
///
/// # Errors
///
/// Creating the self-pipe, starting the `roost-signal` thread or installing
/// the handler failed.
///
/// # Examples
///
/// ```no_run
/// # let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on(async {
///     let server = roost_runtime::spawn(async { /* serve */ });
///     roost_runtime::signal::ctrl_c().await.unwrap();
///     server.abort();
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupts = unix::signal(unix::SignalKind::interrupt())?;
    interrupts.recv().await;
    Ok(())
}
