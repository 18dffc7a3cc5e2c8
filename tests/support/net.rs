//! Helpers for the roost-net integration tests: runtimes, seeded data,
//! descriptor counts and child processes.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use roost::net::{serve, ListenOptions, Server};
use roost::runtime::Runtime;

#[path = "../../examples/echo.rs"]
mod echo;
#[path = "../../examples/rpc.rs"]
pub mod rpc;

// The runtimes live with the runtime tests' helpers: one definition each.
#[path = "rt.rs"]
mod rt;
#[allow(unused_imports)]
pub use rt::unpinned_runtime;

/// Starts `examples/echo.rs`'s per-core echo server on a loopback port.
pub fn echo_server(rt: &Runtime, options: ListenOptions) -> Server {
    rt.block_on(serve(rt.handle(), "127.0.0.1:0".parse().unwrap(), options, echo::echo))
        .expect("echo server")
}

/// Starts `examples/rpc.rs`'s per-core request/response server on a
/// loopback port.
pub fn rpc_server(rt: &Runtime, options: ListenOptions) -> Server {
    rt.block_on(rpc::start(rt.handle(), "127.0.0.1:0".parse().unwrap(), options))
        .expect("rpc server")
}

/// A fast, seeded pseudo-random generator (xorshift64*), the same on the
/// writing and the checking side.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// The bytes of a seeded stream, produced in order across calls.
pub struct ByteStream {
    rng: Rng,
    word: [u8; 8],
    used: usize,
}

impl ByteStream {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            word: [0; 8],
            used: 8,
        }
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next_byte();
        }
    }

    /// Whether `got` is the stream's next `got.len()` bytes (it consumes
    /// them either way): the check side of an echo.
    pub fn matches(&mut self, got: &[u8]) -> bool {
        got.iter().fold(true, |same, &b| same & (b == self.next_byte()))
    }

    fn next_byte(&mut self) -> u8 {
        if self.used == 8 {
            self.word = self.rng.next_u64().to_le_bytes();
            self.used = 0;
        }
        self.used += 1;
        self.word[self.used - 1]
    }
}

/// What a server's bad peers must not leave behind: its connections, the
/// process's descriptors, the workers' io sources and arena bytes held.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Leftovers {
    pub connections: usize,
    pub fds: usize,
    pub io_sources: u64,
    pub arena_in_use: u64,
}

impl Leftovers {
    /// The counts now, of the current runtime, for a server with
    /// `connections` open.
    pub fn now(connections: usize) -> Self {
        let metrics = roost::runtime::Handle::current().metrics();
        Self {
            connections,
            fds: open_fds(),
            io_sources: metrics.sum(|w| w.io_sources),
            // Blocks lent to the kernel's receive ring (uring driver) are
            // the driver's, not a peer's leftovers: a worker's ring fills
            // the first time it receives, which may be during a bad peer's
            // connection.
            arena_in_use: metrics.sum(|w| w.arena_bytes_held()),
        }
    }
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Polls `check` until it returns true; panics with `what` if that takes
/// longer than a generous bound (a hang, not a slow machine).
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A fresh directory under the system's temporary directory, removed with
/// everything in it when dropped: a place for Unix socket paths.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("roost-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        Self(dir)
    }

    /// A path in the directory (nothing is created there).
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
