//! How long an idle worker polls the queue before it sleeps: the [`WakePolicy`] a pool is
//! built with, and the per-worker state of its `Balanced` rule. `docs/sleep.md` ("Wake
//! policies") gives the rules and the measurements behind them.
//!
//! A spin never replaces the sleep protocol of `sleep.rs`: whatever a policy decides, a
//! worker that found nothing goes through the same announce, fence, re-check and park, so
//! the loom models (which run with no spin at all) cover every policy.

use crate::preempt::Calm;
use std::time::{Duration, Instant};

/// Rounds of `spin_loop` a worker polls the injector before it sleeps: about 20 µs on the
/// machines this was measured on, long enough to catch the next task of a submit/wait loop
/// without a wake-up (2–70 µs), short enough that an idle pool stops burning CPU at once.
#[cfg(not(concurrent_futures_loom))]
const SPIN_ROUNDS: u32 = 1024;
#[cfg(concurrent_futures_loom)]
const SPIN_ROUNDS: u32 = 0;

/// `Balanced` halves a worker's spin once per unanswered spin, down to none after this many.
const MAX_MISSES: u32 = u32::BITS - SPIN_ROUNDS.leading_zeros();

/// What a full spin was assumed to take before one was measured.
const FIRST_WINDOW: Duration = Duration::from_micros(20);

/// A spinning worker looks at the clock once per this many rounds (about a microsecond).
pub(super) const CHECK_EVERY: u32 = 64;

/// How a pool's idle workers wait for the next task: the trade between the latency of a
/// submit that finds a worker idle and the CPU an idle pool burns. Chosen when the pool is
/// built ([`ThreadPoolBuilder::wake_policy`](crate::ThreadPoolBuilder::wake_policy)).
///
/// Whatever the policy, a worker does not spin when it may run on only one CPU (it would
/// hold the core its submitter needs). [`PoolMetrics`](crate::PoolMetrics) counts the
/// spins that found a task and those that did not, to see whether a policy's spin pays.
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor, WakePolicy};
///
/// // A service that submits a task every few milliseconds gains nothing from a spin.
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(2)
///     .wake_policy(WakePolicy::Efficiency)
///     .build()
///     .unwrap();
/// assert_eq!(pool.wake_policy(), WakePolicy::Efficiency);
/// assert_eq!(*pool.submit(|| 6 * 7).unwrap().result().unwrap(), 42);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WakePolicy {
    /// After every task a worker polls the queue for about 20 µs before it sleeps, whatever
    /// happened before and however busy the machine is: the next submit within that window
    /// costs no wake-up. For callers that submit in bursts with short, irregular gaps, on a
    /// machine with cores to spare, and want the lowest latency at the price of CPU.
    Latency,
    /// The default. A worker spins as `Latency` does while its spins pay; each spin that
    /// ends with no task halves its next one, down to none, and a task that arrives
    /// within a full spin's time of the wait's start (so a spin would have caught it)
    /// restores the full spin. A spin during which the worker lost its core (the machine
    /// has more runnable threads than cores) stops, and no spin follows for a while. A
    /// back-to-back submit-and-wait loop keeps its sub-microsecond round trip; a pool fed
    /// every 50 µs or less often stops burning CPU between tasks.
    #[default]
    Balanced,
    /// A worker never spins: it sleeps as soon as the queue is empty, and each submit that
    /// finds it asleep pays a wake-up. For pools that are mostly idle, or machines where
    /// CPU is the scarce thing.
    Efficiency,
}

/// One worker's spin state.
pub(super) struct Spin {
    policy: WakePolicy,
    /// Rounds of a full spin: [`SPIN_ROUNDS`], or none without a second CPU.
    full: u32,
    /// `Balanced`: spins in a row that ended with no task (each halves the next).
    misses: u32,
    /// `Balanced`: how long a full spin takes here (measured once one goes unanswered).
    window: Duration,
    /// `Balanced`: when the current wait began (its first empty poll).
    began: Option<Instant>,
    /// `Balanced`: the last look at the clock in the current spin.
    last_check: Option<Instant>,
    /// `Balanced`: whether this worker was found in others' way (`preempt.rs`).
    calm: Calm,
    /// Whether the current wait spins at all.
    spun: bool,
}

/// How a worker's wait for a task went, for its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpinEnd {
    /// The queue had a task at once, or the policy did not spin.
    NoSpin,
    /// The spin found a task.
    Caught,
    /// The spin ended with none; the worker sleeps.
    Missed,
}

impl Spin {
    /// A worker's state; it asks once, when it starts, how many CPUs it may run on
    /// (threads inherit their creator's affinity).
    pub(super) fn new(policy: WakePolicy) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Spin {
            policy,
            full: if cpus > 1 { SPIN_ROUNDS } else { 0 },
            misses: 0,
            window: FIRST_WINDOW,
            began: None,
            last_check: None,
            calm: Calm::new(),
            spun: false,
        }
    }

    /// The queue was empty: the rounds to spin now.
    pub(super) fn begin(&mut self) -> u32 {
        let rounds = self.rounds();
        self.spun = rounds > 0;
        rounds
    }

    fn rounds(&mut self) -> u32 {
        match self.policy {
            WakePolicy::Latency => self.full,
            WakePolicy::Efficiency => 0,
            WakePolicy::Balanced if self.full == 0 => 0,
            WakePolicy::Balanced => {
                let now = Instant::now();
                self.began = Some(now);
                self.last_check = Some(now);
                if self.calm.active(now) {
                    return 0;
                }
                self.full.checked_shr(self.misses).unwrap_or(0)
            }
        }
    }

    /// Called every [`CHECK_EVERY`] rounds of a spin: `false` if the spin should stop
    /// because the worker was preempted while spinning (`Balanced` only). The machine is
    /// then contended: no spin for a calm period, longer each time it is found so again,
    /// and back to the first length once a spin runs through unpreempted (`preempt.rs`).
    pub(super) fn keep_spinning(&mut self) -> bool {
        let Some(last) = self.last_check else {
            return true;
        };
        let now = Instant::now();
        self.last_check = Some(now);
        !self.calm.check(last, now)
    }

    /// The spin ran to its end (answered or not). A wait that did not spin (a calm
    /// period, or no spin left) is no evidence that the contention is over.
    fn ran_clean(&mut self) {
        if self.last_check.take().is_some() && self.spun {
            self.calm.ran_clean(Instant::now());
        }
    }

    /// The spin found a task.
    pub(super) fn answered(&mut self) -> SpinEnd {
        self.began = None;
        self.ran_clean();
        if self.spun {
            SpinEnd::Caught
        } else {
            SpinEnd::NoSpin
        }
    }

    /// The spin ended with no task; the worker goes to sleep.
    pub(super) fn unanswered(&mut self) -> SpinEnd {
        let end = if self.spun {
            SpinEnd::Missed
        } else {
            SpinEnd::NoSpin
        };
        self.record_miss();
        end
    }

    fn record_miss(&mut self) {
        self.ran_clean();
        if let Some(began) = self.began {
            // A spin cut short by a preemption, or skipped in a calm period, did not measure
            // how long a full spin takes.
            let calm = self.calm.active(Instant::now());
            if self.misses == 0 && !calm {
                self.window = began.elapsed().max(Duration::from_micros(1));
            }
            self.misses = (self.misses + 1).min(MAX_MISSES);
        }
    }

    /// The worker is back from its sleep: woken by a submit at `woken_at` (stamped by the
    /// waker, so the wake-up's own cost is not counted), or its re-check found work (`None`:
    /// now). If the task came within a full spin's time of the wait's start, a full spin
    /// would have caught it: spin fully again.
    pub(super) fn woke(&mut self, woken_at: Option<Instant>) {
        if let Some(began) = self.began.take() {
            let came = woken_at.unwrap_or_else(Instant::now);
            if came.saturating_duration_since(began) < self.window {
                self.misses = 0;
            }
        }
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    fn spin(policy: WakePolicy) -> Spin {
        Spin {
            full: SPIN_ROUNDS,
            ..Spin::new(policy)
        }
    }

    #[test]
    fn latency_always_spins_fully_and_efficiency_never() {
        let (mut l, mut e) = (spin(WakePolicy::Latency), spin(WakePolicy::Efficiency));
        for _ in 0..3 {
            assert_eq!(l.begin(), SPIN_ROUNDS);
            assert_eq!(l.unanswered(), SpinEnd::Missed);
            l.woke(None);
            assert_eq!(e.begin(), 0);
            assert_eq!(e.unanswered(), SpinEnd::NoSpin);
            e.woke(None);
        }
    }

    #[test]
    fn balanced_halves_after_each_long_wait_down_to_none() {
        let mut b = spin(WakePolicy::Balanced);
        let mut seen = Vec::new();
        for _ in 0..MAX_MISSES + 2 {
            let rounds = b.begin();
            seen.push(rounds);
            b.unanswered();
            // Woken by a task that came far later than any spin lasts.
            b.woke(Some(Instant::now() + Duration::from_secs(1)));
        }
        assert_eq!(seen[0], SPIN_ROUNDS);
        assert_eq!(seen[1], SPIN_ROUNDS / 2);
        assert!(seen.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(*seen.last().unwrap(), 0, "{seen:?}");
        // A wait with no spin left is not counted as a missed spin.
        assert_eq!(b.unanswered(), SpinEnd::NoSpin);
    }

    #[test]
    fn the_wake_ups_own_cost_does_not_count_against_the_spin() {
        let mut b = spin(WakePolicy::Balanced);
        b.misses = MAX_MISSES;
        b.window = Duration::from_micros(20);
        assert_eq!(b.begin(), 0);
        b.unanswered();
        // The task came 5 µs after the wait began, though the wake-up took far longer.
        let began = b.began.unwrap();
        b.woke(Some(began + Duration::from_micros(5)));
        assert_eq!(b.begin(), SPIN_ROUNDS);
    }

    #[test]
    fn a_preempted_spin_stops_and_starts_a_calm_period_without_spins() {
        let mut b = spin(WakePolicy::Balanced);
        assert_eq!(b.begin(), SPIN_ROUNDS);
        assert!(b.keep_spinning(), "a microsecond later: not preempted");
        b.last_check = b.last_check.map(|t| t - Duration::from_millis(5));
        assert!(!b.keep_spinning(), "5 ms between two looks: preempted");
        assert_eq!(b.unanswered(), SpinEnd::Missed);
        b.woke(None);
        assert_eq!(b.begin(), 0, "calm: no spin");
        assert_eq!(b.answered(), SpinEnd::NoSpin);
        assert!(
            b.calm.active(Instant::now()),
            "a wait without a spin does not end the calm"
        );
    }

    #[test]
    fn balanced_restores_the_full_spin_after_a_short_wait() {
        let mut b = spin(WakePolicy::Balanced);
        b.misses = 5;
        b.window = Duration::from_secs(3600); // any wait is shorter
        assert_eq!(b.begin(), SPIN_ROUNDS >> 5);
        b.woke(None);
        assert_eq!(b.begin(), SPIN_ROUNDS);
    }

    #[test]
    fn an_answered_spin_keeps_the_budget() {
        let mut b = spin(WakePolicy::Balanced);
        b.misses = 3;
        assert_eq!(b.begin(), SPIN_ROUNDS >> 3);
        assert_eq!(b.answered(), SpinEnd::Caught);
        b.woke(None); // no wait in progress: nothing changes
        assert_eq!(b.begin(), SPIN_ROUNDS >> 3);
    }

    #[test]
    fn one_cpu_means_no_spin_for_every_policy() {
        for p in [
            WakePolicy::Latency,
            WakePolicy::Balanced,
            WakePolicy::Efficiency,
        ] {
            let mut s = Spin {
                full: 0,
                ..Spin::new(p)
            };
            assert_eq!(s.begin(), 0, "{p:?}");
        }
    }
}
