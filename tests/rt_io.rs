//! The reactor interface: registration, separate read and write waiters,
//! edge-triggered readiness cleared only after `WouldBlock`, deregistration
//! on drop.

#[path = "support/rt.rs"]
mod support;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use roost_runtime::io::Registration;
use roost_runtime::mio;

fn pair() -> (mio::net::UnixStream, mio::net::UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (mio::net::UnixStream::from_std(a), mio::net::UnixStream::from_std(b))
}

#[test]
fn registration_outside_a_worker_is_an_error() {
    let (a, _b) = pair();
    let err = Registration::new(a).unwrap_err();
    assert!(err.to_string().contains("outside a roost worker"));
}

#[test]
fn echo_across_two_registrations() {
    let rt = support::pinned_runtime(1);
    let echoed = rt.block_on_local(|| async {
        let (a, b) = pair();
        let a = Registration::new(a).unwrap();
        let b = Registration::new(b).unwrap();
        let server = roost_runtime::spawn_local(async move {
            let mut buf = [0u8; 64];
            loop {
                let n = b.read_io(|s| (&*s).read(&mut buf)).await.unwrap();
                if n == 0 {
                    return;
                }
                let mut sent = 0;
                while sent < n {
                    sent += b.write_io(|s| (&*s).write(&buf[sent..n])).await.unwrap();
                }
            }
        });
        let mut echoed = Vec::new();
        for i in 0..100u8 {
            a.write_io(|s| (&*s).write(&[i, i, i])).await.unwrap();
            let mut got = [0u8; 3];
            let mut have = 0;
            while have < 3 {
                have += a.read_io(|s| (&*s).read(&mut got[have..])).await.unwrap();
            }
            echoed.push(got[0]);
        }
        a.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
        server.await.unwrap();
        echoed
    });
    assert_eq!(echoed, (0..100).collect::<Vec<u8>>());
}

/// One task waits to read while another waits to write on the same
/// registration: each is woken by its own direction.
#[test]
fn read_and_write_waiters_are_separate() {
    let rt = support::pinned_runtime(1);
    let handle = rt.handle().clone();
    support::watchdog(Duration::from_secs(30), "two waiters", move || {
        handle.block_on_local(|| async {
            let (a, b) = pair();
            let a = Rc::new(Registration::new(a).unwrap());
            let (peer_tx, peer_rx) = std::sync::mpsc::channel();
            // Fill a's send buffer so that writing would block.
            let mut filled = 0usize;
            loop {
                match a.try_write_io(|s| (&*s).write(&[7u8; 65536])) {
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(!a.is_write_ready(), "WouldBlock cleared write readiness");
            assert!(a.is_read_ready(), "read readiness untouched by a write");
            let reader = {
                let a = a.clone();
                roost_runtime::spawn_local(async move {
                    let mut buf = [0u8; 16];
                    a.read_io(|s| (&*s).read(&mut buf)).await.unwrap()
                })
            };
            let writer = {
                let a = a.clone();
                roost_runtime::spawn_local(async move { a.write_io(|s| (&*s).write(b"tail")).await.unwrap() })
            };
            // Let both park on their own waiter.
            for _ in 0..3 {
                roost_runtime::yield_now().await;
            }
            assert!(!reader.is_finished() && !writer.is_finished());
            // The peer (a plain thread) first sends, which must wake only
            // the reader, then drains, which must wake the writer.
            std::thread::spawn(move || {
                let mut b = b;
                let _ = peer_rx.recv();
                b.write_all(b"ping").unwrap();
                let _ = peer_rx.recv();
                let mut sink = vec![0u8; 1 << 20];
                let mut drained = 0;
                // Everything, then the writer's "tail".
                while drained < filled + 4 {
                    match b.read(&mut sink) {
                        Ok(n) => drained += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                }
            });
            peer_tx.send(()).unwrap();
            assert_eq!(reader.await.unwrap(), 4);
            assert!(!writer.is_finished(), "a read event must not complete the write");
            peer_tx.send(()).unwrap();
            assert_eq!(writer.await.unwrap(), 4);
        })
    });
}

#[test]
fn drop_deregisters_and_into_inner_gives_the_source_back() {
    let rt = support::pinned_runtime(1);
    rt.block_on_local(|| async {
        let sources = || roost_runtime::Handle::current().metrics().workers[0].io_sources;
        let (a, b) = pair();
        let a = Registration::new(a).unwrap();
        let b = Registration::new(b).unwrap();
        roost_runtime::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(sources(), 2);
        drop(a);
        let b = b.into_inner().unwrap();
        roost_runtime::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(sources(), 0);
        // The source can be registered again (for example on another worker).
        let b = Registration::new(b).unwrap();
        drop(b);
    });
}
