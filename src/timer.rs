//! One timer thread for the crate's deadlines ([`Future::cancel_at`](crate::Future::cancel_at)):
//! a heap of (instant, action). It starts with the first deadline, sleeps until the earliest,
//! runs each action when due, and exits once the heap is empty; the next deadline starts it
//! again, so no thread outlives the deadlines it serves.
//!
//! An action is user-visible work (a cancel runs done-callbacks), so each runs under
//! `catch_unwind`, outside the lock. Built on std's mutex and condition variable, not on
//! `crate::sync`: no loom model runs a timer (the race a deadline causes is a
//! `request_cancel` against a claim or a completion, which the state-word models cover).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

type Action = Box<dyn FnOnce() + Send>;

struct Entry {
    at: Instant,
    /// Ties broken by arrival, so equal instants run in the order they were set.
    seq: u64,
    action: Action,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Timer {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    /// A timer thread is running (or starting) and will see every entry.
    running: bool,
}

static TIMER: Mutex<Timer> = Mutex::new(Timer {
    heap: BinaryHeap::new(),
    seq: 0,
    running: false,
});
static WAKE: Condvar = Condvar::new();

fn lock() -> MutexGuard<'static, Timer> {
    // Every critical section is a heap operation or a flag; none leaves it half done.
    TIMER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `action` at `at` (at once if that has passed), on the timer thread.
pub(crate) fn at(at: Instant, action: Action) {
    let mut t = lock();
    t.seq += 1;
    let seq = t.seq;
    t.heap.push(Reverse(Entry { at, seq, action }));
    if !t.running {
        match std::thread::Builder::new()
            .name("concurrent-futures-timer".into())
            .spawn(run)
        {
            Ok(_) => t.running = true,
            // Kept: the next deadline tries to start the thread again. Until then this
            // one is late, never lost.
            Err(e) => crate::unwind::report(format_args!(
                "could not start the deadline timer thread ({e}); the deadline waits for \
                 the next one to start it"
            )),
        }
    }
    drop(t);
    WAKE.notify_one();
}

/// The timer thread's body.
fn run() {
    loop {
        let mut t = lock();
        let action = loop {
            let now = Instant::now();
            match t.heap.peek() {
                None => {
                    t.running = false;
                    return;
                }
                Some(Reverse(e)) if e.at <= now => {
                    break t.heap.pop().expect("peeked").0.action;
                }
                Some(Reverse(e)) => {
                    let left = e.at - now;
                    t = WAKE
                        .wait_timeout(t, left)
                        .map_or_else(|e| e.into_inner().0, |(g, _)| g);
                }
            }
        };
        drop(t);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(action)) {
            let message = crate::unwind::payload_message(payload);
            crate::unwind::report(format_args!("a deadline's action panicked: {message}"));
        }
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn actions_run_in_deadline_order_and_the_thread_exits_when_idle() {
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        for (i, ms) in [(2, 30), (0, 0), (1, 10)] {
            let tx = tx.clone();
            at(
                now + Duration::from_millis(ms),
                Box::new(move || tx.send(i).unwrap()),
            );
        }
        let order: Vec<i32> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap())
            .collect();
        assert_eq!(order, [0, 1, 2]);
        let t = Instant::now();
        while lock().running {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the timer never exited"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_panicking_action_does_not_stop_the_timer() {
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        at(now, Box::new(|| panic!("an action blew up")));
        at(now, Box::new(move || tx.send(()).unwrap()));
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
    }
}
