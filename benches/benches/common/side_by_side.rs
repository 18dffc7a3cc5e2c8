//! Criterion's part of the network benchmarks (http, grpc): each case's
//! servers side by side in one group, timing one operation with every
//! connection busy. The second (shared-cores) process of a default run
//! leaves it out: its tables come from the interleaved runs alone.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use roost_benches::interleave::Subject;
use roost_benches::rpc_client::RunResult;
use roost_benches::settings::{is_second_run, Settings};

/// One case for criterion: its group's name, the operations in flight (a
/// run never times fewer), and its servers.
pub struct CriterionCase<'a, C> {
    pub label: &'static str,
    pub in_flight: u64,
    pub subjects: &'a mut [Subject<C>],
}

/// Runs criterion on every case, `run(client, n)` making `n` operations.
pub fn criterion_cases<'a, C: 'a>(
    settings: &Settings,
    cases: impl IntoIterator<Item = CriterionCase<'a, C>>,
    mut run: impl FnMut(&mut C, u64) -> RunResult,
) {
    if is_second_run() {
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if settings.quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if settings.quick { 500 } else { 4000 }));
    for case in cases {
        let mut group = criterion.benchmark_group(case.label);
        for subject in case.subjects.iter_mut() {
            group.bench_function(BenchmarkId::from_parameter(subject.name), |b| {
                b.iter_custom(|iters| {
                    let result = run(&mut subject.client, iters.max(case.in_flight));
                    black_box(result.elapsed.mul_f64(iters as f64 / result.round_trips.max(1) as f64))
                })
            });
        }
        group.finish();
    }
}
