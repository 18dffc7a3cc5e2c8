//! Completions: reaping the completion queue and turning each completion
//! into readiness, received buffers, accepted sockets or a finished send,
//! by the kind its token carries (see the module documentation of
//! `uring/mod.rs` for the tokens and what a stale one means).

use super::*;

impl Ring {
    /// Takes every completion from the ring and handles it; then refills
    /// the buffer rings and arms the receives that ran out of buffers.
    pub(super) fn dispatch(&self, io: Option<&IoDriver>) {
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
}
