//! The rpc example's frame parser (`examples/rpc.rs`, included as it is):
//! a byte stream of 4-byte big-endian length-prefixed frames, cut into
//! reads, pushed through `Frames::push` as the server's connection loop
//! does.
//!
//! Input: byte 0 chooses how the rest is cut into reads (0: one read; else
//! read lengths from 1 to that byte, from a small generator seeded by it);
//! the rest is the stream.
//!
//! Checked against a reference parser of the whole stream: after every read
//! the parser hands out exactly the frames that read completes, whole and in
//! order, or fails with `InvalidData` exactly when a complete prefix
//! announces more than `MAX_FRAME`; it never panics. At the end the arena
//! has every block back.

#![no_main]

#[path = "../../examples/rpc.rs"]
#[allow(dead_code)]
mod rpc;

use std::io;

use libfuzzer_sys::fuzz_target;
use roost_alloc::{Arena, ArenaBytesMut};

/// What the reference parser says the stream so far completes past
/// `emitted`: the end of the last complete frame, or the error.
fn reference(stream: &[u8], emitted: usize) -> Result<usize, ()> {
    let mut at = emitted;
    while stream.len() - at >= rpc::PREFIX {
        let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        if len > rpc::MAX_FRAME {
            return Err(());
        }
        if at + rpc::PREFIX + len > stream.len() {
            break;
        }
        at += rpc::PREFIX + len;
    }
    Ok(at)
}

/// Read lengths: a xorshift generator seeded by `split`, lengths in
/// `1..=split`.
struct Reads {
    state: u32,
    max: usize,
}

impl Iterator for Reads {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        Some(1 + self.state as usize % self.max)
    }
}

fn run(data: &[u8]) {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    assert_eq!(
        rpc::complete_frames(stream).map_err(|_| ()),
        reference(stream, 0),
        "complete_frames over the whole stream"
    );
    let arena = Arena::current();
    let mut frames = rpc::Frames::default();
    let mut reads = Reads {
        state: 0x9e37_79b9 ^ u32::from(split),
        max: usize::from(split).max(1),
    };
    let mut received = 0;
    let mut emitted = 0;
    while received < stream.len() {
        let n = if split == 0 {
            stream.len()
        } else {
            reads.next().unwrap().min(stream.len() - received)
        };
        let read = ArenaBytesMut::copy_from_slice(&stream[received..received + n]);
        received += n;
        let expected = reference(&stream[..received], emitted);
        match (frames.push(read), expected) {
            (Ok(None), Ok(end)) => assert_eq!(end, emitted, "the read completed frames, none came out"),
            (Ok(Some(out)), Ok(end)) => {
                assert!(end > emitted, "frames came out that the read did not complete");
                assert_eq!(&out[..], &stream[emitted..end], "frames out of order or cut");
                emitted = end;
            }
            (Err(e), Err(())) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                // The connection ends here, as handle_connection's does.
                break;
            }
            (got, want) => panic!("parser gave {got:?}, reference {want:?} at {received} bytes"),
        }
    }
    drop(frames);
    let stats = arena.stats();
    assert_eq!(stats.in_use_bytes, 0, "{stats:?}");
    assert!(stats.is_balanced(), "{stats:?}");
}

fuzz_target!(|data: &[u8]| run(data));
