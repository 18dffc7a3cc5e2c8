//! A panicking task is reported as a `JoinError`; its worker keeps going.

#[path = "support/rt.rs"]
mod support;

#[test]
fn panic_is_reported_as_join_error() {
    let rt = support::pinned_runtime(2);
    let err = rt.block_on(async {
        roost_runtime::spawn_on(1, async { panic!("task blew up") })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(err.to_string(), "task panicked: task blew up");
    let payload = err.into_panic();
    assert_eq!(*payload.downcast::<&str>().unwrap(), "task blew up");
}

#[test]
fn worker_survives_panics() {
    let rt = support::pinned_runtime(2);
    let results = rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..20 {
            let task = roost_runtime::spawn_on(i % 2, async move {
                if i % 3 == 0 {
                    panic!("panic number {i}");
                }
                i
            });
            out.push(task.await.map_err(|e| e.to_string()));
        }
        out
    });
    for (i, r) in results.into_iter().enumerate() {
        if i % 3 == 0 {
            assert_eq!(r.unwrap_err(), format!("task panicked: panic number {i}"));
        } else {
            assert_eq!(r.unwrap(), i);
        }
    }
    // Both workers are still alive and serving.
    let seen = rt.block_on(async {
        let a = roost_runtime::spawn_on(0, async { roost_runtime::current_worker() })
            .await
            .unwrap();
        let b = roost_runtime::spawn_on(1, async { roost_runtime::current_worker() })
            .await
            .unwrap();
        (a, b)
    });
    assert_eq!(seen, (Some(0), Some(1)));
}

#[test]
fn panic_of_a_detached_task_is_contained() {
    let rt = support::pinned_runtime(1);
    rt.block_on(async {
        drop(roost_runtime::spawn_local(async { panic!("nobody listens") }));
        roost_runtime::yield_now().await;
        roost_runtime::yield_now().await;
    });
    assert_eq!(rt.block_on(async { 5 }), 5);
}

#[test]
fn block_on_resumes_the_futures_panic() {
    let rt = support::pinned_runtime(1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { panic!("main future panicked") });
    }));
    let payload = caught.unwrap_err();
    assert_eq!(*payload.downcast::<&str>().unwrap(), "main future panicked");
    assert_eq!(rt.block_on(async { 1 }), 1, "the runtime is still usable");
}
