//! A two-thread pipeline: items made on one pinned core, consumed on another.
//!
//! The producer thread makes items and writes them into a bounded
//! single-producer, single-consumer ring ([`rtrb`]); the consumer thread reads
//! and consumes them. Both sides move items in chunks of
//! [`HandoffConfig::chunk`], so the ring costs one atomic index update per
//! chunk on each side, and the same for every kind of item of the same size:
//! what differs between two pipelines is what `make` and `consume` do.
//!
//! # In flight
//!
//! While the producer still has items to send, the consumer takes a chunk
//! only once the ring holds [`HandoffConfig::in_flight`] items plus that
//! chunk, so in the steady state at least `in_flight` items are alive between
//! the two threads (made, not yet consumed) at every moment. The ring holds
//! `in_flight + 2 * chunk` items, so at most that many (plus the chunk the
//! consumer is working on) are. Each run starts and ends empty: the first
//! `in_flight` items of a run are made before any is consumed, and the last
//! ones are consumed after the producer is done.
//!
//! # Timing
//!
//! [`Handoff::run`] is timed end to end on the producer thread: from before
//! the first item is made until the consumer has consumed the last one and
//! run its [`Consumer::end_of_run`] hook.
//!
//! # Waiting
//!
//! Both threads spin while a run is under way (yielding after a while, for
//! machines shared with other work) and sleep between runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::cores::CoreId;

/// Makes the items of a pipeline, on the producer thread.
pub trait Producer {
    /// What travels through the ring.
    type Item: Send + 'static;

    /// Makes item number `seq` (counted from zero over the pipeline's life).
    fn make(&mut self, seq: u64) -> Self::Item;
}

/// Consumes the items of a pipeline, on the consumer thread.
pub trait Consumer<T> {
    /// Consumes one item.
    fn consume(&mut self, item: T);

    /// The consumer found nothing to take after consuming something: a
    /// chance for upkeep that an event loop would do when idle.
    fn idle(&mut self) {}

    /// Runs after the last item of a run, inside the timed section.
    fn end_of_run(&mut self) {
        self.idle();
    }
}

/// The shape of a pipeline.
#[derive(Debug, Clone, Copy)]
pub struct HandoffConfig {
    /// Items kept alive between the threads while the producer has more.
    pub in_flight: usize,
    /// Items written or read per ring operation.
    pub chunk: usize,
    /// Where the producer runs (unpinned if `None`).
    pub producer_core: Option<CoreId>,
    /// Where the consumer runs (unpinned if `None`).
    pub consumer_core: Option<CoreId>,
}

impl HandoffConfig {
    /// Capacity of the ring: `in_flight + 2 * chunk`.
    pub fn ring_capacity(&self) -> usize {
        self.in_flight + 2 * self.chunk
    }
}

enum Command {
    Run(u64),
    Stop,
}

/// State shared by the two threads. Counts are cumulative over the
/// pipeline's life.
struct Shared {
    /// Items the consumer must have consumed when the current run ends.
    target: AtomicU64,
    /// Items consumed, published by the consumer at the end of each run.
    done: AtomicU64,
    stop: AtomicBool,
}

/// A running pipeline: two threads and the ring between them.
///
/// Dropping it stops both threads and waits for them.
pub struct Handoff {
    commands: mpsc::Sender<Command>,
    results: mpsc::Receiver<Duration>,
    threads: Vec<JoinHandle<()>>,
}

impl Handoff {
    /// Starts the two threads. Each pins itself to its core first, then calls
    /// its factory, so thread-local set-up (an arena, say) happens there.
    ///
    /// # Panics
    ///
    /// Panics if a thread cannot be spawned or pinned, or if `config.chunk`
    /// is zero.
    pub fn start<P, C, MP, MC>(config: HandoffConfig, make_producer: MP, make_consumer: MC) -> Self
    where
        P: Producer,
        C: Consumer<P::Item>,
        MP: FnOnce() -> P + Send + 'static,
        MC: FnOnce() -> C + Send + 'static,
    {
        assert!(config.chunk > 0, "chunk must be positive");
        let (ring_in, ring_out) = rtrb::RingBuffer::<P::Item>::new(config.ring_capacity());
        let shared = Arc::new(Shared {
            target: AtomicU64::new(0),
            done: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });

        let consumer_shared = Arc::clone(&shared);
        let consumer = thread::Builder::new()
            .name("handoff-consumer".into())
            .spawn(move || {
                pin(config.consumer_core);
                consumer_loop(make_consumer(), ring_out, &consumer_shared, config);
            })
            .expect("spawn the consumer thread");
        let consumer_thread = consumer.thread().clone();

        let (commands, command_rx) = mpsc::channel();
        let (result_tx, results) = mpsc::channel();
        let producer = thread::Builder::new()
            .name("handoff-producer".into())
            .spawn(move || {
                pin(config.producer_core);
                let mut state = ProducerState {
                    producer: make_producer(),
                    ring: ring_in,
                    shared,
                    consumer: consumer_thread,
                    chunk: config.chunk,
                    seq: 0,
                };
                while let Ok(Command::Run(n)) = command_rx.recv() {
                    if result_tx.send(state.run(n)).is_err() {
                        break;
                    }
                }
                state.shared.stop.store(true, Ordering::Release);
                state.consumer.unpark();
            })
            .expect("spawn the producer thread");

        Self {
            commands,
            results,
            threads: vec![producer, consumer],
        }
    }

    /// Sends `n` items through the pipeline; returns the time from the first
    /// make to the last consume (see the module docs).
    ///
    /// # Panics
    ///
    /// Panics if the producer thread has died (a panic in `make`).
    pub fn run(&self, n: u64) -> Duration {
        self.commands
            .send(Command::Run(n))
            .expect("the producer thread is gone");
        self.results.recv().expect("the producer thread is gone")
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn pin(core: Option<CoreId>) {
    if let Some(core) = core {
        if let Err(e) = core.pin_current_thread() {
            panic!("cannot pin a handoff thread to {core:?}: {e}");
        }
    }
}

struct ProducerState<P: Producer> {
    producer: P,
    ring: rtrb::Producer<P::Item>,
    shared: Arc<Shared>,
    consumer: Thread,
    chunk: usize,
    seq: u64,
}

impl<P: Producer> ProducerState<P> {
    fn run(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        let target = self.shared.target.load(Ordering::Relaxed) + n;
        self.shared.target.store(target, Ordering::Release);
        self.consumer.unpark();
        let mut left = n;
        let mut backoff = Backoff::default();
        while left > 0 {
            let want = left.min(self.chunk as u64) as usize;
            let Ok(slots) = self.ring.write_chunk_uninit(want) else {
                backoff.snooze();
                continue;
            };
            backoff.reset();
            let seq = self.seq;
            let producer = &mut self.producer;
            let written = slots.fill_from_iter((0..want as u64).map(|i| producer.make(seq + i)));
            debug_assert_eq!(written, want);
            self.seq += want as u64;
            left -= want as u64;
        }
        while self.shared.done.load(Ordering::Acquire) < target {
            backoff.snooze();
        }
        start.elapsed()
    }
}

fn consumer_loop<T, C: Consumer<T>>(
    mut consumer: C,
    mut ring: rtrb::Consumer<T>,
    shared: &Shared,
    config: HandoffConfig,
) {
    let mut consumed = 0u64;
    loop {
        let target = shared.target.load(Ordering::Acquire);
        if consumed == target {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            thread::park();
            continue;
        }
        let mut left = target - consumed;
        let mut idle = true;
        let mut backoff = Backoff::default();
        while left > 0 {
            let ready = ring.slots();
            let take = if ready as u64 == left {
                // The producer is done with this run: empty the ring.
                ready.min(config.chunk)
            } else if ready >= config.in_flight + config.chunk {
                config.chunk
            } else {
                0
            };
            if take == 0 {
                if !idle {
                    consumer.idle();
                    idle = true;
                }
                backoff.snooze();
                continue;
            }
            idle = false;
            backoff.reset();
            let items = ring.read_chunk(take).expect("the ring holds `take` items");
            for item in items {
                consumer.consume(item);
            }
            left -= take as u64;
        }
        consumer.end_of_run();
        consumed = target;
        shared.done.store(consumed, Ordering::Release);
    }
}

/// Spin a while, then yield: the machines this runs on are shared.
#[derive(Default)]
struct Backoff {
    spins: u32,
}

impl Backoff {
    const SPINS_BEFORE_YIELD: u32 = 1 << 12;

    fn snooze(&mut self) {
        if self.spins < Self::SPINS_BEFORE_YIELD {
            self.spins += 1;
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }

    fn reset(&mut self) {
        self.spins = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter;
    impl Producer for Counter {
        type Item = u64;
        fn make(&mut self, seq: u64) -> u64 {
            seq
        }
    }

    struct Checker {
        next: u64,
        tx: mpsc::Sender<u64>,
    }
    impl Consumer<u64> for Checker {
        fn consume(&mut self, item: u64) {
            assert_eq!(item, self.next);
            self.next += 1;
        }
        fn end_of_run(&mut self) {
            self.tx.send(self.next).unwrap();
        }
    }

    #[test]
    fn every_item_arrives_in_order() {
        let (tx, rx) = mpsc::channel();
        let config = HandoffConfig {
            in_flight: 100,
            chunk: 7,
            producer_core: None,
            consumer_core: None,
        };
        let handoff = Handoff::start(config, || Counter, move || Checker { next: 0, tx });
        for n in [0, 1, 5, 107, 108, 1000, 3] {
            handoff.run(n);
        }
        drop(handoff);
        let ends: Vec<u64> = rx.iter().collect();
        // A run of zero items consumes nothing and runs no hook.
        assert_eq!(ends, vec![1, 6, 113, 221, 1221, 1224]);
    }
}
