//! Arena buffers driven by the fuzz input, checked against a model after
//! every step.
//!
//! Each input runs on a fresh thread with a fresh arena (so that a crash
//! replays from its input alone), with the memory limit the input picks. A
//! pool of handles (`ArenaBytesMut`, `ArenaBytes`, `bytes::Bytes` made by
//! `into_bytes`) and of `ReuseSlot`s is operated on: writes (extend, `put_*`,
//! `io::Write`, in place), reserve, truncate, splits, freeze, clones,
//! slices, `try_into_mut`, slot attach/detach/park/take/close, drops on the
//! home thread and on a second thread. The model is plain: a `Vec<u8>` per
//! handle, and per block its handle count, slot and capacity, from which it
//! predicts every capacity, uniqueness, park and return.
//!
//! Checked after every step: each handle's bytes, length and capacity equal
//! the model's, `is_unique`/`is_global` agree, slots are parked and closed
//! as predicted, the arena's counters balance and count the parked blocks.
//! At sync steps and at the end: every block returned from the other thread
//! has been received and the arena's bytes in use are exactly the model's
//! live blocks. At the end everything is dropped (or, if the input says so,
//! handed to the other thread before the home thread exits, which abandons
//! the arena) and the arena must have nothing in use, then be released.
//!
//! Input format (simple enough to write seeds by hand: `fuzz/seeds.py`
//! writes every seed corpus): byte 0 picks the limit, byte 1 bit 0 says
//! whether to exit with buffers out, then operations until the input runs
//! out: an opcode byte (`% 32`, in the order of [`Op`]'s variants) followed
//! by its fields: `u8` one byte, `u16` two bytes little-endian, sizes (the
//! `u32` fields but `value`) three bytes little-endian, `value: u32` four,
//! `data` a length byte and that many bytes. `ROOST_FUZZ_SHOW=1` prints
//! each input decoded.

#![no_main]

use std::io::Write as _;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use bytes::{Buf as _, BufMut as _};
use libfuzzer_sys::fuzz_target;
use roost_alloc::{
    Arena, ArenaBytes, ArenaBytesMut, ArenaConfig, ArenaMonitor, ReuseSlot, CLASS_SIZES, MAX_BLOCK_SIZE,
};

/// Handles and slots alive at once: enough for splits and clones to share
/// blocks, few enough that every step can check them all.
const MAX_HANDLES: usize = 24;
const MAX_SLOTS: usize = 4;
/// Requests up to twice the largest class, so that some go to the global
/// allocator.
const MAX_REQUEST: usize = 2 * MAX_BLOCK_SIZE;

#[derive(Debug)]
enum Limit {
    /// The default limit (256 MiB): only requests over the largest class
    /// fall back to the global allocator.
    Default,
    /// A few chunks: some requests are refused by the limit.
    Chunks(u8),
    /// Below one chunk: every request is served by the global allocator.
    Nothing,
}

#[derive(Debug)]
enum Op {
    Alloc { size: u32 },
    AllocGlobal { size: u32 },
    CopyFrom { data: Vec<u8> },
    Extend { h: u8, data: Vec<u8> },
    PutU32 { h: u8, value: u32 },
    PutBytes { h: u8, value: u8, count: u16 },
    IoWrite { h: u8, data: Vec<u8> },
    Poke { h: u8, at: u16, value: u8 },
    Reserve { h: u8, additional: u32 },
    Truncate { h: u8, len: u16 },
    Clear { h: u8 },
    SplitTo { h: u8, at: u16 },
    SplitOff { h: u8, at: u32 },
    Split { h: u8 },
    Freeze { h: u8 },
    Clone { h: u8 },
    Slice { h: u8, start: u16, end: u16 },
    Advance { h: u8, n: u16 },
    TryIntoMut { h: u8 },
    IntoBytes { h: u8 },
    Drop { h: u8 },
    DropRemote { h: u8 },
    NewSlot,
    Attach { h: u8, s: u8 },
    Detach { h: u8 },
    Park { h: u8, s: u8 },
    Take { s: u8 },
    TakeOrAlloc { s: u8, size: u32 },
    ReleaseParked { s: u8 },
    Close { s: u8 },
    DropSlot { s: u8 },
    Sync,
}

#[derive(Debug)]
struct Input {
    limit: Limit,
    ops: Vec<Op>,
    /// Hand every remaining handle and slot to the other thread and let the
    /// home thread exit first (the abandoned-arena path).
    exit_with_buffers_out: bool,
}

/// Reads the input format of the module's docs; `None` once it runs out.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    /// Three bytes, little-endian: sizes up to 16 MiB.
    fn u24(&mut self) -> Option<u32> {
        self.bytes(3).map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length byte, then that many bytes.
    fn data(&mut self) -> Option<Vec<u8>> {
        let n = self.u8()?;
        self.bytes(n.into()).map(<[u8]>::to_vec)
    }

    fn op(&mut self) -> Option<Op> {
        Some(match self.u8()? % 32 {
            0 => Op::Alloc { size: self.u24()? },
            1 => Op::AllocGlobal { size: self.u24()? },
            2 => Op::CopyFrom { data: self.data()? },
            3 => Op::Extend {
                h: self.u8()?,
                data: self.data()?,
            },
            4 => Op::PutU32 {
                h: self.u8()?,
                value: self.u32()?,
            },
            5 => Op::PutBytes {
                h: self.u8()?,
                value: self.u8()?,
                count: self.u16()?,
            },
            6 => Op::IoWrite {
                h: self.u8()?,
                data: self.data()?,
            },
            7 => Op::Poke {
                h: self.u8()?,
                at: self.u16()?,
                value: self.u8()?,
            },
            8 => Op::Reserve {
                h: self.u8()?,
                additional: self.u24()?,
            },
            9 => Op::Truncate {
                h: self.u8()?,
                len: self.u16()?,
            },
            10 => Op::Clear { h: self.u8()? },
            11 => Op::SplitTo {
                h: self.u8()?,
                at: self.u16()?,
            },
            12 => Op::SplitOff {
                h: self.u8()?,
                at: self.u24()?,
            },
            13 => Op::Split { h: self.u8()? },
            14 => Op::Freeze { h: self.u8()? },
            15 => Op::Clone { h: self.u8()? },
            16 => Op::Slice {
                h: self.u8()?,
                start: self.u16()?,
                end: self.u16()?,
            },
            17 => Op::Advance {
                h: self.u8()?,
                n: self.u16()?,
            },
            18 => Op::TryIntoMut { h: self.u8()? },
            19 => Op::IntoBytes { h: self.u8()? },
            20 => Op::Drop { h: self.u8()? },
            21 => Op::DropRemote { h: self.u8()? },
            22 => Op::NewSlot,
            23 => Op::Attach {
                h: self.u8()?,
                s: self.u8()?,
            },
            24 => Op::Detach { h: self.u8()? },
            25 => Op::Park {
                h: self.u8()?,
                s: self.u8()?,
            },
            26 => Op::Take { s: self.u8()? },
            27 => Op::TakeOrAlloc {
                s: self.u8()?,
                size: self.u24()?,
            },
            28 => Op::ReleaseParked { s: self.u8()? },
            29 => Op::Close { s: self.u8()? },
            30 => Op::DropSlot { s: self.u8()? },
            _ => Op::Sync,
        })
    }
}

impl Input {
    /// Byte 0: the limit (`% 3`: default, a few chunks (`(byte / 3) % 4 + 1`),
    /// nothing); byte 1: bit 0 set to exit with buffers out; then the ops,
    /// until the input runs out.
    fn decode(data: &[u8]) -> Self {
        let mut reader = Reader { data };
        let limit = match reader.u8().unwrap_or(0) {
            b if b % 3 == 0 => Limit::Default,
            b if b % 3 == 1 => Limit::Chunks(b / 3),
            _ => Limit::Nothing,
        };
        let exit_with_buffers_out = reader.u8().is_some_and(|b| b & 1 == 1);
        let ops = std::iter::from_fn(|| reader.op()).collect();
        Self {
            limit,
            ops,
            exit_with_buffers_out,
        }
    }
}

/// A closure for the remote thread, and where to say it is done.
type Job = (Box<dyn FnOnce() + Send>, mpsc::SyncSender<()>);

/// A thread that runs closures on request, one at a time, and answers when
/// each is done: "another core" for drops and flushes.
struct Remote {
    jobs: Mutex<mpsc::Sender<Job>>,
}

fn remote(job: impl FnOnce() + Send + 'static) {
    static REMOTE: OnceLock<Remote> = OnceLock::new();
    let remote = REMOTE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("fuzz-remote".into())
            .spawn(move || {
                for (job, done) in rx {
                    job();
                    let _ = done.send(());
                }
            })
            .expect("spawn the remote thread");
        Remote { jobs: Mutex::new(tx) }
    });
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    remote
        .jobs
        .lock()
        .unwrap()
        .send((Box::new(job), done_tx))
        .expect("remote thread alive");
    done_rx.recv().expect("remote job ran");
}

/// The group of a `Bytes` that holds no block (an empty slice).
const NO_OWNER: usize = usize::MAX;

enum Kind {
    Mut(ArenaBytesMut),
    Frozen(ArenaBytes),
    /// A `bytes::Bytes` made by `into_bytes`, and its group: the clones that
    /// share one `ArenaBytes` owner (one block count for the group).
    Bytes(bytes::Bytes, usize),
}

struct Handle {
    kind: Kind,
    data: Vec<u8>,
    block: usize,
    /// Offset of the window in its block.
    off: usize,
    /// Window capacity (for `Mut`).
    cap: usize,
}

#[derive(Debug)]
struct Block {
    refs: usize,
    slot: Option<usize>,
    global: bool,
    cap: usize,
    parked: bool,
}

struct Slot {
    slot: Option<ReuseSlot>,
    parked: Option<usize>,
    closed: bool,
}

struct Model {
    blocks: Vec<Block>,
    handles: Vec<Handle>,
    /// Live `Bytes` clones per group.
    groups: Vec<usize>,
    slots: Vec<Slot>,
    /// Arena blocks sent home from the other thread (not parked).
    remote_returns: u64,
    monitor: ArenaMonitor,
    limit: usize,
}

fn class_cap(size: usize) -> usize {
    *CLASS_SIZES
        .iter()
        .find(|&&c| c >= size)
        .expect("size within the classes")
}

impl Model {
    fn new(monitor: ArenaMonitor, limit: usize) -> Self {
        Self {
            blocks: Vec::new(),
            handles: Vec::new(),
            groups: Vec::new(),
            slots: Vec::new(),
            remote_returns: 0,
            monitor,
            limit,
        }
    }

    /// Records a fresh block of a request of `size` whose buffer says
    /// `global`; checks that the arena was allowed to fall back and returns
    /// the capacity the buffer must have.
    fn new_block(&mut self, size: usize, global: bool) -> (usize, usize) {
        if size > MAX_BLOCK_SIZE || self.limit < roost_alloc::CHUNK_SIZE {
            assert!(
                global,
                "a request of {size} bytes must fall back (limit {})",
                self.limit
            );
        } else if self.limit >= 256 << 20 {
            assert!(!global, "a request of {size} bytes fell back under the default limit");
        }
        let cap = if global { size } else { class_cap(size.max(1)) };
        self.blocks.push(Block {
            refs: 1,
            slot: None,
            global,
            cap,
            parked: false,
        });
        (self.blocks.len() - 1, cap)
    }

    fn push_mut(&mut self, buf: ArenaBytesMut, size: usize) {
        let (block, cap) = self.new_block(size, buf.is_global());
        self.handles.push(Handle {
            data: buf.to_vec(),
            kind: Kind::Mut(buf),
            block,
            off: 0,
            cap,
        });
    }

    /// One count on `block` is gone (on the home thread, or the other one).
    fn unref(&mut self, block: usize, remote: bool) {
        let b = &mut self.blocks[block];
        assert!(b.refs > 0, "block {block} released twice in the model");
        b.refs -= 1;
        if b.refs > 0 {
            return;
        }
        if remote && !b.global {
            if let Some(s) = b.slot {
                let slot = &mut self.slots[s];
                if !slot.closed && slot.parked.is_none() {
                    slot.parked = Some(block);
                    b.parked = true;
                    return;
                }
            }
            self.remote_returns += 1;
        }
        b.slot = None;
    }

    fn pick(&self, h: u8) -> Option<usize> {
        (!self.handles.is_empty()).then(|| h as usize % self.handles.len())
    }

    fn pick_slot(&self, s: u8) -> Option<usize> {
        (!self.slots.is_empty()).then(|| s as usize % self.slots.len())
    }

    fn room(&self) -> bool {
        self.handles.len() < MAX_HANDLES
    }

    /// Whether a request of `size` bytes must fall back to the global
    /// allocator (`None`: it depends on the chunks already taken).
    fn predict_global(&self, size: usize) -> Option<bool> {
        if size > MAX_BLOCK_SIZE || self.limit < roost_alloc::CHUNK_SIZE {
            Some(true)
        } else if self.limit >= 256 << 20 {
            Some(false)
        } else {
            None
        }
    }

    /// The model's `reserve` on a `Mut` handle: the same window, or a fresh
    /// block holding a copy, global or not as `global` says (the buffer's
    /// own flag when this is its last move, else the prediction). An arena
    /// block keeps the old block's slot (reserve runs on the home thread
    /// here). Returns whether it moved.
    fn reserve(&mut self, i: usize, additional: usize, global: impl FnOnce(&Self, usize) -> bool) -> bool {
        let h = &self.handles[i];
        let (len, cap) = (h.data.len(), h.cap);
        if cap - len >= additional {
            return false;
        }
        let request = (len + additional).max(cap.saturating_mul(2));
        let old = h.block;
        let global = global(self, request);
        let (block, new_cap) = self.new_block(request, global);
        if !global {
            self.blocks[block].slot = self.blocks[old].slot;
        }
        let h = &mut self.handles[i];
        h.block = block;
        h.off = 0;
        h.cap = new_cap;
        self.unref(old, false);
        true
    }

    /// The buffer's own `is_global`, for a model step that ends where the
    /// buffer is now.
    fn real_global(&self, i: usize) -> bool {
        match &self.handles[i].kind {
            Kind::Mut(buf) => buf.is_global(),
            _ => unreachable!("reserve on a frozen handle"),
        }
    }

    fn mut_of(&mut self, i: usize) -> Option<&mut ArenaBytesMut> {
        match &mut self.handles[i].kind {
            Kind::Mut(buf) => Some(buf),
            _ => None,
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Alloc { size } if self.room() => {
                let size = size as usize % (MAX_REQUEST + 1);
                self.push_mut(ArenaBytesMut::with_capacity(size), size);
            }
            Op::AllocGlobal { size } if self.room() => {
                let size = size as usize % (MAX_REQUEST + 1);
                let buf = ArenaBytesMut::with_capacity_global(size);
                assert!(buf.is_global());
                self.blocks.push(Block {
                    refs: 1,
                    slot: None,
                    global: true,
                    cap: size,
                    parked: false,
                });
                self.handles.push(Handle {
                    data: Vec::new(),
                    kind: Kind::Mut(buf),
                    block: self.blocks.len() - 1,
                    off: 0,
                    cap: size,
                });
            }
            Op::CopyFrom { data } if self.room() => {
                let buf = ArenaBytesMut::copy_from_slice(&data);
                let len = data.len();
                self.push_mut(buf, len);
                let last = self.handles.len() - 1;
                self.handles[last].data = data;
            }
            Op::Extend { h, data } => self.write(h, data.len(), |buf| buf.extend_from_slice(&data), &data),
            Op::PutU32 { h, value } => self.write(h, 4, |buf| buf.put_u32(value), &value.to_be_bytes()),
            Op::IoWrite { h, data } => self.write(
                h,
                data.len(),
                |buf| assert_eq!(buf.write(&data).unwrap(), data.len()),
                &data,
            ),
            Op::PutBytes { h, value, count } => {
                let Some(i) = self.pick(h) else { return };
                let Some(buf) = self.mut_of(i) else { return };
                let count = count as usize;
                buf.put_bytes(value, count);
                // bytes' put_bytes: fill the spare room, and whenever it is
                // full ask `chunk_mut` for more (which reserves 64).
                // The blocks it moves through on the way are gone already:
                // predict them; the last one is the buffer's.
                let mut left = count;
                let mut moved = false;
                while left > 0 {
                    if self.handles[i].data.len() == self.handles[i].cap {
                        moved |= self.reserve(i, 64, |m, size| m.predict_global(size).unwrap_or(false));
                    }
                    let h = &mut self.handles[i];
                    let n = left.min(h.cap - h.data.len());
                    h.data.extend(std::iter::repeat_n(value, n));
                    left -= n;
                }
                if moved {
                    let global = self.real_global(i);
                    let h = &mut self.handles[i];
                    self.blocks[h.block].global = global;
                    if (roost_alloc::CHUNK_SIZE..256 << 20).contains(&self.limit) {
                        // Under a small limit a block on the way may have
                        // fallen back (exact size, not a class): the model
                        // cannot know which, so the capacity is the buffer's.
                        let Kind::Mut(buf) = &mut h.kind else { unreachable!() };
                        assert!(buf.capacity() >= h.data.len(), "put_bytes left too little room");
                        h.cap = buf.capacity();
                        self.blocks[h.block].cap = h.cap;
                        // A block on the way that fell back dropped the
                        // slot (a heap block carries none), and the arena
                        // blocks after it had none to keep: ask the buffer,
                        // by detaching and attaching again.
                        if let Some(s) = self.blocks[h.block].slot {
                            let kept = buf.detach_slot();
                            let again = kept && self.slots[s].slot.as_ref().is_some_and(|slot| buf.attach_slot(slot));
                            if !again {
                                self.blocks[h.block].slot = None;
                            }
                        }
                    }
                }
            }
            Op::Poke { h, at, value } => {
                let Some(i) = self.pick(h) else { return };
                let len = self.handles[i].data.len();
                if len == 0 {
                    return;
                }
                let at = at as usize % len;
                let Some(buf) = self.mut_of(i) else { return };
                buf[at] = value;
                self.handles[i].data[at] = value;
            }
            Op::Reserve { h, additional } => {
                let Some(i) = self.pick(h) else { return };
                let additional = additional as usize % (MAX_REQUEST + 1);
                let Some(buf) = self.mut_of(i) else { return };
                buf.reserve(additional);
                self.reserve(i, additional, |m, _| m.real_global(i));
            }
            Op::Truncate { h, len } => {
                let Some(i) = self.pick(h) else { return };
                let Some(buf) = self.mut_of(i) else { return };
                buf.truncate(len as usize);
                self.handles[i].data.truncate(len as usize);
            }
            Op::Clear { h } => {
                let Some(i) = self.pick(h) else { return };
                let Some(buf) = self.mut_of(i) else { return };
                buf.clear();
                self.handles[i].data.clear();
            }
            Op::SplitTo { h, at } if self.room() => self.split(h, at as usize, Split::To),
            Op::SplitOff { h, at } if self.room() => self.split(h, at as usize, Split::Off),
            Op::Split { h } if self.room() => self.split(h, usize::MAX, Split::Filled),
            Op::Freeze { h } => {
                let Some(i) = self.pick(h) else { return };
                let Kind::Mut(_) = self.handles[i].kind else { return };
                let handle = self.handles.swap_remove(i);
                let Kind::Mut(buf) = handle.kind else { unreachable!() };
                let frozen = buf.freeze();
                self.handles.push(Handle {
                    kind: Kind::Frozen(frozen),
                    ..handle
                });
            }
            Op::Clone { h } if self.room() => {
                let Some(i) = self.pick(h) else { return };
                let h = &self.handles[i];
                let kind = match &h.kind {
                    Kind::Mut(_) => return,
                    Kind::Frozen(b) => {
                        self.blocks[h.block].refs += 1;
                        Kind::Frozen(b.clone())
                    }
                    Kind::Bytes(b, group) => {
                        if *group != NO_OWNER {
                            self.groups[*group] += 1;
                        }
                        Kind::Bytes(b.clone(), *group)
                    }
                };
                let handle = Handle {
                    kind,
                    data: h.data.clone(),
                    ..*h
                };
                self.handles.push(handle);
            }
            Op::Slice { h, start, end } if self.room() => {
                let Some(i) = self.pick(h) else { return };
                let h = &self.handles[i];
                let len = h.data.len();
                let (a, b) = (start as usize % (len + 1), end as usize % (len + 1));
                let (a, b) = (a.min(b), a.max(b));
                let kind = match &h.kind {
                    Kind::Mut(_) => return,
                    Kind::Frozen(f) => {
                        self.blocks[h.block].refs += 1;
                        Kind::Frozen(f.slice(a..b))
                    }
                    // bytes' `slice` of an empty range is a fresh empty
                    // `Bytes` that keeps no owner.
                    Kind::Bytes(f, _) if a == b => Kind::Bytes(f.slice(a..b), NO_OWNER),
                    Kind::Bytes(f, group) => {
                        if *group != NO_OWNER {
                            self.groups[*group] += 1;
                        }
                        Kind::Bytes(f.slice(a..b), *group)
                    }
                };
                let handle = Handle {
                    kind,
                    data: h.data[a..b].to_vec(),
                    off: h.off + a,
                    ..*h
                };
                self.handles.push(handle);
            }
            Op::Advance { h, n } => {
                let Some(i) = self.pick(h) else { return };
                let h = &mut self.handles[i];
                let n = n as usize % (h.data.len() + 1);
                match &mut h.kind {
                    Kind::Mut(_) => return,
                    Kind::Frozen(f) => f.advance(n),
                    Kind::Bytes(f, _) => f.advance(n),
                }
                h.data.drain(..n);
                h.off += n;
            }
            Op::TryIntoMut { h } => {
                let Some(i) = self.pick(h) else { return };
                let Kind::Frozen(_) = self.handles[i].kind else { return };
                let handle = self.handles.swap_remove(i);
                let Kind::Frozen(frozen) = handle.kind else {
                    unreachable!()
                };
                let unique = self.blocks[handle.block].refs == 1;
                match frozen.try_into_mut() {
                    Ok(buf) => {
                        assert!(unique, "try_into_mut succeeded on a shared block");
                        let cap = self.blocks[handle.block].cap - handle.off;
                        self.handles.push(Handle {
                            kind: Kind::Mut(buf),
                            cap,
                            ..handle
                        });
                    }
                    Err(frozen) => {
                        assert!(!unique, "try_into_mut failed on a unique block");
                        self.handles.push(Handle {
                            kind: Kind::Frozen(frozen),
                            ..handle
                        });
                    }
                }
            }
            Op::IntoBytes { h } => {
                let Some(i) = self.pick(h) else { return };
                let Kind::Frozen(_) = self.handles[i].kind else { return };
                let handle = self.handles.swap_remove(i);
                let Kind::Frozen(frozen) = handle.kind else {
                    unreachable!()
                };
                self.groups.push(1);
                let group = self.groups.len() - 1;
                self.handles.push(Handle {
                    kind: Kind::Bytes(frozen.into_bytes(), group),
                    ..handle
                });
            }
            Op::Drop { h } => {
                let Some(i) = self.pick(h) else { return };
                let handle = self.handles.swap_remove(i);
                let block = handle.block;
                let last = self.drop_count(&handle.kind);
                drop(handle.kind);
                if last {
                    self.unref(block, false);
                }
            }
            Op::DropRemote { h } => {
                let Some(i) = self.pick(h) else { return };
                let handle = self.handles.swap_remove(i);
                let block = handle.block;
                let last = self.drop_count(&handle.kind);
                let kind = handle.kind;
                remote(move || drop(kind));
                if last {
                    self.unref(block, true);
                }
            }
            Op::NewSlot if self.slots.len() < MAX_SLOTS => self.slots.push(Slot {
                slot: Some(ReuseSlot::new()),
                parked: None,
                closed: false,
            }),
            Op::Attach { h, s } => {
                let (Some(i), Some(s)) = (self.pick(h), self.pick_slot(s)) else {
                    return;
                };
                let block = self.handles[i].block;
                let Some(slot) = self.slots[s].slot.take() else { return };
                let Some(buf) = self.mut_of(i) else {
                    self.slots[s].slot = Some(slot);
                    return;
                };
                let attached = buf.attach_slot(&slot);
                self.slots[s].slot = Some(slot);
                let b = &mut self.blocks[block];
                let expected = !b.global && b.refs == 1;
                assert_eq!(attached, expected, "attach_slot on {b:?}");
                if attached {
                    b.slot = Some(s);
                }
            }
            Op::Detach { h } => {
                let Some(i) = self.pick(h) else { return };
                let block = self.handles[i].block;
                let Some(buf) = self.mut_of(i) else { return };
                let detached = buf.detach_slot();
                let b = &mut self.blocks[block];
                assert_eq!(detached, b.refs == 1, "detach_slot on {b:?}");
                if detached {
                    b.slot = None;
                }
            }
            Op::Park { h, s } => {
                let (Some(i), Some(s)) = (self.pick(h), self.pick_slot(s)) else {
                    return;
                };
                let Kind::Mut(_) = self.handles[i].kind else { return };
                let Some(slot) = self.slots[s].slot.take() else { return };
                let handle = self.handles.swap_remove(i);
                let Kind::Mut(buf) = handle.kind else { unreachable!() };
                let b = &self.blocks[handle.block];
                let model = &self.slots[s];
                let expected = !b.global
                    && b.refs == 1
                    && b.slot.is_none_or(|t| t == s)
                    && !model.closed
                    && model.parked.is_none();
                match slot.park(buf) {
                    Ok(()) => {
                        assert!(expected, "park succeeded: {b:?} into slot {s}");
                        let b = &mut self.blocks[handle.block];
                        b.refs = 0;
                        b.slot = Some(s);
                        b.parked = true;
                        self.slots[s].parked = Some(handle.block);
                    }
                    Err(buf) => {
                        assert!(!expected, "park failed: {b:?} into slot {s}");
                        self.handles.push(Handle {
                            kind: Kind::Mut(buf),
                            ..handle
                        });
                    }
                }
                self.slots[s].slot = Some(slot);
            }
            Op::Take { s } if self.room() => {
                let Some(s) = self.pick_slot(s) else { return };
                let Some(slot) = &self.slots[s].slot else { return };
                let taken = slot.take();
                let parked = self.slots[s].parked.take();
                assert_eq!(taken.is_some(), parked.is_some(), "take from slot {s}");
                if let (Some(buf), Some(block)) = (taken, parked) {
                    self.revive(block, buf);
                }
            }
            Op::TakeOrAlloc { s, size } if self.room() => {
                let Some(s) = self.pick_slot(s) else { return };
                let size = size as usize % (MAX_REQUEST + 1);
                let Some(slot) = &self.slots[s].slot else { return };
                let buf = slot.take_or_alloc(size);
                match self.slots[s].parked.take() {
                    Some(block) if self.blocks[block].cap >= size => return self.revive(block, buf),
                    Some(block) => {
                        // Too small: released on the home thread.
                        self.blocks[block].parked = false;
                        self.blocks[block].slot = None;
                    }
                    None => {}
                }
                let global = buf.is_global();
                self.push_mut(buf, size);
                let block = self.handles.last().unwrap().block;
                if !global {
                    self.blocks[block].slot = Some(s);
                }
            }
            Op::ReleaseParked { s } => {
                let Some(s) = self.pick_slot(s) else { return };
                let Some(slot) = &self.slots[s].slot else { return };
                let released = slot.release_parked();
                let parked = self.slots[s].parked.take();
                assert_eq!(released, parked.is_some(), "release_parked of slot {s}");
                if let Some(block) = parked {
                    self.blocks[block].parked = false;
                    self.blocks[block].slot = None;
                }
            }
            Op::Close { s } => {
                let Some(s) = self.pick_slot(s) else { return };
                let Some(slot) = &self.slots[s].slot else { return };
                slot.close();
                self.close_model(s);
            }
            Op::DropSlot { s } => {
                let Some(s) = self.pick_slot(s) else { return };
                drop(self.slots[s].slot.take());
                self.close_model(s);
            }
            Op::Sync => self.sync(),
            _ => {}
        }
    }

    /// A write of `n` bytes to a `Mut` handle: the buffer's reserve, then
    /// the bytes appended.
    fn write(&mut self, h: u8, n: usize, act: impl FnOnce(&mut ArenaBytesMut), bytes: &[u8]) {
        let Some(i) = self.pick(h) else { return };
        let Some(buf) = self.mut_of(i) else { return };
        act(buf);
        self.reserve(i, n, |m, _| m.real_global(i));
        self.handles[i].data.extend_from_slice(bytes);
    }

    fn split(&mut self, h: u8, at: usize, how: Split) {
        let Some(i) = self.pick(h) else { return };
        let handle = &mut self.handles[i];
        let len = handle.data.len();
        let (kind, data, off, cap) = match (&mut handle.kind, how) {
            (Kind::Mut(buf), Split::To) => {
                let at = at % (len + 1);
                let front = buf.split_to(at);
                let data = handle.data.drain(..at).collect();
                let off = handle.off;
                handle.off += at;
                handle.cap -= at;
                (Kind::Mut(front), data, off, at)
            }
            (Kind::Mut(buf), Split::Filled) => {
                let front = buf.split();
                let data = std::mem::take(&mut handle.data);
                let off = handle.off;
                handle.off += len;
                handle.cap -= len;
                (Kind::Mut(front), data, off, len)
            }
            (Kind::Mut(buf), Split::Off) => {
                let at = at % (handle.cap + 1);
                let back = buf.split_off(at);
                let data = handle.data.split_off(at.min(len));
                let back_cap = handle.cap - at;
                handle.cap = at;
                (Kind::Mut(back), data, handle.off + at, back_cap)
            }
            (Kind::Frozen(f), Split::To) => {
                let at = at % (len + 1);
                let front = f.split_to(at);
                let data = handle.data.drain(..at).collect();
                let off = handle.off;
                handle.off += at;
                (Kind::Frozen(front), data, off, 0)
            }
            (Kind::Frozen(f), Split::Off) => {
                let at = at % (len + 1);
                let back = f.split_off(at);
                let data = handle.data.split_off(at);
                (Kind::Frozen(back), data, handle.off + at, 0)
            }
            _ => return,
        };
        let block = handle.block;
        self.blocks[block].refs += 1;
        self.handles.push(Handle {
            kind,
            data,
            block,
            off,
            cap,
        });
    }

    /// Whether dropping this handle gives up a block count (the last clone
    /// of a `Bytes` group, or any other handle).
    fn drop_count(&mut self, kind: &Kind) -> bool {
        match kind {
            Kind::Bytes(_, NO_OWNER) => false,
            Kind::Bytes(_, group) => {
                self.groups[*group] -= 1;
                self.groups[*group] == 0
            }
            _ => true,
        }
    }

    /// A buffer taken from a slot: the parked block, whole and empty, still
    /// attached to the slot.
    fn revive(&mut self, block: usize, buf: ArenaBytesMut) {
        let b = &mut self.blocks[block];
        assert!(b.parked);
        b.parked = false;
        b.refs = 1;
        assert_eq!((buf.len(), buf.capacity()), (0, b.cap), "buffer taken from a slot");
        self.handles.push(Handle {
            kind: Kind::Mut(buf),
            data: Vec::new(),
            block,
            off: 0,
            cap: self.blocks[block].cap,
        });
    }

    fn close_model(&mut self, s: usize) {
        let slot = &mut self.slots[s];
        slot.closed = true;
        if let Some(block) = slot.parked.take() {
            self.blocks[block].parked = false;
            self.blocks[block].slot = None;
        }
    }

    /// The other thread's batches flushed, the return list drained: every
    /// remote return has arrived, and the bytes in use are the live blocks'.
    fn sync(&mut self) {
        remote(roost_alloc::flush_returns);
        roost_alloc::drain_returns();
        let stats = self.monitor.stats();
        assert_eq!(stats.returns_received, self.remote_returns, "{stats:?}");
        assert_eq!(stats.return_list_blocks, 0, "{stats:?}");
        let live: u64 = self
            .blocks
            .iter()
            .filter(|b| b.refs > 0 && !b.global)
            .map(|b| b.cap as u64)
            .sum();
        assert_eq!(stats.in_use_bytes, live, "{stats:?}");
    }

    fn check(&self) {
        for (i, h) in self.handles.iter().enumerate() {
            let block = &self.blocks[h.block];
            match &h.kind {
                Kind::Mut(buf) => {
                    assert_eq!(&buf[..], &h.data[..], "contents of handle {i}");
                    assert_eq!(buf.capacity(), h.cap, "capacity of handle {i}");
                    assert!(h.off + h.cap <= block.cap, "window of handle {i} past its block");
                    assert_eq!(buf.is_unique(), block.refs == 1, "uniqueness of handle {i}");
                    assert_eq!(buf.is_global(), block.global, "is_global of handle {i}");
                    assert_eq!(buf.is_home(), !block.global, "is_home of handle {i}");
                }
                Kind::Frozen(buf) => {
                    assert_eq!(&buf[..], &h.data[..], "contents of handle {i}");
                    assert_eq!(buf.is_unique(), block.refs == 1, "uniqueness of handle {i}");
                }
                Kind::Bytes(buf, _) => assert_eq!(&buf[..], &h.data[..], "contents of handle {i}"),
            }
            assert!(h.off + h.data.len() <= block.cap, "handle {i} past its block");
        }
        let mut parked_blocks = 0;
        let mut parked_bytes = 0;
        for (s, slot) in self.slots.iter().enumerate() {
            if let Some(block) = slot.parked {
                parked_blocks += 1;
                parked_bytes += self.blocks[block].cap as u64;
            }
            if let Some(handle) = &slot.slot {
                assert_eq!(handle.is_parked(), slot.parked.is_some(), "slot {s} parked");
                assert_eq!(handle.is_closed(), slot.closed, "slot {s} closed");
            }
        }
        let stats = self.monitor.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        assert_eq!(stats.parked_blocks, parked_blocks, "{stats:?}");
        assert_eq!(stats.parked_bytes, parked_bytes, "{stats:?}");
    }
}

#[derive(Clone, Copy)]
enum Split {
    To,
    Off,
    Filled,
}

fn run(input: Input) {
    let limit = match input.limit {
        Limit::Default => 256 << 20,
        Limit::Chunks(n) => (1 + n as usize % 4) * roost_alloc::CHUNK_SIZE,
        Limit::Nothing => 0,
    };
    let exit_with_buffers_out = input.exit_with_buffers_out;
    let ops = input.ops;
    let monitor = std::thread::spawn(move || {
        let monitor = Arena::install(ArenaConfig::new().memory_limit(limit)).expect("a fresh thread");
        let mut model = Model::new(monitor.clone(), limit);
        for op in ops {
            model.apply(op);
            model.check();
        }
        if exit_with_buffers_out {
            // Everything goes to the other thread, which drops it after this
            // thread (the arena's home) has exited.
            let handles: Vec<Kind> = model.handles.drain(..).map(|h| h.kind).collect();
            let slots: Vec<ReuseSlot> = model.slots.drain(..).filter_map(|s| s.slot).collect();
            return (monitor, Some((handles, slots)));
        }
        for slot in model.slots.drain(..) {
            drop(slot.slot);
        }
        while let Some(h) = model.handles.pop() {
            let last = model.drop_count(&h.kind);
            drop(h.kind);
            if last {
                model.unref(h.block, false);
            }
        }
        model.sync();
        let stats = monitor.stats();
        assert_eq!((stats.in_use_bytes, stats.parked_bytes), (0, 0), "{stats:?}");
        (monitor, None)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let (monitor, left) = monitor;
    if let Some((handles, slots)) = left {
        remote(move || {
            drop(handles);
            drop(slots);
            roost_alloc::flush_returns();
        });
    }
    let stats = monitor.stats();
    assert!(stats.released, "every block is back, so the arena is freed: {stats:?}");
}

/// `ROOST_FUZZ_SHOW=1`: print every input's decoded operations.
fn show() -> bool {
    static SHOW: OnceLock<bool> = OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("ROOST_FUZZ_SHOW").is_some_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    let input = Input::decode(data);
    if show() {
        eprintln!("{input:#?}");
    }
    run(input)
});
