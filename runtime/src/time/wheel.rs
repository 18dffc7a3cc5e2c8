//! A hierarchical timing wheel: six levels of 64 slots, one tick per
//! millisecond, O(1) insert, cancel and reset, expiry work proportional to
//! the timers that fire.
//!
//! Level `l` slot `s` holds timers whose deadline shares every bit above
//! `6 * (l + 1)` with the wheel's current time (`elapsed`) and has `s` in
//! bits `6 * l .. 6 * (l + 1)`. The level of a timer is the position of the
//! highest bit in which its deadline differs from `elapsed`, divided by six.
//! When a slot's turn comes its timers either fire (deadline reached) or
//! move down to a finer level, so a timer moves at most five times in its
//! life. Finding the next slot with work is a bitmap rotate and a count of
//! trailing zeros per level. (This is the design tokio's timer wheel uses.)
//!
//! # Invariants
//!
//! - Every entry in the slab is linked in exactly one slot, the one its
//!   `when` and the current `elapsed` select; `occupied` has a bit set
//!   exactly for the non-empty slots.
//! - `elapsed` never passes the deadline of an occupied slot without
//!   processing it, so no timer is skipped, and none fires early: a timer
//!   fires when `advance(now)` is called with `now >= when`.
//! - An entry is identified by its slab key and a wheel-unique generation,
//!   so a stale handle (its timer fired and the key was reused) is detected.
//!
//! Deadlines beyond the wheel's range (64^6 ms, about 2.2 years) are clamped
//! to it. The wheel belongs to one worker and is never shared.

use std::task::Waker;

use slab::Slab;

const LEVEL_BITS: usize = 6;
const SLOTS: usize = 1 << LEVEL_BITS;
const LEVELS: usize = 6;
/// The largest distance between `elapsed` and a deadline.
pub(crate) const MAX_TICKS: u64 = (1 << (LEVEL_BITS * LEVELS)) - 1;
const NIL: usize = usize::MAX;

/// The timer a key names is no longer pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gone;

/// A handle to a pending timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    key: usize,
    generation: u64,
}

struct Entry {
    when: u64,
    generation: u64,
    waker: Option<Waker>,
    prev: usize,
    next: usize,
    level: u8,
    slot: u8,
}

/// See the module documentation.
pub(crate) struct Wheel {
    elapsed: u64,
    heads: [[usize; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    entries: Slab<Entry>,
    next_generation: u64,
}

#[derive(Debug, Clone, Copy)]
struct Expiration {
    level: usize,
    slot: usize,
    deadline: u64,
}

fn level_for(elapsed: u64, when: u64) -> usize {
    let mut masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    if masked >= MAX_TICKS {
        masked = MAX_TICKS - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / LEVEL_BITS
}

fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level * LEVEL_BITS)) as usize) & (SLOTS - 1)
}

fn slot_range(level: usize) -> u64 {
    1 << (level * LEVEL_BITS)
}

fn level_range(level: usize) -> u64 {
    1 << ((level + 1) * LEVEL_BITS)
}

impl Wheel {
    pub(crate) fn new() -> Self {
        Self {
            elapsed: 0,
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            entries: Slab::new(),
            next_generation: 0,
        }
    }

    /// Pending timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a timer for tick `when`. Gives the waker back if that tick has
    /// already been processed (the timer is expired on arrival).
    pub(crate) fn insert(&mut self, when: u64, waker: Waker) -> Result<TimerKey, Waker> {
        if when <= self.elapsed {
            return Err(waker);
        }
        let when = when.min(self.elapsed + MAX_TICKS);
        let generation = self.next_generation;
        self.next_generation += 1;
        let key = self.entries.insert(Entry {
            when,
            generation,
            waker: Some(waker),
            prev: NIL,
            next: NIL,
            level: 0,
            slot: 0,
        });
        self.link(key);
        Ok(TimerKey { key, generation })
    }

    /// Whether the timer is still pending.
    fn contains(&self, t: TimerKey) -> bool {
        self.entries.get(t.key).is_some_and(|e| e.generation == t.generation)
    }

    /// Replaces a pending timer's waker unless it would wake the same task.
    /// Returns the old waker, for the caller to drop outside any borrow, or
    /// `Err` if the timer is no longer pending (it fired or was removed).
    pub(crate) fn set_waker(&mut self, t: TimerKey, waker: &Waker) -> Result<Option<Waker>, Gone> {
        let entry = self
            .entries
            .get_mut(t.key)
            .filter(|e| e.generation == t.generation)
            .ok_or(Gone)?;
        Ok(match &entry.waker {
            Some(w) if w.will_wake(waker) => None,
            _ => entry.waker.replace(waker.clone()),
        })
    }

    /// Cancels a pending timer; returns its waker (if it was pending).
    pub(crate) fn remove(&mut self, t: TimerKey) -> Option<Waker> {
        if !self.contains(t) {
            return None;
        }
        self.unlink(t.key);
        self.entries.remove(t.key).waker
    }

    /// Moves a pending timer to tick `when`: `Ok(true)` if it is pending at
    /// its new tick, `Ok(false)` if that tick is already processed (the timer
    /// is removed: it counts as fired), `Err` if the timer was not pending.
    pub(crate) fn reset(&mut self, t: TimerKey, when: u64) -> Result<bool, ()> {
        if !self.contains(t) {
            return Err(());
        }
        self.unlink(t.key);
        if when <= self.elapsed {
            drop(self.entries.remove(t.key));
            return Ok(false);
        }
        self.entries[t.key].when = when.min(self.elapsed + MAX_TICKS);
        self.link(t.key);
        Ok(true)
    }

    fn link(&mut self, key: usize) {
        let when = self.entries[key].when;
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        let head = self.heads[level][slot];
        {
            let e = &mut self.entries[key];
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head].prev = key;
        }
        self.heads[level][slot] = key;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next, level, slot) = {
            let e = &self.entries[key];
            (e.prev, e.next, e.level as usize, e.slot as usize)
        };
        if prev == NIL {
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        } else {
            self.entries[prev].next = next;
        }
        if next != NIL {
            self.entries[next].prev = prev;
        }
    }

    fn next_expiration(&self) -> Option<Expiration> {
        (0..LEVELS).find_map(|level| self.level_expiration(level))
    }

    fn level_expiration(&self, level: usize) -> Option<Expiration> {
        let occupied = self.occupied[level];
        if occupied == 0 {
            return None;
        }
        let now_slot = (self.elapsed / slot_range(level)) as u32;
        let zeros = occupied.rotate_right(now_slot % SLOTS as u32).trailing_zeros();
        let slot = ((zeros + now_slot) as usize) % SLOTS;
        let level_start = self.elapsed & !(level_range(level) - 1);
        let mut deadline = level_start + slot as u64 * slot_range(level);
        if deadline <= self.elapsed {
            // The slot is behind the current position: only the top level's
            // slots wrap around like this (deadlines are clamped to one
            // rotation of it), so the slot belongs to its next rotation.
            deadline += level_range(level);
        }
        Some(Expiration { level, slot, deadline })
    }

    /// The earliest tick at which some timer may fire (a timer at a coarse
    /// level only cascades then), or `None` if there is none.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|e| e.deadline)
    }

    /// Processes every tick up to `now`, pushing the wakers of the timers
    /// that fire onto `fired` (to be woken outside any borrow). Returns how
    /// many fired.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) -> usize {
        let mut n = 0;
        while let Some(exp) = self.next_expiration() {
            if exp.deadline > now {
                break;
            }
            self.elapsed = self.elapsed.max(exp.deadline);
            let mut key = std::mem::replace(&mut self.heads[exp.level][exp.slot], NIL);
            self.occupied[exp.level] &= !(1 << exp.slot);
            while key != NIL {
                let next = self.entries[key].next;
                if self.entries[key].when <= exp.deadline {
                    if let Some(w) = self.entries.remove(key).waker {
                        fired.push(w);
                    }
                    n += 1;
                } else {
                    self.link(key);
                }
                key = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
        n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    struct Record(usize, Arc<Mutex<Vec<usize>>>);

    impl Wake for Record {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    fn waker(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
        Waker::from(Arc::new(Record(id, log.clone())))
    }

    fn fire(wheel: &mut Wheel, now: u64) -> usize {
        let mut fired = Vec::new();
        let n = wheel.advance(now, &mut fired);
        fired.into_iter().for_each(Waker::wake);
        n
    }

    /// Timers at deadlines across every level fire exactly at the first
    /// advance that reaches them, never before.
    #[test]
    fn fires_each_timer_at_its_tick() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = Wheel::new();
        let mut whens: Vec<u64> = vec![1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 70_000, 300_000, 20_000_000];
        // A deterministic pseudo-random spread too (a smaller one under
        // Miri, which runs this about a thousand times slower: the same
        // levels and cascades are reached either way).
        let spread = if cfg!(miri) { 100 } else { 2000 };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..spread {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            whens.push(1 + x % 5_000_000);
        }
        for (id, &when) in whens.iter().enumerate() {
            wheel.insert(when, waker(id, &log)).unwrap();
        }
        let mut sorted: Vec<u64> = whens.clone();
        sorted.sort_unstable();
        sorted.dedup();
        // Advance to just before each distinct deadline, then onto it.
        for &when in &sorted {
            fire(&mut wheel, when - 1);
            let early: Vec<usize> = log.lock().unwrap().drain(..).collect();
            for id in early {
                assert!(
                    whens[id] < when,
                    "timer {id} (tick {}) fired before tick {when}",
                    whens[id]
                );
            }
            fire(&mut wheel, when);
            let now: Vec<usize> = log.lock().unwrap().drain(..).collect();
            let expected = whens.iter().filter(|&&w| w == when).count();
            assert_eq!(now.len(), expected, "tick {when}");
            assert!(now.iter().all(|&id| whens[id] == when));
        }
        assert!(wheel.is_empty());
    }

    /// Advancing in big jumps fires everything due, in deadline order
    /// across slots, and leaves the rest.
    #[test]
    fn big_jumps_fire_everything_due() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = Wheel::new();
        for (id, when) in [(0, 5_000u64), (1, 10), (2, 700), (3, 1_000_000)] {
            wheel.insert(when, waker(id, &log)).unwrap();
        }
        assert_eq!(fire(&mut wheel, 6_000), 3);
        assert_eq!(*log.lock().unwrap(), vec![1, 2, 0]);
        assert_eq!(wheel.len(), 1);
        assert_eq!(fire(&mut wheel, 999_999), 0);
        assert_eq!(fire(&mut wheel, 1_000_000), 1);
    }

    /// Cancel and reset unlink in O(1) and keep the books straight.
    #[test]
    fn cancel_and_reset() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = Wheel::new();
        let a = wheel.insert(50, waker(0, &log)).unwrap();
        let b = wheel.insert(50, waker(1, &log)).unwrap();
        let c = wheel.insert(5_000, waker(2, &log)).unwrap();
        assert!(wheel.remove(a).is_some());
        assert!(wheel.remove(a).is_none());
        assert_eq!(wheel.reset(c, 20), Ok(true));
        assert_eq!(fire(&mut wheel, 20), 1);
        assert_eq!(*log.lock().unwrap(), vec![2]);
        assert!(!wheel.contains(c));
        assert_eq!(wheel.reset(c, 30), Err(()));
        assert_eq!(wheel.reset(b, 10), Ok(false));
        assert!(wheel.is_empty());
        assert!(
            wheel.insert(20, waker(3, &log)).is_err(),
            "a processed tick is expired on arrival"
        );
    }

    /// A stale key (its timer fired, the slab key reused) is not confused
    /// with the new timer.
    #[test]
    fn stale_keys_are_detected() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = Wheel::new();
        let a = wheel.insert(5, waker(0, &log)).unwrap();
        fire(&mut wheel, 5);
        let b = wheel.insert(10, waker(1, &log)).unwrap();
        assert!(!wheel.contains(a));
        assert!(wheel.remove(a).is_none());
        assert!(wheel.contains(b));
    }

    /// The next deadline tracks the earliest slot, and clamping keeps far
    /// deadlines in range.
    #[test]
    fn next_deadline_and_clamp() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = Wheel::new();
        assert_eq!(wheel.next_deadline(), None);
        wheel.insert(u64::MAX, waker(0, &log)).unwrap();
        wheel.insert(100, waker(1, &log)).unwrap();
        assert_eq!(wheel.next_deadline(), Some(64));
        fire(&mut wheel, 64);
        assert_eq!(wheel.next_deadline(), Some(100));
        fire(&mut wheel, 100);
        assert_eq!(wheel.len(), 1);
        assert_eq!(fire(&mut wheel, MAX_TICKS + 1), 1);
    }
}
