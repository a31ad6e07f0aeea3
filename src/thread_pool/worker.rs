//! The worker's run loop: poll the injector as the wake policy says (`spin.rs`), run what
//! it finds, sleep when there is nothing (`sleep.rs`), exit once the pool is closed and drained.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::rc::Rc;

use crossbeam_utils::CachePadded;

use super::Shared;
use super::metrics::WorkerCounts;
use super::sleep::Sleeper;
use super::spin::{CHECK_EVERY, Spin, SpinEnd};
use crate::context::{self, Enter};
use crate::future::hooks::{Ended, InlineHooks, RunHooks};
use crate::future::task::TaskRef;
use crate::sync::{Arc, Ordering, fence, spin_loop, yield_now};
use crate::unwind::{display, drop_quietly, payload_message, report};

/// One worker thread's standing with its pool. Whether it counts as searching is tracked
/// here, so every path (an unwind included) leaves the pool's counts as it found them, and
/// dropping it counts the worker out (`live`), whatever ended the thread.
struct Worker {
    shared: Arc<Shared>,
    searching: Cell<bool>,
    /// This worker's counts (`metrics.rs`); `None` with metrics off.
    counts: Option<Arc<CachePadded<WorkerCounts>>>,
}

impl Worker {
    fn start_searching(&self) {
        if !self.searching.replace(true) {
            self.shared.sleep.start_searching();
        }
    }

    /// `true` if it was the last searcher (it should pass on pending work).
    fn stop_searching(&self) -> bool {
        self.searching.replace(false) && self.shared.sleep.stop_searching()
    }
}

impl RunHooks for Worker {
    fn claimed(&self) {
        if let Some(c) = &self.counts {
            c.claimed();
        }
    }

    /// Searching again before the outcome is published, so a thread woken by this result
    /// and submitting at once reuses this worker (idle reuse, `docs/sleep.md`).
    fn body_done(&self, ended: Ended) {
        if let Some(c) = &self.counts {
            c.ended(ended);
        }
        self.start_searching();
    }

    /// User code after the publish may take any time: stop counting as free, and pass on
    /// any work that counted on this worker (pool rule 4).
    fn user_code_begins(&self) {
        if plant!("user_code_counted_as_free", true, false) {
            return;
        }
        if self.stop_searching() {
            // ORDERING: SeqCst fence between leaving the searchers and looking at the queue:
            // this side of the Dekker handshake with a submitter's push, fence and count
            // load (`sleep.rs`), so that either it sees this worker still searching or this
            // look sees its task. C++ already orders the SeqCst RMW before the queue's SeqCst
            // loads; loom, which models SeqCst accesses as AcqRel, needs the fence to see it
            // (`callback_waiting_for_a_later_task_vs_that_submit` deadlocked without it once
            // loom's queue stopped synchronizing through a mutex). It runs only when user
            // code (a waker, a callback, a value's drop) follows a task on the last searcher,
            // not for every task (`docs/sleep.md`).
            plant!(
                "user_code_begins_without_its_fence",
                (),
                fence(Ordering::SeqCst)
            );
            if !self.shared.queue.is_empty() {
                self.shared.notify();
            }
        }
    }

    fn user_code_ends(&self) {
        self.start_searching();
    }
}

/// What a task this worker runs inline (while it waits on it) reports: only its counts.
/// The worker is inside another task meanwhile, so its searching state does not change.
struct InlineCounts(Arc<CachePadded<WorkerCounts>>);

impl RunHooks for InlineCounts {
    fn claimed(&self) {
        self.0.claimed();
    }
    fn body_done(&self, ended: Ended) {
        self.0.ended(ended);
    }
    fn user_code_begins(&self) {}
    fn user_code_ends(&self) {}
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop_searching();
        self.shared.worker_exited();
    }
}

/// A worker thread's body. The spawner already counted it as searching and live.
pub(crate) fn main(shared: Arc<Shared>) {
    let counts = shared.counters.worker();
    let worker = Worker {
        shared,
        searching: Cell::new(true),
        counts: counts.clone(),
    };
    let shared = &*worker.shared;
    // Declared after `worker`, so it drops first: the thread leaves the pool before it is
    // counted out. Restored on unwind too.
    let _enter = Enter::new(shared.id(), Some(shared.inline_gate.clone()));
    let _inline = counts.map(|c| InlineHooks::new(Rc::new(InlineCounts(c))));
    crate::unwind::set_print_task_panics(shared.print_task_panics);
    if let Some(init) = &shared.initializer {
        // User code: not counted as free while it runs (pool rule 4). Work submitted
        // meanwhile is still seen by this worker afterwards, so no notify is owed.
        worker.stop_searching();
        let failure = match catch_unwind(AssertUnwindSafe(|| init())) {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                let why = display(&e);
                drop_quietly(e, "an initializer's error");
                Some(why)
            }
            Err(payload) => Some(format!("it panicked: {}", payload_message(payload))),
        };
        if let Some(why) = failure {
            let name = std::thread::current()
                .name()
                .unwrap_or("a worker")
                .to_owned();
            report(format_args!("Exception in initializer of {name}: {why}"));
            // Still one of the pool's threads (a callback here that shuts the pool down must
            // not join itself), but nothing queued can run inline: the drain ends every
            // queued task before any callback runs (pool rule 5).
            shared.break_pool(format!(
                "A thread initializer failed, the thread pool is not usable anymore ({why})"
            ));
            return;
        }
        worker.start_searching();
    }
    let me = Sleeper::current();
    let mut spin = Spin::new(shared.wake_policy);
    loop {
        let (found, end) = find_task(shared, &mut spin);
        if let Some(c) = &worker.counts {
            c.spun(end);
        }
        if let Some(task) = found {
            if worker.stop_searching() && !shared.queue.is_empty() {
                shared.notify();
            }
            // Nothing in `run` unwinds: the body is captured, callbacks and wakers are caught,
            // and a freed value's or closure's drop is caught where it happens. This catch is
            // a second line only, so that a missed case logs instead of ending the worker.
            let ran = catch_unwind(AssertUnwindSafe(|| task.run(&worker)));
            if let Err(payload) = ran {
                let message = payload_message(payload);
                let name = std::thread::current()
                    .name()
                    .unwrap_or("a worker")
                    .to_owned();
                report(format_args!(
                    "dropping a task's result panicked on {name}: {message}"
                ));
            }
            worker.start_searching();
            continue;
        }
        if shared.may_exit() {
            break;
        }
        if shared.closing() {
            // Closed, but a submit is still in its in-flight window (or a task was just
            // queued): it ends within a push and a notify. Yield rather than spin, so the
            // submitter gets the core (docs/sleep.md, "Closing").
            yield_now();
            continue;
        }
        shared
            .sleep
            .sleep(&me, || !shared.queue.is_empty() || shared.closing());
        spin.woke(me.take_woken_at());
    }
    debug_assert_eq!(context::current(), shared.id());
}

/// A task from the queue, polling it as long as the pool's wake policy says (`spin.rs`),
/// and how the spin went.
fn find_task(shared: &Shared, spin: &mut Spin) -> (Option<TaskRef>, SpinEnd) {
    if let Some(t) = shared.pop() {
        return (Some(t), SpinEnd::NoSpin);
    }
    for i in 1..=spin.begin() {
        if let Some(t) = shared.pop() {
            return (Some(t), spin.answered());
        }
        if i % CHECK_EVERY == 0 && !spin.keep_spinning() {
            // Preempted while spinning: the core is wanted by others; sleep instead.
            break;
        }
        spin_loop();
    }
    match shared.pop() {
        Some(t) => (Some(t), spin.answered()),
        None => (None, spin.unanswered()),
    }
}
