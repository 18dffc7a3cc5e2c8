//! `block_on` called from inside the runtime is an error, not a deadlock.

#[path = "support/rt.rs"]
mod support;

use std::time::Duration;

use roost_runtime::BlockOnError;

#[test]
fn try_block_on_inside_a_worker_returns_an_error() {
    let rt = support::runtime(2);
    let handle = rt.handle().clone();
    let inner = support::watchdog(Duration::from_secs(30), "nested block_on", move || {
        let h = handle.clone();
        handle.block_on(async move { h.try_block_on(async { 1 }) })
    });
    assert_eq!(inner, Err(BlockOnError::InsideRuntime));
    assert!(BlockOnError::InsideRuntime.to_string().contains("worker thread"));
}

#[test]
fn block_on_inside_a_worker_panics_with_a_clear_message() {
    let rt = support::runtime(2);
    let handle = rt.handle().clone();
    let err = support::watchdog(Duration::from_secs(30), "nested block_on", move || {
        let h = handle.clone();
        // On worker 1, so that worker 0 (where block_on would send the
        // future) is free: a naive block_on would not even deadlock here,
        // and must still refuse.
        let task = handle.spawn_on(1, async move { h.block_on(async { 1 }) });
        handle.block_on(task).unwrap_err()
    });
    assert!(err.is_panic());
    let msg = err.to_string();
    assert!(msg.contains("block_on called from a roost worker thread"), "{msg}");
}

#[test]
fn block_on_from_a_foreign_runtime_worker_is_refused_too() {
    let a = support::runtime(1);
    let b = support::runtime(1);
    let hb = b.handle().clone();
    let inner = a.block_on(async move { hb.try_block_on(async { 2 }) });
    assert_eq!(inner, Err(BlockOnError::InsideRuntime));
}

#[test]
fn block_on_after_shutdown_is_an_error() {
    let rt = support::runtime(1);
    let handle = rt.handle().clone();
    rt.shutdown_timeout(Duration::from_millis(10));
    assert_eq!(handle.try_block_on(async { 3 }), Err(BlockOnError::Shutdown));
}
