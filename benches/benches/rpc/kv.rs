//! The sharded case: a small key-value store split across the workers, as
//! users' sharded servers are, so that buffers really cross cores.
//!
//! Protocol, in the rpc framing (4-byte big-endian length, then the
//! payload): a request is `G` or `S`, an 8-byte big-endian key, and for
//! `S` a [`VALUE`]-byte value; the answer to `G` is the key's value, the
//! answer to `S` is empty. Every key in `0..KEYS` exists from the start; a
//! value starts with its key (which the client checks).
//!
//! - roost (and roost-noarena): the connection's worker reads the request
//!   and sends the buffer to the worker that owns the key (`key % workers`),
//!   whose shard task copies a value into a reply buffer of its own arena
//!   and drops the request there (a remote free); the connection's worker
//!   sends the reply (another remote free, on the way back). The hand-offs
//!   allocate nothing: a bounded queue per shard (a `Mutex<VecDeque>` made
//!   at its full size, and the shard task's `AtomicWaker`) and a one-reply
//!   mailbox per connection, made when it opens.
//! - tokio-mt, as a tokio user writes it: tokio-util's
//!   `LengthDelimitedCodec` on each connection, one shard task per worker
//!   thread owning a `HashMap<u64, Bytes>` (a `SET` keeps a slice of the
//!   request, a `GET` answers with a clone of the stored `Bytes`), requests
//!   sent to the shard's `mpsc` with a `oneshot` for the answer.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use futures::task::AtomicWaker;
use futures::{SinkExt, StreamExt};
use roost::alloc::ArenaBytesMut;
use roost::net::{serve, BufferSource, ListenOptions, Server, TcpStream};
use roost::runtime::Runtime;
use roost_benches::rpc_client::Workload;
use roost_benches::settings::localhost;
use tokio::sync::{mpsc, oneshot};

use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::rpc;

/// Keys in the store.
pub const KEYS: u64 = 4096;
/// Bytes of a value (a `SET` request is then 64 bytes).
pub const VALUE: usize = 55;
/// One request in this many is a `SET`.
const SET_EVERY: u64 = 4;
/// Frame header and request header (op, key).
const PREFIX: usize = 4;
const HEADER: usize = 1 + 8;

fn initial_value(key: u64) -> [u8; VALUE] {
    let mut value = [0u8; VALUE];
    value[..8].copy_from_slice(&key.to_be_bytes());
    value
}

/// A parsed request payload.
enum Request<'a> {
    Get(u64),
    Set(u64, &'a [u8]),
}

fn parse(payload: &[u8]) -> io::Result<Request<'_>> {
    let bad = |what| io::Error::new(io::ErrorKind::InvalidData, what);
    if payload.len() < HEADER {
        return Err(bad("a request shorter than its header"));
    }
    let key = u64::from_be_bytes(payload[1..HEADER].try_into().expect("eight bytes"));
    match (payload[0], payload.len() - HEADER) {
        (b'G', 0) => Ok(Request::Get(key)),
        (b'S', VALUE) => Ok(Request::Set(key, &payload[HEADER..])),
        (b'G' | b'S', _) => Err(bad("a request of the wrong length")),
        _ => Err(bad("an unknown operation")),
    }
}

/// The client's side: random keys, one `SET` in four, answers checked.
pub struct KvWorkload {
    /// One xorshift state per connection.
    rng: Vec<u64>,
}

impl KvWorkload {
    pub fn new(connections: usize) -> Self {
        Self {
            rng: (0..connections as u64)
                .map(|i| 0x9E37_79B9_7F4A_7C15 ^ (i + 1))
                .collect(),
        }
    }
}

impl Workload for KvWorkload {
    fn request(&mut self, conn: usize, out: &mut Vec<u8>) {
        let x = &mut self.rng[conn];
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let key = *x % KEYS;
        if (*x >> 32).is_multiple_of(SET_EVERY) {
            out.push(b'S');
            out.extend_from_slice(&key.to_be_bytes());
            let mut value = initial_value(key);
            value[8..16].copy_from_slice(&x.to_be_bytes());
            out.extend_from_slice(&value);
        } else {
            out.push(b'G');
            out.extend_from_slice(&key.to_be_bytes());
        }
    }

    fn check(&mut self, _conn: usize, request: &[u8], response: &[u8]) -> io::Result<()> {
        let bad = |what| Err(io::Error::new(io::ErrorKind::InvalidData, what));
        match parse(request)? {
            Request::Set(..) if response.is_empty() => Ok(()),
            Request::Set(..) => bad("a SET answered with a value"),
            Request::Get(key) if response.len() == VALUE && response[..8] == key.to_be_bytes() => Ok(()),
            Request::Get(_) => bad("a GET answered with another key's value or the wrong length"),
        }
    }
}

/// Requests a shard may hold: more than the connections of a run, which
/// have one request in flight each (a connection that finds its shard full
/// is closed).
const QUEUE: usize = 4096;

/// A bounded queue with one consumer task, woken by each push.
struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    consumer: AtomicWaker,
}

impl<T> Queue<T> {
    fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            consumer: AtomicWaker::new(),
        }
    }

    /// Adds `item` unless the queue is full (its capacity is never grown).
    fn push(&self, item: T) -> Result<(), T> {
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            if items.len() == items.capacity() {
                return Err(item);
            }
            items.push_back(item);
        }
        self.consumer.wake();
        Ok(())
    }

    /// The oldest item, once there is one (one consumer at a time).
    async fn pop(&self) -> T {
        poll_fn(|cx| {
            let take = || self.items.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
            if let Some(item) = take() {
                return Poll::Ready(item);
            }
            self.consumer.register(cx.waker());
            // A push between the look and the registration woke nobody.
            take().map_or(Poll::Pending, Poll::Ready)
        })
        .await
    }
}

/// A request on its way to its shard, and the mailbox of its connection.
type Job = (ArenaBytesMut, Arc<Queue<ArenaBytesMut>>);

/// The roost sharded store: one shard task per worker, fed by a queue.
pub fn start_roost(rt: &Runtime, buffers: BufferSource) -> io::Result<Server> {
    let n = rt.worker_count();
    let shards: Arc<Vec<Arc<Queue<Job>>>> = Arc::new(
        (0..n)
            .map(|w| {
                let queue = Arc::new(Queue::new(QUEUE));
                rt.handle()
                    .spawn_on(w, shard(w as u64, n as u64, queue.clone(), buffers));
                queue
            })
            .collect(),
    );
    rt.block_on(serve(
        rt.handle(),
        localhost(),
        ListenOptions::new().buffer_source(buffers),
        move |stream| {
            let shards = shards.clone();
            async move {
                let _ = roost_connection(stream, shards).await;
            }
        },
    ))
}

async fn shard(index: u64, shards: u64, jobs: Arc<Queue<Job>>, buffers: BufferSource) {
    let mut store: HashMap<u64, [u8; VALUE]> = (0..KEYS)
        .filter(|k| k % shards == index)
        .map(|k| (k, initial_value(k)))
        .collect();
    loop {
        let (request, mailbox) = jobs.pop().await;
        // The connection checked the request: a known key, a valid form.
        let answer = match parse(&request[PREFIX..]) {
            Ok(Request::Get(key)) => store.get(&key).map_or(&[][..], |v| &v[..]),
            Ok(Request::Set(key, value)) => {
                if let Some(slot) = store.get_mut(&key) {
                    slot.copy_from_slice(value);
                }
                &[][..]
            }
            Err(_) => &[][..],
        };
        let mut response = match buffers {
            BufferSource::Arena => ArenaBytesMut::with_capacity(PREFIX + answer.len()),
            BufferSource::Global => ArenaBytesMut::with_capacity_global(PREFIX + answer.len()),
        };
        response.extend_from_slice(&(answer.len() as u32).to_be_bytes());
        response.extend_from_slice(answer);
        // The request is dropped here, on the shard's worker.
        drop(request);
        // The mailbox holds one reply: its connection waits for each.
        let _ = mailbox.push(response);
    }
}

async fn roost_connection(stream: TcpStream, shards: Arc<Vec<Arc<Queue<Job>>>>) -> io::Result<()> {
    let mailbox = Arc::new(Queue::new(1));
    let mut frames = rpc::Frames::default();
    let full = || io::Error::new(io::ErrorKind::WouldBlock, "the shard's queue is full");
    while let Some(received) = stream.recv().await? {
        let Some(mut data) = frames.push(received)? else {
            continue;
        };
        // One request at a time, in order: split each frame off (a shared
        // handle on the same block, no copy).
        while !data.is_empty() {
            let len = u32::from_be_bytes(data[..PREFIX].try_into().expect("four bytes")) as usize;
            let request = data.split_to(PREFIX + len);
            let key = match parse(&request[PREFIX..])? {
                Request::Get(key) | Request::Set(key, _) if key < KEYS => key,
                _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "an unknown key")),
            };
            let shard = &shards[(key % shards.len() as u64) as usize];
            shard.push((request, mailbox.clone())).map_err(|_| full())?;
            let response = mailbox.pop().await;
            stream.send(response).await?;
        }
    }
    Ok(())
}

/// tokio multi-thread, as a tokio user writes the same store.
pub fn start_tokio_mt(rt: &tokio::runtime::Runtime, shards: usize) -> io::Result<SocketAddr> {
    type TokioJob = (Bytes, oneshot::Sender<Bytes>);
    let senders: Arc<Vec<mpsc::Sender<TokioJob>>> = Arc::new(
        (0..shards as u64)
            .map(|index| {
                let (tx, mut rx) = mpsc::channel::<TokioJob>(1024);
                rt.spawn(async move {
                    let mut store: HashMap<u64, Bytes> = (0..KEYS)
                        .filter(|k| k % shards as u64 == index)
                        .map(|k| (k, Bytes::copy_from_slice(&initial_value(k))))
                        .collect();
                    while let Some((request, reply)) = rx.recv().await {
                        let answer = match parse(&request) {
                            Ok(Request::Get(key)) => store.get(&key).cloned().unwrap_or_default(),
                            Ok(Request::Set(key, _)) => {
                                store.insert(key, request.slice(HEADER..));
                                Bytes::new()
                            }
                            Err(_) => Bytes::new(),
                        };
                        let _ = reply.send(answer);
                    }
                });
                tx
            })
            .collect(),
    );
    let listener = rt.block_on(tokio::net::TcpListener::bind(localhost()))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let senders = senders.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
                while let Some(Ok(request)) = framed.next().await {
                    let request = request.freeze();
                    let Ok(Request::Get(key) | Request::Set(key, _)) = parse(&request) else {
                        return;
                    };
                    if key >= KEYS {
                        return;
                    }
                    let (tx, rx) = oneshot::channel();
                    if senders[(key % senders.len() as u64) as usize]
                        .send((request, tx))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let Ok(answer) = rx.await else { return };
                    if framed.send(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}
