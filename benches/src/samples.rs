//! Timed runs, reduced to a median time per operation.

use std::time::Duration;

/// A log of timed runs: `(operations, elapsed)` pairs in the order recorded.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use roost_benches::samples::SampleLog;
///
/// let mut log = SampleLog::default();
/// log.record(1000, Duration::from_micros(30)); // warm-up, say
/// log.record(1000, Duration::from_micros(10));
/// log.record(1000, Duration::from_micros(20));
/// log.record(1000, Duration::from_micros(12));
/// assert_eq!(log.median_ns_per_op(3), Some(12.0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SampleLog {
    runs: Vec<(u64, Duration)>,
}

impl SampleLog {
    /// Records one run of `ops` operations.
    pub fn record(&mut self, ops: u64, elapsed: Duration) {
        self.runs.push((ops, elapsed));
    }

    /// Forgets every run.
    pub fn clear(&mut self) {
        self.runs.clear();
    }

    /// Number of runs recorded.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether no run is recorded.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The median over the last `last` runs (all of them if fewer) of each
    /// run's nanoseconds per operation; `None` if nothing was recorded.
    pub fn median_ns_per_op(&self, last: usize) -> Option<f64> {
        let start = self.runs.len().saturating_sub(last);
        let mut per_op: Vec<f64> = self.runs[start..]
            .iter()
            .filter(|(ops, _)| *ops > 0)
            .map(|(ops, elapsed)| elapsed.as_nanos() as f64 / *ops as f64)
            .collect();
        median(&mut per_op)
    }
}

/// The median of `values` (the mean of the middle two for an even count);
/// `None` if empty. Reorders `values`.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}
