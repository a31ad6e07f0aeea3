//! When workers sleep and who wakes them. `docs/sleep.md` gives the protocol and the argument
//! that no wake-up is lost; this follows rayon's `rayon-core/src/sleep` (announce, fence,
//! re-check) with a simpler counter: how many workers are *searching* (awake, looking for
//! work) and how many are *sleeping*, in one word.
//!
//! * A submitter pushes, issues `fence(SeqCst)`, then loads the counts: if anyone is
//!   searching it does nothing (no system call); else it wakes a sleeper; else the pool may
//!   start a thread.
//! * A worker that found nothing moves itself from searching to sleeping (one RMW, under the
//!   sleeper-list lock, after putting itself on the list), issues `fence(SeqCst)`, then
//!   re-checks the queue. If it finds work it takes itself off the list again.
//!
//! The two fences make it a Dekker handshake: either the submitter's load sees the worker
//! still searching (and the worker's re-check, after its fence, sees the task), or the load
//! sees it sleeping and the submitter wakes a sleeper.

use crate::sync::{
    Arc, AtomicBool, AtomicUsize, Mutex, Ordering, Thread, current_thread, fence, lock, park,
};
use crossbeam_utils::CachePadded;
use std::time::{Duration, Instant};

const SEARCHING_ONE: usize = 1;
const SLEEPING_SHIFT: u32 = usize::BITS / 2;
const SLEEPING_ONE: usize = 1 << SLEEPING_SHIFT;
const SEARCHING_MASK: usize = SLEEPING_ONE - 1;

/// The most workers the counts can hold: each half of the word counts up to this many.
pub(crate) const MAX_WORKERS: usize = SEARCHING_MASK;
#[cfg(target_pointer_width = "64")]
pub(crate) const MAX_WORKERS_MESSAGE: &str = "max_workers must be below 2^32";
#[cfg(not(target_pointer_width = "64"))]
pub(crate) const MAX_WORKERS_MESSAGE: &str = "max_workers must be below 2^16";

fn searching(c: usize) -> usize {
    c & SEARCHING_MASK
}

fn sleeping(c: usize) -> usize {
    c >> SLEEPING_SHIFT
}

/// One worker's parking spot.
pub(crate) struct Sleeper {
    thread: Thread,
    /// Set (Release) by the waker after it moved this worker back to searching.
    woken: AtomicBool,
    /// When the waker woke it, in nanoseconds since [`clock_base`] (0: not stamped), for
    /// the wake policy's measure of how long the wait really was (`spin.rs`). A
    /// measurement only: nothing synchronizes on it.
    woken_at: std::sync::atomic::AtomicU64,
}

/// The instant the wake stamps count from.
fn clock_base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

impl Sleeper {
    /// The current thread's spot.
    pub(crate) fn current() -> Arc<Sleeper> {
        Arc::new(Sleeper {
            thread: current_thread(),
            woken: AtomicBool::new(false),
            woken_at: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// When its waker woke it, if one did since the last call.
    pub(crate) fn take_woken_at(&self) -> Option<Instant> {
        // ORDERING: Relaxed: a measurement; the waker's store precedes its Release of
        // `woken`, which the sleeper acquired before asking.
        match self.woken_at.swap(0, std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            n => Some(clock_base() + Duration::from_nanos(n)),
        }
    }

    fn stamp_wake(&self) {
        #[cfg(not(concurrent_futures_loom))]
        {
            let n = clock_base().elapsed().as_nanos().clamp(1, u64::MAX as u128) as u64;
            // ORDERING: Relaxed: see `take_woken_at`.
            self.woken_at.store(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// What [`Sleep::notify_one`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notified {
    /// A worker is searching and will find the work: nothing was done.
    Searching,
    /// A sleeping worker was woken.
    Woke,
    /// Nobody is searching or sleeping: every started worker is busy.
    Nobody,
}

pub(crate) struct Sleep {
    /// `searching` in the low half, `sleeping` in the high half.
    counts: CachePadded<AtomicUsize>,
    sleepers: Mutex<Vec<Arc<Sleeper>>>,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            counts: CachePadded::new(AtomicUsize::new(0)),
            sleepers: Mutex::new(Vec::new()),
        }
    }

    /// A new worker (or one that finished a task) starts searching.
    #[inline]
    pub(crate) fn start_searching(&self) {
        self.counts.fetch_add(SEARCHING_ONE, Ordering::SeqCst);
    }

    /// A searching worker found work (or exits). Returns `true` if it was the last searcher,
    /// in which case it should notify another worker if work remains (so a burst of
    /// submissions is spread out, as tokio's "last searcher notifies" rule does).
    #[inline]
    pub(crate) fn stop_searching(&self) -> bool {
        let prev = self.counts.fetch_sub(SEARCHING_ONE, Ordering::SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// After new work was pushed: make sure some worker will look at it.
    pub(crate) fn notify_one(&self) -> Notified {
        // ORDERING: SeqCst fence between the caller's push and the load of the counts: the
        // submitter's half of the Dekker handshake (module doc; docs/sleep.md).
        plant!("notify_without_its_fence", (), fence(Ordering::SeqCst));
        let c = self.counts.load(Ordering::Relaxed);
        if searching(c) > 0 {
            return Notified::Searching;
        }
        if sleeping(c) > 0 {
            // An empty list here means the counted sleeper saw work in its re-check and took
            // itself off the list: it is searching again and drains the queue before it
            // sleeps. Starting a thread for it would only add an idle one.
            return if self.wake_one() {
                Notified::Woke
            } else {
                Notified::Searching
            };
        }
        Notified::Nobody
    }

    /// Wakes one sleeper, moving it back to searching. `false` if the list was empty: a
    /// worker lists itself before it counts itself as sleeping, so a count without a listed
    /// sleeper means that worker has already taken itself off to run found work.
    fn wake_one(&self) -> bool {
        let mut list = lock(&self.sleepers);
        let Some(s) = list.pop() else {
            return false;
        };
        // Moved back to searching by its waker, so other submitters see a searcher at once.
        self.counts
            .fetch_add(SEARCHING_ONE.wrapping_sub(SLEEPING_ONE), Ordering::SeqCst);
        drop(list);
        s.stamp_wake();
        s.woken.store(true, Ordering::Release);
        s.thread.unpark();
        true
    }

    /// Wakes every sleeper (shutdown, broken pool).
    pub(crate) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        while self.wake_one() {}
    }

    /// Puts the current (searching) worker to sleep unless `has_work()` holds after it
    /// announced itself. Returns once woken or once it found work; either way the worker is
    /// counted as searching again.
    pub(crate) fn sleep(&self, me: &Arc<Sleeper>, has_work: impl Fn() -> bool) {
        me.woken.store(false, Ordering::Relaxed);
        {
            let mut list = lock(&self.sleepers);
            list.push(me.clone());
            self.counts
                .fetch_add(SLEEPING_ONE.wrapping_sub(SEARCHING_ONE), Ordering::SeqCst);
        }
        // ORDERING: SeqCst fence between announcing the sleep and re-checking the queue: the
        // worker's half of the Dekker handshake.
        plant!("sleep_without_its_fence", (), fence(Ordering::SeqCst));
        if plant!("sleep_without_a_last_look", false, has_work()) {
            let mut list = lock(&self.sleepers);
            if let Some(i) = list.iter().position(|s| Arc::ptr_eq(s, me)) {
                list.swap_remove(i);
                self.counts
                    .fetch_add(SEARCHING_ONE.wrapping_sub(SLEEPING_ONE), Ordering::SeqCst);
                return;
            }
            // A waker popped us already and is about to set `woken`: wait for it below.
        }
        while !me.woken.load(Ordering::Acquire) {
            park();
        }
    }

    /// Workers searching and sleeping, for tests and debugging.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let c = self.counts.load(Ordering::SeqCst);
        (searching(c), sleeping(c))
    }
}
