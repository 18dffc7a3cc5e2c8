//! The io_uring driver: one ring per event loop, giving its registrations
//! readiness through multishot polls.
//!
//! Each registered source has one multishot `POLL_ADD` in the ring for the
//! directions it is interested in; each completion is turned into the same
//! readiness bits as an epoll event (see `IoDriver::wake`), so every source
//! built on [`Registration`](crate::io::Registration) works unchanged.
//! Registrations and re-arms are queued in the submission queue and go to
//! the kernel with the loop's next `io_uring_enter`, which also waits: for
//! a completion, for the loop's next timer (the enter's timeout, through
//! `IORING_ENTER_EXT_ARG`) or for a wake from another thread (a multishot
//! poll on the loop's eventfd). A zero-timeout look at the ring makes no
//! syscall at all when nothing is queued, no completion is pending in the
//! kernel (the ring is set up with `COOP_TASKRUN` and `TASKRUN_FLAG`, so the
//! kernel says so in the ring's flags) and the queue is empty.
//!
//! # Invariants
//!
//! - Only the loop's thread touches the ring (it is `!Sync`, and the
//!   `IoDriver` that owns it is reached through the thread's context).
//! - No operation in this ring points into memory: polls and poll removals
//!   carry a descriptor and a token, so the kernel can never write to
//!   memory the process freed, whenever the ring or a source goes away.
//! - A poll's token is `generation << 32 | slab key`; `arms[key]` holds the
//!   token of the source's live poll. A completion whose token is not the
//!   live one belongs to a poll that was removed (or replaced by
//!   `reregister`) and is ignored, so a slab key reused by a newer source
//!   never receives an older source's events. Generations are 31 bits and
//!   skip 0 and `2^31 - 1`, so a poll's token, and the removal's token (the
//!   poll's with [`REMOVAL`] set), never equals [`WAKE`].
//! - A removal that finds its poll busy posting a completion fails with
//!   `EALREADY` and leaves the poll armed; it is submitted again until it
//!   succeeds or finds no poll (`ENOENT`), so that no poll (and no socket
//!   it holds open) outlives its source.
//! - A multishot poll that ends (a completion without `IORING_CQE_F_MORE`,
//!   for example when the completion queue overflowed) while its source is
//!   registered is armed again with the same token: readiness keeps coming.
//! - Removing a source submits the removal at once: the poll holds a
//!   reference to the socket's file, and the socket closes (the peer sees
//!   the FIN) only once the poll is gone, so that must not wait for the
//!   loop's next tick.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use mio::Interest;

use crate::io::fault::AfterWait;

use super::{IoDriver, READ, READ_CLOSED, WRITE, WRITE_CLOSED};
use crate::sys::eventfd::EventFd;

/// The token of the poll on the loop's eventfd.
const WAKE: u64 = u64::MAX;
/// Set in the token of a poll removal, whose other bits are the token of
/// the poll it removes.
const REMOVAL: u64 = 1 << 63;
/// The largest generation (31 bits, so that `REMOVAL` stays free, and one
/// less, so that no removal's token is `WAKE`).
const MAX_GENERATION: u32 = (1 << 31) - 2;

/// The live poll of one registered source.
#[derive(Clone, Copy)]
struct Arm {
    token: u64,
    fd: RawFd,
    mask: u32,
}

/// One event loop's ring (see the module documentation).
pub(crate) struct Ring {
    ring: RefCell<IoUring>,
    /// The loop's unparker; kept so that its descriptor lives as long as
    /// the poll on it.
    eventfd: std::sync::Arc<EventFd>,
    /// By slab key: the source's live poll.
    arms: RefCell<Vec<Option<Arm>>>,
    generation: Cell<u32>,
    /// Entries that found the submission queue full while the kernel would
    /// not take more (they go in at the next look at the ring).
    backlog: RefCell<VecDeque<squeue::Entry>>,
    /// Completions taken from the ring, dispatched once it is released.
    scratch: RefCell<Vec<(u64, i32, u32)>>,
}

impl Ring {
    /// Opens a ring of `entries` submission entries whose loop `eventfd`
    /// wakes.
    ///
    /// # Errors
    ///
    /// io_uring is missing (`ENOSYS`), forbidden (`EPERM`: seccomp,
    /// `kernel.io_uring_disabled`), out of resources, `entries` is beyond
    /// the kernel's limit (`EINVAL`), or the kernel lacks a feature this
    /// driver needs (`Unsupported`).
    pub(crate) fn new(entries: u32, eventfd: std::sync::Arc<EventFd>) -> io::Result<Self> {
        let cq_entries = entries.saturating_mul(4);
        // COOP_TASKRUN and TASKRUN_FLAG (Linux 5.19) let a zero-timeout look
        // skip the syscall; older kernels refuse them with EINVAL.
        let ring = match IoUring::builder()
            .setup_cqsize(cq_entries)
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(entries)
        {
            Ok(ring) => ring,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                IoUring::builder().setup_cqsize(cq_entries).build(entries)?
            }
            Err(e) => return Err(e),
        };
        let params = ring.params();
        let missing = if !params.is_feature_ext_arg() {
            Some("IORING_FEAT_EXT_ARG (Linux 5.11), for waits with a timeout")
        } else if !params.is_feature_nodrop() {
            Some("IORING_FEAT_NODROP (Linux 5.5)")
        } else if !params.is_feature_resource_tagging() {
            // Multishot polls came with 5.13, as did this feature bit.
            Some("multishot polls (Linux 5.13)")
        } else {
            None
        };
        if let Some(missing) = missing {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the kernel's io_uring lacks {missing}"),
            ));
        }
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !(probe.is_supported(opcode::PollAdd::CODE) && probe.is_supported(opcode::PollRemove::CODE)) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel's io_uring lacks POLL_ADD or POLL_REMOVE",
            ));
        }
        let this = Self {
            ring: RefCell::new(ring),
            eventfd,
            arms: RefCell::new(Vec::new()),
            generation: Cell::new(0),
            backlog: RefCell::new(VecDeque::new()),
            scratch: RefCell::new(Vec::new()),
        };
        this.arm_wake();
        // One enter now: a seccomp policy may allow io_uring_setup but not
        // io_uring_enter, and that must show at start-up, not in the loop.
        this.ring.borrow().submit()?;
        Ok(this)
    }

    /// Queues `entry`; submits what is queued first if the queue is full.
    fn push(&self, entry: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        if !self.backlog.borrow().is_empty() {
            self.backlog.borrow_mut().push_back(entry);
            return;
        }
        // SAFETY: every entry of this ring is a poll, a poll removal or a
        // poll update: none refers to memory (module invariants).
        if unsafe { ring.submission().push(&entry) }.is_ok() {
            return;
        }
        let _ = ring.submit();
        // SAFETY: as above.
        if unsafe { ring.submission().push(&entry) }.is_err() {
            self.backlog.borrow_mut().push_back(entry);
        }
    }

    /// Moves backlogged entries into the submission queue while it has room.
    fn flush_backlog(&self) {
        let mut backlog = self.backlog.borrow_mut();
        if backlog.is_empty() {
            return;
        }
        let mut ring = self.ring.borrow_mut();
        while let Some(entry) = backlog.front() {
            // SAFETY: as in `push`.
            if unsafe { ring.submission().push(entry) }.is_err() {
                if ring.submit().is_err() {
                    return;
                }
                // SAFETY: as in `push`.
                if unsafe { ring.submission().push(entry) }.is_err() {
                    return;
                }
            }
            backlog.pop_front();
        }
    }

    fn arm_wake(&self) {
        let mask = libc::POLLIN as u32;
        let entry = opcode::PollAdd::new(types::Fd(self.eventfd.as_raw_fd()), mask)
            .multi(true)
            .build()
            .user_data(WAKE);
        self.push(entry);
    }

    fn next_token(&self, key: usize) -> u64 {
        let mut generation = self.generation.get() + 1;
        if generation > MAX_GENERATION {
            generation = 1;
        }
        self.generation.set(generation);
        (u64::from(generation) << 32) | key as u64
    }

    fn arm(&self, arm: Arm) {
        let entry = opcode::PollAdd::new(types::Fd(arm.fd), arm.mask)
            .multi(true)
            .build()
            .user_data(arm.token);
        self.push(entry);
    }

    /// Starts polling `fd` for `interest` as slab entry `key`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `key` does not fit a token (more than 2^32
    /// sources).
    pub(crate) fn register(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        if key > u32::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more than 2^32 sources registered with one roost worker",
            ));
        }
        let arm = Arm {
            token: self.next_token(key),
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
        Ok(())
    }

    /// Replaces the poll of entry `key` by one for `interest`.
    ///
    /// # Errors
    ///
    /// `NotFound` if `key` is not registered.
    pub(crate) fn reregister(&self, key: usize, interest: Interest) -> io::Result<()> {
        let old = self.arms.borrow().get(key).copied().flatten();
        let Some(old) = old else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "the source is not registered"));
        };
        self.deregister(key);
        self.register(old.fd, key, interest)
    }

    /// Stops polling entry `key` and submits the removal at once (see the
    /// module invariants).
    pub(crate) fn deregister(&self, key: usize) {
        let old = self.arms.borrow_mut().get_mut(key).and_then(Option::take);
        if let Some(old) = old {
            self.remove(old.token);
        }
    }

    /// Submits the removal of the poll `token` at once.
    fn remove(&self, token: u64) {
        self.push(opcode::PollRemove::new(token).build().user_data(REMOVAL | token));
        self.flush_backlog();
        let _ = self.ring.borrow().submit();
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
                    Some(d) => {
                        let ts = types::Timespec::from(d);
                        let args = types::SubmitArgs::new().timespec(&ts);
                        ring.submitter().submit_with_args(1, &args)
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
            let mut scratch = self.scratch.borrow_mut();
            scratch.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        }
        let mut completions = std::mem::take(&mut *self.scratch.borrow_mut());
        for &(token, result, flags) in &completions {
            self.complete(io, token, result, cqueue::more(flags));
        }
        completions.clear();
        // Keep the allocation for the next look.
        let mut scratch = self.scratch.borrow_mut();
        if scratch.is_empty() {
            *scratch = completions;
        }
        ControlFlow::Continue(())
    }

    fn complete(&self, io: &IoDriver, token: u64, result: i32, more: bool) {
        match token {
            WAKE => {
                if !more {
                    self.arm_wake();
                }
            }
            removal if removal & REMOVAL != 0 => {
                if result == -libc::EALREADY {
                    self.remove(removal & !REMOVAL);
                }
            }
            token => {
                let key = (token & u64::from(u32::MAX)) as usize;
                let live = self.arms.borrow().get(key).copied().flatten();
                let Some(arm) = live.filter(|a| a.token == token) else {
                    return;
                };
                if result >= 0 {
                    io.wake_key(key, readiness_of(result as u32));
                } else if result != -libc::ECANCELED {
                    // The poll failed (for example ENOMEM): let both
                    // directions try their operation, which reports what
                    // the socket says.
                    io.wake_key(key, READ | WRITE);
                }
                if !more {
                    self.arm(arm);
                }
            }
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
