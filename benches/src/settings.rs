//! What every interleaved network benchmark (rpc, http) reads from its
//! command line and environment (quick or full mode, how many workers),
//! and where its client and servers sit.

use std::time::Duration;

/// How long each server runs per round, and how many rounds.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `-- --quick` was given.
    pub quick: bool,
    /// One round's length per server.
    pub run: Duration,
    /// Interleaved rounds (the medians are over these).
    pub rounds: usize,
}

impl Settings {
    /// Quick mode (`--quick` among the arguments): 5 rounds of 400 ms;
    /// otherwise 9 rounds of 2 s.
    pub fn from_args() -> Self {
        let quick = std::env::args().any(|a| a == "--quick");
        if quick {
            Settings {
                quick,
                run: Duration::from_millis(400),
                rounds: 5,
            }
        } else {
            Settings {
                quick,
                run: Duration::from_secs(2),
                rounds: 9,
            }
        }
    }
}

/// The cores this process may run on (2 if they cannot be read).
pub fn core_count() -> usize {
    crate::cores::allowed().map_or(2, |c| c.ids().len())
}

/// Server workers per runtime: the environment variable `var`, or every
/// allowed core.
pub fn workers_from_env(var: &str) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(core_count)
}

/// With fewer server workers than cores, pins the calling (client) thread
/// to the last core, so that it has a core to itself.
pub fn place_client(workers: usize) {
    if let Ok(cores) = crate::cores::allowed() {
        if workers < cores.ids().len() {
            if let Some(last) = cores.ids().last() {
                let _ = last.pin_current_thread();
            }
        }
    }
}

/// Loopback, any port: where every server of a run listens.
pub fn localhost() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}
