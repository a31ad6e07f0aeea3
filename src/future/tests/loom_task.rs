//! Races on an executor task's cell: the worker releasing `TASK_REF` after running the task
//! vs the user dropping the last handle (exactly one frees the cell, and its result is
//! dropped exactly once); and a waiting thread running the task inline vs the queue entry
//! being drained (issue #8, defect 1: rule 8 holds on both sides); a publisher detached to
//! another thread publishing vs the user taking the value and dropping the last handle.

use super::{outcomes, spawn};
use crate::future::task;
use std::sync::{Arc, Mutex};

/// A result that records which thread dropped it. It carries a loom cell written where the
/// value is made and read where it is dropped, so a free that does not synchronize with the
/// maker (a missing Acquire fence) is a race loom reports.
struct Probe(
    Arc<Mutex<Vec<loom::thread::ThreadId>>>,
    loom::cell::UnsafeCell<u8>,
);

impl Probe {
    fn new(drops: Arc<Mutex<Vec<loom::thread::ThreadId>>>) -> Self {
        let p = Probe(drops, loom::cell::UnsafeCell::new(0));
        // SAFETY: the value is not shared yet.
        p.1.with_mut(|v| unsafe { *v = 1 });
        p
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // SAFETY: only the dropping thread reads it, once the value is its own.
        assert_eq!(self.1.with(|v| unsafe { *v }), 1);
        self.0.lock().unwrap().push(loom::thread::current().id());
    }
}

#[test]
fn task_ref_release_vs_last_handle_drop() {
    let seen = outcomes(|| {
        let drops = Arc::new(Mutex::new(Vec::new()));
        let d = drops.clone();
        let (fut, task_ref) = task::allocate(0, move || Ok(Probe::new(d)));
        let runner = spawn(move || {
            task_ref.run(&crate::future::hooks::NoHooks);
            loom::thread::current().id()
        });
        drop(fut);
        let runner_id = runner.join();
        let drops = drops.lock().unwrap();
        assert_eq!(drops.len(), 1, "the result is dropped exactly once");
        if drops[0] == runner_id {
            "the runner freed it"
        } else {
            "the user freed it"
        }
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["the runner freed it", "the user freed it"]
    );
}

#[test]
fn inline_claim_vs_queue_drain() {
    let seen = outcomes(|| {
        let owner = crate::context::new_id();
        let (fut, task_ref) = task::allocate(owner, || Ok(7u8));
        let helper = fut.clone();
        let inline = spawn(move || {
            let _enter = crate::context::Enter::new(owner, None);
            // SAFETY: `helper` is a handle to the task.
            let ran = unsafe { helper.header().try_run_inline() };
            (ran, helper)
        });
        // `shutdown(cancel_futures = true)`'s drain of the task's queue entry.
        let ended = task_ref.end(None);
        task_ref.finish_ended(ended);
        // Rule 8: whatever happened to the queue entry, a public setter never wins.
        assert!(fut.set_result(9).is_err(), "a public setter won");
        let (ran, helper) = inline.join();
        drop(helper);
        assert_ne!(
            ran, ended,
            "exactly one of the inline run and the drain ends it"
        );
        if ran {
            assert_eq!(*fut.result().unwrap(), 7, "the runner's value");
            "ran inline"
        } else {
            assert!(fut.cancelled());
            "cancelled by the drain"
        }
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["cancelled by the drain", "ran inline"]
    );
}

/// A job that publishes later: it leaves its publisher in a slot for another thread.
struct Dispatch(Arc<Mutex<Option<task::Publisher<'static, Probe>>>>);

impl task::Job<Probe> for Dispatch {
    const INLINE: bool = false;

    fn run(self, publisher: task::Publisher<'_, Probe>) {
        *self.0.lock().unwrap() = Some(publisher.detach());
    }
}

#[test]
fn detached_publish_vs_last_handle_drop() {
    let seen = outcomes(|| {
        let drops = Arc::new(Mutex::new(Vec::new()));
        let slot = Arc::new(Mutex::new(None));
        let (fut, task_ref) = task::allocate_job(0, Dispatch(slot.clone()));
        // The dispatcher claims the task and hands the publisher on.
        task_ref.run(&crate::future::hooks::NoHooks);
        let publisher = slot.lock().unwrap().take().expect("dispatched");
        let d = drops.clone();
        let receiver = spawn(move || {
            publisher.publish(Ok(Probe::new(d)));
            loom::thread::current().id()
        });
        // The user gives up on the result at any point of the publish.
        drop(fut);
        let receiver_id = receiver.join();
        let drops = drops.lock().unwrap();
        assert_eq!(drops.len(), 1, "the result is dropped exactly once");
        if drops[0] == receiver_id {
            "the publisher freed it"
        } else {
            "the user freed it"
        }
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["the publisher freed it", "the user freed it"]
    );
}

/// A job that publishes later, in two halves (a process pool's break).
struct DispatchU8(Arc<Mutex<Option<task::Publisher<'static, u8>>>>);

impl task::Job<u8> for DispatchU8 {
    const INLINE: bool = false;

    fn run(self, publisher: task::Publisher<'_, u8>) {
        *self.0.lock().unwrap() = Some(publisher.detach());
    }
}

#[test]
fn settle_then_finish_vs_a_blocked_reader() {
    let seen = outcomes(|| {
        let slot = Arc::new(Mutex::new(None));
        let (fut, task_ref) = task::allocate_job(0, DispatchU8(slot.clone()));
        task_ref.run(&crate::future::hooks::NoHooks);
        let publisher = slot.lock().unwrap().take().expect("dispatched");
        let reader_handle = fut.clone();
        let reader = spawn(move || *reader_handle.result().unwrap());
        let settled = publisher.settle(Ok(5));
        // Between the halves the future is FINISHED: a reader that comes now does not link.
        assert!(fut.done());
        let linked = settled.has_listeners();
        settled.finish();
        assert_eq!(reader.join(), 5, "the reader gets the value either way");
        if linked {
            "the reader linked first: finish woke it"
        } else {
            "the reader came after the settle: it saw FINISHED"
        }
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "the reader came after the settle: it saw FINISHED",
            "the reader linked first: finish woke it"
        ]
    );
}
