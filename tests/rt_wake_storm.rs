//! A storm of cross-worker wakes: one million of them, none lost.
//!
//! A lost wake-up shows up as a hang, which the watchdog turns into a
//! failure.

#[path = "support/rt.rs"]
mod support;

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// 100 pairs of tasks, one on each worker, ping-pong 5,000 times: every
/// round trip is two cross-worker wakes that the next step depends on, so
/// one million wakes in all, each of which must arrive.
#[test]
fn million_cross_worker_ping_pong_wakes() {
    const PAIRS: usize = 100;
    const ROUND_TRIPS: usize = 5_000;
    let rt = support::pinned_runtime(2);
    let handle = rt.handle().clone();
    let trips = support::watchdog(Duration::from_secs(60), "ping-pong wake storm", move || {
        handle.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..PAIRS {
                let ping = support::Signal::new();
                let pong = support::Signal::new();
                let (ping2, pong2) = (ping.clone(), pong.clone());
                tasks.push(roost_runtime::spawn_on(1, async move {
                    for _ in 0..ROUND_TRIPS {
                        ping2.wait().await;
                        pong2.raise();
                    }
                }));
                tasks.push(roost_runtime::spawn_on(0, async move {
                    for _ in 0..ROUND_TRIPS {
                        ping.raise();
                        pong.wait().await;
                    }
                }));
            }
            for t in &mut tasks {
                t.await.unwrap();
            }
            PAIRS * ROUND_TRIPS
        })
    });
    assert_eq!(trips, PAIRS * ROUND_TRIPS);
    let m = rt.handle().metrics();
    // Each cross-worker wake arrives through an inbox, at most once per
    // wake issued: the ping-pong's million, plus the join handles that wake
    // the block_on task (wakes that find a task already notified coalesce).
    let remote = m.sum(|w| w.remote_wakes);
    let issued = (2 * PAIRS * ROUND_TRIPS + 2 * PAIRS) as u64;
    assert!(
        remote > 0 && remote <= issued,
        "{remote} remote wakes for {issued} issued"
    );
}

/// Hammers one task on worker 1 with `per_source` wakes from each of
/// `threads` plain threads and from a task on each of `workers`, bumping a
/// counter before every wake (`wake` is how each wake is issued). The task
/// sleeps until it has seen the final count: if the last wake were lost, it
/// would never get there (the watchdog fails the test). Returns how many
/// times the task was polled.
fn wake_storm(
    rt: &roost_runtime::Runtime,
    what: &'static str,
    threads: usize,
    workers: &'static [usize],
    per_source: u64,
    wake: fn(&Waker),
) -> u64 {
    let total = per_source * (threads + workers.len()) as u64;
    let handle = rt.handle().clone();
    support::watchdog(Duration::from_secs(60), what, move || {
        let counter = Arc::new(AtomicU64::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let registered = support::Signal::new();
        let (c, s, r) = (counter.clone(), slot.clone(), registered.clone());
        let target = handle.spawn_on(1, async move {
            let mut polls = 0u64;
            poll_fn(|cx| {
                polls += 1;
                *s.lock().unwrap() = Some(cx.waker().clone());
                r.raise();
                if c.load(Ordering::Acquire) == total {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            polls
        });
        let waker = handle.block_on(async move {
            registered.wait().await;
            let waker = slot.lock().unwrap().clone().unwrap();
            waker
        });
        let hammer = {
            let counter = counter.clone();
            move |waker: Waker| {
                for _ in 0..per_source {
                    counter.fetch_add(1, Ordering::Release);
                    wake(&waker);
                }
            }
        };
        let plain: Vec<_> = (0..threads)
            .map(|_| {
                let (h, w) = (hammer.clone(), waker.clone());
                std::thread::spawn(move || h(w))
            })
            .collect();
        let in_runtime: Vec<_> = workers
            .iter()
            .map(|&worker| {
                let (h, w) = (hammer.clone(), waker.clone());
                handle.spawn_on(worker, async move { h(w) })
            })
            .collect();
        for t in plain {
            t.join().unwrap();
        }
        handle.block_on(async move {
            for t in in_runtime {
                t.await.unwrap();
            }
            target.await.unwrap()
        })
    })
}

/// Four sources (two plain threads and a task on each worker) wake one task
/// by reference 250,000 times each.
#[test]
fn million_wakes_from_everywhere_into_one_task() {
    const PER_SOURCE: u64 = 250_000;
    const SOURCES: u64 = 4;
    let rt = support::pinned_runtime(2);
    let polls = wake_storm(&rt, "wake storm", 2, &[0, 1], PER_SOURCE, Waker::wake_by_ref);
    // Wakes while the task is already scheduled coalesce into one poll.
    assert!((2..=PER_SOURCE * SOURCES + 1).contains(&polls), "{polls} polls");
}

/// Wakes by value (a fresh clone woken each time, so each wake hands over a
/// reference) from a task on the other worker, which batches them, and from
/// a plain thread: every reference handed over must be accounted for (debug
/// builds check the count on every release) and the last wake must arrive.
#[test]
fn wakes_by_value_from_a_peer_worker_and_a_thread() {
    const PER_SOURCE: u64 = 200_000;
    const SOURCES: u64 = 2;
    let rt = support::pinned_runtime(2);
    // Deliberately by value: each wake hands a reference over.
    #[allow(clippy::waker_clone_wake)]
    let by_value: fn(&Waker) = |w| w.clone().wake();
    let polls = wake_storm(&rt, "wake-by-value storm", 1, &[0], PER_SOURCE, by_value);
    assert!((2..=PER_SOURCE * SOURCES + 1).contains(&polls), "{polls} polls");
}
