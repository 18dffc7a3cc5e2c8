//! The task state machine without mio, on std threads: small enough to run
//! under Miri, which checks the raw task code (allocation, reference
//! counts, the output and waker slots, inbox and batch nodes):
//!
//! `cargo +nightly miri test -p roost-runtime --lib task::unit`

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

use crate::context::{self, Context};
use crate::sched::core::Core;
use crate::sched::{Unpark, WorkerShared};
use crate::task::{yield_now, JoinError, JoinHandle};
use crate::time::TimerDriver;

struct NoUnpark;

impl Unpark for NoUnpark {
    fn unpark(&self) {}
}

fn shared(index: usize) -> Arc<WorkerShared> {
    Arc::new(WorkerShared::new(index, Box::new(NoUnpark)))
}

fn context(shared: Arc<WorkerShared>, peers: Box<[Arc<WorkerShared>]>) -> Context {
    Context {
        core: Core::new(shared, peers),
        handle: None,
        timers: RefCell::new(TimerDriver::new()),
        io: None,
    }
}

fn poll_now<T>(jh: &mut JoinHandle<T>) -> Poll<Result<T, JoinError>> {
    Pin::new(jh).poll(&mut TaskContext::from_waker(Waker::noop()))
}

/// Runs the core until it has nothing runnable and nothing in its inbox.
fn settle(ctx: &Context) {
    loop {
        ctx.core.drain_inbox();
        if ctx.core.run(64) == 0 && ctx.core.shared.inbox.is_empty() {
            return;
        }
    }
}

struct Probe(Arc<AtomicUsize>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn spawn_yield_complete_and_join() {
    let ctx = context(shared(0), Box::new([]));
    context::enter(&ctx, || {
        let mut a = ctx.core.spawn_local(async { 1 }).ok().unwrap();
        let mut b = ctx
            .core
            .spawn_local(async {
                yield_now().await;
                yield_now().await;
                String::from("two")
            })
            .ok()
            .unwrap();
        assert!(poll_now(&mut b).is_pending());
        settle(&ctx);
        assert_eq!(poll_now(&mut a).map(Result::unwrap), Poll::Ready(1));
        assert_eq!(poll_now(&mut b).map(Result::unwrap), Poll::Ready("two".to_string()));
        assert_eq!(ctx.core.live_tasks(), 0);
    });
}

#[test]
fn abort_before_and_after_completion_and_detach() {
    let ctx = context(shared(0), Box::new([]));
    let drops = Arc::new(AtomicUsize::new(0));
    context::enter(&ctx, || {
        let probe = Probe(drops.clone());
        let mut never = ctx
            .core
            .spawn_local(async move {
                let _probe = probe;
                std::future::pending::<()>().await
            })
            .ok()
            .unwrap();
        never.abort();
        let mut done = ctx.core.spawn_local(async { vec![1, 2, 3] }).ok().unwrap();
        // Detached: its output (a heap value) is dropped by the worker.
        drop(ctx.core.spawn_local(async { vec![4u8; 16] }).ok().unwrap());
        settle(&ctx);
        done.abort();
        assert!(matches!(poll_now(&mut never), Poll::Ready(Err(e)) if e.is_cancelled()));
        assert_eq!(poll_now(&mut done).map(Result::unwrap), Poll::Ready(vec![1, 2, 3]));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn panic_is_caught_and_reported() {
    let ctx = context(shared(0), Box::new([]));
    context::enter(&ctx, || {
        let mut boom = ctx.core.spawn_local(async { panic!("boom") }).ok().unwrap();
        let mut fine = ctx.core.spawn_local(async { 5 }).ok().unwrap();
        settle(&ctx);
        match poll_now(&mut boom) {
            Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "task panicked: boom"),
            _ => panic!("expected a panic"),
        }
        assert_eq!(poll_now(&mut fine).map(Result::unwrap), Poll::Ready(5));
    });
}

/// Wakes from a plain thread go through the inbox; the join handle is
/// awaited (polled) on that thread too.
#[test]
fn remote_wake_and_remote_join() {
    let ctx = context(shared(0), Box::new([]));
    let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let jh = context::enter(&ctx, || {
        let mut first = true;
        let jh = ctx
            .core
            .spawn_local(poll_fn(move |cx| {
                if std::mem::take(&mut first) {
                    *s.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(42u64)
                }
            }))
            .ok()
            .unwrap();
        settle(&ctx);
        jh
    });
    let waker = slot.lock().unwrap().take().unwrap();
    std::thread::spawn(move || {
        waker.wake_by_ref();
        waker.wake();
    })
    .join()
    .unwrap();
    context::enter(&ctx, || settle(&ctx));
    let out = std::thread::spawn(move || {
        let mut jh = jh;
        poll_now(&mut jh)
    })
    .join()
    .unwrap();
    assert_eq!(out.map(Result::unwrap), Poll::Ready(42));
}

/// Shutdown cancels pending tasks on the worker; a waker held elsewhere
/// outlives the worker and is woken and dropped afterwards.
#[test]
fn shutdown_then_late_waker() {
    let ctx = context(shared(0), Box::new([]));
    let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let mut jh = context::enter(&ctx, || {
        let jh = ctx
            .core
            .spawn_local(poll_fn(move |cx| {
                *s.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }))
            .ok()
            .unwrap();
        settle(&ctx);
        jh
    });
    let waker = slot.lock().unwrap().take().unwrap();
    assert_eq!(context::enter(&ctx, || ctx.core.shutdown()), 1);
    drop(ctx);
    assert!(matches!(poll_now(&mut jh), Poll::Ready(Err(e)) if e.is_cancelled()));
    std::thread::spawn(move || {
        waker.wake_by_ref();
        drop(waker);
    })
    .join()
    .unwrap();
}

/// Worker A wakes tasks of worker B: the wakes travel as one batch, sent
/// at the end of A's run of polls.
#[test]
fn batched_wakes_between_workers() {
    let (a, b) = (shared(0), shared(1));
    let peers: Box<[Arc<WorkerShared>]> = Box::new([a.clone(), b.clone()]);
    let b_inbox = b.clone();
    let worker_b = context(b, peers.clone());
    let wakers: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
    let mut handles = context::enter(&worker_b, || {
        let handles: Vec<_> = (0..5u32)
            .map(|i| {
                let w = wakers.clone();
                let mut first = true;
                worker_b
                    .core
                    .spawn_local(poll_fn(move |cx| {
                        if std::mem::take(&mut first) {
                            w.lock().unwrap().push(cx.waker().clone());
                            Poll::Pending
                        } else {
                            Poll::Ready(i)
                        }
                    }))
                    .ok()
                    .unwrap()
            })
            .collect();
        settle(&worker_b);
        handles
    });
    let taken: Vec<Waker> = std::mem::take(&mut *wakers.lock().unwrap());
    std::thread::spawn(move || {
        let worker_a = context(a, peers);
        context::enter(&worker_a, || {
            for w in taken {
                w.wake();
            }
            assert!(b_inbox.inbox.is_empty(), "wakes went out before the run ended");
            worker_a.core.run(1);
            assert!(!b_inbox.inbox.is_empty(), "the run did not send its batch");
        });
    })
    .join()
    .unwrap();
    context::enter(&worker_b, || {
        // One inbox node carries all five wakes.
        assert_eq!(worker_b.core.drain_inbox(), 1);
        settle(&worker_b);
    });
    for (i, jh) in handles.iter_mut().enumerate() {
        assert_eq!(poll_now(jh).map(Result::unwrap), Poll::Ready(i as u32));
    }
    assert_eq!(worker_b.core.stats.remote_wakes.get(), 5);
}
