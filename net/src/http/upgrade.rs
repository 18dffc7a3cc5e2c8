//! HTTP upgrades on `!Send` streams: how a roost connection meets hyper's
//! `Send` bound, soundly.
//!
//! hyper hands an upgraded connection (`101 Switching Protocols`, or a
//! `CONNECT` tunnel) to the service as [`hyper::upgrade::Upgraded`], a
//! `Box<dyn Io + Send>` that any thread may own. roost's streams are
//! `!Send` (their state is `Rc`-shared with the worker's reactor), so the
//! server does not give hyper the stream itself but a [`HomeIo`] around
//! it, which is `Send` and keeps one rule: **the stream inside is only ever
//! touched on the thread that accepted it** (its home worker).
//!
//! - Read, written, flushed or shut down on its home thread, a `HomeIo`
//!   calls the stream directly: a WebSocket or tunnel served by a task of
//!   the worker (roost's [`ws::WebSocketUpgrade`](super::ws), or a handler
//!   that awaits `hyper::upgrade::on` in `roost::task::spawn_local`) costs one
//!   thread-local read per call over the plain stream.
//! - The first time it is used on another thread (axum's own
//!   `WebSocketUpgrade` awaits the upgrade in `tokio::spawn`, which runs on
//!   roost's tokio-compat thread), it sends the stream, untouched, to a
//!   relay task on its home worker and switches to one end of an in-memory
//!   pipe (`tokio::io::duplex`); the relay copies between the pipe's other
//!   end and the stream. Correct from any thread, at the price of a copy
//!   and a cross-thread wake per chunk each way.
//! - Dropped on another thread, it sends the stream home to be dropped
//!   (closed) there. If the home worker is gone (the runtime shut down),
//!   the stream is leaked rather than touched: a leak is safe, a stream's
//!   `Rc` counts updated from two threads are not.
//!
//! Why moving the stream between threads without touching it is sound:
//! what makes it `!Send` is `Rc` counts and `RefCell`s shared with other
//! values of its home thread. Moving it (a bitwise copy) reads none of
//! them; only using or dropping it does, and that happens on the home
//! thread alone ([`ThreadBound`] checks it on every access, and its drop
//! checks it too). The hand-off to the home worker goes through the
//! runtime's inbox, which orders the move before the home thread's first
//! touch.

use std::io;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use ::hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::rt::TokioIo;
use roost_runtime::Handle;
use tokio::io::DuplexStream;

/// Bytes buffered in each direction of the pipe to a relay.
const RELAY_BUFFER: usize = 64 * 1024;

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    // 0 until the thread first asks; a const-initialised `Cell` has no
    // destructor, so it can be read while the thread's locals are torn down.
    static THREAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// This thread's number: unique for the life of the process (never reused,
/// unlike a thread-local's address), never 0.
fn this_thread() -> u64 {
    THREAD.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// A value that may be moved to any thread but used and dropped only on
/// the one that made it. Off that thread, [`get`](Self::get) says no and a
/// drop leaks the value.
pub(crate) struct ThreadBound<T> {
    home: u64,
    value: ManuallyDrop<T>,
}

// SAFETY: the value is only reached through `get` and dropped in `drop`,
// and both check that the current thread is the one that made it; off that
// thread nothing but the bits of `value` is touched (moved). See the module
// documentation.
unsafe impl<T> Send for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    /// Binds `value` to the current thread.
    pub(crate) fn new(value: T) -> Self {
        Self {
            home: this_thread(),
            value: ManuallyDrop::new(value),
        }
    }

    /// Whether the current thread is the value's own.
    pub(crate) fn at_home(&self) -> bool {
        this_thread() == self.home
    }

    /// The value, on its own thread; `None` on any other.
    pub(crate) fn get(&mut self) -> Option<&mut T> {
        if self.at_home() {
            Some(&mut self.value)
        } else {
            None
        }
    }
}

impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if self.at_home() {
            // SAFETY: dropped once, here, on its own thread.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
        // Elsewhere the value is leaked (see the module documentation).
    }
}

/// Where a [`HomeIo`]'s bytes go.
enum Route<I> {
    /// Straight to the stream (on its home thread).
    Direct(ThreadBound<I>),
    /// Through a pipe to a relay task on the home worker.
    Relayed(TokioIo<DuplexStream>),
    /// The relay could not be started (the home worker is gone).
    Broken,
}

/// A connection's stream as hyper holds it: `Send`, and used on its home
/// worker only (see the module documentation).
pub(crate) struct HomeIo<I: Read + Write + Unpin + 'static> {
    route: Route<I>,
    /// The home worker's runtime, and the worker, for the relay and the
    /// drop; `None` if the stream was not made on a roost worker (then it
    /// can only be used on its own thread).
    home: Option<(Handle, usize)>,
}

impl<I: Read + Write + Unpin + 'static> HomeIo<I> {
    /// Wraps `io`, which belongs to the current thread.
    pub(crate) fn new(io: I) -> Self {
        let home = Handle::try_current().zip(roost_runtime::current_worker());
        Self {
            route: Route::Direct(ThreadBound::new(io)),
            home,
        }
    }

    /// The route for a call on this thread: the stream on its home thread,
    /// or (after starting the relay, the first time) the pipe anywhere else.
    fn route(&mut self) -> io::Result<Pin<&mut (dyn Io + 'static)>> {
        if let Route::Direct(bound) = &self.route {
            if !bound.at_home() {
                self.start_relay();
            }
        }
        match &mut self.route {
            // At home: checked just above (a relay replaces this route).
            Route::Direct(bound) => Ok(Pin::new(&mut *bound.value as &mut dyn Io)),
            Route::Relayed(pipe) => Ok(Pin::new(pipe as &mut dyn Io)),
            Route::Broken => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the upgraded connection's worker has shut down",
            )),
        }
    }

    /// Off the home thread: sends the stream to a relay task on its
    /// worker and keeps the near end of a pipe to it.
    fn start_relay(&mut self) {
        let Route::Direct(bound) = std::mem::replace(&mut self.route, Route::Broken) else {
            return;
        };
        let Some((handle, worker)) = &self.home else {
            // No worker to relay through; `bound` leaks as it drops here.
            return;
        };
        let (near, far) = tokio::io::duplex(RELAY_BUFFER);
        // Refused (the runtime is shutting down): the future, and the
        // stream in it, is dropped on this thread, so leaked.
        // The relay itself is `!Send` (it holds the stream across awaits):
        // a `Send` task carries the stream there and starts it locally.
        let carry = async move { drop(roost_runtime::spawn_local(relay(bound, far))) };
        if handle.try_spawn_on(*worker, carry).is_ok() {
            self.route = Route::Relayed(TokioIo::new(near));
        }
    }
}

/// Copies between the stream, on its home worker, and the far end of the
/// pipe until both directions are done or either breaks; then the stream
/// is dropped (closed) here.
async fn relay<I: Read + Write + Unpin + 'static>(mut bound: ThreadBound<I>, mut far: DuplexStream) {
    let Some(io) = bound.get() else {
        return; // spawned on its home worker: unreachable in practice
    };
    let mut stream = TokioIo::new(io);
    let _ = tokio::io::copy_bidirectional(&mut stream, &mut far).await;
}

impl<I: Read + Write + Unpin + 'static> Drop for HomeIo<I> {
    fn drop(&mut self) {
        let Route::Direct(bound) = &self.route else { return };
        if bound.at_home() {
            return; // the stream drops here, with the route
        }
        let Route::Direct(bound) = std::mem::replace(&mut self.route, Route::Broken) else {
            unreachable!()
        };
        if let Some((handle, worker)) = &self.home {
            // Dropped on its worker; refused, it leaks here (as above).
            drop(handle.try_spawn_on(*worker, async move { drop(bound) }));
        }
    }
}

/// hyper's two I/O traits as one object type.
trait Io: Read + Write + Unpin {}
impl<T: Read + Write + Unpin> Io for T {}

impl<I: Read + Write + Unpin + 'static> Read for HomeIo<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        self.get_mut().route()?.poll_read(cx, buf)
    }
}

impl<I: Read + Write + Unpin + 'static> Write for HomeIo<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().route()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().route()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.route {
            // Read without touching the stream off its thread: a stream
            // that is not at home reports no vectored writes.
            Route::Direct(bound) if bound.at_home() => bound.value.is_write_vectored(),
            _ => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().route()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().route()?.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    #[test]
    fn bound_values_are_reached_on_their_own_thread_only() {
        let counted = Rc::new(());
        let mut bound = ThreadBound::new(counted.clone());
        assert!(bound.get().is_some());
        let mut bound = std::thread::spawn(move || {
            assert!(bound.get().is_none());
            bound
        })
        .join()
        .unwrap();
        assert_eq!(Rc::strong_count(bound.get().unwrap()), 2);
        drop(bound);
        assert_eq!(Rc::strong_count(&counted), 1);
    }

    // Miri counts the deliberate leak as an error.
    #[cfg(not(miri))]
    #[test]
    fn bound_values_dropped_elsewhere_leak_untouched() {
        let counted = Rc::new(());
        let bound = ThreadBound::new(counted.clone());
        std::thread::spawn(move || drop(bound)).join().unwrap();
        // The clone was neither dropped nor decremented off its thread.
        assert_eq!(Rc::strong_count(&counted), 2);
        // SAFETY: the leaked clone is never used again; giving its count
        // back frees the allocation (LeakSanitizer runs these tests).
        unsafe { Rc::decrement_strong_count(Rc::as_ptr(&counted)) };
    }

    #[test]
    fn threads_have_distinct_numbers() {
        let here = this_thread();
        assert_eq!(here, this_thread());
        assert_ne!(std::thread::spawn(this_thread).join().unwrap(), here);
    }
}
