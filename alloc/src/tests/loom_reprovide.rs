//! loom model of an io_uring driver's provided-buffer ring on the arena: the
//! owner lends blocks to its ring with [`ArenaBytesMut::for_kernel`], hands a
//! received buffer to a task on another thread, and refills the ring (drain
//! the returns, then lend again) while that thread drops the buffer and sends
//! its block home.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-alloc --lib --release loom_`.
//! The owner yields after starting the other thread for the reason given in
//! `loom_returns.rs` (loom's DPOR misses some orders of a load against a
//! remote load + CAS unless the remote side runs first).
//!
//! A shadow of the ring checks every lend: the block is in no ring entry and
//! not still away on the other thread; `ring_reprovided_remote` rises by one
//! exactly when the lent block is the one dropped remotely and it has not
//! been lent since it was drained home.
//!
//! Broken on purpose once each (then restored), and caught:
//!
//! - `free_local` not clearing the block's `came_home_remote` flag (the
//!   remote block, re-lent, then dropped at home and lent again, is counted
//!   remote a second time);
//! - the flag not set in `take_list` (the drain path: the remote block is
//!   re-lent uncounted);
//! - `drain` not taking the list (`take_list` skipped, the swap kept): the
//!   remote block never comes home, which the check after the final drain
//!   reports.
//!
//! Each also breaks a unit test in `tests/lend.rs`; what only the model
//! covers is the race itself: the refill's drain before, during and after
//! the other thread's push, both orders seen (loom explores 4 schedules).

use ::loom::sync::mpsc;
use ::loom::thread;

use crate::*;

/// Capacity of every lent buffer: the smallest class, one chunk of which
/// (4 blocks under loom) holds everything the model lends.
const LEND: usize = 512;

/// The owner's view: the ring, the remote block and where it is.
struct Shadow {
    monitor: ArenaMonitor,
    /// Ring entries plus the driver's extra lends, as lent buffers.
    held: Vec<Option<ArenaBytesMut>>,
    /// The block handed to the other thread.
    remote: usize,
    /// It has not been drained home yet.
    remote_away: bool,
    /// It was drained home and not lent since: its next lend counts remote.
    remote_pending: bool,
}

impl Shadow {
    /// The driver's refill: drain the returns, then lend into every empty entry.
    fn refill(&mut self) {
        self.drain();
        for i in 0..self.held.len() {
            if self.held[i].is_none() {
                let buf = self.lend();
                self.held[i] = Some(buf);
            }
        }
    }

    fn drain(&mut self) {
        let n = drain_returns();
        if n != 0 {
            assert_eq!(n, 1, "only one block was dropped remotely");
            assert!(self.remote_away, "the remote block came home twice");
            self.remote_away = false;
            self.remote_pending = true;
        }
    }

    /// One `for_kernel`, checked against the shadow.
    fn lend(&mut self) -> ArenaBytesMut {
        let before = self.monitor.stats().ring_reprovided_remote;
        let buf = ArenaBytesMut::for_kernel(LEND);
        assert!(!buf.is_global() && buf.capacity() == LEND);
        let block = buf.as_ptr() as usize;
        for other in self.held.iter().flatten() {
            assert_ne!(other.as_ptr() as usize, block, "a block lent twice");
        }
        assert!(
            !(self.remote_away && block == self.remote),
            "lent a block still held on the other thread"
        );
        let expected = self.remote_pending && block == self.remote;
        if block == self.remote {
            self.remote_pending = false;
        }
        let counted = self.monitor.stats().ring_reprovided_remote - before;
        assert_eq!(counted, expected as u64, "remote re-lend miscounted");
        buf
    }

    fn in_ring(&self) -> u64 {
        self.held.iter().flatten().count() as u64
    }
}

/// The kernel received into ring entry 0; the driver hands that buffer to a
/// task on another thread, which drops it, while a task at home consumes
/// entry 1 and the owner refills the ring. Afterwards every block is back,
/// and each remote block was counted re-provided exactly once.
#[test]
fn loom_remote_drop_is_reprovided_while_the_owner_refills() {
    ::loom::model(|| {
        let monitor = Arena::install(ArenaConfig::new()).unwrap();
        let (tx, rx) = mpsc::channel::<ArenaBytesMut>();
        let app = thread::spawn(move || {
            let buf = rx.recv().unwrap();
            assert_eq!(&buf[..], b"segment");
            drop(buf);
            flush_returns();
        });
        thread::yield_now();

        let mut ring = Shadow {
            monitor: monitor.clone(),
            held: vec![None, None],
            remote: 0,
            remote_away: false,
            remote_pending: false,
        };
        ring.refill();
        let mut received = ring.held[0].take().unwrap();
        received.extend_from_slice(b"segment");
        ring.remote = received.as_ptr() as usize;
        ring.remote_away = true;
        tx.send(received).unwrap();
        // The other thread was blocked on the channel when the owner first
        // yielded: yield again so that loom's first schedule runs its
        // return before the owner's drain (see the module docs).
        thread::yield_now();
        drop(ring.held[1].take());
        // The refill races the remote drop and its trip home.
        ring.refill();
        app.join().unwrap();

        // Every block comes back: after a drain, only the ring holds any.
        ring.drain();
        assert!(!ring.remote_away, "the remote block never came home");
        let stats = monitor.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        assert_eq!(stats.in_use_blocks, ring.in_ring(), "{stats:?}");

        // One more lend (the remote block, if it is still on the free list),
        // then each held buffer is consumed at home and its entry refilled:
        // a block freed at home no longer counts as a remote return.
        ring.held.push(None);
        ring.refill();
        for i in 0..ring.held.len() {
            drop(ring.held[i].take());
            ring.refill();
        }
        let stats = monitor.stats();
        assert_eq!(stats.ring_reprovided_remote, 1, "{stats:?}");
        assert_eq!(stats.ring_provided, 2 + 2 + 1 + 3, "{stats:?}");

        drop(ring);
        maintain();
        let stats = monitor.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        assert_eq!(stats.in_use_blocks, 0, "{stats:?}");
    });
}
