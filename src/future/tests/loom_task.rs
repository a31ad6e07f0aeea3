//! An executor task's two owners letting go at once: the worker releasing `TASK_REF` (and
//! its temporary handle) after running the task, and the user dropping the last handle.
//! Exactly one of them frees the cell, and its result is dropped exactly once.

use super::{outcomes, spawn};
use crate::future::task;
use std::sync::{Arc, Mutex};

/// A result that records which thread dropped it.
struct Probe(Arc<Mutex<Vec<loom::thread::ThreadId>>>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(loom::thread::current().id());
    }
}

#[test]
fn task_ref_release_vs_last_handle_drop() {
    let seen = outcomes(|| {
        let drops = Arc::new(Mutex::new(Vec::new()));
        let d = drops.clone();
        let (fut, task_ref) = task::allocate(0, move || Ok(Probe(d)));
        let runner = spawn(move || {
            task_ref.run(&|| {});
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
