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
const MAX_MISSES: u32 = SPIN_ROUNDS.trailing_zeros() + 1;

/// What a full spin was assumed to take before one was measured.
const FIRST_WINDOW: Duration = Duration::from_micros(20);

/// A spinning worker looks at the clock once per this many rounds (about a microsecond).
pub(super) const CHECK_EVERY: u32 = 64;

/// How a pool's idle workers wait for the next task: the trade between the latency of a
/// submit that finds a worker idle and the CPU an idle pool burns. Chosen when the pool is
/// built ([`ThreadPoolBuilder::wake_policy`](crate::ThreadPoolBuilder::wake_policy)).
///
/// Whatever the policy, a worker does not spin when it may run on only one CPU (it would
/// hold the core its submitter needs), and a spinning worker yields its core now and then.
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
    /// happened before: the next submit within that window costs no wake-up. For callers
    /// that submit in bursts with short, irregular gaps and want the lowest latency at the
    /// price of CPU.
    Latency,
    /// The default. A worker spins as `Latency` does while its spins pay; each spin that
    /// ends with no task halves its next one, down to none, and a wait that ends within a
    /// full spin's time (so a spin would have caught it) restores the full spin. A
    /// submit-and-wait loop keeps its microsecond round trip; a pool fed every 50 µs or
    /// less often stops burning CPU between tasks.
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
        }
    }

    /// The queue was empty: the rounds to spin now.
    pub(super) fn begin(&mut self) -> u32 {
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

    /// The spin ran to its end (answered or not).
    fn ran_clean(&mut self) {
        if self.last_check.take().is_some() {
            self.calm.ran_clean(Instant::now());
        }
    }

    /// The spin found a task.
    pub(super) fn answered(&mut self) {
        self.began = None;
        self.ran_clean();
    }

    /// The spin ended with no task; the worker goes to sleep.
    pub(super) fn unanswered(&mut self) {
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

    /// The worker is back from its sleep (woken, or its re-check found work). If the whole
    /// wait was shorter than a full spin, a full spin would have caught the task: spin fully
    /// again.
    pub(super) fn woke(&mut self) {
        if let Some(began) = self.began.take() {
            if began.elapsed() < self.window {
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
            l.unanswered();
            l.woke();
            assert_eq!(e.begin(), 0);
            e.unanswered();
            e.woke();
        }
    }

    #[test]
    fn balanced_halves_after_each_long_wait_down_to_none() {
        let mut b = spin(WakePolicy::Balanced);
        b.window = Duration::ZERO; // every wait is longer than a full spin
        let mut seen = Vec::new();
        for _ in 0..MAX_MISSES + 2 {
            let rounds = b.begin();
            seen.push(rounds);
            b.began = b.began.map(|t| t - Duration::from_millis(1));
            b.misses = (b.misses + 1).min(MAX_MISSES); // as unanswered, without the clock
            b.woke();
        }
        assert_eq!(seen[0], SPIN_ROUNDS);
        assert_eq!(seen[1], SPIN_ROUNDS / 2);
        assert!(seen.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(*seen.last().unwrap(), 0, "{seen:?}");
    }

    #[test]
    fn balanced_restores_the_full_spin_after_a_short_wait() {
        let mut b = spin(WakePolicy::Balanced);
        b.misses = 5;
        b.window = Duration::from_secs(3600); // any wait is shorter
        assert_eq!(b.begin(), SPIN_ROUNDS >> 5);
        b.woke();
        assert_eq!(b.begin(), SPIN_ROUNDS);
    }

    #[test]
    fn an_answered_spin_keeps_the_budget() {
        let mut b = spin(WakePolicy::Balanced);
        b.misses = 3;
        assert_eq!(b.begin(), SPIN_ROUNDS >> 3);
        b.answered();
        b.woke(); // no wait in progress: nothing changes
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
