//! loom models of the inbox and its sleep/wake handshake.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p roost-runtime --lib --release loom`.
//!
//! The "worker" is the model's main thread: it drains, and when the inbox
//! lets it sleep it blocks on a loom `Notify` standing in for the
//! `mio::Waker` (sticky, like an eventfd, and allowed to wake spuriously).
//! A lost wake-up would leave it blocked forever, which loom reports as a
//! deadlock.

use std::ptr::NonNull;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Notify};
use loom::thread;

use crate::loom::cell::UnsafeCell;
use crate::sched::inbox::{Inbox, Linked, Push};

struct Node {
    link: UnsafeCell<*mut Node>,
    value: usize,
    // A loom Arc, so that a node that is never freed is reported as a leak.
    _token: Arc<()>,
}

// SAFETY: `link` is reserved for the inbox; `Node` holds a pointer, so its
// alignment is at least 4.
unsafe impl Linked for Node {
    fn link(&self) -> &UnsafeCell<*mut Node> {
        &self.link
    }
}

fn node(value: usize, token: &Arc<()>) -> NonNull<Node> {
    NonNull::from(Box::leak(Box::new(Node {
        link: UnsafeCell::new(std::ptr::null_mut()),
        value,
        _token: token.clone(),
    })))
}

fn free(node: NonNull<Node>) -> usize {
    // SAFETY: every node comes from `Box::leak` in `node` and is freed once,
    // by whoever took it out of the inbox (or got it back from a push).
    let node = unsafe { Box::from_raw(node.as_ptr()) };
    node.value
}

struct Worker {
    inbox: Inbox<Node>,
    unpark: Notify,
}

fn push(worker: &Worker, n: NonNull<Node>) -> bool {
    // SAFETY: a fresh node, in no inbox.
    match unsafe { worker.inbox.push(n) } {
        Push::Queued => true,
        Push::QueuedWake => {
            worker.unpark.notify();
            true
        }
        Push::Closed => {
            free(n);
            false
        }
    }
}

/// Two producers push while the worker drains and goes to sleep whenever
/// the inbox lets it: both nodes arrive, in a model where a lost wake-up
/// would deadlock.
#[test]
fn loom_inbox_push_against_drain_and_sleep() {
    loom::model(|| {
        let token = Arc::new(());
        let worker = Arc::new(Worker {
            inbox: Inbox::new(),
            unpark: Notify::new(),
        });
        let producers: Vec<_> = (1..=2)
            .map(|v| {
                let (w, t) = (worker.clone(), token.clone());
                thread::spawn(move || assert!(push(&w, node(v, &t))))
            })
            .collect();
        let (mut seen, mut sum) = (0, 0);
        loop {
            for n in worker.inbox.take_all() {
                sum += free(n);
                seen += 1;
            }
            if seen == 2 {
                break;
            }
            if worker.inbox.try_sleep() {
                worker.unpark.wait();
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(sum, 3);
    });
}

/// A nudge (the arena's drain notifier, a shutdown signal) carries no node
/// but must still get a sleeping worker to run a tick and see the flag set
/// before it.
#[test]
fn loom_inbox_nudge_wakes_a_sleeping_worker() {
    loom::model(|| {
        let worker = Arc::new(Worker {
            inbox: Inbox::new(),
            unpark: Notify::new(),
        });
        let work = Arc::new(AtomicBool::new(false));
        let (w, flag) = (worker.clone(), work.clone());
        let nudger = thread::spawn(move || {
            flag.store(true, Ordering::Relaxed);
            if w.inbox.nudge() {
                w.unpark.notify();
            }
        });
        loop {
            assert_eq!(worker.inbox.take_all().count(), 0, "nudges carry no node");
            if work.load(Ordering::Relaxed) {
                break;
            }
            if worker.inbox.try_sleep() {
                worker.unpark.wait();
            }
        }
        nudger.join().unwrap();
    });
}

/// A push racing with the worker closing its inbox either lands in the
/// final drain or is handed back to the pusher: never lost, never leaked.
#[test]
fn loom_inbox_push_against_close() {
    loom::model(|| {
        let token = Arc::new(());
        let worker = Arc::new(Worker {
            inbox: Inbox::new(),
            unpark: Notify::new(),
        });
        let (w, t) = (worker.clone(), token.clone());
        let producer = thread::spawn(move || push(&w, node(7, &t)));
        let drained: usize = worker.inbox.close().map(free).sum();
        let queued = producer.join().unwrap();
        assert_eq!(queued, drained == 7);
        assert!(worker.inbox.is_closed());
    });
}
