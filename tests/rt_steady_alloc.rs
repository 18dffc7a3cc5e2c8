//! Regression: one-way wakes from worker 0 to worker 1 made worker 0
//! allocate a wake batch for each flush while worker 1, its spares full,
//! freed the ones it received; batches now go back home. With a counting
//! global allocator, after warm-up, neither worker calls the allocator
//! (counted, not timed).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use roost::runtime::Runtime;
use tokio::sync::Notify;

/// Counts every call made on a worker thread of the runtime under test.
struct CountingAllocator;

thread_local! {
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

static WORKER_CALLS: AtomicU64 = AtomicU64::new(0);

fn count() {
    if ON_WORKER.try_with(Cell::get).unwrap_or(false) {
        WORKER_CALLS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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
        .on_thread_start(|| ON_WORKER.with(|w| w.set(true)))
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
            let before = WORKER_CALLS.load(Ordering::Relaxed);
            one_way_rounds(&notifies2, &seen2, 20_000).await;
            WORKER_CALLS.load(Ordering::Relaxed) - before
        }))
        .unwrap();
    assert_eq!(
        calls, 0,
        "the workers called the global allocator {calls} times in 20,000 rounds of one-way wakes"
    );
}
