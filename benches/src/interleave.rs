//! Interleaved runs, the way the network benchmarks compare servers: each
//! round runs every server's client once, in an order that rotates every
//! round, so that drifts of the machine hit all of them alike; each run's
//! costs are counted for that server's threads only; medians make the
//! summary.

use std::io;

use crate::counters::{costs_line, Costs, Counters};
use crate::rpc_client::RunResult;
use crate::samples::median;
use crate::settings::Settings;

/// A server under load: its name, the client that drives it and the
/// counters of its threads.
pub struct Subject<C> {
    /// The server's name in the tables.
    pub name: &'static str,
    /// Its load client.
    pub client: C,
    /// Its threads' counters.
    pub counters: Counters,
}

/// One server's runs in a case: what the client measured, and what the
/// server's threads were counted to cost per operation.
#[derive(Debug)]
pub struct Runs {
    /// The server's name.
    pub name: &'static str,
    /// What each run measured.
    pub runs: Vec<RunResult>,
    /// What each run cost the server per operation.
    pub costs: Vec<Costs>,
}

/// One figure of a run.
pub type Stat = fn(&RunResult) -> f64;

/// The median of `stat` over `name`'s runs; NaN for a server left out.
pub fn median_of(results: &[Runs], name: &str, stat: Stat) -> f64 {
    results.iter().find(|r| r.name == name).map_or(f64::NAN, |r| {
        median(&mut r.runs.iter().map(stat).collect::<Vec<_>>()).unwrap_or(f64::NAN)
    })
}

/// Runs every subject `settings.rounds` times with `run` (see the module
/// documentation), counting each run's costs.
///
/// # Panics
///
/// Panics if a run fails (a server that answered wrongly or went away).
pub fn interleaved<C>(
    subjects: &mut [Subject<C>],
    settings: &Settings,
    run: impl Fn(&mut C) -> io::Result<RunResult>,
) -> Vec<Runs> {
    let mut results: Vec<Runs> = subjects
        .iter()
        .map(|s| Runs {
            name: s.name,
            runs: Vec::new(),
            costs: Vec::new(),
        })
        .collect();
    for round in 0..settings.rounds {
        for k in 0..subjects.len() {
            let i = (k + round) % subjects.len();
            let subject = &mut subjects[i];
            let before = subject.counters.sample();
            let result = run(&mut subject.client).expect("run");
            let after = subject.counters.sample();
            results[i]
                .costs
                .push(Costs::per_op(&before, &after, result.round_trips));
            results[i].runs.push(result);
        }
    }
    results
}

/// Prints the counted-costs line of a case (medians), servers in the order
/// of `results`; `op` names the unit ("round trip", "request").
pub fn print_costs(label: &str, op: &str, results: &[Runs]) {
    if results.is_empty() {
        return;
    }
    let costs: Vec<(&str, Costs)> = results.iter().map(|r| (r.name, Costs::median(&r.costs))).collect();
    println!("{}", costs_line(label, op, &costs));
}

/// `<place>: <label>: a | b | c`, or nothing if every part is empty.
pub fn summary_line(place: &str, label: &str, parts: Vec<String>) {
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    if !parts.is_empty() {
        println!("{place}: {label}: {}", parts.join(" | "));
    }
}

/// Medians of a case's servers, for summary lines that name only the
/// servers present (`ROOST_RPC_ONLY` or `ROOST_HTTP_ONLY` may leave some
/// out): no `NaN` in a line.
pub struct Summary<'a> {
    results: &'a [Runs],
}

impl<'a> Summary<'a> {
    /// The summary of a case's results.
    pub fn new(results: &'a [Runs]) -> Self {
        Self { results }
    }

    /// Whether `name` ran in this case.
    pub fn has(&self, name: &str) -> bool {
        self.results.iter().any(|r| r.name == name)
    }

    /// The median of `stat` over `name`'s runs; NaN for a server left out.
    pub fn get(&self, name: &str, stat: Stat) -> f64 {
        median_of(self.results, name, stat)
    }

    /// `name <value>`, or empty if `name` is left out.
    pub fn value(&self, name: &str, stat: Stat, decimals: usize) -> String {
        if self.has(name) {
            format!("{name} {:.decimals$}", self.get(name, stat))
        } else {
            String::new()
        }
    }

    /// [`value`](Self::value) of each of `names`.
    pub fn values(&self, names: &[&str], stat: Stat, decimals: usize) -> Vec<String> {
        names.iter().map(|n| self.value(n, stat, decimals)).collect()
    }

    /// `label <x.xx>x`: `name`'s figure over the largest of `against`'s
    /// present ones; empty if `name` or all of `against` are left out. For
    /// a figure where lower is better (latency), below 1 is better.
    pub fn ratio(&self, name: &str, label: &str, against: &[&str], stat: Stat) -> String {
        let best = against
            .iter()
            .filter(|a| self.has(a))
            .map(|a| self.get(a, stat))
            .fold(f64::NAN, f64::max);
        if self.has(name) && best.is_finite() {
            format!("{label} {:.2}x", self.get(name, stat) / best)
        } else {
            String::new()
        }
    }
}
