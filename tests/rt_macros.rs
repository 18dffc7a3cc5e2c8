//! `#[roost::test]` (and through it `#[roost::main]`'s expansion): the body
//! runs on worker 0 of a fresh runtime with the options given, may hold
//! `!Send` values, and keeps the function's attributes and return type.

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;

// A renamed dependency, for the `crate = ".."` option.
extern crate roost as renamed_roost;

#[roost::test]
async fn an_rc_lives_across_awaits_and_local_tasks() {
    let shared = Rc::new(Cell::new(1));
    roost::task::yield_now().await;
    let inner = shared.clone();
    roost::spawn(async move {
        roost::task::yield_now().await;
        inner.set(inner.get() + 1);
    })
    .await
    .unwrap();
    assert_eq!(shared.get(), 2);
}

#[roost::test]
async fn the_body_runs_on_worker_zero_of_one_worker() {
    assert_eq!(roost::runtime::current_worker(), Some(0));
    assert_eq!(roost::runtime::worker_count(), Some(1));
}

#[roost::test(worker_threads = 2)]
async fn worker_threads_sets_the_worker_count() {
    assert_eq!(roost::runtime::worker_count(), Some(2));
    assert_eq!(roost::runtime::current_worker(), Some(0));
    let there = roost::spawn_on(1, async { roost::runtime::current_worker() });
    assert_eq!(there.await.unwrap(), Some(1));
}

#[roost::test(worker_threads = 2, pin_workers = false)]
async fn options_combine() {
    assert_eq!(roost::runtime::worker_count(), Some(2));
}

#[roost::test(flavor = "current_thread")]
async fn tokio_current_thread_flavor_is_one_worker() {
    assert_eq!(roost::runtime::worker_count(), Some(1));
}

#[roost::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_multi_thread_flavor_takes_worker_threads() {
    assert_eq!(roost::runtime::worker_count(), Some(2));
}

#[roost::test]
async fn a_test_may_return_a_non_send_error() -> Result<(), Box<dyn Error>> {
    let n: u32 = "42".parse()?;
    roost::task::yield_now().await;
    assert_eq!(n, 42);
    Ok(())
}

#[roost::test]
#[should_panic = "the body's own panic"]
async fn the_body_s_panic_fails_the_test() {
    roost::task::yield_now().await;
    panic!("the body's own panic");
}

#[roost::test]
async fn an_early_return_leaves_the_body() -> Result<(), String> {
    if roost::runtime::current_worker() == Some(0) {
        return Ok(());
    }
    Err("not on worker 0".into())
}

#[renamed_roost::test(crate = "renamed_roost")]
async fn a_renamed_crate_is_named_by_the_crate_option() {
    assert_eq!(renamed_roost::runtime::worker_count(), Some(1));
}

/// Doc comments and lint attributes stay on the function.
#[roost::test]
#[allow(clippy::bool_assert_comparison)]
async fn attributes_are_kept() {
    assert_eq!(true, roost::runtime::current_worker().is_some());
}
