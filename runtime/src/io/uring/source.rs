//! What a registered source keeps of its io_uring operations: the buffers
//! its multishot receive brought in, its send in flight, the sockets its
//! multishot accept brought in (see the module documentation of `uring`).
//!
//! Only the loop's thread touches this state (it lives in the source's
//! `IoState`), so plain cells suffice.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::os::fd::RawFd;

use roost_alloc::{ArenaBytes, ArenaBytesMut};

/// Bytes a source may hold received but not yet read; beyond them its
/// multishot receive is cancelled until the reader catches up (the memory
/// a slow reader pins is bounded).
pub(crate) const RX_QUEUE_LIMIT: usize = 64 * 1024;
/// Accepted sockets a listener may hold before its multishot accept is
/// cancelled until the accept loop catches up.
pub(crate) const ACCEPT_QUEUE_LIMIT: usize = 128;

/// A buffer given to an io_uring send: the driver owns it until the kernel
/// lets go of it (the send's completion, or a zero-copy send's
/// notification).
#[derive(Debug)]
pub enum SendBuf {
    /// A unique buffer.
    Mut(ArenaBytesMut),
    /// A frozen (possibly shared) buffer.
    Frozen(ArenaBytes),
}

impl SendBuf {
    /// The bytes to send.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            SendBuf::Mut(b) => b,
            SendBuf::Frozen(b) => b,
        }
    }

    /// The buffer as a unique one, if nothing else shares it.
    pub fn into_unique(self) -> Option<ArenaBytesMut> {
        match self {
            SendBuf::Mut(b) => Some(b),
            SendBuf::Frozen(b) => b.try_into_mut().ok(),
        }
    }
}

/// One source's io_uring state.
#[derive(Default)]
pub(crate) struct UringIo {
    /// Received buffers, oldest first; the first may be partly read
    /// (`rx_offset` bytes of it).
    pub(crate) rx: RefCell<VecDeque<ArenaBytesMut>>,
    pub(crate) rx_offset: Cell<usize>,
    /// Bytes in `rx` not yet read.
    pub(crate) rx_bytes: Cell<usize>,
    /// The source reads through the ring (set by its first receive).
    pub(crate) rx_on: Cell<bool>,
    /// A multishot receive of this source is in the kernel.
    pub(crate) rx_armed: Cell<bool>,
    /// Its cancellation (the queue went over its limit) is on its way.
    pub(crate) rx_cancelling: Cell<bool>,
    /// The receive stopped for want of ring buffers; the driver arms it
    /// again after its refill.
    pub(crate) rx_starved: Cell<bool>,
    /// The end of the stream, after the queue: 0 for end of file, else an
    /// errno.
    pub(crate) rx_end: Cell<Option<i32>>,
    /// The buffer group (size class) of the receive.
    pub(crate) rx_group: Cell<u8>,
    /// Sequence number of the last send submitted.
    pub(crate) tx_seq: Cell<u32>,
    /// A send of this source is in the kernel.
    pub(crate) tx_inflight: Cell<bool>,
    /// The outcome of the last send that completed: its sequence number
    /// and 0 or an errno.
    pub(crate) tx_done: Cell<Option<(u32, i32)>>,
    /// The last buffer a send let go of, for the next send (the stream's
    /// TX slot takes it from here).
    pub(crate) tx_released: Cell<Option<ArenaBytesMut>>,
    /// Accepted sockets, oldest first.
    pub(crate) accepted: RefCell<VecDeque<RawFd>>,
    pub(crate) acc_on: Cell<bool>,
    pub(crate) acc_armed: Cell<bool>,
    pub(crate) acc_cancelling: Cell<bool>,
    /// An accept error to report once (the multishot accept ended on it).
    pub(crate) acc_error: Cell<Option<i32>>,
}

impl UringIo {
    /// Queues a received buffer.
    pub(crate) fn push_rx(&self, buf: ArenaBytesMut) {
        self.rx_bytes.set(self.rx_bytes.get() + buf.len());
        self.rx.borrow_mut().push_back(buf);
    }

    /// Takes the oldest received buffer (what is left of it).
    pub(crate) fn pop_rx(&self) -> Option<ArenaBytesMut> {
        let mut buf = self.rx.borrow_mut().pop_front()?;
        let offset = self.rx_offset.replace(0);
        if offset > 0 {
            buf = buf.split_off(offset);
        }
        self.rx_bytes.set(self.rx_bytes.get() - buf.len());
        Some(buf)
    }

    /// Copies received bytes into `dst`; returns how many.
    pub(crate) fn copy_rx(&self, dst: &mut [std::mem::MaybeUninit<u8>]) -> usize {
        let mut rx = self.rx.borrow_mut();
        let mut copied = 0;
        while copied < dst.len() {
            let Some(front) = rx.front() else { break };
            let offset = self.rx_offset.get();
            let src = &front[offset..];
            let n = src.len().min(dst.len() - copied);
            for (d, s) in dst[copied..copied + n].iter_mut().zip(src) {
                d.write(*s);
            }
            copied += n;
            if n == src.len() {
                rx.pop_front();
                self.rx_offset.set(0);
            } else {
                self.rx_offset.set(offset + n);
            }
        }
        self.rx_bytes.set(self.rx_bytes.get() - copied);
        copied
    }

    /// Keeps a buffer a send let go of (one at most; another is dropped).
    pub(crate) fn release_tx(&self, buf: SendBuf) {
        let Some(mut unique) = buf.into_unique() else { return };
        let old = self.tx_released.take();
        if old.is_some() {
            self.tx_released.set(old);
            return;
        }
        unique.clear();
        self.tx_released.set(Some(unique));
    }
}

impl Drop for UringIo {
    fn drop(&mut self) {
        for fd in self.accepted.get_mut().drain(..) {
            // SAFETY: an accepted socket nobody took: ours to close.
            unsafe { libc::close(fd) };
        }
    }
}
