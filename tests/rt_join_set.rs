//! `JoinSet`: tasks joined in the order they finish, aborted on drop.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roost::task::JoinSet;

#[roost::test]
async fn results_arrive_in_completion_order() {
    let mut set = JoinSet::new();
    for (i, ms) in [(0u32, 30u64), (1, 1), (2, 15)] {
        set.spawn(async move {
            roost::time::sleep(Duration::from_millis(ms)).await;
            i
        });
    }
    assert_eq!(set.len(), 3);
    let mut order = Vec::new();
    while let Some(res) = set.join_next().await {
        order.push(res.unwrap());
    }
    assert_eq!(order, vec![1, 2, 0]);
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
}

#[roost::test]
async fn local_tasks_may_hold_rc() {
    let shared = Rc::new(5);
    let mut set = JoinSet::new();
    for i in 0..4 {
        let shared = shared.clone();
        set.spawn_local(async move { *shared + i });
    }
    let mut all = set.join_all().await;
    all.sort_unstable();
    assert_eq!(all, vec![5, 6, 7, 8]);
}

#[roost::test(worker_threads = 2)]
async fn many_tasks_across_workers() {
    let mut set = JoinSet::new();
    for i in 0..1000u64 {
        if i % 2 == 0 {
            set.spawn(async move { i });
        } else {
            set.spawn_on(1, async move {
                roost::task::yield_now().await;
                i
            });
        }
    }
    let mut sum = 0;
    while let Some(res) = set.join_next().await {
        sum += res.unwrap();
    }
    assert_eq!(sum, 999 * 1000 / 2);
}

#[roost::test]
async fn abort_all_and_drop_cancel_the_tasks() {
    let mut set: JoinSet<()> = JoinSet::new();
    for _ in 0..3 {
        set.spawn(std::future::pending());
    }
    set.abort_all();
    let mut cancelled = 0;
    while let Some(res) = set.join_next().await {
        assert!(res.unwrap_err().is_cancelled());
        cancelled += 1;
    }
    assert_eq!(cancelled, 3);

    let dropped = Arc::new(AtomicBool::new(false));
    struct Probe(Arc<AtomicBool>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let probe = Probe(dropped.clone());
    let mut set = JoinSet::new();
    let abort = set.spawn(async move {
        let _probe = probe;
        std::future::pending::<()>().await
    });
    drop(set);
    // The task is dropped on its worker at its next turn.
    while !abort.is_finished() {
        roost::task::yield_now().await;
    }
    assert!(dropped.load(Ordering::SeqCst));
}

#[roost::test]
async fn try_join_next_does_not_wait() {
    let mut set = JoinSet::new();
    set.spawn(async { 1 });
    assert!(set.try_join_next().is_none(), "not polled yet");
    roost::task::yield_now().await;
    assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
    assert!(set.try_join_next().is_none());
}
