//! The cores this process may run on, and pinning threads to them.
//!
//! Read the list once, before pinning any thread: a pinned thread, and every
//! thread it spawns afterwards, sees only its own core. [`allowed`] reads the
//! list on its first call (from the calling thread's affinity mask) and keeps
//! it for the life of the process; a [`CoreId`] can only come from that list.
//!
//! # Examples
//!
//! ```
//! let cores = roost_benches::cores::allowed().expect("affinity mask");
//! assert!(!cores.ids().is_empty());
//! let [a, b] = cores.pick_two();
//! std::thread::spawn(move || {
//!     // Pinning may be refused on platforms without affinity support.
//!     let _ = a.pin_current_thread();
//! })
//! .join()
//! .unwrap();
//! let _ = b;
//! ```

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::sys::affinity;

/// A core that this process was allowed to run on when [`allowed`] first ran.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CoreId(usize);

impl CoreId {
    /// The operating system's number for this core.
    pub fn index(self) -> usize {
        self.0
    }

    /// Restricts the calling thread to this core.
    ///
    /// # Errors
    ///
    /// The operating system's error if it refuses (for example a core taken
    /// away by a cgroup since the list was read), `Unsupported` off Linux.
    pub fn pin_current_thread(self) -> io::Result<()> {
        affinity::pin_current_thread(self.0)
    }
}

/// Restricts the calling thread to `cores`; the threads it starts
/// afterwards inherit that.
///
/// # Errors
///
/// As for [`CoreId::pin_current_thread`].
pub fn confine_current_thread(cores: &[CoreId]) -> io::Result<()> {
    let ids: Vec<usize> = cores.iter().map(|c| c.0).collect();
    affinity::confine_current_thread(&ids)
}

impl fmt::Debug for CoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "core {}", self.0)
    }
}

impl fmt::Display for CoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The cores the process may use, in increasing order.
#[derive(Debug, Clone)]
pub struct CoreSet {
    ids: Vec<CoreId>,
}

impl CoreSet {
    /// Every allowed core (never empty).
    pub fn ids(&self) -> &[CoreId] {
        &self.ids
    }

    /// Two cores for a producer and a consumer: the first two allowed, or the
    /// only one twice on a single-core machine.
    pub fn pick_two(&self) -> [CoreId; 2] {
        let first = self.ids[0];
        [first, self.ids.get(1).copied().unwrap_or(first)]
    }
}

static ALLOWED: OnceLock<Result<CoreSet, (io::ErrorKind, String)>> = OnceLock::new();

/// The cores this process may run on, read on the first call and kept.
///
/// Call it first from a thread that has not been pinned (normally `main`).
///
/// # Errors
///
/// The operating system's error from reading the affinity mask (the same
/// error on every later call), or `NotFound` if the mask is empty.
pub fn allowed() -> io::Result<&'static CoreSet> {
    ALLOWED
        .get_or_init(|| {
            let ids = affinity::allowed_cpus().map_err(|e| (e.kind(), e.to_string()))?;
            if ids.is_empty() {
                return Err((io::ErrorKind::NotFound, "the affinity mask is empty".to_owned()));
            }
            Ok(CoreSet {
                ids: ids.into_iter().map(CoreId).collect(),
            })
        })
        .as_ref()
        .map_err(|(kind, msg)| io::Error::new(*kind, msg.clone()))
}
