//! Libraries that call tokio's runtime internally work inside roost tasks:
//! every roost event loop enters a background tokio context (unless the
//! builder turns it off).

use std::time::Duration;

use roost::io::{AsyncReadExt, AsyncWriteExt};

#[roost::test]
async fn tokio_time_sleep_and_timeout_inside_a_roost_task() {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let fast = tokio::time::timeout(Duration::from_secs(30), async { 7 }).await;
    assert_eq!(fast.unwrap(), 7);
    let slow = tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
    assert!(slow.is_err(), "tokio's timeout fired inside a roost task");
    // And from a task spawned on roost, not only the root.
    let inner = roost::spawn(async {
        tokio::time::timeout(Duration::from_millis(1), std::future::pending::<()>())
            .await
            .is_err()
    });
    assert!(inner.await.unwrap());
}

#[roost::test(worker_threads = 2)]
async fn tokio_spawn_inside_a_roost_task_runs_and_wakes_it() {
    // On another roost worker, too.
    let on_worker_1 = roost::spawn_on(1, async {
        let task = tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            std::thread::current().name().map(str::to_owned)
        });
        task.await.unwrap()
    });
    let name = on_worker_1.await.unwrap().unwrap();
    assert!(name.starts_with("roost-tokio-compat"), "{name}");
    let here = tokio::spawn(async { 40 + 2 }).await.unwrap();
    assert_eq!(here, 42);
}

#[roost::test]
async fn tokio_net_inside_a_roost_task() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
    });
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"hello");
    server.await.unwrap();
}

/// Turned off, tokio's runtime calls fail as they would outside tokio
/// (a panic in the task, reported as a `JoinError`), and roost's own timers
/// still work.
#[test]
fn tokio_compat_off_gives_tokios_own_error() {
    roost::runtime::Builder::new()
        .worker_threads(1)
        .pin_workers(false)
        .tokio_compat(false)
        .run(async {
            let err = roost::spawn(async { tokio::time::sleep(Duration::from_millis(1)).await })
                .await
                .unwrap_err();
            assert!(err.is_panic());
            let msg = err.to_string();
            assert!(msg.contains("no reactor running") || msg.contains("runtime"), "{msg}");
            roost::time::sleep(Duration::from_millis(1)).await;
        })
        .unwrap();
}

#[roost::test]
async fn roost_spawn_in_a_task_tokio_spawned_says_why_it_cannot() {
    // What a handler served by a tokio-based server (tonic's
    // transport::Server) on the compat thread runs into.
    let joined = tokio::spawn(async {
        drop(roost::spawn(async {}));
    })
    .await;
    let panic = joined.unwrap_err().into_panic();
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(message.contains("tokio-compat thread"), "{message}");
    assert!(message.contains("roost::net::grpc"), "{message}");
}
