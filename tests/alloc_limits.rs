//! Size classes, the memory limit and the global-allocator fallback.

#[path = "support/alloc.rs"]
mod support;

use std::thread;

use roost::alloc::{flush_returns, ArenaBytesMut, ArenaConfig, CHUNK_SIZE, CLASS_SIZES, MAX_BLOCK_SIZE};
use support::{settle, with_arena};

#[test]
fn every_size_class_and_the_sizes_between() {
    with_arena(ArenaConfig::new(), |monitor| {
        let mut sizes = vec![0, 1, 64, 511, 512, 513, 1500, 9000, 65_535, MAX_BLOCK_SIZE];
        sizes.extend(CLASS_SIZES);
        for size in sizes {
            let mut buf = ArenaBytesMut::with_capacity(size);
            assert!(buf.capacity() >= size);
            assert!(!buf.is_global());
            let expected = CLASS_SIZES.iter().copied().find(|&c| c >= size).unwrap();
            assert_eq!(buf.capacity(), expected);
            buf.extend_from_slice(&vec![0x5A; size]);
            assert!(buf.iter().all(|&b| b == 0x5A));
        }
        let stats = settle(&monitor);
        assert_eq!(stats.fallback_large + stats.fallback_limit, 0);
        assert_eq!(stats.in_use_bytes, 0);
    });
}

#[test]
fn over_the_limit_the_arena_degrades_and_counts() {
    let limit = 4 * CHUNK_SIZE;
    with_arena(ArenaConfig::new().memory_limit(limit), move |monitor| {
        let bufs: Vec<ArenaBytesMut> = (0..400).map(|_| ArenaBytesMut::with_capacity(16 * 1024)).collect();
        let global = bufs.iter().filter(|b| b.is_global()).count();
        let stats = monitor.stats();
        assert!(global > 0);
        assert_eq!(stats.fallback_limit, global as u64);
        assert!(stats.chunk_bytes <= limit as u64);
        // Every buffer works, wherever it came from, and frees anywhere.
        let remote = thread::spawn(move || {
            for mut b in bufs {
                b.extend_from_slice(b"written after the limit");
            }
            flush_returns();
        });
        remote.join().unwrap();
        let stats = settle(&monitor);
        assert_eq!(stats.in_use_bytes, 0);
        assert!(stats.chunk_bytes_high_water <= limit as u64);
        // Once blocks are home, the arena serves from them again.
        let again = ArenaBytesMut::with_capacity(16 * 1024);
        assert!(!again.is_global());
    });
}

#[test]
fn above_the_largest_class_goes_to_the_global_allocator() {
    with_arena(ArenaConfig::new(), |monitor| {
        let big = ArenaBytesMut::with_capacity(MAX_BLOCK_SIZE * 4);
        assert!(big.is_global());
        thread::spawn(move || drop(big)).join().unwrap();
        let stats = settle(&monitor);
        assert_eq!(stats.fallback_large, 1);
        assert_eq!(stats.block_bytes, 0);
    });
}
