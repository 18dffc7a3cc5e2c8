//! Where zero-copy sends start to pay on the io_uring driver: one stream
//! sends 256 MiB in buffers of one size to a client thread that reads and
//! discards, with every send copied (`SEND`) and with every send zero-copy
//! (`SEND_ZC`), for several buffer sizes. Prints the throughput and the
//! process's CPU time per MiB (server and client together) of each.
//!
//! `cargo run --release -p roost-benches --bin zero_copy` (Linux with
//! io_uring; on loopback the kernel copies zero-copy sends anyway, so this
//! measures what the notification and page pinning cost there).

use std::io::Read;
use std::time::{Duration, Instant};

use roost::net::TcpListener;
use roost::runtime::{Driver, Runtime};

const TOTAL: usize = 256 << 20;

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One run: (MiB/s, CPU ms per MiB).
fn run(size: usize, zero_copy: bool) -> (f64, f64) {
    let rt = Runtime::builder()
        .worker_threads(1)
        .pin_workers(false)
        .driver(Driver::Uring)
        .uring_zero_copy_above(if zero_copy { 0 } else { usize::MAX })
        .build()
        .expect("runtime");
    assert!(
        !rt.handle().metrics().workers[0].uring_fallback,
        "io_uring is not available here"
    );
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = rt.handle().spawn_on(0, async move {
        roost::runtime::spawn_local(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let pattern = vec![0x42u8; size];
            let mut sent = 0;
            while sent < TOTAL {
                let mut buf = stream.alloc_send(size);
                buf.extend_from_slice(&pattern);
                stream.send(buf).await.unwrap();
                sent += size;
            }
        })
        .await
        .unwrap()
    });
    let addr = addr_rx.recv().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut sink = vec![0u8; 256 << 10];
    let mut got = 0;
    while got < TOTAL {
        let n = client.read(&mut sink).unwrap();
        assert!(n > 0, "the server closed early");
        got += n;
    }
    let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu);
    rt.block_on(server).unwrap();
    let mib = (TOTAL >> 20) as f64;
    (mib / elapsed.as_secs_f64(), cpu.as_secs_f64() * 1e3 / mib)
}

fn main() {
    println!(
        "{:>8} {:>14} {:>14} {:>16} {:>16}",
        "size", "copy MiB/s", "zc MiB/s", "copy CPU ms/MiB", "zc CPU ms/MiB"
    );
    for size in [4 << 10, 16 << 10, 32 << 10, 64 << 10] {
        // Interleaved, median of three each.
        let mut copy = Vec::new();
        let mut zc = Vec::new();
        for _ in 0..3 {
            copy.push(run(size, false));
            zc.push(run(size, true));
        }
        let median = |v: &mut Vec<(f64, f64)>, f: fn(&(f64, f64)) -> f64| {
            let mut x: Vec<f64> = v.iter().map(f).collect();
            x.sort_by(f64::total_cmp);
            x[1]
        };
        println!(
            "{:>8} {:>14.0} {:>14.0} {:>16.3} {:>16.3}",
            size,
            median(&mut copy, |r| r.0),
            median(&mut zc, |r| r.0),
            median(&mut copy, |r| r.1),
            median(&mut zc, |r| r.1)
        );
    }
}
