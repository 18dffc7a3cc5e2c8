//! Steady-state allocations: with a counting global allocator, 64
//! connections x 10,000 round trips of 64 B on `examples/rpc.rs`'s server.
//! After warm-up, the server's worker threads call the global allocator
//! exactly zero times (counted, not timed).

#[path = "support/net.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;

use roost::net::ListenOptions;
use roost::runtime::Runtime;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CONNECTIONS: usize = 64;
const ROUND_TRIPS: usize = 10_000;
const WARM_UP: usize = 1_000;
const PAYLOAD: usize = 64;

#[test]
fn no_global_allocation_per_round_trip_on_the_server() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .pin_workers(false)
        .on_thread_start(counting_alloc::count_this_thread)
        .build()
        .unwrap();
    let server = support::rpc_server(&rt, ListenOptions::new());
    let addr = server.local_addr();
    let warmed = Arc::new(Barrier::new(CONNECTIONS + 1));
    let measured = Arc::new(Barrier::new(CONNECTIONS + 1));
    // Connections close only after the count is read: closing frees
    // per-connection state, which is not a per-round-trip cost.
    let finished = Arc::new(Barrier::new(CONNECTIONS + 1));
    let closing = Arc::new(Barrier::new(CONNECTIONS + 1));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (warmed, measured) = (warmed.clone(), measured.clone());
            let (finished, closing) = (finished.clone(), closing.clone());
            thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_nodelay(true).unwrap();
                let mut frame = [0u8; 4 + PAYLOAD];
                frame[..4].copy_from_slice(&(PAYLOAD as u32).to_be_bytes());
                let mut reply = [0u8; 4 + PAYLOAD];
                for round in 0..ROUND_TRIPS {
                    if round == WARM_UP {
                        warmed.wait();
                        measured.wait();
                    }
                    frame[4..].fill((round + i) as u8);
                    c.write_all(&frame).unwrap();
                    c.read_exact(&mut reply).unwrap();
                    assert_eq!(reply, frame);
                }
                finished.wait();
                closing.wait();
            })
        })
        .collect();
    warmed.wait();
    let before = counting_alloc::calls();
    measured.wait();
    finished.wait();
    let after = counting_alloc::calls();
    closing.wait();
    for c in clients {
        c.join().unwrap();
    }
    let per_round_trip = (after - before) as f64 / (CONNECTIONS * (ROUND_TRIPS - WARM_UP)) as f64;
    assert_eq!(
        after - before,
        0,
        "the server called the global allocator {} times in {} round trips ({per_round_trip} per round trip)",
        after - before,
        CONNECTIONS * (ROUND_TRIPS - WARM_UP)
    );
}
