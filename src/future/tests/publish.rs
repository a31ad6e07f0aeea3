//! The claim / run / publish split (`task.rs`, "Claim, run, publish"): a job that publishes
//! later from another thread, as a process pool's dispatch will, on std threads. The race of
//! such a publish with the last handle's drop is a loom model (`loom_task.rs`).

use super::hooks::NoHooks;
use super::task::{self, Job, Publisher};
use std::sync::mpsc;
use std::thread;

/// A job whose work happens elsewhere: it hands its publisher to a "receiver" thread.
struct Dispatch<T: Send + 'static>(mpsc::Sender<Publisher<'static, T>>);

impl<T: Send + 'static> Job<T> for Dispatch<T> {
    const INLINE: bool = false;

    fn run(self, publisher: Publisher<'_, T>) {
        self.0.send(publisher.detach()).unwrap();
    }
}

#[test]
fn a_dispatched_task_is_claimed_at_dispatch_and_published_later_from_another_thread() {
    let (tx, rx) = mpsc::channel();
    let (fut, task_ref) = task::allocate_job(crate::context::new_id(), Dispatch::<u64>(tx));
    task_ref.run(&NoHooks); // the dispatcher claims and dispatches
    let publisher = rx.recv().unwrap();
    assert!(fut.running(), "claimed at dispatch");
    assert!(
        !fut.cancel(),
        "a dispatched task can no longer be cancelled"
    );
    assert!(
        fut.set_result(1).is_err(),
        "the public setters stay refused (rule 8)"
    );
    let receiver = thread::spawn(move || publisher.publish(Ok(42)));
    assert_eq!(*fut.result().unwrap(), 42);
    receiver.join().unwrap();
    // The publisher's reference is not a user handle (rule 7): the value moves out.
    match fut.try_into_result() {
        Ok(v) => assert_eq!(v.unwrap(), 42),
        Err(_) => panic!("the only user handle could not take the value"),
    }
}

#[test]
fn a_publisher_dropped_without_publishing_fails_its_future() {
    let (tx, rx) = mpsc::channel();
    let (fut, task_ref) = task::allocate_job(crate::context::new_id(), Dispatch::<u64>(tx));
    task_ref.run(&NoHooks);
    drop(rx.recv().unwrap()); // the backend lost it
    let e = fut.exception().unwrap().expect("it failed");
    assert!(e.to_string().contains("without an outcome"), "{e}");
}

#[test]
fn a_job_that_panics_before_publishing_fails_its_future_and_does_not_unwind() {
    struct Panics;
    impl Job<u8> for Panics {
        const INLINE: bool = false;
        fn run(self, _publisher: Publisher<'_, u8>) {
            panic!("the dispatch failed");
        }
    }
    let (fut, task_ref) = task::allocate_job(crate::context::new_id(), Panics);
    task_ref.run(&NoHooks); // does not unwind
    assert!(fut.exception().unwrap().is_some());
}

#[test]
fn a_job_that_publishes_later_never_runs_inline() {
    let owner = crate::context::new_id();
    let (tx, _rx) = mpsc::channel();
    let (fut, task_ref) = task::allocate_job(owner, Dispatch::<u8>(tx));
    let _enter = crate::context::Enter::new(owner, None);
    // SAFETY: `fut` is a handle to the task.
    assert!(!unsafe { fut.header().try_run_inline() });
    assert!(!fut.running());
    drop(task_ref); // an unprocessed entry cancels its task
    assert!(fut.cancelled());
}
