//! What the closed-loop load clients share: [`LoadClient`], the one way a
//! bench runs any of them; and, for the async ones
//! ([`h2_client`](crate::h2_client), [`hyper_client`](crate::hyper_client),
//! [`grpc_client`](crate::grpc_client),
//! [`handshake_client`](crate::handshake_client)), a run of local tasks
//! ("slots") on a tokio current-thread runtime, each sending request after
//! request until the run has its count or its time, and the tally they keep
//! together.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::rpc_client::RunResult;

/// A closed-loop load client: requests (or calls) one after another on
/// each of its connections or streams.
pub trait LoadClient {
    /// Runs until `target` requests were begun or `duration` has passed,
    /// whichever comes first, and reports what it measured.
    ///
    /// # Errors
    ///
    /// Connection errors, or a server that answers wrongly.
    fn run(&mut self, duration: Option<Duration>, target: u64) -> io::Result<RunResult>;

    /// Runs the closed loop for `duration`.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    fn run_for(&mut self, duration: Duration) -> io::Result<RunResult> {
        self.run(Some(duration), u64::MAX)
    }

    /// Runs the closed loop until `count` requests have been answered.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    fn run_requests(&mut self, count: u64) -> io::Result<RunResult> {
        self.run(None, count)
    }
}

/// The slots' common count (all on the client's thread).
pub(crate) struct Tally {
    latency: RefCell<Histogram<u64>>,
    /// Requests begun, and answered.
    started: Cell<u64>,
    done: Cell<u64>,
    target: u64,
    deadline: Option<Instant>,
    finished_at: Cell<Instant>,
}

impl Tally {
    /// Takes the next request's turn; `false` once the run is over.
    pub(crate) fn begin(&self) -> bool {
        if self.started.get() >= self.target || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        self.started.set(self.started.get() + 1);
        true
    }

    /// Counts a request begun at `sent_at` as answered now.
    pub(crate) fn answered(&self, sent_at: Instant) {
        let now = Instant::now();
        let _ = self
            .latency
            .borrow_mut()
            .record((now - sent_at).as_nanos().max(1) as u64);
        self.done.set(self.done.get() + 1);
        self.finished_at.set(now);
    }
}

/// Runs the slots that `slots` makes (given the tally they share) until
/// `target` requests were begun or `duration` has passed, and reports what
/// they measured, with what each slot returned.
///
/// # Errors
///
/// The first error of a slot.
pub(crate) fn run<T, F>(
    rt: &tokio::runtime::Runtime,
    local: &tokio::task::LocalSet,
    duration: Option<Duration>,
    target: u64,
    slots: impl FnOnce(&Rc<Tally>) -> Vec<F>,
) -> io::Result<(RunResult, Vec<T>)>
where
    F: Future<Output = io::Result<T>> + 'static,
    T: 'static,
{
    let cpu_before = crate::sys::cpu_time();
    let start = Instant::now();
    let tally = Rc::new(Tally {
        latency: RefCell::new(Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")),
        started: Cell::new(0),
        done: Cell::new(0),
        target,
        deadline: duration.map(|d| start + d),
        finished_at: Cell::new(start),
    });
    let futures = slots(&tally);
    let outputs = local.block_on(rt, async {
        let running: Vec<_> = futures.into_iter().map(tokio::task::spawn_local).collect();
        let mut outputs = Vec::with_capacity(running.len());
        for slot in running {
            outputs.push(slot.await.map_err(io::Error::other)??);
        }
        io::Result::Ok(outputs)
    })?;
    let tally = Rc::try_unwrap(tally).unwrap_or_else(|_| unreachable!("every slot has finished"));
    let measured = RunResult::measured(
        cpu_before,
        tally.done.get(),
        tally.finished_at.get() - start,
        tally.latency.into_inner(),
    );
    Ok((measured, outputs))
}
