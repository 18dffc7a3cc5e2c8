//! Making a ring: the kernel's features probed once per process, the
//! ring's set-up flags (`SINGLE_ISSUER`, `DEFER_TASKRUN` where the kernel
//! has them), its buffer groups and its wake-up poll.

use super::*;

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
}
