//! Outgoing return batches: blocks freed on a thread that is not their home.
//!
//! A freeing thread does not send each foreign block home on its own: it
//! links it into a batch for the block's arena, kept in its thread-local
//! state, and sends the whole batch with one compare-and-swap on the home
//! arena's return list. A thread keeps batches for up to
//! [`BATCH_DESTINATIONS`] arenas at once; a batch is sent when it holds
//! [`RETURN_BATCH`] blocks, when a block for a new destination needs its
//! place (the fullest batch goes), on the thread's next allocation (unless
//! its arena is configured otherwise), on [`flush_returns`](crate::flush_returns)
//! and at thread exit.
//!
//! A batch is bounded by [`RETURN_BATCH`]; the blocks in it are owned by this
//! thread until the push, which is what keeps their arena alive meanwhile.

use std::ptr;

use crate::arena::ArenaInner;
use crate::block::BlockMeta;
use crate::stats::StatsCells;

/// The most blocks a batch holds before it is sent home.
pub const RETURN_BATCH: usize = 64;

/// The most destination arenas a thread batches for at once.
pub const BATCH_DESTINATIONS: usize = 8;

/// The cap in force: [`RETURN_BATCH`], or 2 under loom, so that a model can
/// fill a batch with two blocks (a loom model pays for every block).
const BATCH_CAP: usize = if cfg!(all(test, loom)) { 2 } else { RETURN_BATCH };

/// The destinations in force: [`BATCH_DESTINATIONS`], or 1 under loom, so
/// that a model evicts a batch with blocks of only two arenas.
const DESTINATIONS: usize = if cfg!(all(test, loom)) { 1 } else { BATCH_DESTINATIONS };

#[derive(Clone, Copy)]
struct Batch {
    arena: *const ArenaInner,
    head: *mut BlockMeta,
    tail: *mut BlockMeta,
    len: usize,
}

const EMPTY: Batch = Batch {
    arena: ptr::null(),
    head: ptr::null_mut(),
    tail: ptr::null_mut(),
    len: 0,
};

/// A thread's outgoing batches.
pub(crate) struct ReturnBatches {
    batches: [Batch; DESTINATIONS],
    pending: usize,
}

impl ReturnBatches {
    pub(crate) const fn new() -> Self {
        Self {
            batches: [EMPTY; DESTINATIONS],
            pending: 0,
        }
    }

    /// Blocks waiting in this thread's batches.
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Queues `meta`, a block of `arena`, for its trip home.
    ///
    /// `stats` are the counters of the current thread's own arena.
    pub(crate) fn push(&mut self, arena: *const ArenaInner, meta: *mut BlockMeta, stats: &StatsCells) {
        let index = match self.batches.iter().position(|b| b.arena == arena) {
            Some(i) => i,
            None => match self.batches.iter().position(|b| b.arena.is_null()) {
                Some(i) => i,
                None => {
                    let fullest = (0..DESTINATIONS).max_by_key(|&i| self.batches[i].len).unwrap_or(0);
                    self.send(fullest, stats);
                    fullest
                }
            },
        };
        let batch = &mut self.batches[index];
        batch.arena = arena;
        // SAFETY: the caller handed us the idle block; its `next` is ours.
        unsafe { (*meta).next.set(batch.head) };
        if batch.tail.is_null() {
            batch.tail = meta;
        }
        batch.head = meta;
        batch.len += 1;
        self.pending += 1;
        if batch.len >= BATCH_CAP {
            self.send(index, stats);
        }
    }

    /// Sends every batch home.
    pub(crate) fn flush_all(&mut self, stats: &StatsCells) {
        for i in 0..DESTINATIONS {
            if self.batches[i].len != 0 {
                self.send(i, stats);
            }
        }
    }

    fn send(&mut self, index: usize, stats: &StatsCells) {
        let batch = std::mem::replace(&mut self.batches[index], EMPTY);
        if batch.len == 0 {
            return;
        }
        self.pending -= batch.len;
        stats.batches_sent.add(1);
        stats.returns_sent.add(batch.len as u64);
        // SAFETY: we own every block of the batch (linked head..=tail), which
        // keeps the arena alive; we drop the pointer right after.
        unsafe { ArenaInner::send_home(batch.arena, batch.head, batch.tail, batch.len) };
    }
}
