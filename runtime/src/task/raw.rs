//! The task allocation: a header every part of the runtime can use without
//! knowing the future's type, then the output slot, then the future.
//!
//! # Layout
//!
//! `TaskCell<F>` is `#[repr(C)]`: `Header`, then the output slot, then the
//! future. `OutputPrefix<T>` repeats the first two fields, so a
//! `JoinHandle<T>` reaches the output without knowing `F` (the offsets of a
//! `repr(C)` struct's leading fields depend only on those fields).
//!
//! # Who touches what
//!
//! - `queued` and `key` belong to the owning worker's thread only.
//! - The future is touched only by the owning worker while the task is not
//!   complete (or by the spawner, for a task refused before it was shared);
//!   it is dropped before `COMPLETE` is set.
//! - The output slot is written by the worker before `COMPLETE` (release) and
//!   afterwards read by whoever holds join interest (acquire); see `complete`.
//! - The join waker slot follows the `JOIN_WAKER` protocol in `state.rs`.

use std::alloc::Layout;
use std::cell::Cell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::mem::{align_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::state::{State, JOIN_INTEREST, JOIN_WAKER};
use super::waker;
use super::JoinError;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::Ordering;
use crate::loom::sync::Arc;
use crate::sched::node::{Node, NodeKind};
use crate::sched::WorkerShared;

/// `Header::key` of a task that is not in its worker's slab yet.
pub(crate) const UNREGISTERED: usize = usize::MAX;

/// The type-erased part of every task. See the module documentation.
///
/// The fields a remote wake touches (the inbox node, `state`, `owner`) come
/// first, in the first 32 bytes: with the allocation 16-byte aligned they
/// share one cache line, so a cross-core wake moves one line, not two. The
/// node is the first field, so a `*mut Header` is a `*mut Node` (`repr(C)`).
#[repr(C)]
pub(crate) struct Header {
    pub(crate) node: Node,
    pub(crate) state: State,
    /// The worker the task belongs to; kept alive by every task.
    pub(crate) owner: Arc<WorkerShared>,
    pub(crate) vtable: &'static Vtable,
    /// Key in the owner's slab, or `UNREGISTERED` (owner thread only).
    pub(crate) key: Cell<usize>,
    /// In the owner's run queue (owner thread only).
    pub(crate) queued: Cell<bool>,
    /// Distance from the start of the allocation to the cell (see `allocate`).
    alloc_offset: u8,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the `Cell` fields are touched only on the owner's thread (module
// docs); everything else is atomic or follows the state-word protocol.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    /// The task as an inbox node.
    pub(crate) fn as_node(ptr: NonNull<Header>) -> NonNull<Node> {
        ptr.cast()
    }

    /// # Safety
    ///
    /// `node` is the node of a task (`NodeKind::Task`).
    pub(crate) unsafe fn from_node(node: NonNull<Node>) -> NonNull<Header> {
        node.cast()
    }
}

/// Per-future-type operations.
pub(crate) struct Vtable {
    /// Polls the task (or, with `cancel`, drops its future as cancelled).
    /// Returns `true` once the task is complete.
    pub(crate) poll: unsafe fn(NonNull<Header>, cancel: bool) -> bool,
    /// Frees the allocation.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
}

type Output<T> = Option<Result<T, JoinError>>;

#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    output: UnsafeCell<Output<F::Output>>,
    future: UnsafeCell<Option<F>>,
}

/// The leading fields of every `TaskCell<F>` with `F::Output = T`.
#[repr(C)]
pub(crate) struct OutputPrefix<T> {
    header: Header,
    pub(crate) output: UnsafeCell<Output<T>>,
}

impl<F: Future> TaskCell<F> {
    const VTABLE: Vtable = Vtable {
        poll: poll::<F>,
        dealloc: dealloc::<F>,
    };
}

/// Tasks own whole pairs of cache lines.
const LINES: usize = 128;

/// The allocation that holds a `TaskCell<F>` on lines of its own: its size
/// rounded up to whole line pairs, plus one pair of slack to align it in.
fn block_layout<F: Future>() -> Layout {
    let align = LINES.max(align_of::<TaskCell<F>>());
    let size = size_of::<TaskCell<F>>().next_multiple_of(align) + align;
    Layout::from_size_align(size, align_of::<TaskCell<F>>()).expect("task layout")
}

/// Allocates a task; the caller owns the references `state` counts.
///
/// The cell starts on a 128-byte boundary and nothing else lives on its
/// lines. A task is written by its worker on every poll and by other cores
/// on every remote wake; sharing a line with a neighbour that another core
/// writes (a task of another worker allocated next to it, a channel block)
/// would make every poll pay for a line transfer. An aligned allocation
/// proper (`posix_memalign`) would cost more than the task itself, so the
/// cell is aligned by hand inside a slightly larger ordinary one.
pub(crate) fn allocate<F: Future>(future: F, owner: Arc<WorkerShared>, state: State) -> NonNull<Header> {
    let layout = block_layout::<F>();
    // SAFETY: the layout has a non-zero size.
    let base = unsafe { std::alloc::alloc(layout) };
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    let offset = base.align_offset(LINES.max(align_of::<TaskCell<F>>()));
    debug_assert!(offset < 256 && offset + size_of::<TaskCell<F>>() <= layout.size());
    // SAFETY: `offset` is below the slack, so the cell fits in the allocation.
    let cell = unsafe { base.add(offset) }.cast::<TaskCell<F>>();
    // SAFETY: `cell` is aligned and valid for writes of a `TaskCell<F>`.
    unsafe {
        cell.write(TaskCell {
            header: Header {
                node: Node::new(NodeKind::Task),
                state,
                owner,
                vtable: &TaskCell::<F>::VTABLE,
                key: Cell::new(UNREGISTERED),
                queued: Cell::new(false),
                alloc_offset: offset as u8,
                join_waker: UnsafeCell::new(None),
            },
            output: UnsafeCell::new(None),
            future: UnsafeCell::new(Some(future)),
        });
        NonNull::new_unchecked(cell).cast()
    }
}

/// The output slot of a task whose output type is `T`.
///
/// # Safety
///
/// `ptr` is a live task whose future's output type is `T`.
pub(crate) unsafe fn output_slot<'a, T>(ptr: NonNull<Header>) -> &'a UnsafeCell<Output<T>> {
    // SAFETY: per the contract, and the layout argument in the module docs.
    unsafe { &ptr.cast::<OutputPrefix<T>>().as_ref().output }
}

/// Drops one reference, freeing the task if it was the last.
///
/// # Safety
///
/// The caller owns one reference to the live task `ptr` and gives it up.
#[inline]
pub(crate) unsafe fn release(ptr: NonNull<Header>) {
    // SAFETY: live while we hold our reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec_n(1) {
        // SAFETY: that was the last reference: nobody else can reach the task.
        unsafe { (header.vtable.dealloc)(ptr) }
    }
}

/// # Safety
///
/// `ptr` is a live, not yet complete `TaskCell<F>`; the caller is its owner
/// (the owning worker, or the spawner of a task that was never shared).
unsafe fn poll<F: Future>(ptr: NonNull<Header>, cancel: bool) -> bool {
    // SAFETY: per the contract.
    let cell = unsafe { ptr.cast::<TaskCell<F>>().as_ref() };
    if cancel {
        let out = match drop_future(cell) {
            Ok(()) => Err(JoinError::cancelled()),
            Err(panic) => Err(panic),
        };
        // SAFETY: owner, future dropped.
        unsafe { complete(cell, out) };
        return true;
    }
    // A waker that borrows the caller's reference: it is never dropped.
    // SAFETY: the raw waker points at a live task with the task waker vtable.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(waker::raw_waker(ptr)) });
    let mut cx = Context::from_waker(&waker);
    let polled = cell.future.with_mut(|slot| {
        // SAFETY: only the owner touches the future; it is `Some` until the
        // task completes, and it never moves (the allocation is pinned in
        // place until freed).
        let future = unsafe { Pin::new_unchecked((*slot).as_mut().unwrap_unchecked()) };
        catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx)))
    });
    let out = match polled {
        Ok(Poll::Pending) => return false,
        Ok(Poll::Ready(value)) => match drop_future(cell) {
            Ok(()) => Ok(value),
            Err(panic) => {
                drop_quietly(value);
                Err(panic)
            }
        },
        Err(payload) => {
            // A second panic while dropping the future is swallowed: the
            // first one is what the join handle reports.
            let _ = drop_future(cell);
            Err(JoinError::panic(payload))
        }
    };
    // SAFETY: owner, future dropped.
    unsafe { complete(cell, out) };
    true
}

/// Drops the future in place, catching a panic from its destructor.
///
/// In place: the future is pinned, and a pinned value must be dropped where
/// it lives (a future holding an intrusive list node, such as tokio's
/// `Notified`, unlinks it by its address; moved out first, it would unlink
/// the wrong address and leave the list pointing at dropped memory).
fn drop_future<F: Future>(cell: &TaskCell<F>) -> Result<(), JoinError> {
    cell.future.with_mut(|slot| {
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller is the owner (see `poll`); the future is
            // dropped in place, once: the slot is marked empty below
            // without dropping it again, even if its destructor panicked.
            if let Some(future) = unsafe { (*slot).as_mut() } {
                // SAFETY: as above.
                unsafe { std::ptr::drop_in_place(future as *mut F) };
            }
        }));
        // SAFETY: the old value was dropped (or its drop unwound) above;
        // `write` does not drop it again.
        unsafe { std::ptr::write(slot, None) };
        dropped.map_err(JoinError::panic)
    })
}

fn drop_quietly<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// Stores the result and sets `COMPLETE`, then hands the output to whoever
/// must see it: the join handle (waking it), or nobody (dropping it here, on
/// the worker, since the output may be `!Send`).
///
/// # Safety
///
/// Called once, by the owner, after the future was dropped. The caller keeps
/// its own reference to the task across the call.
unsafe fn complete<F: Future>(cell: &TaskCell<F>, out: Result<F::Output, JoinError>) {
    let header = &cell.header;
    let before = header.state.load(Ordering::Acquire);
    let joined = before & JOIN_INTEREST != 0;
    if joined {
        // SAFETY: not complete yet: the output slot is the owner's.
        cell.output.with_mut(|slot| unsafe { *slot = Some(out) });
    } else {
        // Join interest never comes back: nobody will ask for it.
        drop_quietly(out);
    }
    let prev = header.state.complete();
    if !joined {
        return;
    }
    if prev & JOIN_INTEREST == 0 {
        // The handle went away between our load and `complete`; having seen
        // the task incomplete, it left the output to us.
        // SAFETY: no handle, and the task is ours until we release it.
        let out = cell.output.with_mut(|slot| unsafe { (*slot).take() });
        drop_quietly(out);
    } else if prev & JOIN_WAKER != 0 {
        // SAFETY: JOIN_WAKER was set when COMPLETE was: the handle will not
        // write the slot again, and reading it is ours.
        header.join_waker.with(|slot| {
            // SAFETY: as above.
            if let Some(w) = unsafe { &*slot } {
                w.wake_by_ref();
            }
        });
    }
}

/// # Safety
///
/// The last reference to a `TaskCell<F>` was just dropped.
unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<TaskCell<F>>().as_ptr();
    // SAFETY: made by `allocate`; nobody else can reach it any more.
    unsafe {
        debug_assert!((*cell).future.with(|f| (*f).is_none()));
        debug_assert!((*cell).output.with(|o| (*o).is_none()));
        let offset = usize::from((*cell).header.alloc_offset);
        std::ptr::drop_in_place(cell);
        std::alloc::dealloc(cell.cast::<u8>().sub(offset), block_layout::<F>());
    }
}
