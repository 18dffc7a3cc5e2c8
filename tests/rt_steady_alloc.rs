//! Regression: one-way wakes from worker 0 to worker 1 made worker 0
//! allocate a wake batch for each flush while worker 1, its spares full,
//! freed the ones it received; batches now go back home. With a counting
//! global allocator, after warm-up, neither worker calls the allocator
//! (counted, not timed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use roost::runtime::Runtime;
use tokio::sync::Notify;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const TASKS: usize = 64;

/// Worker 0 notifies `TASKS` tasks on worker 1 `rounds` times, waiting
/// (by yielding, which wakes nobody elsewhere) until each round was seen;
/// worker 1's tasks never wake anything on worker 0.
async fn one_way_rounds(notifies: &[Arc<Notify>], seen: &AtomicU64, rounds: u64) {
    for _ in 0..rounds {
        let target = seen.load(Ordering::Acquire) + TASKS as u64;
        for n in notifies {
            n.notify_one();
        }
        while seen.load(Ordering::Acquire) < target {
            roost::task::yield_now().await;
        }
    }
}

#[test]
fn one_way_cross_worker_wakes_allocate_nothing_in_steady_state() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .pin_workers(false)
        .tokio_compat(false)
        .on_thread_start(counting_alloc::count_this_thread)
        .build()
        .unwrap();
    let notifies: Arc<Vec<Arc<Notify>>> = Arc::new((0..TASKS).map(|_| Arc::new(Notify::new())).collect());
    let seen = Arc::new(AtomicU64::new(0));
    for n in notifies.iter() {
        let (n, seen) = (n.clone(), seen.clone());
        drop(rt.handle().spawn_on(1, async move {
            loop {
                n.notified().await;
                seen.fetch_add(1, Ordering::Release);
            }
        }));
    }
    let (notifies2, seen2) = (notifies.clone(), seen.clone());
    let calls = rt
        .block_on(rt.handle().spawn_on(0, async move {
            // Warm-up: spares, run queues and wait lists reach their size.
            one_way_rounds(&notifies2, &seen2, 2_000).await;
            let before = counting_alloc::calls();
            one_way_rounds(&notifies2, &seen2, 20_000).await;
            counting_alloc::calls() - before
        }))
        .unwrap();
    assert_eq!(
        calls, 0,
        "the workers called the global allocator {calls} times in 20,000 rounds of one-way wakes"
    );
}
