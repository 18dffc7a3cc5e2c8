//! Arming a source's ring operations: its multishot receive into a buffer
//! group (and pausing or re-arming it), its multishot accept, and sends that
//! own their buffer until their completion.

use super::*;

impl Ring {
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
    pub(super) fn rearm_recv(&self, key: usize, state: &IoState) {
        let fd = self.arms.borrow().get(key).copied().flatten().map(|a| a.fd);
        if let Some(fd) = fd {
            // The size only picks the group at the first arm.
            self.arm_recv(key, state, fd, 0);
        }
    }

    /// Cancels the source's receive: its queue went over its limit.
    pub(super) fn pause_recv(&self, key: usize, generation: u32, u: &UringIo) {
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

    pub(super) fn push_send(&self, op: usize) {
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
}
