//! `JoinSet`: a set of tasks awaited in the order they finish.
//!
//! # Invariants
//!
//! - Each entry keeps its own waker, which pushes the entry's key on the
//!   shared ready list and wakes whoever waits in `join_next`. Only entries
//!   on that list are polled, so a `join_next` costs work proportional to
//!   the tasks that made progress, not to the size of the set.
//! - A new entry starts on the ready list (it must be polled once to
//!   register its waker). A key may be listed twice, or outlive its entry
//!   (the slab then reuses it): either costs one extra poll of a pending
//!   handle, never a lost or wrong result, because an entry leaves the set
//!   only when its own handle returned `Ready`.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use crate::task::{JoinError, JoinHandle};

#[derive(Default)]
struct ReadyList {
    keys: VecDeque<usize>,
    waiter: Option<Waker>,
}

#[derive(Default)]
struct Ready(Mutex<ReadyList>);

impl Ready {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReadyList> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, key: usize) {
        let waiter = {
            let mut list = self.lock();
            list.keys.push_back(key);
            list.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

struct EntryWaker {
    key: usize,
    ready: Arc<Ready>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.ready.push(self.key);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.push(self.key);
    }
}

/// A collection of tasks, awaited in the order they complete (tokio's
/// `JoinSet`).
///
/// Dropping the set aborts every task still in it. [`spawn`](Self::spawn)
/// runs the task on the current worker, as [`crate::spawn`] does.
///
/// # Examples
///
/// ```
/// use roost_runtime::task::JoinSet;
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(2).pin_workers(false).build().unwrap();
/// let total = rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     set.spawn_on(1, async { 1000 });
///     let mut total = 0;
///     while let Some(res) = set.join_next().await {
///         total += res.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 285 + 1000);
/// ```
pub struct JoinSet<T> {
    tasks: Slab<(JoinHandle<T>, Waker)>,
    ready: Arc<Ready>,
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            tasks: Slab::new(),
            ready: Arc::default(),
        }
    }

    /// The number of tasks in the set (finished ones included until they
    /// are joined).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Adds a task that was spawned elsewhere.
    pub fn insert(&mut self, handle: JoinHandle<T>) {
        let entry = self.tasks.vacant_entry();
        let key = entry.key();
        let waker = Waker::from(Arc::new(EntryWaker {
            key,
            ready: self.ready.clone(),
        }));
        entry.insert((handle, waker));
        self.ready.push(key);
    }

    /// Spawns `future` on the current worker (it need not be `Send`) and
    /// adds it to the set.
    ///
    /// # Panics
    ///
    /// As [`crate::spawn`]: outside a roost worker or `block_on`.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> crate::AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.add(crate::spawn(future))
    }

    /// The same as [`spawn`](Self::spawn).
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> crate::AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.add(crate::spawn_local(future))
    }

    /// Spawns a `Send` future on worker `worker` and adds it to the set.
    ///
    /// # Panics
    ///
    /// As [`crate::spawn_on`].
    #[track_caller]
    pub fn spawn_on<F>(&mut self, worker: usize, future: F) -> crate::AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.add(crate::spawn_on(worker, future))
    }

    /// Runs `f` on the blocking pool and adds it to the set.
    ///
    /// # Panics
    ///
    /// As [`crate::task::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> crate::AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.add(crate::task::spawn_blocking(f))
    }

    fn add(&mut self, handle: JoinHandle<T>) -> crate::AbortHandle {
        let abort = handle.abort_handle();
        self.insert(handle);
        abort
    }

    /// Waits for the next task to finish and returns its result; `None`
    /// once the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The result of a task that has finished already, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let waker = Waker::noop();
        match self.poll_join_next(&mut Context::from_waker(waker)) {
            Poll::Ready(out) => out,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task (see [`join_next`](Self::join_next)).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        loop {
            let next = {
                let mut list = self.ready.lock();
                let next = list.keys.pop_front();
                if next.is_none() {
                    if self.tasks.is_empty() {
                        return Poll::Ready(None);
                    }
                    list.waiter = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                next
            };
            let Some(key) = next else { continue };
            let Some((handle, waker)) = self.tasks.get_mut(key) else {
                continue;
            };
            let mut entry_cx = Context::from_waker(waker);
            if let Poll::Ready(out) = Pin::new(handle).poll(&mut entry_cx) {
                self.tasks.remove(key);
                return Poll::Ready(Some(out));
            }
        }
    }

    /// Waits for every task and returns their outputs, in the order they
    /// finished.
    ///
    /// # Panics
    ///
    /// Resumes the panic of a task that panicked (the others are aborted
    /// when the set drops).
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("JoinSet::join_all: {e}"),
            }
        }
        out
    }

    /// Aborts every task; they stay in the set until joined (as cancelled,
    /// unless they finished first).
    pub fn abort_all(&mut self) {
        for (_, (handle, _)) in &self.tasks {
            handle.abort();
        }
    }

    /// Removes every task from the set without aborting it.
    pub fn detach_all(&mut self) {
        self.tasks.clear();
        self.ready.lock().keys.clear();
    }

    /// Aborts every task and waits for them all to finish.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
