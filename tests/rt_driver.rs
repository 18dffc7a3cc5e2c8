//! The driver seam: `Builder::driver`, `ROOST_DRIVER`, the io_uring
//! driver's fallback to epoll (forced through the builder) and its metric,
//! and TCP, timers and cross-worker wakes on whichever driver a runtime got.

use std::io::{Read, Write};
use std::time::Duration;

use roost::net::{TcpListener, TcpStream};
use roost::runtime::{Driver, Runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime(driver: Option<Driver>, entries: Option<u32>) -> Runtime {
    let mut builder = Runtime::builder().worker_threads(2).pin_workers(false);
    if let Some(driver) = driver {
        builder = builder.driver(driver);
    }
    if let Some(entries) = entries {
        builder = builder.uring_entries(entries);
    }
    builder.build().expect("runtime")
}

/// An echo round trip through a roost listener and stream, a sleep (the
/// loop's wait with a timeout) and a wake from the other worker.
fn exercise(rt: &Runtime) {
    rt.block_on_local(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = roost::runtime::spawn_local(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            // Dropped here: the client must see the end of the stream.
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
        assert_eq!(
            client.read(&mut buf).await.unwrap(),
            0,
            "EOF after the server dropped its stream"
        );
        roost::time::sleep(Duration::from_millis(2)).await;
        let remote = roost::runtime::spawn_on(1, async { roost::runtime::current_worker() });
        assert_eq!(remote.await.unwrap(), Some(1));
    });
    // A plain client against a stream served by a worker (not the guest).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = rt.handle().spawn_on(0, async move {
        roost::runtime::spawn_local(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            buf
        })
        .await
        .unwrap()
    });
    let (mut peer, _) = listener.accept().unwrap();
    // A guard against a hang, not a measurement.
    peer.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 4];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    peer.write_all(b"pong").unwrap();
    assert_eq!(&rt.block_on(served).unwrap(), b"pong");
}

#[test]
fn the_uring_driver_runs_or_falls_back_with_its_metric() {
    let rt = runtime(Some(Driver::Uring), None);
    for w in &rt.handle().metrics().workers {
        // Either the ring, or epoll with the fallback said.
        assert_eq!(w.driver == Driver::Epoll, w.uring_fallback, "worker {}", w.index);
    }
    exercise(&rt);
}

#[test]
fn an_oversized_ring_forces_the_fallback_and_the_metric_says_so() {
    // The kernel refuses more than 32768 submission entries (EINVAL): the
    // same path as a kernel without io_uring.
    let rt = runtime(Some(Driver::Uring), Some(1 << 20));
    for w in &rt.handle().metrics().workers {
        assert_eq!(w.driver, Driver::Epoll, "worker {}", w.index);
        assert!(w.uring_fallback, "worker {}", w.index);
    }
    exercise(&rt);
}

#[test]
fn an_explicit_epoll_driver_is_kept() {
    let rt = runtime(Some(Driver::Epoll), None);
    for w in &rt.handle().metrics().workers {
        assert_eq!(
            (w.driver, w.uring_fallback),
            (Driver::Epoll, false),
            "worker {}",
            w.index
        );
    }
    exercise(&rt);
}

#[test]
fn the_environment_picks_the_driver_when_the_builder_does_not() {
    // Whatever this test process runs under (CI runs the suites under both).
    let wanted = Driver::from_env()
        .expect("ROOST_DRIVER is valid")
        .unwrap_or(Driver::Epoll);
    let rt = runtime(None, None);
    for w in &rt.handle().metrics().workers {
        match wanted {
            Driver::Uring => assert_eq!(w.driver == Driver::Epoll, w.uring_fallback),
            _ => assert_eq!((w.driver, w.uring_fallback), (Driver::Epoll, false)),
        }
    }
    exercise(&rt);
}

#[test]
fn driver_names_parse_and_bad_ones_are_refused() {
    assert_eq!("epoll".parse::<Driver>().unwrap(), Driver::Epoll);
    assert_eq!("uring".parse::<Driver>().unwrap(), Driver::Uring);
    let err = "kqueue".parse::<Driver>().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("ROOST_DRIVER"), "{err}");
}

/// On a Linux kernel with io_uring enabled for this process the ring is
/// really used (checked where `/proc/sys/kernel/io_uring_disabled` says 0
/// and a ring can be made, so that the fallback test above is not the only
/// path exercised).
#[cfg(target_os = "linux")]
#[test]
fn where_the_kernel_allows_it_the_ring_is_used() {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").map_or(true, |s| s.trim() == "0");
    // SAFETY: io_uring_setup with a null parameter block fails with EFAULT
    // where io_uring exists and is allowed, and with ENOSYS or EPERM where
    // it is not; it creates nothing either way.
    let res = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, std::ptr::null_mut::<u8>()) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    if !enabled || res != -1 || errno != Some(libc::EFAULT) {
        eprintln!("io_uring is not available to this process: nothing to check");
        return;
    }
    let rt = runtime(Some(Driver::Uring), None);
    for w in &rt.handle().metrics().workers {
        assert_eq!(
            (w.driver, w.uring_fallback),
            (Driver::Uring, false),
            "worker {}",
            w.index
        );
    }
}

/// Regression: on the uring driver, a stream dropped while its multishot
/// poll was posting a completion stayed open (the removal failed with
/// `EALREADY` and the poll kept the socket), so the peer never saw EOF.
#[test]
fn on_the_uring_driver_every_dropped_stream_closes() {
    let rt = runtime(Some(Driver::Uring), None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for round in 0..64u8 {
        let served = rt.handle().spawn_on(usize::from(round % 2), async move {
            roost::runtime::spawn_local(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                // Writable at once: the poll posts a completion right as
                // the stream is dropped.
                s.write_all(&[round]).await.unwrap();
            })
            .await
            .unwrap()
        });
        let (mut peer, _) = listener.accept().unwrap();
        // A guard against a hang, not a measurement.
        peer.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).expect("EOF from the dropped stream");
        assert_eq!(got, [round]);
        rt.block_on(served).unwrap();
    }
}
