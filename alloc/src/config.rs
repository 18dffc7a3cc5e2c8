//! `ArenaConfig`: how an arena is sized and how it asks to be drained.

use std::fmt;

/// A callback run when an arena's return list reaches half its cap.
pub type DrainNotifier = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Configuration of one arena.
///
/// # Examples
///
/// ```
/// use roost_alloc::{Arena, ArenaConfig};
///
/// std::thread::spawn(|| {
///     let config = ArenaConfig::new().memory_limit(64 << 20).prefault_chunks(1);
///     let arena = Arena::install(config).expect("fresh thread has no arena");
///     let buf = roost_alloc::ArenaBytesMut::with_capacity(2048);
///     assert_eq!(buf.capacity(), 2048);
///     drop(buf);
///     assert_eq!(arena.stats().allocations, 1);
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct ArenaConfig {
    pub(crate) memory_limit: usize,
    pub(crate) prefault_chunks: usize,
    pub(crate) return_cap: usize,
    pub(crate) flush_on_alloc: bool,
    pub(crate) drain_notifier: Option<DrainNotifier>,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ArenaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaConfig")
            .field("memory_limit", &self.memory_limit)
            .field("prefault_chunks", &self.prefault_chunks)
            .field("return_cap", &self.return_cap)
            .field("flush_on_alloc", &self.flush_on_alloc)
            .field("drain_notifier", &self.drain_notifier.is_some())
            .finish()
    }
}

impl ArenaConfig {
    /// The default configuration: a 256 MiB limit, no pre-faulting, a return
    /// list cap of 1024 blocks, batches flushed on the thread's next allocation.
    pub fn new() -> Self {
        Self {
            memory_limit: 256 << 20,
            prefault_chunks: 0,
            return_cap: 1024,
            flush_on_alloc: true,
            drain_notifier: None,
        }
    }

    /// Bytes of chunks the arena may take from the global allocator. Beyond
    /// it, requests are served by the global allocator (counted in
    /// [`ArenaStats::fallback_limit`](crate::ArenaStats::fallback_limit)); an allocation never fails because of
    /// the limit. A limit below one chunk (1 MiB) sends everything there.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Touch every page of the first `n` chunks when they are carved, so that
    /// the first requests served from them do not take page faults.
    pub fn prefault_chunks(mut self, n: usize) -> Self {
        self.prefault_chunks = n;
        self
    }

    /// The return list's cap, in blocks. When returns in flight reach half of
    /// it the drain notifier runs (once per crossing), so that an event loop
    /// can drain early; returns beyond the cap are still queued, never
    /// dropped, and counted in [`ArenaStats::returns_over_cap`](crate::ArenaStats::returns_over_cap). Whatever
    /// happens, the owner drains when a free list runs dry (and on
    /// [`maintain`](crate::maintain)), and the return list can never hold more
    /// blocks than the arena has: draining only when needed keeps the free
    /// lists in LIFO order, which is what makes the local path cache-hot.
    pub fn return_cap(mut self, blocks: usize) -> Self {
        self.return_cap = blocks.max(2);
        self
    }

    /// Whether this thread's pending return batches are flushed on its next
    /// allocation (the default). A runtime worker that calls
    /// [`maintain`](crate::maintain) every tick turns this off, so that a
    /// thread that both allocates and frees remote buffers keeps full batches.
    pub fn flush_on_alloc(mut self, yes: bool) -> Self {
        self.flush_on_alloc = yes;
        self
    }

    /// A callback run (on the returning thread) when the return list reaches
    /// half its cap, so that an event loop can wake its owner to drain. The
    /// owner's own drain runs it too when half the cap or more is still on
    /// its way (counted by returners that have not pushed yet), so that an
    /// event loop that sleeps only when not notified never sleeps on them.
    pub fn drain_notifier(mut self, notifier: DrainNotifier) -> Self {
        self.drain_notifier = Some(notifier);
        self
    }
}
