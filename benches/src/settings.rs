//! What every interleaved network benchmark (rpc, http) reads from its
//! command line and environment (quick or full mode, how many workers),
//! and where its client and servers sit ([`Placement`]).

use std::time::Duration;

use crate::cores::CoreId;

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

/// Server workers per runtime: the environment variable `var`, or one per
/// core the placement gives the servers.
pub fn workers_from_env(var: &str, placement: &Placement) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| placement.server_cores().len())
}

/// The variable that chooses a run's placement.
const PLACEMENT_VAR: &str = "ROOST_BENCH_PLACEMENT";

/// Where a network benchmark's load client and its servers run.
///
/// A deployed server owns its cores and its clients run elsewhere; a
/// server that shares its cores with its load generator measures the
/// scheduler as much as itself. So the benchmarks measure like a
/// deployment first ([`Isolated`](Self::Isolated), the default), and then,
/// in a second process of the same binary ([`run_shared_too`]), with
/// every thread on every core ([`Shared`](Self::Shared)), as on a laptop
/// or a CI runner. `ROOST_BENCH_PLACEMENT=isolated` or `shared` runs only
/// that one.
#[derive(Debug, Clone)]
pub enum Placement {
    /// The load client on the last allowed core, alone; every server (all
    /// their threads) on the other cores.
    Isolated {
        /// The client's core.
        client: CoreId,
        /// The cores the servers share.
        servers: Vec<CoreId>,
    },
    /// Client and servers on every allowed core.
    Shared {
        /// Every allowed core.
        cores: Vec<CoreId>,
    },
}

impl Placement {
    /// The placement `ROOST_BENCH_PLACEMENT` names (`isolated`, `shared`),
    /// by default isolated; shared where there is a single core. Reads the
    /// allowed cores: call it before any thread is pinned or confined.
    ///
    /// # Panics
    ///
    /// Panics if the variable names no placement.
    pub fn from_env() -> Self {
        let cores: Vec<CoreId> = crate::cores::allowed().map_or_else(|_| Vec::new(), |c| c.ids().to_vec());
        let shared = match std::env::var(PLACEMENT_VAR).as_deref() {
            Ok("shared") => true,
            Ok("isolated") | Err(_) => false,
            Ok(other) => panic!("{PLACEMENT_VAR}={other}: expected `isolated` or `shared`"),
        };
        match cores.split_last() {
            Some((&client, servers)) if !shared && !servers.is_empty() => Placement::Isolated {
                client,
                servers: servers.to_vec(),
            },
            _ => Placement::Shared { cores },
        }
    }

    /// Whether this run was asked for by name (so it is the only one), not
    /// the default that [`run_shared_too`] follows.
    pub fn chosen() -> bool {
        std::env::var_os(PLACEMENT_VAR).is_some()
    }

    /// The cores the servers run on.
    pub fn server_cores(&self) -> &[CoreId] {
        match self {
            Placement::Isolated { servers, .. } => servers,
            Placement::Shared { cores } => cores,
        }
    }

    /// Whether client and servers share cores.
    pub fn is_shared(&self) -> bool {
        matches!(self, Placement::Shared { .. })
    }

    /// The most operations per second the host leaves a server whose user
    /// space cost nothing, when each operation costs the client `client_us`
    /// of CPU and the server `server_us` (its kernel time): on shared cores
    /// both come out of every core; isolated, the client's core and the
    /// servers' cores each set a limit.
    pub fn ceiling(&self, client_us: f64, server_us: f64) -> f64 {
        match self {
            Placement::Shared { cores } => cores.len() as f64 * 1e6 / (client_us + server_us),
            Placement::Isolated { servers, .. } => (1e6 / client_us).min(servers.len() as f64 * 1e6 / server_us),
        }
    }

    /// A phrase for the first line of a run: where the client and the
    /// servers are.
    pub fn describe(&self) -> String {
        match self {
            Placement::Isolated { client, servers } => format!(
                "isolated cores (as deployed): load client alone on core {client}, every server on core{} {}",
                if servers.len() > 1 { "s" } else { "" },
                list(servers)
            ),
            Placement::Shared { cores } => format!(
                "shared cores (as on a laptop or CI runner): load client and servers on cores {}",
                list(cores)
            ),
        }
    }

    /// Confines the calling thread, and so every server thread it starts
    /// afterwards, to the servers' cores. Call it before starting them.
    ///
    /// # Panics
    ///
    /// Panics if the operating system refuses.
    pub fn confine_servers(&self) {
        if let Placement::Isolated { servers, .. } = self {
            crate::cores::confine_current_thread(servers).expect("confine the servers to their cores");
        }
    }

    /// Puts the calling thread (the load client) on its core: its own
    /// core when isolated, any when shared.
    pub fn place_client(&self) {
        match self {
            Placement::Isolated { client, .. } => {
                let _ = client.pin_current_thread();
            }
            Placement::Shared { cores } => {
                let _ = crate::cores::confine_current_thread(cores);
            }
        }
    }
}

fn list(cores: &[CoreId]) -> String {
    cores.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

/// After the default (isolated) run, runs this benchmark again in a
/// process of its own with the shared placement, its output following
/// this one's. Does nothing where a placement was chosen by name.
///
/// # Panics
///
/// Panics if the second process cannot start or fails.
pub fn run_shared_too() {
    if Placement::chosen() {
        return;
    }
    println!();
    // The child inherits this thread's mask, which may be the client's core.
    if let Ok(cores) = crate::cores::allowed() {
        let _ = crate::cores::confine_current_thread(cores.ids());
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(PLACEMENT_VAR, "shared")
        .env(SECOND_VAR, "1")
        .status()
        .expect("start the shared-cores run");
    assert!(status.success(), "the shared-cores run failed: {status}");
}

/// Set in the second (shared-cores) process of a default run.
const SECOND_VAR: &str = "ROOST_BENCH_SECOND_RUN";

/// Whether this process is the second run of [`run_shared_too`] (whose
/// criterion groups the first run already printed: it skips them).
pub fn is_second_run() -> bool {
    std::env::var_os(SECOND_VAR).is_some()
}

/// Loopback, any port: where every server of a run listens.
pub fn localhost() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}
