//! What an event loop does when it has nothing to run: the idle policy.
//!
//! Sleeping in the poll costs a syscall on both sides when another thread
//! has work for the sleeper (the waker's eventfd write, the sleeper's
//! `epoll_wait` return) and a context switch, tens of microseconds on a
//! small VM. Watching the inbox for a moment first avoids all of that, but
//! only when the work comes from another thread, and only if it comes
//! soon: work from the network shows up in the poll, not in the inbox, and
//! a worker that spins while its peers (or the process's other threads)
//! wait for its core delays the very work it is waiting for. So the spin
//! must pay for itself, and [`Idle`] measures whether it does.
//!
//! # The adaptive policy (the default)
//!
//! Each idle period either spins on the inbox and finds work (a *hit*),
//! spins its whole budget in vain and then parks (a *miss*), or parks
//! straight away (budget zero). The budget starts at a quarter of the
//! maximum and follows the outcomes:
//!
//! - a hit keeps the budget, or raises it to twice the wait it just saw
//!   (so that the usual wait stays well inside it), up to the maximum;
//! - a miss halves it, and below [`MIN_SPIN`] it becomes zero: a worker
//!   whose work comes from its sockets stops spinning after a handful of
//!   idle periods and then parks at once, with no syscall of its own beyond
//!   the `epoll_wait` that waits;
//! - a park that spun nothing and was ended by the inbox (a cross-thread
//!   wake or nudge) within the maximum says that a spin might have paid:
//!   the budget becomes twice that sleep, capped (a *probe*). A park right
//!   after a miss says nothing (the spin may have been what held the waker
//!   back), so it does not raise the budget. Probes back off: when a probe's
//!   spins all miss until the budget is zero again, the next probe waits for
//!   twice as many such parks (up to [`MAX_PROBE_GAP`]); a hit resets that.
//!   So where spinning cannot pay (the waker needs this very core, or the
//!   machine is oversubscribed), its cost falls to a spin every thousand
//!   parks or so.
//!
//! - a spin that the scheduler interrupted (two looks at the clock more
//!   than [`PREEMPTED_GAP`] apart: the thread was off its core) means that
//!   something else wanted the core, on a machine whose cores the worker
//!   shares (with its own load, a sidecar, other processes). Spinning there
//!   takes CPU from the very work it waits for, so such a spin counts as a
//!   miss that sets the budget to zero at once (a *preemption*), and the
//!   probes back off as after a failed probe.
//!
//! The spin itself watches only memory (the inbox head, the root's flag):
//! no `sched_yield`, no zero-timeout `epoll_wait`; its cost is the budget
//! it spins, which a run of misses drives to zero.
//!
//! # Busy polling
//!
//! [`IdlePolicy::BusyPoll`] is for users who own their cores: the loop
//! spins for a fixed time, looking at its sockets with a zero-timeout poll
//! every [`BUSY_POLL_EVERY`] of spinning as well as at its inbox, and never
//! adapts. It answers a little sooner and burns its core (and a syscall per
//! look) while idle.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The shortest spin worth starting: below this the budget becomes zero.
pub(crate) const MIN_SPIN: Duration = Duration::from_micros(1);

/// The most quick inbox wakes between two probes of a spin that keeps
/// failing.
pub(crate) const MAX_PROBE_GAP: u32 = 1024;

/// A gap between two looks at the clock during a spin longer than this
/// means the spinning thread was descheduled (a look takes well under a
/// microsecond).
pub(crate) const PREEMPTED_GAP: Duration = Duration::from_micros(20);

/// How often a busy-polling loop looks at its sockets while it spins.
pub(crate) const BUSY_POLL_EVERY: Duration = Duration::from_micros(2);

/// How an idle event loop waits for work; see [`Builder::spin_before_park`]
/// and [`Builder::busy_poll`].
///
/// [`Builder::spin_before_park`]: crate::Builder::spin_before_park
/// [`Builder::busy_poll`]: crate::Builder::busy_poll
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdlePolicy {
    /// Spin on the inbox for a budget that adapts to whether spinning finds
    /// work, at most `max`, then park. A zero `max` parks at once.
    Adaptive { max: Duration },
    /// Spin for `spin`, looking at the inbox and the sockets, then park.
    BusyPoll { spin: Duration },
}

/// What one call of [`Idle::spin`] should look at besides the inbox.
pub(crate) trait Watch {
    /// Whether work has arrived for the loop (its inbox, its root future).
    fn work_arrived(&self) -> bool;
    /// Looks at the sockets without blocking; returns whether that made
    /// work. Only busy polling calls it.
    fn poll_sockets(&mut self) -> bool;
}

/// The idle state of one event loop (see the module documentation).
pub(crate) struct Idle {
    policy: IdlePolicy,
    /// The current spin budget, in nanoseconds (adaptive policy).
    budget: Cell<u64>,
    /// The last idle period spun its whole budget in vain.
    missed: Cell<bool>,
    /// Quick inbox wakes of cold parks needed before the next probe, and
    /// those seen since the last one.
    probe_gap: Cell<u32>,
    quick_wakes: Cell<u32>,
    /// A hit since the budget last rose from zero.
    hit_since_probe: Cell<bool>,
    /// Counters, published by the loop as metrics.
    pub(crate) hits: Cell<u64>,
    pub(crate) misses: Cell<u64>,
    pub(crate) preempted: Cell<u64>,
    pub(crate) spin_nanos: Cell<u64>,
}

impl Idle {
    pub(crate) fn new(policy: IdlePolicy) -> Self {
        let budget = match policy {
            IdlePolicy::Adaptive { max } => nanos(max) / 4,
            IdlePolicy::BusyPoll { spin } => nanos(spin),
        };
        Self {
            policy,
            budget: Cell::new(budget),
            missed: Cell::new(false),
            probe_gap: Cell::new(1),
            quick_wakes: Cell::new(0),
            hit_since_probe: Cell::new(false),
            hits: Cell::new(0),
            misses: Cell::new(0),
            preempted: Cell::new(0),
            spin_nanos: Cell::new(0),
        }
    }

    /// The current spin budget.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn budget(&self) -> Duration {
        Duration::from_nanos(self.budget.get())
    }

    fn max(&self) -> u64 {
        match self.policy {
            IdlePolicy::Adaptive { max } => nanos(max),
            IdlePolicy::BusyPoll { spin } => nanos(spin),
        }
    }

    /// Spins for the current budget while `watch` sees no work. Returns
    /// whether work arrived; if not, the loop parks and then reports how
    /// the park went with [`parked`](Self::parked).
    pub(crate) fn spin(&self, watch: &mut dyn Watch) -> bool {
        let budget = self.budget.get();
        if budget == 0 {
            self.missed.set(false);
            return false;
        }
        let busy_poll = matches!(self.policy, IdlePolicy::BusyPoll { .. });
        let start = Instant::now();
        let mut next_poll = nanos(BUSY_POLL_EVERY);
        let mut last = 0;
        let (found, spun) = loop {
            for _ in 0..32 {
                if watch.work_arrived() {
                    break;
                }
                std::hint::spin_loop();
            }
            let spun = nanos(start.elapsed());
            if watch.work_arrived() {
                break (true, spun);
            }
            if spun - last > nanos(PREEMPTED_GAP) && !busy_poll {
                // Off the core for a while: someone else wants it.
                self.preempted.set(self.preempted.get() + 1);
                self.budget.set(0);
                break (false, spun);
            }
            last = spun;
            if busy_poll && spun >= next_poll {
                next_poll = spun + nanos(BUSY_POLL_EVERY);
                if watch.poll_sockets() {
                    break (true, spun);
                }
            }
            if spun >= budget {
                break (false, spun);
            }
        };
        self.spin_nanos.set(self.spin_nanos.get().saturating_add(spun));
        self.after_spin(found, spun);
        found
    }

    fn after_spin(&self, found: bool, spun: u64) {
        if found {
            self.hits.set(self.hits.get() + 1);
            self.missed.set(false);
            self.hit_since_probe.set(true);
            self.probe_gap.set(1);
        } else {
            self.misses.set(self.misses.get() + 1);
            self.missed.set(true);
        }
        if let IdlePolicy::Adaptive { .. } = self.policy {
            let budget = self.budget.get();
            let next = if found {
                budget.max(spun.saturating_mul(2)).min(self.max())
            } else if budget == 0 {
                0
            } else {
                budget / 2
            };
            self.set_budget(next);
            if self.budget.get() == 0 && !self.hit_since_probe.get() {
                // The probe found nothing: probe half as often.
                self.probe_gap
                    .set(self.probe_gap.get().saturating_mul(2).min(MAX_PROBE_GAP));
            }
        }
    }

    /// Reports a park that lasted `slept` (`None`: not timed, see
    /// [`wants_park_time`](Self::wants_park_time)) and whether the inbox
    /// (rather than the sockets or a timer) ended it.
    pub(crate) fn parked(&self, slept: Option<Duration>, by_inbox: bool) {
        let after_miss = self.missed.replace(false);
        let (IdlePolicy::Adaptive { .. }, Some(slept)) = (self.policy, slept) else {
            return;
        };
        let slept = nanos(slept);
        if by_inbox && !after_miss && self.budget.get() == 0 && slept < self.max() {
            let quick = self.quick_wakes.get() + 1;
            if quick >= self.probe_gap.get() {
                self.quick_wakes.set(0);
                self.hit_since_probe.set(false);
                self.set_budget(slept.saturating_mul(2).min(self.max()));
            } else {
                self.quick_wakes.set(quick);
            }
        }
    }

    /// Whether the loop should time its parks (for [`parked`](Self::parked)).
    pub(crate) fn wants_park_time(&self) -> bool {
        matches!(self.policy, IdlePolicy::Adaptive { max } if !max.is_zero()) && self.budget.get() == 0
    }

    fn set_budget(&self, ns: u64) {
        self.budget.set(if ns < nanos(MIN_SPIN) { 0 } else { ns });
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// No work in the inbox; `socket_work` says whether a look at the
    /// sockets finds some.
    struct After {
        polls: u32,
        socket_work: bool,
    }

    impl Watch for After {
        fn work_arrived(&self) -> bool {
            false
        }
        fn poll_sockets(&mut self) -> bool {
            self.polls += 1;
            self.socket_work
        }
    }

    struct Ready;

    impl Watch for Ready {
        fn work_arrived(&self) -> bool {
            true
        }
        fn poll_sockets(&mut self) -> bool {
            unreachable!("work was already there")
        }
    }

    fn never() -> After {
        After {
            polls: 0,
            socket_work: false,
        }
    }

    #[test]
    fn misses_drive_the_budget_to_zero_and_it_stays_there() {
        let idle = Idle::new(IdlePolicy::Adaptive {
            max: Duration::from_micros(40),
        });
        assert_eq!(idle.budget(), Duration::from_micros(10));
        let mut misses = 0;
        while idle.budget() > Duration::ZERO {
            assert!(!idle.spin(&mut never()));
            // Woken by the sockets: no reason to spin again.
            idle.parked(Some(Duration::from_micros(5)), false);
            misses += 1;
            assert!(misses < 10, "the budget never reached zero");
        }
        assert_eq!(idle.misses.get(), misses);
        // From zero, a spin costs nothing and sockets never raise it.
        for _ in 0..100 {
            assert!(!idle.spin(&mut never()));
            idle.parked(Some(Duration::from_micros(5)), false);
        }
        assert_eq!(idle.budget(), Duration::ZERO);
        assert_eq!(idle.misses.get(), misses, "a zero budget does not spin");
    }

    #[test]
    fn a_quick_wake_from_the_inbox_after_a_cold_park_raises_the_budget() {
        let max = Duration::from_micros(40);
        let idle = Idle::new(IdlePolicy::Adaptive { max });
        while idle.budget() > Duration::ZERO {
            idle.spin(&mut never());
            // Right after a miss, a quick inbox wake says nothing.
            idle.parked(Some(Duration::from_micros(3)), true);
        }
        assert_eq!(idle.budget(), Duration::ZERO);
        assert!(idle.wants_park_time());
        // Cold parks ended by the inbox after 3 µs: the first spins found
        // nothing, so the second such park starts the probe.
        assert!(!idle.spin(&mut never()));
        idle.parked(Some(Duration::from_micros(3)), true);
        assert_eq!(idle.budget(), Duration::ZERO);
        assert!(!idle.spin(&mut never()));
        idle.parked(Some(Duration::from_micros(3)), true);
        assert_eq!(idle.budget(), Duration::from_micros(6));
        // A slow inbox wake (beyond the maximum) would not have paid.
        let idle = Idle::new(IdlePolicy::Adaptive { max });
        while idle.budget() > Duration::ZERO {
            idle.spin(&mut never());
            idle.parked(Some(Duration::ZERO), false);
        }
        idle.spin(&mut never());
        idle.parked(Some(Duration::from_micros(400)), true);
        assert_eq!(idle.budget(), Duration::ZERO);
    }

    /// Runs probes that always miss until the budget is zero again;
    /// returns how many quick cold wakes it took to start the last probe.
    fn failed_probe(idle: &Idle) -> u32 {
        let mut wakes = 0;
        while idle.budget() == Duration::ZERO {
            assert!(!idle.spin(&mut never()));
            idle.parked(Some(Duration::from_micros(3)), true);
            wakes += 1;
        }
        while idle.budget() > Duration::ZERO {
            assert!(!idle.spin(&mut never()));
            idle.parked(Some(Duration::from_micros(3)), true);
        }
        wakes
    }

    #[test]
    fn probes_that_keep_failing_back_off_and_a_hit_resets_them() {
        let idle = Idle::new(IdlePolicy::Adaptive {
            max: Duration::from_micros(40),
        });
        while idle.budget() > Duration::ZERO {
            idle.spin(&mut never());
            idle.parked(None, false);
        }
        let gaps: Vec<u32> = (0..12).map(|_| failed_probe(&idle)).collect();
        assert_eq!(gaps[..4], [2, 4, 8, 16], "{gaps:?}");
        assert_eq!(*gaps.last().unwrap(), MAX_PROBE_GAP);
        // Once a probe hits, the next one comes at the first quick wake.
        while idle.budget() == Duration::ZERO {
            idle.spin(&mut never());
            idle.parked(Some(Duration::from_micros(3)), true);
        }
        assert!(idle.spin(&mut Ready));
        while idle.budget() > Duration::ZERO {
            idle.spin(&mut never());
            idle.parked(Some(Duration::from_micros(3)), true);
        }
        assert_eq!(failed_probe(&idle), 1);
    }

    #[test]
    fn hits_keep_the_budget() {
        let idle = Idle::new(IdlePolicy::Adaptive {
            max: Duration::from_micros(40),
        });
        for _ in 0..100 {
            assert!(idle.spin(&mut Ready));
        }
        assert_eq!(idle.hits.get(), 100);
        // Hits never shrink the budget (it starts at a quarter of the
        // maximum); a hit that took long on the real clock (a preempted
        // thread, a sanitizer, Miri) may grow it, up to the maximum.
        assert!(idle.budget() >= Duration::from_micros(10), "{:?}", idle.budget());
        assert!(idle.budget() <= Duration::from_micros(40), "{:?}", idle.budget());
    }

    /// Sleeps on its first look: the spinning thread is off its core, as
    /// when the scheduler runs another thread there.
    struct Descheduled {
        looks: Cell<u32>,
    }

    impl Watch for Descheduled {
        fn work_arrived(&self) -> bool {
            self.looks.set(self.looks.get() + 1);
            if self.looks.get() == 1 {
                std::thread::sleep(PREEMPTED_GAP * 5);
            }
            false
        }
        fn poll_sockets(&mut self) -> bool {
            false
        }
    }

    #[test]
    fn a_preempted_spin_stops_spinning_and_backs_the_probes_off() {
        let max = Duration::from_micros(40);
        let idle = Idle::new(IdlePolicy::Adaptive { max });
        // A hit first: spinning had paid until now.
        assert!(idle.spin(&mut Ready));
        assert!(idle.budget() > Duration::ZERO);
        assert!(!idle.spin(&mut Descheduled { looks: Cell::new(0) }));
        assert_eq!(idle.preempted.get(), 1);
        assert_eq!(idle.misses.get(), 1);
        assert_eq!(idle.budget(), Duration::ZERO, "no spinning on a contended core");
        // The next probe needs a quick inbox wake as after any miss.
        idle.parked(Some(Duration::from_micros(3)), true);
        assert_eq!(idle.budget(), Duration::ZERO);
        // A preempted probe backs the probes off like a failed one.
        let idle = Idle::new(IdlePolicy::Adaptive { max });
        while idle.budget() > Duration::ZERO {
            idle.spin(&mut never());
            idle.parked(None, false);
        }
        let quick_wakes_until_probe = |idle: &Idle| {
            let mut wakes = 0;
            while idle.budget() == Duration::ZERO {
                assert!(!idle.spin(&mut never()));
                idle.parked(Some(Duration::from_micros(3)), true);
                wakes += 1;
            }
            wakes
        };
        let first = quick_wakes_until_probe(&idle);
        assert!(!idle.spin(&mut Descheduled { looks: Cell::new(0) }));
        assert_eq!(idle.budget(), Duration::ZERO);
        let second = quick_wakes_until_probe(&idle);
        assert_eq!(second, 2 * first, "the next probe waits twice as long");
    }

    #[test]
    fn zero_maximum_never_spins() {
        let idle = Idle::new(IdlePolicy::Adaptive { max: Duration::ZERO });
        assert!(!idle.spin(&mut Ready));
        idle.parked(Some(Duration::from_nanos(100)), true);
        assert_eq!(idle.budget(), Duration::ZERO);
        assert!(!idle.wants_park_time());
        assert_eq!(idle.hits.get() + idle.misses.get(), 0);
    }

    #[test]
    fn busy_poll_looks_at_the_sockets_and_never_adapts() {
        let spin = Duration::from_micros(20);
        let idle = Idle::new(IdlePolicy::BusyPoll { spin });
        let mut watch = never();
        assert!(!idle.spin(&mut watch));
        assert!(watch.polls >= 1, "busy polling looked at the sockets");
        assert_eq!(idle.budget(), spin);
        let mut watch = After {
            polls: 0,
            socket_work: true,
        };
        assert!(idle.spin(&mut watch));
        assert_eq!(watch.polls, 1);
        assert_eq!(idle.budget(), spin);
    }
}
