//! loom models of the task state machine: abort against completion against
//! `JoinHandle` drop (or a `JoinHandle` polled from another thread), and a
//! waker that outlives its worker.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-runtime --lib --release loom`.
//!
//! Each model builds a real worker core (run queue, slab, inbox) on the
//! model's main thread, without mio: a loom `Notify` stands in for the
//! `mio::Waker`. The tasks' reference to their worker is a loom `Arc`, so a
//! task that is never freed shows up as a leaked `Arc`; a double free shows
//! up as a reference count underflow.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex, Notify};
use loom::thread;

use crate::context::{self, Context};
use crate::sched::core::Core;
use crate::sched::{Unpark, WorkerShared};
use crate::task::{yield_now, AbortHandle, JoinError, JoinHandle};
use crate::time::TimerDriver;

struct NotifyUnpark(Arc<Notify>);

impl Unpark for NotifyUnpark {
    fn unpark(&self) {
        self.0.notify();
    }
}

fn worker() -> (Context, Arc<Notify>) {
    let (shared, notify) = worker_shared(0);
    (context_for(shared, Box::new([])), notify)
}

fn worker_shared(index: usize) -> (Arc<WorkerShared>, Arc<Notify>) {
    let notify = Arc::new(Notify::new());
    let shared = Arc::new(WorkerShared::new(index, Box::new(NotifyUnpark(notify.clone()))));
    (shared, notify)
}

fn context_for(shared: Arc<WorkerShared>, peers: Box<[Arc<WorkerShared>]>) -> Context {
    Context {
        core: Core::new(shared, peers),
        handle: None,
        timers: RefCell::new(TimerDriver::new()),
        io: None,
    }
}

/// Runs the worker until it has no live task left.
fn run_until_idle(ctx: &Context, notify: &Notify) {
    loop {
        ctx.core.drain_inbox();
        ctx.core.run(16);
        if ctx.core.live_tasks() == 0 {
            return;
        }
        if !ctx.core.has_runnable() && ctx.core.shared.inbox.try_sleep() {
            notify.wait();
        }
    }
}

/// Spawns `future` on the worker of `ctx` and returns its join and abort
/// handles.
fn spawn_abortable<F: Future + 'static>(ctx: &Context, future: F) -> (JoinHandle<F::Output>, AbortHandle) {
    context::enter(ctx, || {
        let jh = ctx.core.spawn_local(future).ok().unwrap();
        let abort = jh.abort_handle();
        (jh, abort)
    })
}

/// Counts drops of the future's captured state.
struct Probe(Arc<AtomicUsize>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker for a non-worker thread, backed by a loom `Notify`.
struct ThreadNotify(Notify);

impl Wake for ThreadNotify {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// Abort (one thread) against completion (the worker) against dropping
/// the `JoinHandle` (another thread). Whatever the interleaving, the future
/// is dropped exactly once, on the worker, and the task is freed.
#[test]
fn loom_task_abort_against_completion_against_join_drop() {
    loom::model(|| {
        let (ctx, notify) = worker();
        let drops = Arc::new(AtomicUsize::new(0));
        let probe = Probe(drops.clone());
        let (jh, abort) = spawn_abortable(&ctx, async move {
            let _probe = probe;
            yield_now().await;
            5usize
        });
        let aborter = thread::spawn(move || abort.abort());
        let dropper = thread::spawn(move || drop(jh));
        context::enter(&ctx, || run_until_idle(&ctx, &notify));
        aborter.join().unwrap();
        dropper.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Dropping the context shuts the core down: the abort's inbox entry,
        // if it arrived late, is released there.
        drop(ctx);
    });
}

/// Abort against completion while the `JoinHandle` is polled from another
/// thread: the handle sees exactly one outcome, consistent with the task.
#[test]
fn loom_task_abort_against_completion_against_remote_join() {
    loom::model(|| {
        let (ctx, notify) = worker();
        let ran_to_end = Arc::new(AtomicUsize::new(0));
        let r = ran_to_end.clone();
        let (jh, abort) = spawn_abortable(&ctx, async move {
            yield_now().await;
            r.fetch_add(1, Ordering::SeqCst);
            5usize
        });
        let aborter = thread::spawn(move || abort.abort());
        let joiner = thread::spawn(move || {
            let parker = std::sync::Arc::new(ThreadNotify(Notify::new()));
            let waker = Waker::from(parker.clone());
            let mut cx = TaskContext::from_waker(&waker);
            let mut jh = pin!(jh);
            loop {
                if let Poll::Ready(out) = jh.as_mut().poll(&mut cx) {
                    return out;
                }
                parker.0.wait();
            }
        });
        context::enter(&ctx, || run_until_idle(&ctx, &notify));
        aborter.join().unwrap();
        let out: Result<usize, JoinError> = joiner.join().unwrap();
        match out {
            Ok(v) => {
                assert_eq!(v, 5);
                assert_eq!(ran_to_end.load(Ordering::SeqCst), 1);
            }
            Err(e) => {
                assert!(e.is_cancelled());
                assert_eq!(ran_to_end.load(Ordering::SeqCst), 0);
            }
        }
        drop(ctx);
    });
}

/// A waker that outlives its worker: another thread wakes and drops it
/// while the worker shuts down (cancelling the task, closing its inbox,
/// dropping its core). The task and the worker's shared half are freed
/// exactly once, by whichever side lets go last.
#[test]
fn loom_task_waker_dropped_on_another_thread_after_shutdown() {
    loom::model(|| {
        let (ctx, _notify) = worker();
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let s = slot.clone();
        let jh = context::enter(&ctx, || {
            let jh = ctx
                .core
                .spawn_local(poll_fn(move |cx| {
                    *s.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                }))
                .ok()
                .unwrap();
            ctx.core.run(16);
            jh
        });
        let waker = slot.lock().unwrap().take().unwrap();
        let late = thread::spawn(move || {
            waker.wake_by_ref();
            drop(waker);
        });
        context::enter(&ctx, || ctx.core.shutdown());
        drop(ctx);
        let mut jh = jh;
        let out = Future::poll(std::pin::Pin::new(&mut jh), &mut TaskContext::from_waker(Waker::noop()));
        assert!(matches!(out, Poll::Ready(Err(ref e)) if e.is_cancelled()));
        drop(jh);
        late.join().unwrap();
    });
}

/// Two tasks of worker B are woken from worker A's thread: the wakes go
/// into A's outbox as one batch, and the flush that ends A's run of polls
/// pushes it to B's inbox while B drains and goes to sleep. B must see both
/// (a lost wake-up deadlocks the model: A waits for B before it exits, so
/// only the flush at the end of `run` can deliver them).
#[test]
fn loom_task_batched_wake_from_another_worker() {
    loom::model(|| {
        let (a_shared, _a_notify) = worker_shared(0);
        let (b_shared, b_notify) = worker_shared(1);
        let peers: Box<[Arc<WorkerShared>]> = Box::new([a_shared.clone(), b_shared.clone()]);
        let b = context_for(b_shared, peers.clone());
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
        let polls = Arc::new(AtomicUsize::new(0));
        let handles = context::enter(&b, || {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (w, p) = (wakers.clone(), polls.clone());
                    let mut first = true;
                    b.core
                        .spawn_local(poll_fn(move |cx| {
                            p.fetch_add(1, Ordering::SeqCst);
                            if std::mem::take(&mut first) {
                                w.lock().unwrap().push(cx.waker().clone());
                                Poll::Pending
                            } else {
                                Poll::Ready(7usize)
                            }
                        }))
                        .ok()
                        .unwrap()
                })
                .collect();
            b.core.run(16);
            handles
        });
        let taken: Vec<Waker> = std::mem::take(&mut *wakers.lock().unwrap());
        let b_done = Arc::new(Notify::new());
        let done = b_done.clone();
        let worker_a = thread::spawn(move || {
            let a = context_for(a_shared, peers);
            context::enter(&a, || {
                for waker in taken {
                    // Woken by value on worker A: into A's outbox...
                    waker.wake();
                }
                // ...which the end of A's run of polls flushes.
                a.core.run(16);
            });
            done.wait();
            drop(a);
        });
        context::enter(&b, || run_until_idle(&b, &b_notify));
        b_done.notify();
        worker_a.join().unwrap();
        for jh in handles {
            let out = Future::poll(
                std::pin::Pin::new(&mut { jh }),
                &mut TaskContext::from_waker(Waker::noop()),
            );
            assert!(matches!(out, Poll::Ready(Ok(7))));
        }
        assert_eq!(polls.load(Ordering::SeqCst), 4);
        drop(b);
    });
}
