//! `examples/rpc.rs` framing on a real socket: frames split across reads
//! are reassembled, several frames in one read are all answered, and a
//! length prefix over the limit closes the connection instead of making the
//! server buffer it.

#[path = "support/net.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use roost::net::ListenOptions;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

#[test]
fn frames_split_and_batched_are_answered_and_oversized_ones_refused() {
    let rt = support::unpinned_runtime(1);
    let server = support::rpc_server(&rt, ListenOptions::new());
    let mut c = TcpStream::connect(server.local_addr()).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();

    // One frame written a byte at a time, with pauses so that the server
    // sees many short reads.
    let one = frame(b"split across reads");
    for b in &one {
        c.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut got = vec![0u8; one.len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(got, one);

    // Three frames and half of a fourth in one write, then the rest.
    let frames: Vec<Vec<u8>> = (0..4u8).map(|i| frame(&[i; 100])).collect();
    let all: Vec<u8> = frames.concat();
    let cut = all.len() - 50;
    c.write_all(&all[..cut]).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    c.write_all(&all[cut..]).unwrap();
    let mut got = vec![0u8; all.len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(got, all);

    // A prefix over the limit: the server ends the connection.
    c.write_all(&((support::rpc::MAX_FRAME as u32) + 1).to_be_bytes())
        .unwrap();
    let mut rest = Vec::new();
    match c.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "no reply to an oversized frame"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
    drop(server);
}
