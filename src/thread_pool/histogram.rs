//! Optional timing histograms of a pool's tasks (builder `timing_histograms`): how long each
//! waited in the queue, and how long its body ran. Off by default: on, each task takes two
//! clock reads and two relaxed RMWs on counters all workers share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BUCKETS: usize = Histogram::BUCKETS;

/// A histogram of durations in powers of two of nanoseconds, a snapshot of
/// [`PoolMetrics::queue_wait`](crate::PoolMetrics::queue_wait) or
/// [`run_time`](crate::PoolMetrics::run_time).
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::builder().timing_histograms(true).build().unwrap();
/// pool.submit(|| std::thread::sleep(std::time::Duration::from_millis(2))).unwrap().result().unwrap();
/// let run = pool.metrics().run_time.unwrap();
/// assert_eq!(run.count(), 1);
/// assert!(run.quantile(0.5) >= std::time::Duration::from_millis(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Counts per bucket (see [`Histogram::BUCKETS`]).
    pub buckets: [u64; Histogram::BUCKETS],
}

impl Histogram {
    /// Buckets: bucket `i` counts durations below `2^i` ns (and at least `2^(i-1)`); the
    /// last one everything from `2^38` ns (about 4.6 minutes) on.
    pub const BUCKETS: usize = 40;

    /// Durations recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket that holds quantile `q` (0 to 1): within a factor of
    /// two of the true value below the last bucket (which holds everything longer). Zero
    /// for an empty histogram.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.count();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(1u64 << i.min(63));
            }
        }
        Duration::from_nanos(1u64 << (BUCKETS - 1))
    }
}

/// The live counters behind a [`Histogram`].
pub(crate) struct Recorder {
    buckets: [AtomicU64; BUCKETS],
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = (u64::BITS - ns.leading_zeros()) as usize;
        // ORDERING: Relaxed: a count (as every metric, `metrics.rs`).
        self.buckets[i.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Histogram {
        Histogram {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

/// A pool's two histograms.
pub(crate) struct Timings {
    wait: Recorder,
    run: Recorder,
}

impl Timings {
    pub(crate) fn new() -> Self {
        Timings {
            wait: Recorder::new(),
            run: Recorder::new(),
        }
    }

    pub(crate) fn snapshot(&self) -> (Histogram, Histogram) {
        (self.wait.snapshot(), self.run.snapshot())
    }

    /// Stamps a task at its submit, for [`Stamp::run`].
    pub(crate) fn stamp(timings: &std::sync::Arc<Timings>) -> Stamp {
        Stamp {
            timings: timings.clone(),
            submitted: Instant::now(),
        }
    }
}

/// A task's submit time, carried into its body.
pub(crate) struct Stamp {
    timings: std::sync::Arc<Timings>,
    submitted: Instant,
}

impl Stamp {
    /// Runs the task's body, recording its queue wait (submit to start) and its run time
    /// (also when it panics).
    pub(crate) fn run<T>(self, f: impl FnOnce() -> T) -> T {
        struct Run(Stamp, Instant);
        impl Drop for Run {
            fn drop(&mut self) {
                self.0.timings.run.record(self.1.elapsed());
            }
        }
        let started = Instant::now();
        self.timings.wait.record(started - self.submitted);
        let _run = Run(self, started);
        f()
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_their_power_of_two_and_quantiles_read_back() {
        let r = Recorder::new();
        for ns in [0u64, 1, 3, 1000, 1000, 1_000_000] {
            r.record(Duration::from_nanos(ns));
        }
        r.record(Duration::from_secs(100_000)); // past the last bucket: kept in it
        let h = r.snapshot();
        assert_eq!(h.count(), 7);
        assert_eq!(h.buckets[0], 1, "0 ns");
        assert_eq!(h.buckets[1], 1, "1 ns");
        assert_eq!(h.buckets[2], 1, "3 ns");
        assert_eq!(h.buckets[10], 2, "1000 ns is below 1024");
        assert_eq!(h.buckets[BUCKETS - 1], 1);
        assert_eq!(h.quantile(0.5), Duration::from_nanos(1024));
        assert_eq!(h.quantile(0.0), Duration::from_nanos(1));
        let empty = Recorder::new().snapshot();
        assert_eq!(empty.quantile(0.99), Duration::ZERO);
    }
}
