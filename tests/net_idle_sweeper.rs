//! Regression: a stream registered while its runtime shuts down had its
//! idle sweeper's spawn refused, which left the thread's `sweeping` flag set
//! for good, so no later stream of that thread ever had its parked buffers
//! released. The flag now follows the sweeper's future (a guard), refused
//! or not.

#[path = "support/rt.rs"]
mod support;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use roost_net::TcpStream;
use support::watchdog;

#[test]
fn a_refused_sweeper_does_not_leave_the_thread_unswept() {
    watchdog(Duration::from_secs(60), "idle sweeper after a refused spawn", || {
        let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = peer.local_addr().unwrap();

        // Runtime A: a stream made in `block_on` while A drains. A task on
        // its worker holds the drain open until the stream exists.
        let rt_a = support::unpinned_runtime(1);
        let handle_a = rt_a.handle().clone();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let hold = rt_a.spawn(async move {
            let _ = release_rx.await;
        });
        drop(hold);
        let (inside_tx, inside_rx) = mpsc::channel();
        let shutdown = std::thread::spawn(move || {
            inside_rx.recv().unwrap();
            rt_a.shutdown_timeout(Duration::from_secs(30))
        });
        let refused_while_draining = handle_a.block_on(async {
            inside_tx.send(()).unwrap();
            while !handle_a.is_shutting_down() {
                roost_runtime::time::sleep(Duration::from_millis(1)).await;
            }
            let stream = TcpStream::connect(addr).await.unwrap();
            // Its sweeper could not be spawned, and the flag says so.
            let sweeping = roost_net::idle::__sweeping();
            drop(stream);
            release_tx.send(()).unwrap();
            !sweeping
        });
        assert!(refused_while_draining);
        let report = shutdown.join().unwrap();
        assert!(report.drained, "{report:?}");
        let _ = peer.accept().unwrap();

        // Runtime B on the same thread: its streams are swept again.
        let rt_b = support::unpinned_runtime(1);
        rt_b.block_on(async {
            roost_net::idle::set_idle_release(Duration::from_millis(20));
            let listener = roost_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let local = listener.local_addr().unwrap();
            let client = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(local).unwrap();
                c.write_all(b"ping").unwrap();
                let mut reply = [0; 4];
                c.read_exact(&mut reply).unwrap();
                // Hold the connection open until the server is done.
                let mut rest = Vec::new();
                let _ = c.read_to_end(&mut rest);
            });
            let (stream, _) = listener.accept().await.unwrap();
            assert!(roost_net::idle::__sweeping());
            let request = stream.recv().await.unwrap().unwrap();
            let mut reply = stream.alloc_send(request.len());
            reply.extend_from_slice(&request);
            stream.send(reply).await.unwrap();
            // The sent buffer parked in the TX slot; idle, it is released.
            assert!(stream.is_parked().1);
            while stream.is_parked() != (false, false) {
                roost_runtime::time::sleep(Duration::from_millis(5)).await;
            }
            drop(stream);
            client.join().unwrap();
        });
    });
}
