//! The worker's run loop: spin briefly on the injector, run what it finds, sleep when there
//! is nothing (`sleep.rs`), exit once the pool is closed and drained.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Shared;
use super::sleep::Sleeper;
use crate::error::Exception;
use crate::future::task::TaskRef;
use crate::sync::{Arc, spin_loop};

/// Rounds of `spin_loop` a worker polls the injector before it sleeps: about 20 µs here,
/// long enough to catch the next task of a submit/wait loop without a wake-up (2–70 µs),
/// short enough that an idle pool stops burning CPU at once.
#[cfg(not(concurrent_futures_loom))]
const SPIN_ROUNDS: u32 = 1024;
#[cfg(concurrent_futures_loom)]
const SPIN_ROUNDS: u32 = 0;

crate::sync::thread_local! {
    /// The id of the pool whose worker this thread is (0: none).
    // Not `const { .. }`: loom's `thread_local!` does not accept a const initializer.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT_POOL: Cell<usize> = Cell::new(0);
}

/// The id of the pool the current thread works for, 0 if none.
#[inline]
pub(crate) fn current_pool() -> usize {
    CURRENT_POOL.with(|c| c.get())
}

/// A worker thread's body. The spawner already counted it as searching.
pub(crate) fn main(shared: Arc<Shared>) {
    CURRENT_POOL.with(|c| c.set(shared.id()));
    if let Some(init) = &shared.initializer {
        let failure = match catch_unwind(AssertUnwindSafe(|| init())) {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(payload) => Some(Exception::from_panic(payload).to_string()),
        };
        if let Some(why) = failure {
            log::error!(
                target: "concurrent_futures",
                "Exception in initializer of {}: {why}",
                std::thread::current().name().unwrap_or("a worker")
            );
            shared.sleep.stop_searching();
            shared.break_pool(format!(
                "A thread initializer failed, the thread pool is not usable anymore ({why})"
            ));
            shared.worker_exited();
            return;
        }
    }
    let me = Sleeper::current();
    loop {
        if let Some(task) = find_task(&shared) {
            if shared.sleep.stop_searching() && !shared.queue.is_empty() {
                shared.notify();
            }
            // Searching again before the outcome is published (`TaskRef::run`), so a thread
            // woken by this result and submitting at once reuses this worker. The task's own
            // panics are caught inside; what can still unwind here is the drop of a result
            // whose last handle is gone, which is user code: catch it, so the worker lives on.
            let ran = catch_unwind(AssertUnwindSafe(|| {
                task.run(&|| shared.sleep.start_searching())
            }));
            if let Err(payload) = ran {
                log::error!(
                    target: "concurrent_futures",
                    "dropping a task's result panicked on {}: {}",
                    std::thread::current().name().unwrap_or("a worker"),
                    Exception::from_panic(payload)
                );
            }
            continue;
        }
        if shared.may_exit() {
            shared.sleep.stop_searching();
            break;
        }
        shared
            .sleep
            .sleep(&me, || !shared.queue.is_empty() || shared.closing());
    }
    CURRENT_POOL.with(|c| c.set(0));
    shared.worker_exited();
}

fn find_task(shared: &Shared) -> Option<TaskRef> {
    for _ in 0..SPIN_ROUNDS {
        if let Some(t) = shared.queue.pop() {
            return Some(t);
        }
        spin_loop();
    }
    shared.queue.pop()
}
