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

mod bufring;
mod ops;

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
pub use self::ops::SendBuf;
pub(crate) use self::ops::UringIo;
use self::ops::ACCEPT_QUEUE_LIMIT;
pub(crate) use self::ops::RX_QUEUE_LIMIT;
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
    /// Sets up a new ring of `entries` (and `cq_entries` completions);
    /// returns it and whether it is enabled already.
    fn setup(entries: u32, cq_entries: u32) -> io::Result<(IoUring, bool)> {
        // DEFER_TASKRUN (6.1) runs the kernel's completion work only when
        // the loop enters the ring, never as an interruption of its other
        // system calls; it needs SINGLE_ISSUER, which binds the ring to
        // the thread that enables it (R_DISABLED; the loop's thread makes
        // the ring and enables it at once, see `UringToOpen`). Older
        // kernels refuse the flags with EINVAL: COOP_TASKRUN and
        // TASKRUN_FLAG (5.19) still let a zero-timeout look skip the
        // system call; before them, neither.
        let made = match IoUring::builder()
            .setup_cqsize(cq_entries)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .setup_r_disabled()
            .build(entries)
        {
            Ok(ring) => (ring, false),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => match IoUring::builder()
                .setup_cqsize(cq_entries)
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .build(entries)
            {
                Ok(ring) => (ring, true),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    (IoUring::builder().setup_cqsize(cq_entries).build(entries)?, true)
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        Ok(made)
    }

    /// Opens a ring sized by `config` whose loop `eventfd` wakes. The ring
    /// serves only the thread that calls [`enable`](Self::enable) (the
    /// loop's), which must happen before any other use.
    ///
    /// # Errors
    ///
    /// io_uring is missing (`ENOSYS`), forbidden (`EPERM`: seccomp,
    /// `kernel.io_uring_disabled`), out of resources, the entries are
    /// beyond the kernel's limit (`EINVAL`), or the kernel lacks a feature
    /// this driver needs (`Unsupported`).
    pub(crate) fn new(config: RingConfig, eventfd: std::sync::Arc<EventFd>) -> io::Result<Self> {
        probe_enter()?;
        let entries = config.entries;
        let cq_entries = entries.saturating_mul(4);
        // A ring this thread made for a loop of its own before (closing it
        // would have let the kernel interrupt the thread, see `SPARE`).
        let spare = SPARE
            .try_with(|spare| {
                let mut spare = spare.borrow_mut();
                match &*spare {
                    Some((spare_entries, _)) if *spare_entries == entries => spare.take(),
                    _ => None,
                }
            })
            .ok()
            .flatten();
        let (ring, enabled) = match spare {
            // Made by this thread, drained and enabled for it.
            Some((_, ring)) => (ring, true),
            None => Self::setup(entries, cq_entries)?,
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
        let batch_wait_us = if params.is_feature_min_timeout() {
            config.batch_wait.as_micros().min(u128::from(u32::MAX)) as u32
        } else {
            0
        };
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !(probe.is_supported(opcode::PollAdd::CODE) && probe.is_supported(opcode::PollRemove::CODE)) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel's io_uring lacks POLL_ADD or POLL_REMOVE",
            ));
        }
        // SEND_ZC and multishot receive both came with 6.0; buffer rings,
        // multishot accept and cancel-any with 5.19 (the probe cannot see
        // the multishot flags: the opcode's age stands for them).
        let six = probe.is_supported(opcode::SendZc::CODE);
        let cancel = probe.is_supported(opcode::AsyncCancel::CODE);
        let features = Features {
            recv: six && probe.is_supported(opcode::Recv::CODE),
            accept: six && probe.is_supported(opcode::Accept::CODE),
            zero_copy: six && probe.is_supported(opcode::Send::CODE),
            cancel_any: six && cancel,
        };
        Ok(Self {
            ring: std::mem::ManuallyDrop::new(RefCell::new(ring)),
            eventfd,
            arms: RefCell::new(Vec::new()),
            sources: RefCell::new(Vec::new()),
            generation: Cell::new(0),
            backlog: RefCell::new(VecDeque::new()),
            scratch: RefCell::new(Vec::new()),
            config,
            features,
            enabled: Cell::new(enabled),
            groups: RefCell::new([None, None]),
            groups_refused: Cell::new(false),
            sends: RefCell::new(Slab::new()),
            starved: RefCell::new(Vec::new()),
            outstanding: Cell::new(0),
            closing: Cell::new(false),
            batch_wait_us,
        })
    }

    /// Binds the ring to the calling thread (the loop's) and arms the wake.
    ///
    /// # Errors
    ///
    /// The kernel refused to enable the ring or to take the first entry.
    pub(crate) fn enable(&self) -> io::Result<()> {
        if !self.enabled.get() {
            self.ring.borrow().submitter().register_enable_rings()?;
            self.enabled.set(true);
        }
        self.arm_wake();
        self.ring.borrow().submit()?;
        Ok(())
    }

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

    /// Whether receives can go through buffer rings.
    pub(crate) fn can_recv(&self) -> bool {
        self.features.recv && !self.groups_refused.get()
    }

    /// Makes `group`'s buffer ring if it does not exist yet; whether it
    /// exists.
    fn ensure_group(&self, group: u8) -> bool {
        if self.groups.borrow()[usize::from(group)].is_some() {
            return true;
        }
        if self.groups_refused.get() || self.closing.get() {
            return false;
        }
        let made = {
            let ring = self.ring.borrow();
            BufRing::new(
                &ring.submitter(),
                u16::from(group),
                self.config.buffers,
                GROUP_SIZES[usize::from(group)],
            )
        };
        match made {
            Ok(bufs) => {
                self.groups.borrow_mut()[usize::from(group)] = Some(bufs);
                true
            }
            Err(_) => {
                self.groups_refused.set(true);
                false
            }
        }
    }

    /// Arms the multishot receive of the source `key` (see `IoDriver::poll_recv`).
    /// Returns false where the ring cannot receive for it.
    pub(crate) fn arm_recv(&self, key: usize, state: &IoState, fd: RawFd, size: usize) -> bool {
        let u = &state.uring;
        if !u.rx_on.get() {
            if !self.can_recv() {
                return false;
            }
            let group = group_for(size);
            if !self.ensure_group(group) {
                return false;
            }
            u.rx_group.set(group);
            u.rx_on.set(true);
            // The receive reports data: the poll needs to say only when
            // the socket is writable again.
            let _ = self.reregister(key, Interest::WRITABLE);
        }
        if u.rx_armed.get() || u.rx_end.get().is_some() || self.closing.get() {
            return true;
        }
        let generation = self.sources.borrow().get(key).copied().unwrap_or(0);
        if generation == 0 {
            return true;
        }
        let group = u.rx_group.get();
        let entry = opcode::RecvMulti::new(types::Fd(fd), u16::from(group))
            .build()
            .user_data(recv_token(generation, group, key));
        // SAFETY: the receive writes only into buffers of the group's ring,
        // which the ring keeps until the kernel is done with every
        // operation (see `Drop`).
        unsafe { self.push(entry) };
        u.rx_armed.set(true);
        u.rx_starved.set(false);
        true
    }

    /// Arms again the receive of a source that has started one, with the
    /// descriptor its poll holds.
    fn rearm_recv(&self, key: usize, state: &IoState) {
        let fd = self.arms.borrow().get(key).copied().flatten().map(|a| a.fd);
        if let Some(fd) = fd {
            // The size only picks the group at the first arm.
            self.arm_recv(key, state, fd, 0);
        }
    }

    /// Cancels the source's receive: its queue went over its limit.
    fn pause_recv(&self, key: usize, generation: u32, u: &UringIo) {
        if u.rx_armed.get() && !u.rx_cancelling.get() {
            u.rx_cancelling.set(true);
            self.cancel(recv_token(generation, u.rx_group.get(), key));
        }
    }

    /// Arms the multishot accept of the listener `key`. Returns false where
    /// the kernel cannot.
    pub(crate) fn arm_accept(&self, key: usize, state: &IoState, fd: RawFd) -> bool {
        if !self.features.accept {
            return false;
        }
        let u = &state.uring;
        if !u.acc_on.get() {
            u.acc_on.set(true);
            // Accepts report connections; the poll is not needed for reads.
            let _ = self.reregister(key, Interest::WRITABLE);
        }
        if u.acc_armed.get() || self.closing.get() {
            return true;
        }
        let generation = self.sources.borrow().get(key).copied().unwrap_or(0);
        if generation == 0 {
            return true;
        }
        let entry = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
            .build()
            .user_data(KIND_ACCEPT | u64::from(generation) << 32 | key as u64);
        self.push_plain(entry);
        u.acc_armed.set(true);
        true
    }

    /// Submits `buf` as the next send of the source `key`; the outcome
    /// comes as `state.uring.tx_done` with sequence number `seq`.
    ///
    /// # Errors
    ///
    /// The ring is closing (the buffer comes back).
    pub(crate) fn send(&self, key: usize, state: &IoState, fd: RawFd, buf: SendBuf, seq: u32) -> Result<(), SendBuf> {
        if self.closing.get() {
            return Err(buf);
        }
        let generation = self.sources.borrow().get(key).copied().unwrap_or(0);
        let zero_copy = self.features.zero_copy && buf.as_slice().len() >= self.config.zero_copy_above;
        let op = self.sends.borrow_mut().insert(SendOp {
            key,
            generation,
            fd,
            buf,
            sent: 0,
            seq,
            zero_copy,
            finished: false,
            notifications: 0,
        });
        state.uring.tx_inflight.set(true);
        self.push_send(op);
        Ok(())
    }

    fn push_send(&self, op: usize) {
        let entry = {
            let sends = self.sends.borrow();
            let send = &sends[op];
            let rest = &send.buf.as_slice()[send.sent..];
            let len = rest.len().min(u32::MAX as usize) as u32;
            if send.zero_copy {
                opcode::SendZc::new(types::Fd(send.fd), rest.as_ptr(), len)
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
            } else {
                opcode::Send::new(types::Fd(send.fd), rest.as_ptr(), len)
                    .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
                    .build()
            }
            .user_data(KIND_SEND | op as u64)
        };
        // SAFETY: the bytes live in the op's buffer, which the op keeps
        // until the last completion (or notification) of every send it
        // made; arena blocks do not move when their handle does.
        unsafe { self.push(entry) };
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

    /// Takes every completion from the ring and handles it; then refills
    /// the buffer rings and arms the receives that ran out of buffers.
    fn dispatch(&self, io: Option<&IoDriver>) {
        {
            let mut ring = self.ring.borrow_mut();
            let mut scratch = self.scratch.borrow_mut();
            scratch.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        }
        let mut completions = std::mem::take(&mut *self.scratch.borrow_mut());
        for &(token, result, flags) in &completions {
            self.complete(io, token, result, flags);
        }
        completions.clear();
        // Keep the allocation for the next look.
        {
            let mut scratch = self.scratch.borrow_mut();
            if scratch.is_empty() {
                *scratch = completions;
            }
        }
        if self.closing.get() {
            return;
        }
        for bufs in self.groups.borrow_mut().iter_mut().flatten() {
            if bufs.needs_refill() {
                bufs.refill();
            }
        }
        let starved = std::mem::take(&mut *self.starved.borrow_mut());
        for &(key, generation) in &starved {
            if let Some(state) = self.live(io, key, generation) {
                if state.uring.rx_starved.get() && !state.uring.rx_armed.get() {
                    self.rearm_recv(key, &state);
                }
            }
        }
        let mut kept = self.starved.borrow_mut();
        if kept.is_empty() {
            *kept = starved;
            kept.clear();
        }
    }

    fn done_one(&self) {
        self.outstanding.set(self.outstanding.get().saturating_sub(1));
    }

    fn complete(&self, io: Option<&IoDriver>, token: u64, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        match token {
            WAKE => {
                if !more {
                    self.done_one();
                    if !self.closing.get() {
                        self.arm_wake();
                    }
                }
            }
            CANCEL_ALL => self.done_one(),
            control if control & CONTROL != 0 => {
                self.done_one();
                let target = control & !CONTROL;
                if result == -libc::EALREADY && target & KIND_MASK == KIND_POLL {
                    self.remove(target);
                }
            }
            token => match token & KIND_MASK {
                KIND_POLL => self.complete_poll(io, token, result, more),
                KIND_RECV => self.complete_recv(io, token, result, flags),
                KIND_ACCEPT => self.complete_accept(io, token, result, more),
                _ => self.complete_send(io, token, result, flags),
            },
        }
    }

    fn complete_poll(&self, io: Option<&IoDriver>, token: u64, result: i32, more: bool) {
        if !more {
            self.done_one();
        }
        let key = (token & LOW_KEY) as usize;
        let live = self.arms.borrow().get(key).copied().flatten();
        let Some(arm) = live.filter(|a| a.token == token) else {
            return;
        };
        let Some(io) = io else { return };
        if result >= 0 {
            io.wake_key(key, readiness_of(result as u32));
        } else if result != -libc::ECANCELED {
            // The poll failed (for example ENOMEM): let both directions
            // try their operation, which reports what the socket says.
            io.wake_key(key, READ | WRITE);
        }
        if !more && !self.closing.get() {
            self.arm(arm);
        }
    }

    fn complete_recv(&self, io: Option<&IoDriver>, token: u64, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        if !more {
            self.done_one();
        }
        let key = (token & LOW_KEY) as usize;
        let group = ((token >> 31) & 1) as usize;
        let generation = generation_of(token);
        let buf = cqueue::buffer_select(flags).and_then(|bid| {
            let len = usize::try_from(result).unwrap_or(0);
            self.groups.borrow_mut()[group].as_mut().and_then(|g| g.take(bid, len))
        });
        let Some(state) = self.live(io, key, generation) else {
            // A receive of a source that is gone: the buffer goes home.
            return;
        };
        let u = &state.uring;
        if !more {
            u.rx_armed.set(false);
        }
        match result {
            n if n > 0 => {
                if let Some(buf) = buf {
                    u.push_rx(buf);
                }
                if u.rx_bytes.get() >= RX_QUEUE_LIMIT {
                    self.pause_recv(key, generation, u);
                }
            }
            0 => u.rx_end.set(Some(0)),
            e if e == -libc::ENOBUFS => {
                roost_alloc::note_ring_dry();
                u.rx_starved.set(true);
                self.starved.borrow_mut().push((key, generation));
            }
            e if e == -libc::ECANCELED => {}
            e => u.rx_end.set(Some(-e)),
        }
        if !more {
            // Whatever ended the receive (the cancellation of a pause, a
            // full completion queue, ...), it runs again while the stream
            // has not ended and its queue is under the limit; a starved
            // one waits for the refill.
            u.rx_cancelling.set(false);
            if u.rx_end.get().is_none() && !u.rx_starved.get() && u.rx_bytes.get() < RX_QUEUE_LIMIT {
                self.rearm_recv(key, &state);
            }
        }
        if let Some(io) = io {
            io.wake_key(key, READ);
        }
    }

    fn complete_accept(&self, io: Option<&IoDriver>, token: u64, result: i32, more: bool) {
        if !more {
            self.done_one();
        }
        let key = (token & LOW_KEY) as usize;
        let generation = generation_of(token);
        let Some(state) = self.live(io, key, generation) else {
            if result >= 0 {
                // An accept completed after its listener went away: the
                // new socket is nobody's (see the module invariants).
                // SAFETY: the kernel just gave us this descriptor.
                unsafe { libc::close(result) };
            }
            return;
        };
        let u = &state.uring;
        if !more {
            u.acc_armed.set(false);
            u.acc_cancelling.set(false);
        }
        if result >= 0 {
            u.accepted.borrow_mut().push_back(result);
            if u.accepted.borrow().len() >= ACCEPT_QUEUE_LIMIT && u.acc_armed.get() && !u.acc_cancelling.get() {
                u.acc_cancelling.set(true);
                self.cancel(token);
            }
        } else if result != -libc::ECANCELED {
            u.acc_error.set(Some(-result));
        }
        if let Some(io) = io {
            io.wake_key(key, READ);
        }
    }

    fn complete_send(&self, io: Option<&IoDriver>, token: u64, result: i32, flags: u32) {
        let op = (token & !KIND_MASK) as usize;
        let more = cqueue::more(flags);
        let notification = cqueue::notif(flags);
        if !more {
            self.done_one();
        }
        let mut sends = self.sends.borrow_mut();
        let Some(send) = sends.get_mut(op) else { return };
        if notification {
            send.notifications = send.notifications.saturating_sub(1);
        } else {
            if more {
                // A zero-copy send: the kernel holds the bytes until the
                // notification.
                send.notifications += 1;
            }
            let len = send.buf.as_slice().len();
            let outcome = match result {
                n if n > 0 && send.sent + n as usize >= len => Some(0),
                n if n > 0 => {
                    send.sent += n as usize;
                    None
                }
                0 if len > send.sent => Some(libc::EPIPE),
                0 => Some(0),
                e if e == -libc::EINTR || e == -libc::EAGAIN => None,
                e => Some(-e),
            };
            match outcome {
                None if !self.closing.get() => {
                    drop(sends);
                    self.push_send(op);
                    return;
                }
                None => send.finished = true,
                Some(errno) => {
                    send.finished = true;
                    if let Some(state) = self.live(io, send.key, send.generation) {
                        state.uring.tx_inflight.set(false);
                        state.uring.tx_done.set(Some((send.seq, errno)));
                        if let Some(io) = io {
                            io.wake_key(send.key, WRITE);
                        }
                    }
                }
            }
        }
        if send.finished && send.notifications == 0 {
            let send = sends.remove(op);
            drop(sends);
            // The kernel let go of the buffer: back to the stream for its
            // next send (its TX slot), or home.
            match self.live(io, send.key, send.generation) {
                Some(state) => state.uring.release_tx(send.buf),
                None => drop(send.buf),
            }
        }
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
