//! What the client threads share: the servers' addresses, the counters of
//! the summary, the failures, the stop flag, and the gate that pauses every
//! client while a descriptor-exhaustion episode runs.
//!
//! The gate's invariant: while `paused` is set and `active` is zero, no
//! client holds a socket, so the process's descriptors are the servers'
//! alone and an episode can count them and set the limit just above.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where the three servers listen.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    pub echo: SocketAddr,
    pub rpc: SocketAddr,
    pub http: SocketAddr,
}

/// The counters of the summary.
#[derive(Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub echo_bytes: AtomicU64,
    pub echo_sessions: AtomicU64,
    pub rpc_bytes: AtomicU64,
    pub rpc_requests: AtomicU64,
    pub http_bytes: AtomicU64,
    pub http_requests: AtomicU64,
    pub http_pipelined: AtomicU64,
    pub resets: AtomicU64,
    pub half_closes: AtomicU64,
    pub slow_reads: AtomicU64,
    pub hostile: AtomicU64,
    pub emfile_episodes: AtomicU64,
    pub emfile_refusals: AtomicU64,
    pub emfile_held: AtomicU64,
    pub idles: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

#[derive(Default)]
struct GateState {
    paused: bool,
    active: usize,
}

/// Pauses the clients between their sessions.
#[derive(Default)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

/// A client's session in progress: the gate waits for it to end.
pub struct Session<'a>(&'a Gate);

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap();
        state.active -= 1;
        self.0.changed.notify_all();
    }
}

impl Gate {
    /// Starts a session, after any pause; `None` once `stop` is set.
    pub fn enter<'a>(&'a self, stop: &AtomicBool) -> Option<Session<'a>> {
        let mut state = self.state.lock().unwrap();
        loop {
            if stop.load(Relaxed) {
                return None;
            }
            if !state.paused {
                state.active += 1;
                return Some(Session(self));
            }
            state = self.changed.wait_timeout(state, Duration::from_millis(50)).unwrap().0;
        }
    }

    /// Stops new sessions and waits up to `limit` for the running ones.
    pub fn pause(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().unwrap();
        state.paused = true;
        while state.active > 0 {
            let now = Instant::now();
            if now >= deadline {
                let active = state.active;
                drop(state);
                self.resume();
                return Err(format!(
                    "{active} client sessions still running {limit:?} after the pause began (a hang?)"
                ));
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
        Ok(())
    }

    pub fn resume(&self) {
        self.state.lock().unwrap().paused = false;
        self.changed.notify_all();
    }
}

/// Everything the threads share.
pub struct Ctx {
    pub addrs: Addrs,
    pub counters: Counters,
    pub gate: Gate,
    pub stop: AtomicBool,
    /// The servers' idle release (idle sessions wait past it).
    pub idle_release: Duration,
    failures: Mutex<Vec<String>>,
}

impl Ctx {
    pub fn new(addrs: Addrs, idle_release: Duration) -> Self {
        Self {
            addrs,
            idle_release,
            counters: Counters::default(),
            gate: Gate::default(),
            stop: AtomicBool::new(false),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Records a failure and stops the soak.
    pub fn fail(&self, what: String) {
        eprintln!("soak: FAILURE: {what}");
        self.failures.lock().unwrap().push(what);
        self.stop.store(true, Relaxed);
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }
}
