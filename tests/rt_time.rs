//! Timers: order, cancellation, 100,000 pending timers, interval, timeout.
//!
//! No assertion depends on how long anything took, only on order and on
//! "not before the deadline", which the runtime guarantees.

#[path = "support/rt.rs"]
mod support;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use roost_runtime::time::{interval, sleep, sleep_until, timeout, MissedTickBehavior};

#[test]
fn sleep_never_completes_early() {
    let rt = support::pinned_runtime(1);
    rt.block_on(async {
        for ms in [0u64, 1, 2, 5] {
            let start = Instant::now();
            sleep(Duration::from_millis(ms)).await;
            assert!(start.elapsed() >= Duration::from_millis(ms));
        }
    });
}

#[test]
fn timers_fire_in_deadline_order() {
    let rt = support::pinned_runtime(1);
    let order = rt.block_on_local(|| async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let base = Instant::now() + Duration::from_millis(2);
        let mut tasks = Vec::new();
        // Spawned in scrambled order.
        for i in [7u64, 3, 9, 0, 5, 1, 8, 2, 6, 4] {
            let log = log.clone();
            tasks.push(roost_runtime::spawn_local(async move {
                sleep_until(base + Duration::from_millis(2 * i)).await;
                log.borrow_mut().push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let out = log.borrow().clone();
        out
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

#[test]
fn dropped_and_aborted_timers_are_cancelled() {
    let rt = support::pinned_runtime(1);
    rt.block_on_local(|| async {
        let fired = Rc::new(RefCell::new(0));
        // A timeout whose future wins drops its sleep.
        assert_eq!(timeout(Duration::from_secs(60), async { 1 }).await, Ok(1));
        // Aborted tasks drop their sleeps.
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let fired = fired.clone();
            tasks.push(roost_runtime::spawn_local(async move {
                sleep(Duration::from_secs(60)).await;
                *fired.borrow_mut() += 1;
            }));
        }
        roost_runtime::yield_now().await;
        let pending = || roost_runtime::Handle::current().metrics().workers[0].pending_timers;
        // Metrics are published once per tick: let one pass. The count
        // includes the sleep we read it after.
        sleep(Duration::from_millis(1)).await;
        assert_eq!(pending(), 101);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            assert!(t.await.unwrap_err().is_cancelled());
        }
        sleep(Duration::from_millis(1)).await;
        assert_eq!(pending(), 1);
        assert_eq!(*fired.borrow(), 0);
    });
}

/// 100,000 pending timers on one worker: while they are pending the worker
/// keeps serving (a short sleep and a thousand yields complete); then half
/// are cancelled and the other half are moved to near deadlines, and fire in
/// deadline order.
#[test]
fn hundred_thousand_pending_timers() {
    const TIMERS: usize = 100_000;
    let rt = support::pinned_runtime(1);
    let handle = rt.handle().clone();
    let (order, cancelled, pending_peak, pending_after) =
        support::watchdog(Duration::from_secs(60), "100k timers", move || {
            handle.block_on_local(|| async {
                let pending = || roost_runtime::Handle::current().metrics().workers[0].pending_timers;
                let log = Rc::new(RefCell::new(Vec::with_capacity(TIMERS / 2)));
                let mut sleeps = Vec::with_capacity(TIMERS);
                let mut tasks = Vec::with_capacity(TIMERS);
                for i in 0..TIMERS {
                    // Far deadlines first, so nothing can fire while we set up.
                    let s = Rc::new(RefCell::new(sleep(Duration::from_secs(3600))));
                    let (log, s2) = (log.clone(), s.clone());
                    tasks.push(roost_runtime::spawn_local(async move {
                        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s2.borrow_mut()).poll(cx)).await;
                        log.borrow_mut().push(i);
                    }));
                    sleeps.push(Some(s));
                }
                // Every task runs once and registers its timer.
                roost_runtime::yield_now().await;
                // While they are pending, a short timer and other work run.
                sleep(Duration::from_millis(1)).await;
                let pending_peak = pending();
                for _ in 0..1000 {
                    roost_runtime::yield_now().await;
                }
                // Cancel the odd ones (dropping their sleeps), and bring the
                // even ones to deadlines 5..45 ms from now, scrambled.
                let mut cancelled = 0;
                for (i, t) in tasks.iter().enumerate() {
                    if i % 2 == 1 {
                        sleeps[i] = None;
                        t.abort();
                    }
                }
                let base = Instant::now() + Duration::from_millis(5);
                for (i, s) in sleeps.iter().enumerate() {
                    if let Some(s) = s {
                        s.borrow_mut()
                            .reset(base + Duration::from_millis(((i * 7919) % 40) as u64));
                    }
                }
                drop(sleeps);
                for t in tasks {
                    if let Err(e) = t.await {
                        assert!(e.is_cancelled());
                        cancelled += 1;
                    }
                }
                roost_runtime::yield_now().await;
                sleep(Duration::from_millis(1)).await;
                let order: Vec<usize> = log.borrow().iter().map(|&i| (i * 7919) % 40).collect();
                (order, cancelled, pending_peak, pending())
            })
        });
    // The published count includes the 1 ms sleep it was read after.
    assert_eq!(pending_peak, TIMERS as u64 + 1, "100k timers pending at once");
    assert_eq!(cancelled, TIMERS / 2);
    assert_eq!(order.len(), TIMERS / 2);
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "timers fired out of deadline order"
    );
    // Only the sleep it was read after was left.
    assert_eq!(pending_after, 1);
}

/// The missed-tick policies, checked with properties that hold however
/// late the worker runs: a tick is an instant of the schedule, and a stall
/// of the task only ever pushes later ticks further out.
#[test]
fn interval_ticks_on_schedule_and_applies_missed_tick_policy() {
    let rt = support::pinned_runtime(1);
    rt.block_on(async {
        let period = Duration::from_millis(3);
        // Burst (default): the schedule is kept, missed ticks come at once.
        let mut every = interval(period);
        let t0 = every.tick().await;
        std::thread::sleep(period * 3); // miss a few ticks
        let t1 = every.tick().await;
        let t2 = every.tick().await;
        assert_eq!(t1 - t0, period);
        assert_eq!(t2 - t1, period);

        // Delay: after a stall, the schedule restarts from the late tick.
        let mut every = interval(period);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let t0 = every.tick().await;
        let stalled_at = Instant::now();
        std::thread::sleep(period * 3);
        let late = every.tick().await;
        let next = every.tick().await;
        assert!(late >= t0 + period, "ticks are at least a period apart");
        assert!(next >= stalled_at + period * 4, "Burst would have said t0 + 2p");

        // Skip: ticks stay on the original grid and skip what was missed.
        let mut every = interval(period);
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let t0 = every.tick().await;
        let stalled_at = Instant::now();
        std::thread::sleep(period * 3 + period / 2);
        let late = every.tick().await;
        let next = every.tick().await;
        for t in [late, next] {
            assert_eq!((t - t0).as_nanos() % period.as_nanos(), 0, "skip keeps the grid");
        }
        assert!(next > stalled_at + period * 3 + period / 2, "missed ticks were skipped");
    });
}

#[test]
fn timeout_elapses_for_a_stuck_future_and_not_for_a_ready_one() {
    let rt = support::pinned_runtime(2);
    rt.block_on(async {
        let start = Instant::now();
        let r = timeout(Duration::from_millis(3), std::future::pending::<()>()).await;
        assert!(r.is_err());
        assert!(start.elapsed() >= Duration::from_millis(3));
        let err: std::io::Error = r.unwrap_err().into();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        // A sleep moved to another worker re-registers there.
        let s = sleep(Duration::from_millis(2));
        let done = roost_runtime::spawn_on(1, async move {
            s.await;
            roost_runtime::current_worker()
        });
        assert_eq!(done.await.unwrap(), Some(1));
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    let rt = support::pinned_runtime(1);
    rt.block_on(async {
        let mut s = sleep(Duration::from_secs(3600));
        assert!(support::poll_once(&mut s).is_pending());
        let start = Instant::now();
        s.reset(Instant::now() + Duration::from_millis(2));
        (&mut s).await;
        assert!(s.is_elapsed());
        assert!(start.elapsed() >= Duration::from_millis(2));
        // Reset after completion arms it again.
        s.reset(Instant::now() + Duration::from_millis(1));
        assert!(!s.is_elapsed());
        s.await;
    });
}

/// A worker waiting for a timer spins for `spin_before_park` (counted in
/// `spin_nanos`) and then parks; with no spin it parks at once and the
/// counter stays at zero.
#[test]
fn idle_workers_count_their_spin_and_park() {
    let idle = |spin: Duration| {
        let rt = roost_runtime::Runtime::builder()
            .worker_threads(1)
            .pin_workers(false)
            .spin_before_park(spin)
            .build()
            .unwrap();
        rt.block_on_local(|| async {
            for _ in 0..5 {
                roost_runtime::time::sleep(Duration::from_millis(3)).await;
            }
        });
        // The worker publishes its counters once per tick; one more tick.
        rt.block_on_local(|| async {});
        let w = rt.handle().metrics().workers[0].clone();
        (w.spin_nanos, w.parks)
    };
    let (spun, parks) = idle(Duration::from_micros(200));
    assert!(spun > 0, "no spin counted");
    assert!(parks >= 1, "never parked");
    let (spun, parks) = idle(Duration::ZERO);
    assert_eq!(spun, 0);
    assert!(parks >= 1, "never parked");
}
