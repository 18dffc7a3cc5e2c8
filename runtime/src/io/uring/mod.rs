//! The io_uring driver: one ring per event loop, giving its registrations
//! readiness through multishot polls, and TCP streams and listeners
//! completions: multishot receives into provided-buffer rings of arena
//! blocks (`bufring.rs`), sends that own their buffer, multishot accepts.
//!
//! Each registered source has one multishot `POLL_ADD` in the ring for the
//! directions it is interested in; each completion is turned into the same
//! readiness bits as an epoll event (see `IoDriver::wake`), so every source
//! built on [`Registration`](crate::io::Registration) works unchanged. A
//! source that receives (or accepts) through the ring keeps its poll for
//! writability only. Submissions are queued and go to the kernel with the
//! loop's next `io_uring_enter`, which also waits: for a completion, for
//! the loop's next timer (the enter's timeout, through
//! `IORING_ENTER_EXT_ARG`) or for a wake from another thread (a multishot
//! poll on the loop's eventfd). The ring is set up with `DEFER_TASKRUN`
//! where the kernel has it: the kernel's completion work runs only inside
//! the loop's enters, never as an interruption of its other system calls,
//! and a zero-timeout look makes no system call when the kernel's flags
//! say nothing is pending.
//!
//! # Invariants
//!
//! - Only the loop's thread touches the ring (it is `!Sync`, reached
//!   through the thread's context, and bound to it by `SINGLE_ISSUER`).
//! - Memory the kernel may write or read belongs to the driver until the
//!   operation's last completion: a receive writes only into buffers of a
//!   buffer ring, which stays registered, with its blocks, until the ring
//!   ends; a send's bytes live in the `SendOp` that owns its buffer until
//!   the send's completion (and, zero-copy, its notification). Dropping a
//!   future, a stream or a listener never frees that memory.
//! - The ring's end (`Drop`) cancels everything in flight and waits for the
//!   last completions (`outstanding` counts operations whose last
//!   completion has not arrived) before buffers are freed; if the kernel
//!   does not finish, they are leaked, never freed under it.
//! - Tokens carry the operation's kind (bits 61-62) and a generation (bits
//!   32-60): a poll's token is its own (`arms[key]` holds the live one);
//!   receives and accepts carry the generation of the source's
//!   registration (`sources[key]`). A completion whose token is not live
//!   belongs to a source that is gone (or a poll replaced by
//!   `reregister`): its buffer goes home, an accepted socket is closed, and
//!   a slab key reused by a newer source never receives an older source's
//!   events. Generations skip 0 and the largest value, so no token equals
//!   [`WAKE`] or [`CANCEL_ALL`].
//! - A removal that finds its poll busy posting a completion fails with
//!   `EALREADY` and leaves the poll armed; it is submitted again until it
//!   succeeds or finds no poll (`ENOENT`), so that no poll (and no socket
//!   it holds open) outlives its source.
//! - A multishot poll or receive that ends (a completion without
//!   `IORING_CQE_F_MORE`, for example when the completion queue overflowed)
//!   while its source is registered is armed again: readiness and data
//!   keep coming. A receive stopped for want of buffers (`ENOBUFS`) is
//!   armed again after the refill; the data waits in the socket.
//! - Removing a source submits the removal (and the cancellation of its
//!   receive or accept) at once, and runs the kernel's deferred work: the
//!   operations hold a reference to the socket's file, and the socket
//!   closes (the peer sees the FIN) only once they are gone, so that must
//!   not wait for the loop's next tick.
//! - A source holds at most [`RX_QUEUE_LIMIT`] bytes received and unread
//!   (its receive is cancelled beyond, and armed again at half), and a
//!   listener at most `ACCEPT_QUEUE_LIMIT` sockets.

mod arm;
mod bufring;
mod complete;
mod setup;
mod source;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use mio::Interest;
use slab::Slab;

use crate::io::fault::AfterWait;

use self::bufring::BufRing;
pub use self::source::SendBuf;
pub(crate) use self::source::UringIo;
use self::source::ACCEPT_QUEUE_LIMIT;
pub(crate) use self::source::RX_QUEUE_LIMIT;
use super::{IoDriver, IoState, READ, READ_CLOSED, WRITE, WRITE_CLOSED};
use crate::sys::eventfd::EventFd;

/// `io_uring_enter`'s flag to reap (and run deferred work for) completions.
const IORING_ENTER_GETEVENTS: u32 = 1;

/// The token of the poll on the loop's eventfd.
const WAKE: u64 = u64::MAX;
/// The token of the cancellation of everything, at the ring's end.
const CANCEL_ALL: u64 = u64::MAX - 1;
/// Set in the token of a poll removal or a cancellation, whose other bits
/// are the token of what it removes.
const CONTROL: u64 = 1 << 63;
const KIND_MASK: u64 = 3 << 61;
/// A readiness poll: `generation << 32 | key`.
const KIND_POLL: u64 = 0;
/// A multishot receive: `KIND_RECV | generation << 32 | group << 31 | key`.
const KIND_RECV: u64 = 1 << 61;
/// A multishot accept: `KIND_ACCEPT | generation << 32 | key`.
const KIND_ACCEPT: u64 = 2 << 61;
/// A send: `KIND_SEND | op`.
const KIND_SEND: u64 = 3 << 61;
/// The largest generation: 29 bits, and one less, so that no token is
/// `WAKE` or `CANCEL_ALL`.
const MAX_GENERATION: u32 = (1 << 29) - 2;
/// Keys fit 31 bits (the receive's group takes bit 31).
const MAX_KEY: usize = (1 << 31) - 1;
const LOW_KEY: u64 = (1 << 31) - 1;

/// The completions a batch wait asks for before its batch time is up.
const BATCH_WANT: usize = 64;

/// The buffer size of each buffer group (size class) a receive can use.
pub(crate) const GROUP_SIZES: [usize; 2] = [2048, 16 * 1024];

/// The group whose buffers suit reads of `size` bytes.
pub(crate) fn group_for(size: usize) -> u8 {
    if size <= GROUP_SIZES[0] {
        0
    } else {
        1
    }
}

/// How a ring is sized (see `Builder::uring_entries`, `uring_buffers`,
/// `uring_zero_copy_above`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RingConfig {
    pub(crate) entries: u32,
    pub(crate) buffers: u16,
    pub(crate) zero_copy_above: usize,
    /// How long a wait that found a completion collects more (0: none).
    pub(crate) batch_wait: Duration,
}

/// The live poll of one registered source.
#[derive(Clone, Copy)]
struct Arm {
    token: u64,
    fd: RawFd,
    mask: u32,
}

/// A send the kernel holds (see the module invariants).
struct SendOp {
    key: usize,
    generation: u32,
    fd: RawFd,
    buf: SendBuf,
    sent: usize,
    seq: u32,
    zero_copy: bool,
    /// The send's result is known (the rest waits for notifications).
    finished: bool,
    /// Zero-copy notifications still to come.
    notifications: u32,
}

/// What this kernel's io_uring can do beyond readiness.
#[derive(Clone, Copy, Default)]
struct Features {
    /// Multishot receive into provided-buffer rings (6.0).
    recv: bool,
    /// Multishot accept (5.19).
    accept: bool,
    /// Zero-copy send (6.0).
    zero_copy: bool,
    /// Cancel-any (5.19), to end the ring.
    cancel_any: bool,
}

/// One event loop's ring (see the module documentation).
pub(crate) struct Ring {
    /// Taken out only by `Drop`, which closes it or keeps it as the
    /// thread's spare (see [`SPARE`]).
    ring: std::mem::ManuallyDrop<RefCell<IoUring>>,
    /// The loop's unparker; kept so that its descriptor lives as long as
    /// the poll on it.
    eventfd: std::sync::Arc<EventFd>,
    /// By slab key: the source's live poll.
    arms: RefCell<Vec<Option<Arm>>>,
    /// By slab key: the generation of the registered source (0: none),
    /// carried by the tokens of its receives and accepts.
    sources: RefCell<Vec<u32>>,
    generation: Cell<u32>,
    /// Entries that found the submission queue full while the kernel would
    /// not take more (they go in at the next look at the ring).
    backlog: RefCell<VecDeque<squeue::Entry>>,
    /// Completions taken from the ring, dispatched once it is released.
    scratch: RefCell<Vec<(u64, i32, u32)>>,
    config: RingConfig,
    features: Features,
    /// Set up without `R_DISABLED`'s need of an enable (older kernels).
    enabled: Cell<bool>,
    /// By group: its buffer ring, made at the first receive that needs it.
    groups: RefCell<[Option<BufRing>; 2]>,
    /// The kernel refused a buffer ring: receives go through readiness.
    groups_refused: Cell<bool>,
    sends: RefCell<Slab<SendOp>>,
    /// Sources whose receive stopped for want of buffers: `(key, generation)`.
    starved: RefCell<Vec<(usize, u32)>>,
    /// Operations whose last completion has not arrived yet.
    outstanding: Cell<usize>,
    /// The ring is ending: nothing is armed again.
    closing: Cell<bool>,
    /// The batch wait in microseconds, 0 where off or unsupported.
    batch_wait_us: u32,
}

std::thread_local! {
    /// A ring this thread made, drained when its loop ended (nothing in
    /// flight, no buffer ring registered), kept with its submission
    /// entries for the thread's next loop, and closed when the thread
    /// exits. Closing it earlier would let the kernel's exit work for the
    /// ring interrupt this thread's next blocking call with a timeout
    /// (EINTR; see `UringToOpen::open`): a `block_on` thread goes on after
    /// its runtime is dropped, and so does `Builder::run`'s.
    static SPARE: RefCell<Option<(u32, IoUring)>> = const { RefCell::new(None) };
}

/// Why io_uring cannot be used in this process, found once: a seccomp
/// policy may allow `io_uring_setup` but not `io_uring_enter`, and that
/// must show at start-up, not in the loop.
///
/// The probe's ring is made and closed on a thread of its own, which has
/// exited by the time the kernel's exit work for the ring looks for the
/// threads to interrupt (see `UringToOpen::open`): made on the caller's
/// thread, it would cut short that thread's next blocking call with a
/// timeout (EINTR) a few milliseconds later.
fn probe_enter() -> io::Result<()> {
    static PROBE: OnceLock<Result<(), (io::ErrorKind, String)>> = OnceLock::new();
    let result = PROBE.get_or_init(|| {
        let probe = || {
            let ring = IoUring::new(2).map_err(|e| (e.kind(), e.to_string()))?;
            ring.submit().map(drop).map_err(|e| (e.kind(), e.to_string()))
        };
        match std::thread::Builder::new()
            .name("roost-uring-probe".into())
            .spawn(probe)
        {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|_| Err((io::ErrorKind::Other, "the io_uring probe panicked".to_owned()))),
            // No thread to spare: probe here, at the cost above.
            Err(_) => probe(),
        }
    });
    result.clone().map_err(|(kind, message)| io::Error::new(kind, message))
}

impl Ring {
    /// Queues `entry`, one more operation in flight; submits what is
    /// queued first if the queue is full.
    ///
    /// # Safety
    ///
    /// Whatever memory the entry points to stays valid, and unused by
    /// anyone else, until the operation's last completion (the module
    /// invariants say how each kind of entry keeps that).
    unsafe fn push(&self, entry: squeue::Entry) {
        self.outstanding.set(self.outstanding.get() + 1);
        let mut ring = self.ring.borrow_mut();
        if !self.backlog.borrow().is_empty() {
            self.backlog.borrow_mut().push_back(entry);
            return;
        }
        // SAFETY: per the contract.
        if unsafe { ring.submission().push(&entry) }.is_ok() {
            return;
        }
        let _ = ring.submit();
        // SAFETY: per the contract.
        if unsafe { ring.submission().push(&entry) }.is_err() {
            self.backlog.borrow_mut().push_back(entry);
        }
    }

    /// Queues an entry that points to no memory (a poll, a removal, a
    /// cancellation).
    fn push_plain(&self, entry: squeue::Entry) {
        // SAFETY: the entry refers to descriptors and tokens only.
        unsafe { self.push(entry) };
    }

    /// Moves backlogged entries into the submission queue while it has room.
    fn flush_backlog(&self) {
        let mut backlog = self.backlog.borrow_mut();
        if backlog.is_empty() {
            return;
        }
        let mut ring = self.ring.borrow_mut();
        while let Some(entry) = backlog.front() {
            // SAFETY: every backlogged entry met `push`'s contract.
            if unsafe { ring.submission().push(entry) }.is_err() {
                if ring.submit().is_err() {
                    return;
                }
                // SAFETY: as above.
                if unsafe { ring.submission().push(entry) }.is_err() {
                    return;
                }
            }
            backlog.pop_front();
        }
    }

    /// Submits what is queued now, and runs the kernel's deferred
    /// completion work: a removal or cancellation queues the end of the
    /// poll or receive it targets as such work (with `DEFER_TASKRUN`, run
    /// only by an enter that asks for events), and that end is what lets go
    /// of the socket's file, so the peer sees the close now rather than at
    /// the loop's next wait (which never comes while the thread blocks).
    fn submit_now(&self) {
        self.flush_backlog();
        let ring = self.ring.borrow();
        let queued = {
            // SAFETY: the loop's thread is the only one using the queue.
            let sq = unsafe { ring.submission_shared() };
            sq.len() as u32
        };
        // SAFETY: no argument is passed (the size is ignored).
        let _ = unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(queued, 0, IORING_ENTER_GETEVENTS, None)
        };
    }

    fn arm_wake(&self) {
        let mask = libc::POLLIN as u32;
        let entry = opcode::PollAdd::new(types::Fd(self.eventfd.as_raw_fd()), mask)
            .multi(true)
            .build()
            .user_data(WAKE);
        self.push_plain(entry);
    }

    fn next_generation(&self) -> u32 {
        let mut generation = self.generation.get() + 1;
        if generation > MAX_GENERATION {
            generation = 1;
        }
        self.generation.set(generation);
        generation
    }

    fn arm(&self, arm: Arm) {
        let entry = opcode::PollAdd::new(types::Fd(arm.fd), arm.mask)
            .multi(true)
            .build()
            .user_data(arm.token);
        self.push_plain(entry);
    }

    /// Starts polling `fd` for `interest` as slab entry `key`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `key` does not fit a token (more than 2^31
    /// sources).
    pub(crate) fn register(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        if key > MAX_KEY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more than 2^31 sources registered with one roost worker",
            ));
        }
        let generation = self.next_generation();
        {
            let mut sources = self.sources.borrow_mut();
            if sources.len() <= key {
                sources.resize(key + 1, 0);
            }
            sources[key] = generation;
        }
        self.poll_source(fd, key, interest);
        Ok(())
    }

    fn poll_source(&self, fd: RawFd, key: usize, interest: Interest) {
        let arm = Arm {
            token: KIND_POLL | u64::from(self.next_generation()) << 32 | key as u64,
            fd,
            mask: poll_mask(interest),
        };
        {
            let mut arms = self.arms.borrow_mut();
            if arms.len() <= key {
                arms.resize(key + 1, None);
            }
            arms[key] = Some(arm);
        }
        self.arm(arm);
    }

    /// Replaces the poll of entry `key` by one for `interest`.
    ///
    /// # Errors
    ///
    /// `NotFound` if `key` is not registered.
    pub(crate) fn reregister(&self, key: usize, interest: Interest) -> io::Result<()> {
        let old = self.arms.borrow_mut().get_mut(key).and_then(Option::take);
        let Some(old) = old else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "the source is not registered"));
        };
        self.remove(old.token);
        self.poll_source(old.fd, key, interest);
        Ok(())
    }

    /// Stops polling entry `key`, cancels its receive and accept, and
    /// submits that at once (see the module invariants).
    pub(crate) fn deregister(&self, key: usize, state: &IoState) {
        let old = self.arms.borrow_mut().get_mut(key).and_then(Option::take);
        let generation = self.sources.borrow().get(key).copied().unwrap_or(0);
        if let Some(old) = old {
            self.push_plain(
                opcode::PollRemove::new(old.token)
                    .build()
                    .user_data(CONTROL | old.token),
            );
        }
        let u = &state.uring;
        if u.rx_armed.get() {
            self.cancel(recv_token(generation, u.rx_group.get(), key));
        }
        if u.acc_armed.get() {
            self.cancel(KIND_ACCEPT | u64::from(generation) << 32 | key as u64);
        }
        if let Some(g) = self.sources.borrow_mut().get_mut(key) {
            *g = 0;
        }
        self.submit_now();
    }

    /// Submits the removal of the poll `token` at once.
    fn remove(&self, token: u64) {
        self.push_plain(opcode::PollRemove::new(token).build().user_data(CONTROL | token));
        self.submit_now();
    }

    /// Queues the cancellation of the operation `token`.
    fn cancel(&self, token: u64) {
        let entry = opcode::AsyncCancel::new(token).build().user_data(CONTROL | token);
        self.push_plain(entry);
    }

    /// The state of the source of `key` if it is still the one of
    /// `generation`.
    fn live(&self, io: Option<&IoDriver>, key: usize, generation: u32) -> Option<std::rc::Rc<IoState>> {
        let io = io?;
        if self.sources.borrow().get(key).copied() != Some(generation) || generation == 0 {
            return None;
        }
        io.entries.borrow().get(key).cloned()
    }

    /// Submits what is queued, waits up to `timeout` (`None`: without
    /// limit) for a completion, then dispatches every completion. Returns
    /// `Break` when the ring failed for good and the loop must stop: a
    /// failed `io_uring_enter` (other than a timeout, a signal or a full
    /// completion queue) is reported and retried as a failed `epoll_wait`
    /// is (see `io/fault.rs`).
    pub(crate) fn poll(&self, io: &IoDriver, timeout: Option<Duration>) -> ControlFlow<()> {
        self.flush_backlog();
        {
            let mut ring = self.ring.borrow_mut();
            let waited = io.faults.wait(|| {
                let result = match timeout {
                    Some(d) if d.is_zero() => {
                        let mut sq = ring.submission();
                        let needed = !sq.is_empty() || sq.taskrun() || sq.cq_overflow();
                        sq.sync();
                        drop(sq);
                        if needed {
                            ring.submit()
                        } else {
                            Ok(0)
                        }
                    }
                    // With a batch wait (Linux 6.12's min-wait), a wait
                    // that found a first completion goes on collecting
                    // more for up to `batch_wait_us` before it returns: one
                    // enter for several requests under load.
                    Some(d) => {
                        let ts = types::Timespec::from(d);
                        let args = types::SubmitArgs::new().timespec(&ts);
                        if self.batch_wait_us > 0 {
                            let args = args.min_wait_usec(self.batch_wait_us);
                            ring.submitter().submit_with_args(BATCH_WANT, &args)
                        } else {
                            ring.submitter().submit_with_args(1, &args)
                        }
                    }
                    None if self.batch_wait_us > 0 => {
                        let args = types::SubmitArgs::new().min_wait_usec(self.batch_wait_us);
                        ring.submitter().submit_with_args(BATCH_WANT, &args)
                    }
                    None => ring.submit_and_wait(1),
                };
                match result {
                    Ok(_) => Ok(()),
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                        ) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            });
            match waited {
                AfterWait::Dispatch => {}
                AfterWait::Retry => return ControlFlow::Continue(()),
                AfterWait::Stop => return ControlFlow::Break(()),
            }
        }
        self.dispatch(Some(io));
        ControlFlow::Continue(())
    }

    /// Bytes of arena blocks lent to the kernel's buffer rings.
    pub(crate) fn lent_bytes(&self) -> usize {
        self.groups.borrow().iter().flatten().map(BufRing::lent_bytes).sum()
    }
}

/// The generation a receive's or an accept's token carries.
fn generation_of(token: u64) -> u32 {
    ((token >> 32) as u32) & ((1 << 29) - 1)
}

fn recv_token(generation: u32, group: u8, key: usize) -> u64 {
    KIND_RECV | u64::from(generation) << 32 | u64::from(group) << 31 | key as u64
}

impl Drop for Ring {
    /// Cancels whatever is in flight and waits for the kernel to finish it
    /// (at most about five seconds) before the buffers it may write are
    /// freed; if it does not finish, they are leaked rather than freed
    /// under the kernel.
    fn drop(&mut self) {
        self.closing.set(true);
        if self.enabled.get() && self.outstanding.get() > 0 {
            // What waits in the backlog goes in first, so that the
            // cancellation finds it.
            self.submit_now();
            if self.features.cancel_any {
                let entry = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                    .build()
                    .user_data(CANCEL_ALL);
                self.push_plain(entry);
            }
            for _ in 0..500 {
                if self.outstanding.get() == 0 {
                    break;
                }
                self.flush_backlog();
                {
                    let ring = self.ring.borrow();
                    let ts = types::Timespec::from(Duration::from_millis(10));
                    let args = types::SubmitArgs::new().timespec(&ts);
                    let _ = ring.submitter().submit_with_args(1, &args);
                }
                self.dispatch(None);
            }
        }
        let done = !self.enabled.get() || self.outstanding.get() == 0;
        let mut drained = false;
        if done {
            let ring = self.ring.get_mut();
            drained = self.enabled.get();
            for bufs in self.groups.get_mut().iter_mut().flatten() {
                drained &= bufs.unregister(&ring.submitter());
            }
        } else {
            eprintln!(
                "roost: {} io_uring operations did not finish at the ring's end; their buffers are leaked, not freed",
                self.outstanding.get()
            );
            std::mem::forget(std::mem::take(self.sends.get_mut()));
        }
        // SAFETY: taken once, here, and never used again: the other fields'
        // drops do not reach the ring.
        let ring = unsafe { std::mem::ManuallyDrop::take(&mut self.ring) }.into_inner();
        if drained {
            // Nothing in flight and no buffer ring: the next loop of this
            // thread may use it (see `SPARE`); a second spare is closed.
            let entries = self.config.entries;
            let _ = SPARE.try_with(|spare| spare.borrow_mut().replace((entries, ring)));
        }
    }
}

/// The poll events that stand for `interest` (errors and hang-ups are
/// always reported).
fn poll_mask(interest: Interest) -> u32 {
    let mut mask = 0;
    if interest.is_readable() {
        mask |= (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) as u32;
    }
    if interest.is_writable() {
        mask |= libc::POLLOUT as u32;
    }
    mask
}

/// The readiness bits of a poll result, as `IoDriver::dispatch` makes them
/// from an epoll event (with mio's reading of the epoll bits).
fn readiness_of(mask: u32) -> u8 {
    let has = |bit: libc::c_short| mask & bit as u32 != 0;
    let error = has(libc::POLLERR);
    let readable = has(libc::POLLIN) || has(libc::POLLPRI);
    let read_closed = has(libc::POLLHUP) || (has(libc::POLLIN) && has(libc::POLLRDHUP));
    let writable = has(libc::POLLOUT);
    let write_closed = has(libc::POLLHUP) || (writable && error) || mask == libc::POLLERR as u32;
    let mut bits = 0;
    if readable {
        bits |= READ;
    }
    if read_closed || error {
        bits |= READ | READ_CLOSED;
    }
    if writable {
        bits |= WRITE;
    }
    if write_closed || error {
        bits |= WRITE | WRITE_CLOSED;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_epoll_reading() {
        assert_eq!(readiness_of(libc::POLLIN as u32), READ);
        assert_eq!(readiness_of(libc::POLLOUT as u32), WRITE);
        assert_eq!(
            readiness_of((libc::POLLIN | libc::POLLRDHUP) as u32),
            READ | READ_CLOSED
        );
        // A half-close without data is not yet readable.
        assert_eq!(readiness_of(libc::POLLRDHUP as u32), 0);
        assert_eq!(
            readiness_of(libc::POLLHUP as u32),
            READ | READ_CLOSED | WRITE | WRITE_CLOSED
        );
        assert_eq!(
            readiness_of(libc::POLLERR as u32),
            READ | READ_CLOSED | WRITE | WRITE_CLOSED
        );
    }

    #[test]
    fn masks_follow_the_interest() {
        assert_eq!(poll_mask(Interest::WRITABLE), libc::POLLOUT as u32);
        let read = poll_mask(Interest::READABLE);
        assert_ne!(read & libc::POLLRDHUP as u32, 0);
        assert_eq!(read & libc::POLLOUT as u32, 0);
    }
}
