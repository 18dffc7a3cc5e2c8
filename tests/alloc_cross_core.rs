//! Buffers that cross threads go home to the arena that allocated them.

#[path = "support/alloc.rs"]
mod support;

use std::sync::{mpsc, Arc, Barrier};
use std::thread;

use roost::alloc::{drain_returns, flush_returns, Arena, ArenaBytesMut, ArenaConfig, CLASS_SIZES};
use support::{settle, with_arena};

#[test]
fn buffers_cross_both_ways_and_come_home() {
    let (to_b, from_a) = mpsc::channel::<ArenaBytesMut>();
    let (to_a, from_b) = mpsc::channel::<ArenaBytesMut>();
    let rounds = 2_000;
    let b = thread::spawn(move || {
        let arena_b = Arena::current();
        for i in 0..rounds {
            let got = from_a.recv().unwrap();
            assert_eq!(got[0], i as u8);
            drop(got); // remote free into A's arena
            let mut mine = ArenaBytesMut::with_capacity(CLASS_SIZES[i % CLASS_SIZES.len()]);
            mine.extend_from_slice(&[(i as u8).wrapping_add(1)]);
            to_a.send(mine).unwrap();
        }
        flush_returns();
        arena_b
    });
    let arena_a = Arena::current();
    for i in 0..rounds {
        let mut buf = ArenaBytesMut::with_capacity(CLASS_SIZES[i % CLASS_SIZES.len()]);
        buf.extend_from_slice(&[i as u8]);
        to_b.send(buf).unwrap();
        let back = from_b.recv().unwrap();
        assert_eq!(back[0], (i as u8).wrapping_add(1));
    }
    // B's last buffers are dropped here, on A: they go home to B's arena,
    // which is abandoned once B exits; the last of them frees it.
    let arena_b = b.join().unwrap();
    flush_returns();
    let a = settle(&arena_a);
    assert_eq!(a.in_use_bytes, 0);
    assert!(a.returns_received > 0);
    assert_eq!(a.returns_received + a.local_frees, a.allocations);
    let b = arena_b.stats();
    assert!(
        b.released,
        "B's arena must be freed once its last block came home: {b:?}"
    );
}

#[test]
fn eight_threads_free_into_one_arena_at_once() {
    with_arena(ArenaConfig::new().return_cap(1 << 16), |monitor| {
        let threads = 8;
        let per_thread = 3_000;
        let barrier = Arc::new(Barrier::new(threads + 1));
        let mut handles = Vec::new();
        for t in 0..threads {
            let bufs: Vec<ArenaBytesMut> = (0..per_thread)
                .map(|i| {
                    let mut b = ArenaBytesMut::with_capacity(if i % 2 == 0 { 2048 } else { 512 });
                    b.extend_from_slice(&[t as u8; 8]);
                    b
                })
                .collect();
            let barrier = barrier.clone();
            handles.push(thread::spawn(move || {
                barrier.wait();
                for b in bufs {
                    assert_eq!(&b[..], &[t as u8; 8]);
                }
                flush_returns();
            }));
        }
        barrier.wait();
        // Drain while they free, then once more after they are done.
        let mut drained = 0;
        while handles.iter().any(|h| !h.is_finished()) {
            drained += drain_returns();
            thread::yield_now();
        }
        for h in handles {
            h.join().unwrap();
        }
        drained += drain_returns();
        assert_eq!(drained, threads * per_thread);
        let stats = settle(&monitor);
        assert_eq!(stats.returns_received, (threads * per_thread) as u64);
        assert_eq!(stats.in_use_bytes, 0);
        assert_eq!(stats.return_list_blocks, 0);
    });
}

#[test]
fn thread_exit_with_buffers_outstanding_is_safe() {
    let (tx, rx) = mpsc::channel();
    let owner = thread::spawn(move || {
        let monitor = Arena::current();
        let bufs: Vec<ArenaBytesMut> = (0..1_000)
            .map(|i| ArenaBytesMut::copy_from_slice(&[i as u8; 64]))
            .collect();
        let frozen: Vec<_> = bufs.into_iter().map(|b| b.freeze()).collect();
        tx.send((monitor, frozen)).unwrap();
    });
    let (monitor, frozen) = rx.recv().unwrap();
    owner.join().unwrap();
    assert!(monitor.stats().abandoned);
    // The memory is still valid, shared and readable from many threads.
    let frozen = Arc::new(frozen);
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let frozen = frozen.clone();
            thread::spawn(move || {
                let clones: Vec<_> = frozen.iter().map(|b| b.slice(1..)).collect();
                for (i, c) in clones.iter().enumerate() {
                    assert!(c.iter().all(|&x| x == i as u8));
                }
                drop(clones);
                flush_returns();
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    assert!(!monitor.stats().released);
    drop(frozen);
    flush_returns();
    let stats = monitor.stats();
    assert!(stats.released, "{stats:?}");
}
