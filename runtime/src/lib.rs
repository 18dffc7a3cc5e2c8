//! roost-runtime will hold the thread-per-core executor: one pinned worker per
//! core, each with its own mio `Poll`, run queue, timers and buffer arena.
