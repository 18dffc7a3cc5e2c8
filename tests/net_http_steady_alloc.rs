//! Broke: hyper's HTTP/1 header read timeout cost one global allocation
//! per request (a boxed sleep, made at each request head and dropped once
//! it was read). With the server's per-connection header timer, a server
//! with the timeout calls the global allocator exactly as often per
//! keep-alive request as one without it (counted, not timed).

#[path = "support/http.rs"]
mod http;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::time::Duration;

use counting_alloc::CountingAllocator;
use roost::net::http::Server;
use roost::runtime::Runtime;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const WARM_UP: usize = 200;
const REQUESTS: usize = 2_000;

/// Global allocator calls of the server's worker per keep-alive `GET /`.
fn calls_per_request(rt: &Runtime, header_read_timeout: Option<Duration>) -> f64 {
    let builder = Server::builder().header_read_timeout(header_read_timeout);
    let server = rt.block_on(http::start(builder, http::Controls::new(1)));
    let addr: SocketAddr = server.local_addr();
    let stream = http::raw_client(addr);
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream);
    let get = |reader: &mut BufReader<std::net::TcpStream>| {
        reader
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nhost: roost\r\n\r\n")
            .unwrap();
        let res = http::read_response(reader).unwrap().expect("a response");
        assert_eq!((res.status, res.body.as_slice()), (200, &b"Hello, world!"[..]));
    };
    for _ in 0..WARM_UP {
        get(&mut reader);
    }
    let before = counting_alloc::calls();
    for _ in 0..REQUESTS {
        get(&mut reader);
    }
    let after = counting_alloc::calls();
    drop(reader);
    rt.block_on(server.shutdown(Duration::from_secs(60)));
    (after - before) as f64 / REQUESTS as f64
}

#[test]
fn the_header_read_timeout_costs_no_allocation_per_request() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .pin_workers(false)
        .on_thread_start(counting_alloc::count_this_thread)
        .build()
        .unwrap();
    let without = calls_per_request(&rt, None);
    let with = calls_per_request(&rt, Some(Duration::from_secs(30)));
    assert!(
        with <= without + 0.01,
        "{with:.3} global allocator calls per request with the header read timeout, {without:.3} without"
    );
}
