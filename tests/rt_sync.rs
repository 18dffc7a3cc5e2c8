//! tokio::sync primitives carrying work across roost workers.

#[path = "support/rt.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

#[test]
fn mpsc_pipeline_across_workers() {
    let rt = support::pinned_runtime(2);
    let total = rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u64>(8);
        let (out_tx, mut out_rx) = mpsc::channel::<u64>(8);
        // Stage 1 on worker 1: produce. Stage 2 on worker 0: square.
        roost_runtime::spawn_on(1, async move {
            for i in 0..10_000u64 {
                tx.send(i).await.unwrap();
            }
        });
        roost_runtime::spawn_on(0, async move {
            while let Some(v) = rx.recv().await {
                assert_eq!(roost_runtime::current_worker(), Some(0));
                out_tx.send(v * v).await.unwrap();
            }
        });
        let mut total = 0u64;
        while let Some(v) = out_rx.recv().await {
            total += v;
        }
        total
    });
    assert_eq!(total, (0..10_000u64).map(|i| i * i).sum());
}

#[test]
fn unbounded_mpsc_from_many_senders() {
    let rt = support::pinned_runtime(2);
    let count = rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
        for t in 0..16 {
            let tx = tx.clone();
            roost_runtime::Handle::current().spawn(async move {
                for i in 0..1000 {
                    tx.send(t * 1000 + i).unwrap();
                    if i % 100 == 0 {
                        roost_runtime::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let mut seen = vec![false; 16_000];
        let mut n = 0;
        while let Some(v) = rx.recv().await {
            assert!(!seen[v]);
            seen[v] = true;
            n += 1;
        }
        n
    });
    assert_eq!(count, 16_000);
}

#[test]
fn oneshot_request_reply_between_workers() {
    let rt = support::pinned_runtime(2);
    let replies = rt.block_on(async {
        let (req_tx, mut req_rx) = mpsc::channel::<(u32, oneshot::Sender<(u32, usize)>)>(4);
        roost_runtime::spawn_on(1, async move {
            while let Some((v, reply)) = req_rx.recv().await {
                let _ = reply.send((v + 1, roost_runtime::current_worker().unwrap()));
            }
        });
        let mut replies = Vec::new();
        for v in 0..1000 {
            let (tx, rx) = oneshot::channel();
            req_tx.send((v, tx)).await.unwrap();
            replies.push(rx.await.unwrap());
        }
        replies
    });
    assert_eq!(replies.len(), 1000);
    assert!(replies
        .iter()
        .enumerate()
        .all(|(i, &(v, w))| v == i as u32 + 1 && w == 1));
}

#[test]
fn notify_wakes_waiters_on_other_workers() {
    let rt = support::pinned_runtime(2);
    rt.block_on(async {
        let notify = Arc::new(Notify::new());
        let done = Arc::new(Notify::new());
        let mut waiters = Vec::new();
        for i in 0..64 {
            let (n, d) = (notify.clone(), done.clone());
            waiters.push(roost_runtime::spawn_on(i % 2, async move {
                n.notified().await;
                d.notify_one();
                i
            }));
        }
        // Let every waiter register, then release them one at a time.
        for _ in 0..64 {
            roost_runtime::time::sleep(Duration::from_millis(0)).await;
            notify.notify_one();
            done.notified().await;
        }
        let mut sum = 0;
        for w in waiters {
            sum += w.await.unwrap();
        }
        assert_eq!(sum, (0..64).sum::<usize>());
    });
}

#[test]
fn oneshot_dropped_sender_wakes_receiver_with_error() {
    let rt = support::pinned_runtime(2);
    let err = rt.block_on(async {
        let (tx, rx) = oneshot::channel::<()>();
        roost_runtime::spawn_on(1, async move {
            roost_runtime::yield_now().await;
            drop(tx);
        });
        rx.await
    });
    assert!(err.is_err());
}
