//! Owned-buffer I/O on the worker's arena: `recv` into a buffer from the
//! RX slot, `alloc_send`/`send`/`send_frozen`/`send_vectored` with the TX
//! slot, and the buffer source.
//!
//! A buffer is parked in a slot only when this stream holds its last
//! reference (the slot refuses shared buffers), so a slot never holds a
//! buffer that is still reachable elsewhere.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

use roost_alloc::{ArenaBytes, ArenaBytesMut, ReuseSlot};

use super::{StreamInner, TcpStream};
use crate::idle;
use crate::sys;
use crate::BufferSource;

/// The default size of a [`TcpStream::recv`] buffer.
pub const DEFAULT_RECV_SIZE: usize = 2048;

impl StreamInner {
    fn new_buffer(&self, slot: &ReuseSlot, capacity: usize) -> ArenaBytesMut {
        match self.buffers.get() {
            BufferSource::Arena => slot.take_or_alloc(capacity),
            BufferSource::Global => ArenaBytesMut::with_capacity_global(capacity),
        }
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<io::Result<Option<ArenaBytesMut>>> {
        self.touch();
        // On the uring driver: the arena buffer the kernel received into
        // (a copy of it into a global buffer for a stream that asked for
        // those).
        #[cfg(target_os = "linux")]
        if self.buffers.get() == BufferSource::Arena {
            if let Some(received) = self.reg.poll_recv_owned(cx, self.recv_size.get()) {
                return received;
            }
        } else if self.reg.is_uring() {
            let mut buf = ArenaBytesMut::with_capacity_global(self.recv_size.get());
            if let Some(copied) = self
                .reg
                .poll_recv_copy(cx, buf.spare_capacity_mut(), self.recv_size.get())
            {
                let n = ready!(copied)?;
                if n == 0 {
                    return Poll::Ready(Ok(None));
                }
                // SAFETY: `poll_recv_copy` initialised the first `n` bytes.
                unsafe { buf.set_len(n) };
                return Poll::Ready(Ok(Some(buf)));
            }
        }
        ready!(self.reg.poll_read_ready(cx))?;
        let mut buf = self.new_buffer(self.rx_slot(), self.recv_size.get());
        loop {
            // Into the spare capacity as raw memory (see `sys/read.rs`):
            // `set_len` below covers exactly what the kernel wrote.
            match sys::read_uninit(self.io().as_raw_fd(), buf.spare_capacity_mut()) {
                Ok(0) => {
                    self.park_unused(buf, self.rx_slot());
                    return Poll::Ready(Ok(None));
                }
                Ok(n) => {
                    // SAFETY: the kernel initialised `n` bytes of the spare capacity.
                    unsafe { buf.set_len(n) };
                    if n < buf.capacity() {
                        // Drained: skip the `EAGAIN` read that would otherwise follow.
                        self.reg.clear_read_ready();
                    }
                    return Poll::Ready(Ok(Some(buf)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg.clear_read_ready();
                    self.park_unused(buf, self.rx_slot());
                    ready!(self.reg.poll_read_ready(cx))?;
                    buf = self.new_buffer(self.rx_slot(), self.recv_size.get());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.park_unused(buf, self.rx_slot());
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// Sends `buf` whole through the ring (uring driver), then parks in the
    /// TX slot what the kernel let go of; `Err(buf)` back where the driver
    /// cannot, for the readiness path.
    #[cfg(target_os = "linux")]
    async fn send_ring(&self, buf: roost_runtime::io::SendBuf) -> Result<io::Result<()>, roost_runtime::io::SendBuf> {
        let mut buf = Some(buf);
        let mut seq = None;
        let mut first = true;
        let result = poll_fn(|cx| match self.reg.poll_send_owned(cx, &mut buf, &mut seq) {
            Some(p) => {
                first = false;
                p.map(Some)
            }
            None => Poll::Ready(None),
        })
        .await;
        match result {
            Some(result) => {
                // The kernel let go of the buffer (unless zero-copy): it
                // parks in the TX slot now.
                self.collect_sent();
                Ok(result)
            }
            None => {
                debug_assert!(first);
                Err(buf.expect("the buffer is taken only by a send the ring accepted"))
            }
        }
    }

    /// Moves the buffer a ring send let go of into the TX slot.
    fn collect_sent(&self) {
        if let Some(buf) = self.reg.take_sent_buffer() {
            if self.buffers.get() == BufferSource::Arena {
                let _ = self.tx_slot().park(buf);
            }
        }
    }

    /// Puts a buffer this stream no longer needs into `slot` for the next
    /// operation (dropping it if the slot is taken).
    fn park_unused(&self, mut buf: ArenaBytesMut, slot: &ReuseSlot) {
        if self.buffers.get() == BufferSource::Arena {
            buf.clear();
            let _ = slot.park(buf);
        }
    }
}

impl TcpStream {
    /// Where the buffers of `recv` and `alloc_send` come from.
    pub fn set_buffer_source(&self, source: BufferSource) {
        self.inner.buffers.set(source);
        // A stream that may park arena buffers is swept when idle.
        if source == BufferSource::Arena && self.inner.idle_key.get().is_none() {
            self.inner.idle_key.set(Some(idle::register(&self.inner)));
        }
    }

    /// The buffer source (see [`set_buffer_source`](Self::set_buffer_source)).
    pub fn buffer_source(&self) -> BufferSource {
        self.inner.buffers.get()
    }

    /// Capacity requested for each `recv` buffer (default 2 KiB; rounded up
    /// to the arena's size class).
    pub fn set_recv_size(&self, bytes: usize) {
        self.inner.recv_size.set(bytes.max(1));
    }

    /// Reads once into a buffer from the stream's RX slot (or the worker's
    /// arena): `Ok(None)` at end of stream.
    ///
    /// The buffer carries the RX slot: dropped on another core, it parks
    /// there and this stream's next `recv` takes it back.
    ///
    /// # Errors
    ///
    /// The socket's read error.
    pub async fn recv(&self) -> io::Result<Option<ArenaBytesMut>> {
        poll_fn(|cx| self.inner.poll_recv(cx)).await
    }

    /// A buffer of at least `capacity` bytes for sending: the one parked in
    /// the TX slot by the previous [`send`](Self::send) if it is large
    /// enough, else a fresh one from the worker's arena.
    pub fn alloc_send(&self, capacity: usize) -> ArenaBytesMut {
        self.inner.touch();
        self.inner.collect_sent();
        self.inner.new_buffer(self.inner.tx_slot(), capacity)
    }

    /// Writes all of `buf`, then parks it in the TX slot for the next
    /// [`alloc_send`](Self::alloc_send).
    ///
    /// # Errors
    ///
    /// The socket's write error (the buffer is dropped).
    pub async fn send(&self, buf: ArenaBytesMut) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        let buf = match self.inner.send_ring(roost_runtime::io::SendBuf::Mut(buf)).await {
            Ok(result) => return result,
            Err(roost_runtime::io::SendBuf::Mut(buf)) => buf,
            Err(_) => unreachable!("the ring gives back the buffer it was given"),
        };
        self.write_all_slice(&buf).await?;
        self.inner.park_unused(buf, self.inner.tx_slot());
        Ok(())
    }

    /// Writes all of a shared buffer; if this was its last handle, its block
    /// is parked in the TX slot for reuse.
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub async fn send_frozen(&self, buf: ArenaBytes) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        let buf = match self.inner.send_ring(roost_runtime::io::SendBuf::Frozen(buf)).await {
            Ok(result) => return result,
            Err(roost_runtime::io::SendBuf::Frozen(buf)) => buf,
            Err(_) => unreachable!("the ring gives back the buffer it was given"),
        };
        self.write_all_slice(&buf).await?;
        if let Ok(unique) = buf.try_into_mut() {
            self.inner.park_unused(unique, self.inner.tx_slot());
        }
        Ok(())
    }

    /// Writes several buffers (a header and a body, say) with `writev` until
    /// the kernel has taken every byte; then parks the first in the TX slot.
    ///
    /// # Errors
    ///
    /// The socket's write error.
    pub async fn send_vectored<const N: usize>(&self, bufs: [ArenaBytesMut; N]) -> io::Result<()> {
        // On the uring driver: one ring send after the other, in order.
        #[cfg(target_os = "linux")]
        if self.inner.reg.is_uring() {
            for buf in bufs {
                self.send(buf).await?;
            }
            return Ok(());
        }
        self.send_vectored_ready(bufs).await
    }

    async fn send_vectored_ready<const N: usize>(&self, bufs: [ArenaBytesMut; N]) -> io::Result<()> {
        let mut index = 0;
        let mut offset = 0;
        while index < N {
            let mut slices = [IoSlice::new(&[]); N];
            slices[0] = IoSlice::new(&bufs[index][offset..]);
            for (dst, src) in slices[1..N - index].iter_mut().zip(&bufs[index + 1..]) {
                *dst = IoSlice::new(src);
            }
            let mut n = self.write_slices(&slices[..N - index]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            while index < N && n >= bufs[index].len() - offset {
                n -= bufs[index].len() - offset;
                index += 1;
                offset = 0;
            }
            offset += n;
        }
        if let Some(first) = bufs.into_iter().next() {
            self.inner.park_unused(first, self.inner.tx_slot());
        }
        Ok(())
    }

    /// Releases the buffers parked in this stream's slots now.
    pub fn release_parked(&self) -> bool {
        self.inner.release_parked()
    }

    /// Whether a buffer is parked in the (RX, TX) slots.
    pub fn is_parked(&self) -> (bool, bool) {
        self.inner.parked()
    }
}
