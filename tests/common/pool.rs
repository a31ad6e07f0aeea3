//! Pool helpers shared by the soundness and audit tests: a worker kept busy, and user code
//! that waits for a task submitted after it began (pool rule 4).

use super::{Event, LONG, until};
use concurrent_futures::{Future, ThreadPoolExecutor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Occupies one worker of `p` until the returned event is set; returns once it runs.
pub fn occupy_a_worker(p: &ThreadPoolExecutor) -> (Future<()>, Arc<Event>) {
    let (hold, holding) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (h, hg) = (hold.clone(), holding.clone());
    let blocker = p
        .submit(move || {
            hg.set();
            h.wait();
        })
        .unwrap();
    holding.wait();
    (blocker, hold)
}

/// User code that, once it runs, waits for a task submitted after it began, and records
/// whether that task ran.
#[derive(Clone, Debug, Default)]
pub struct WaitsForALaterTask {
    pub in_user_code: Arc<Event>,
    pub later_ran: Arc<Event>,
    pub saw: Arc<AtomicBool>,
}

impl WaitsForALaterTask {
    /// The user code's body.
    pub fn run(&self) {
        self.in_user_code.set();
        self.saw
            .store(self.later_ran.wait_for(LONG), Ordering::SeqCst);
    }
}

/// A value (or an error) whose drop is such user code.
#[derive(Debug)]
pub struct WaitsOnDrop(pub WaitsForALaterTask);

impl Drop for WaitsOnDrop {
    fn drop(&mut self) {
        self.0.run();
    }
}

impl std::fmt::Display for WaitsOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for WaitsOnDrop {}

/// A 4-worker pool where one worker is kept busy in user code that runs after a publish
/// (`arrange` sets it up with the probe), and that code waits for a task submitted after it
/// started. A second thread must start, and the user code must see that task run.
pub fn after_publish_user_code_waits_for_a_later_task(
    arrange: impl FnOnce(&ThreadPoolExecutor, WaitsForALaterTask),
) {
    let p = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let probe = WaitsForALaterTask::default();
    arrange(&p, probe.clone());
    probe.in_user_code.wait();
    let lr = probe.later_ran.clone();
    let later = p.submit(move || lr.set()).unwrap();
    later.result_timeout(LONG).unwrap();
    assert!(
        p.threads_started() >= 2,
        "a second thread ran the later task"
    );
    until("the user code saw the later task", || {
        probe.saw.load(Ordering::SeqCst)
    });
}
