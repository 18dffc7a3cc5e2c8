//! `Registration`: a mio source registered with the current worker.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use mio::event::Source;
use mio::Interest;

use super::{IoDriver, IoState, READ, WRITE};
use crate::context;

/// A mio source registered with the current worker's reactor: the interface
/// on which roost-net builds its sockets.
///
/// Readiness is tracked per direction, each with one waiter, so one task
/// can wait to read while another waits to write. The protocol, as with
/// tokio's `PollEvented`:
///
/// 1. wait for readiness ([`poll_read_ready`](Self::poll_read_ready));
/// 2. try the operation on the source;
/// 3. if it returns `WouldBlock`, call
///    [`clear_read_ready`](Self::clear_read_ready) and go back to 1; on any
///    other result, keep the readiness (edge-triggered epoll will not report
///    the direction again until it has been drained).
///
/// [`poll_read_io`](Self::poll_read_io) and friends run that loop for you.
///
/// A registration belongs to the worker that created it (it is neither
/// `Send` nor `Sync`): thread-per-core sockets stay on their core. To move a
/// source to another worker, take it back with
/// [`into_inner`](Self::into_inner), send it, and register it there.
///
/// Dropping it deregisters the source (and drops the source).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use roost_runtime::io::Registration;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
///     a.set_nonblocking(true).unwrap();
///     b.set_nonblocking(true).unwrap();
///     let a = Registration::new(roost_runtime::mio::net::UnixStream::from_std(a)).unwrap();
///     let b = Registration::new(roost_runtime::mio::net::UnixStream::from_std(b)).unwrap();
///     let reader = roost_runtime::spawn_local(async move {
///         let mut buf = [0u8; 5];
///         let n = b.read_io(|s| (&*s).read(&mut buf)).await.unwrap();
///         buf[..n].to_vec()
///     });
///     a.write_io(|s| (&*s).write(b"hello")).await.unwrap();
///     assert_eq!(reader.await.unwrap(), b"hello");
/// });
/// ```
///
/// It never leaves its worker:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<roost_runtime::io::Registration<roost_runtime::mio::net::TcpStream>>();
/// ```
pub struct Registration<S: Source> {
    source: Option<S>,
    state: Rc<IoState>,
    driver: Rc<IoDriver>,
    key: usize,
}

impl<S: Source + AsRawFd> Registration<S> {
    /// Registers `source` for read and write readiness with the current
    /// worker.
    ///
    /// # Errors
    ///
    /// `ErrorKind::Other` if the calling thread is not a roost worker, or
    /// the error of the underlying `epoll_ctl`.
    pub fn new(source: S) -> io::Result<Self> {
        Self::with_interest(source, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `source` with the given interest (see [`new`](Self::new)).
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn with_interest(mut source: S, interest: Interest) -> io::Result<Self> {
        let driver = context::with_current(|ctx| ctx.and_then(|c| c.io.clone()))
            .ok_or_else(|| io::Error::other("roost_runtime::io::Registration created outside a roost worker thread"))?;
        let state = Rc::new(IoState::new());
        let key = driver.entries.borrow_mut().insert(state.clone());
        let fd = source.as_raw_fd();
        if let Err(e) = driver.register(&mut source, fd, key, interest) {
            driver.entries.borrow_mut().remove(key);
            return Err(e);
        }
        Ok(Self {
            source: Some(source),
            state,
            driver,
            key,
        })
    }
}

impl<S: Source> Registration<S> {
    /// The source.
    pub fn get_ref(&self) -> &S {
        self.source.as_ref().expect("source present until drop")
    }

    /// The source, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.source.as_mut().expect("source present until drop")
    }

    /// Changes the interest.
    ///
    /// # Errors
    ///
    /// The error of the underlying `epoll_ctl`.
    pub fn reregister(&mut self, interest: Interest) -> io::Result<()> {
        let source = self.source.as_mut().expect("source present until drop");
        self.driver.reregister(source, self.key, interest)
    }

    /// Deregisters the source and gives it back.
    ///
    /// # Errors
    ///
    /// The error of the underlying `epoll_ctl`; the source is dropped then.
    pub fn into_inner(mut self) -> io::Result<S> {
        let mut source = self.source.take().expect("source present until drop");
        self.driver.deregister(&mut source, self.key)?;
        Ok(source)
    }

    fn poll_ready(&self, cx: &mut Context<'_>, bit: u8) -> Poll<io::Result<()>> {
        if super::is_ready(self.state.readiness.get(), bit) {
            return Poll::Ready(Ok(()));
        }
        if !self.driver.alive.get() {
            return Poll::Ready(Err(io::Error::other(
                "the roost event loop this socket was registered with has stopped (its runtime was shut down, \
                 or the socket left the block_on that created it for another runtime's)",
            )));
        }
        let slot = if bit == READ {
            &self.state.reader
        } else {
            &self.state.writer
        };
        let waker = match slot.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        slot.set(Some(waker));
        Poll::Pending
    }

    /// Ready when the source may be readable (or has hit end of stream or an
    /// error): try the read then. Stores the task's waker otherwise.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, READ)
    }

    /// Ready when the source may be writable (or closed, or in error).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, WRITE)
    }

    /// Forgets read readiness. Call it after a read returned `WouldBlock`,
    /// or after a stream socket returned fewer bytes than asked for (its
    /// receive queue was drained: new data brings a new edge, and a close or
    /// an error that came with the data stays visible, because the closed
    /// state is sticky and never cleared).
    pub fn clear_read_ready(&self) {
        self.state.readiness.set(self.state.readiness.get() & !READ);
    }

    /// Forgets write readiness. Call it only after a write returned
    /// `WouldBlock`.
    pub fn clear_write_ready(&self) {
        self.state.readiness.set(self.state.readiness.get() & !WRITE);
    }

    /// Whether the source is believed readable.
    pub fn is_read_ready(&self) -> bool {
        super::is_ready(self.state.readiness.get(), READ)
    }

    /// Whether the source is believed writable.
    pub fn is_write_ready(&self) -> bool {
        super::is_ready(self.state.readiness.get(), WRITE)
    }

    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        bit: u8,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            match self.poll_ready(cx, bit) {
                Poll::Ready(Ok(())) => {}
                other => return other.map(|r| r.map(|()| unreachable!())),
            }
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.state.readiness.set(self.state.readiness.get() & !bit);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Runs a read-side operation once the source is readable, retrying
    /// after each `WouldBlock` (which clears read readiness).
    pub fn poll_read_io<R>(&self, cx: &mut Context<'_>, op: impl FnMut(&S) -> io::Result<R>) -> Poll<io::Result<R>> {
        self.poll_io(cx, READ, op)
    }

    /// Write-side counterpart of [`poll_read_io`](Self::poll_read_io).
    pub fn poll_write_io<R>(&self, cx: &mut Context<'_>, op: impl FnMut(&S) -> io::Result<R>) -> Poll<io::Result<R>> {
        self.poll_io(cx, WRITE, op)
    }

    /// `async` form of [`poll_read_io`](Self::poll_read_io).
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`.
    pub async fn read_io<R>(&self, mut op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_io(cx, &mut op)).await
    }

    /// `async` form of [`poll_write_io`](Self::poll_write_io).
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`.
    pub async fn write_io<R>(&self, mut op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_io(cx, &mut op)).await
    }

    fn try_io<R>(&self, bit: u8, op: impl FnOnce(&S) -> io::Result<R>) -> io::Result<R> {
        if !super::is_ready(self.state.readiness.get(), bit) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = op(self.get_ref());
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.state.readiness.set(self.state.readiness.get() & !bit);
        }
        result
    }

    /// Tries a read-side operation now, without waiting: `WouldBlock` if the
    /// source is not known readable, and clears readiness if `op` reports
    /// `WouldBlock`.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or whatever `op` returns.
    pub fn try_read_io<R>(&self, op: impl FnOnce(&S) -> io::Result<R>) -> io::Result<R> {
        self.try_io(READ, op)
    }

    /// Write-side counterpart of [`try_read_io`](Self::try_read_io).
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or whatever `op` returns.
    pub fn try_write_io<R>(&self, op: impl FnOnce(&S) -> io::Result<R>) -> io::Result<R> {
        self.try_io(WRITE, op)
    }

    /// The index of the worker the source is registered with.
    pub fn worker(&self) -> usize {
        crate::current_worker().expect("a registration lives on its worker thread")
    }
}

/// Completion-based operations on the io_uring driver (see `io/uring`).
///
/// Each returns `None` where the registration's worker does not run the
/// uring driver (or its kernel lacks what the operation needs): the caller
/// then uses readiness and its own system call, as on epoll.
impl<S: Source + AsRawFd> Registration<S> {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn stopped() -> io::Error {
        io::Error::other(
            "the roost event loop this socket was registered with has stopped (its runtime was shut down, \
             or the socket left the block_on that created it for another runtime's)",
        )
    }

    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn park_waker(slot: &std::cell::Cell<Option<Waker>>, cx: &Context<'_>) {
        let waker = match slot.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        slot.set(Some(waker));
    }

    /// Receives the next buffer the kernel filled for this stream socket:
    /// on the uring driver, the first call arms a multishot receive into
    /// the worker's provided-buffer ring of the size class of `size`, and
    /// every later segment comes as the arena buffer the kernel wrote. A
    /// buffer dropped anywhere goes home to this worker's arena and is
    /// provided to the ring again. `Ok(None)` is the end of the stream.
    ///
    /// Do not mix with readiness reads of the same socket: once receiving
    /// through the ring, [`poll_read_ready`](Self::poll_read_ready) reports
    /// only that received data is queued.
    #[cfg(target_os = "linux")]
    pub fn poll_recv_owned(
        &self,
        cx: &mut Context<'_>,
        size: usize,
    ) -> Option<Poll<io::Result<Option<roost_alloc::ArenaBytesMut>>>> {
        let ring = self.recv_ring(size)?;
        let u = &self.state.uring;
        if let Some(buf) = u.pop_rx() {
            self.rearm_recv(ring);
            return Some(Poll::Ready(Ok(Some(buf))));
        }
        Some(self.poll_rx_end(cx, ring).map(|r| r.map(|()| None)))
    }

    /// Like [`poll_recv_owned`](Self::poll_recv_owned), but copies what was
    /// received into `dst` (the borrowed-slice reads of a stream on the
    /// uring driver: one copy out of the provided buffer). Returns the
    /// bytes copied; 0 is the end of the stream (or an empty `dst`).
    #[cfg(target_os = "linux")]
    pub fn poll_recv_copy(
        &self,
        cx: &mut Context<'_>,
        dst: &mut [std::mem::MaybeUninit<u8>],
        size: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        let ring = self.recv_ring(size)?;
        let u = &self.state.uring;
        if dst.is_empty() {
            return Some(Poll::Ready(Ok(0)));
        }
        let n = u.copy_rx(dst);
        if n > 0 {
            self.rearm_recv(ring);
            return Some(Poll::Ready(Ok(n)));
        }
        Some(self.poll_rx_end(cx, ring).map(|r| r.map(|()| 0)))
    }

    /// The ring this source receives through, its receive armed at the
    /// first call (for reads of `size` bytes); `None` where it cannot.
    #[cfg(target_os = "linux")]
    fn recv_ring(&self, size: usize) -> Option<&super::uring::Ring> {
        let ring = self.driver.ring()?;
        if !self.state.uring.rx_on.get() && !ring.arm_recv(self.key, &self.state, self.get_ref().as_raw_fd(), size) {
            return None;
        }
        Some(ring)
    }

    /// Nothing is queued: the end of the stream, its error, or a wait.
    #[cfg(target_os = "linux")]
    fn poll_rx_end(&self, cx: &mut Context<'_>, ring: &super::uring::Ring) -> Poll<io::Result<()>> {
        let u = &self.state.uring;
        match u.rx_end.get() {
            Some(0) => return Poll::Ready(Ok(())),
            Some(errno) => return Poll::Ready(Err(io::Error::from_raw_os_error(errno))),
            None => {}
        }
        if !self.driver.alive.get() {
            return Poll::Ready(Err(Self::stopped()));
        }
        self.rearm_recv(ring);
        Self::park_waker(&self.state.reader, cx);
        Poll::Pending
    }

    /// Arms the receive again once a paused queue has drained to half its
    /// limit.
    #[cfg(target_os = "linux")]
    fn rearm_recv(&self, ring: &super::uring::Ring) {
        let u = &self.state.uring;
        if !u.rx_armed.get() && !u.rx_starved.get() && u.rx_bytes.get() <= super::uring::RX_QUEUE_LIMIT / 2 {
            ring.arm_recv(self.key, &self.state, self.get_ref().as_raw_fd(), 0);
        }
    }

    /// Whether the registration's worker runs the uring driver.
    pub fn is_uring(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.driver.ring().is_some()
        }
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Whether received data waits in the driver (it would be lost if the
    /// source left the registration).
    pub fn has_received_data(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            let u = &self.state.uring;
            u.rx_on.get() && (u.rx_bytes.get() > 0 || u.rx_armed.get())
        }
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Sends `buf` with an io_uring send (a zero-copy send from the
    /// configured size on): `buf` is taken at the first poll (`None` after
    /// it), `seq` keeps the send's number between polls. Ready once the
    /// kernel took every byte, or failed. Sends of one source go in order:
    /// a send waits for the one before it, even one whose future was
    /// dropped. The driver owns the buffer until the kernel lets go of it,
    /// then keeps it for [`take_sent_buffer`](Self::take_sent_buffer).
    #[cfg(target_os = "linux")]
    pub fn poll_send_owned(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Option<super::SendBuf>,
        seq: &mut Option<u32>,
    ) -> Option<Poll<io::Result<()>>> {
        let ring = self.driver.ring()?;
        let u = &self.state.uring;
        if let Some(seq) = *seq {
            if let Some((done, errno)) = u.tx_done.get() {
                if done == seq {
                    u.tx_done.set(None);
                    return Some(Poll::Ready(if errno == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(errno))
                    }));
                }
            }
            Self::park_waker(&self.state.writer, cx);
            return Some(Poll::Pending);
        }
        if u.tx_inflight.get() {
            Self::park_waker(&self.state.writer, cx);
            return Some(Poll::Pending);
        }
        if !self.driver.alive.get() {
            return Some(Poll::Ready(Err(Self::stopped())));
        }
        let Some(b) = buf.take() else {
            return Some(Poll::Ready(Ok(())));
        };
        let next = u.tx_seq.get().wrapping_add(1);
        u.tx_seq.set(next);
        u.tx_done.set(None);
        if let Err(b) = ring.send(self.key, &self.state, self.get_ref().as_raw_fd(), b, next) {
            *buf = Some(b);
            return Some(Poll::Ready(Err(Self::stopped())));
        }
        *seq = Some(next);
        Self::park_waker(&self.state.writer, cx);
        Some(Poll::Pending)
    }

    /// Ready when no io_uring send of this source is in flight (a
    /// borrowed-slice write must not overtake one). Always ready on epoll.
    pub fn poll_sends_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        #[cfg(target_os = "linux")]
        if self.state.uring.tx_inflight.get() && self.driver.alive.get() {
            Self::park_waker(&self.state.writer, cx);
            return Poll::Pending;
        }
        let _ = cx;
        Poll::Ready(())
    }

    /// The buffer the last io_uring send let go of, emptied, if nobody took
    /// it yet.
    pub fn take_sent_buffer(&self) -> Option<roost_alloc::ArenaBytesMut> {
        #[cfg(target_os = "linux")]
        {
            self.state.uring.tx_released.take()
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// Accepts the next connection of this listening socket through a
    /// multishot accept on the uring driver: the socket's descriptor,
    /// non-blocking and close-on-exec, now the caller's. A connection the
    /// kernel accepted after the listener was dropped is closed by the
    /// driver.
    #[cfg(target_os = "linux")]
    pub fn poll_accept_owned(&self, cx: &mut Context<'_>) -> Option<Poll<io::Result<std::os::fd::OwnedFd>>> {
        use std::os::fd::FromRawFd;
        let ring = self.driver.ring()?;
        if !ring.arm_accept(self.key, &self.state, self.get_ref().as_raw_fd()) {
            return None;
        }
        let u = &self.state.uring;
        let fd = u.accepted.borrow_mut().pop_front();
        if let Some(fd) = fd {
            // SAFETY: the kernel gave this descriptor to us alone.
            return Some(Poll::Ready(Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })));
        }
        if let Some(errno) = u.acc_error.take() {
            return Some(Poll::Ready(Err(io::Error::from_raw_os_error(errno))));
        }
        if !self.driver.alive.get() {
            return Some(Poll::Ready(Err(Self::stopped())));
        }
        Self::park_waker(&self.state.reader, cx);
        Some(Poll::Pending)
    }
}

impl<S: Source> Drop for Registration<S> {
    fn drop(&mut self) {
        if let Some(mut source) = self.source.take() {
            let _ = self.driver.deregister(&mut source, self.key);
        }
        // Wakers are dropped after the borrow ends.
        let removed: Option<Rc<IoState>> = self.driver.entries.try_borrow_mut().ok().and_then(|mut e| {
            if e.contains(self.key) {
                Some(e.remove(self.key))
            } else {
                None
            }
        });
        drop(removed);
        let _: (Option<Waker>, Option<Waker>) = (self.state.reader.take(), self.state.writer.take());
    }
}

impl<S: Source + std::fmt::Debug> std::fmt::Debug for Registration<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("source", &self.source)
            .field("token", &self.key)
            .field("readiness", &self.state.readiness.get())
            .finish()
    }
}
