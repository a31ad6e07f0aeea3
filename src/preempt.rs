//! Whether a thread that spins or yields while it waits is in somebody's way: [`Calm`]
//! notices that the thread lost its core in the middle of a short spin or yield (two looks at
//! the clock far further apart than the work between them), and then keeps it from
//! spinning or yielding for a while, so that it parks instead.
//!
//! On a machine with more runnable threads than cores, a spin holds a core another thread
//! needs, and a `sched_yield` hands the core to a busy thread for a whole time slice
//! (milliseconds), while a thread woken from a park is scheduled ahead of busy threads.
//! `docs/sleep.md` ("Wake policies") shows what this changed. No synchronization depends
//! on it: it only decides how long to wait before parking.

use std::time::{Duration, Instant};

/// Two looks at the clock this far apart, about a microsecond's work between them, mean
/// the thread was descheduled meanwhile.
pub(crate) const PREEMPTED: Duration = Duration::from_micros(200);

/// The first calm period after a preemption; each further one doubles, up to [`MAX_CALM`].
const FIRST_CALM: Duration = Duration::from_millis(10);
const MAX_CALM: Duration = Duration::from_secs(1);

/// One thread's memory of contention.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calm {
    /// No spinning or yielding before this.
    until: Option<Instant>,
    /// The length of the next calm period.
    next: Duration,
}

impl Calm {
    pub(crate) const fn new() -> Self {
        Calm {
            until: None,
            next: FIRST_CALM,
        }
    }

    /// Whether a calm period is running: park rather than spin or yield.
    pub(crate) fn active(&self, now: Instant) -> bool {
        self.until.is_some_and(|t| now < t)
    }

    /// `last` and `now` are two looks at the clock with a short spin or one yield between
    /// them. `true` if the thread was descheduled in between; a calm period then begins,
    /// longer than the last.
    pub(crate) fn check(&mut self, last: Instant, now: Instant) -> bool {
        if now.duration_since(last) < PREEMPTED {
            return false;
        }
        self.until = Some(now + self.next);
        self.next = (self.next * 2).min(MAX_CALM);
        true
    }

    /// A spin or yield phase ran through undisturbed after the last calm period ended: the
    /// contention is over, and the next calm period is the first length again.
    pub(crate) fn ran_clean(&mut self, now: Instant) {
        if self.until.is_some_and(|t| t <= now) {
            *self = Calm::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_gap_is_no_preemption_and_a_long_one_starts_a_calm_period() {
        let mut c = Calm::new();
        let t = Instant::now();
        assert!(!c.check(t, t + Duration::from_micros(5)));
        assert!(!c.active(t));
        assert!(c.check(t, t + Duration::from_millis(4)));
        assert!(c.active(t + Duration::from_millis(5)));
        assert!(!c.active(t + Duration::from_millis(15)));
    }

    #[test]
    fn calm_periods_double_up_to_a_second_and_reset_after_a_clean_run() {
        let mut c = Calm::new();
        let t = Instant::now();
        let mut lengths = Vec::new();
        for _ in 0..10 {
            c.check(t, t + PREEMPTED);
            lengths.push(c.until.unwrap() - (t + PREEMPTED));
        }
        assert_eq!(lengths[0], FIRST_CALM);
        assert_eq!(lengths[1], FIRST_CALM * 2);
        assert_eq!(*lengths.last().unwrap(), MAX_CALM);
        // Still calm: a clean run then changes nothing.
        c.ran_clean(t + PREEMPTED);
        assert!(c.active(t + PREEMPTED));
        // Once the period is over, a clean run forgets the contention.
        c.ran_clean(t + Duration::from_secs(2));
        assert!(c.until.is_none() && c.next == FIRST_CALM);
    }
}
