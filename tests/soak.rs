//! Soak: several threads submit to two pools and cancel, wait with random timeouts, register
//! callbacks, read, move out or drop their futures; tasks return values, fail or panic. At
//! the end every future is finished or cancelled, every callback ran exactly once, every
//! closure and every result was dropped exactly once, and once the pools are gone the
//! allocations equal the deallocations.
//!
//! Ignored by default; `.ci/run` runs it in release mode at a bounded size:
//! `SOAK_TASKS=25000 cargo test --release --test soak -- --ignored`.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

use concurrent_futures::{
    Error, Executor, Future, ReturnWhen, State, ThreadPoolExecutor, as_completed, wait,
    wait_timeout,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// Counts allocations and deallocations of the whole test process.
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static DEALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        DEALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // One block in, one block out: counts stay paired.
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts creations and drops of task closures and of results.
#[derive(Default)]
struct Counts {
    closures_made: AtomicUsize,
    closures_dropped: AtomicUsize,
    results_made: AtomicUsize,
    results_dropped: AtomicUsize,
    callbacks_added: AtomicUsize,
    callbacks_run: AtomicUsize,
}

/// Captured by every task closure: counts the closure's drop.
struct ClosureToken(Arc<Counts>);
impl Drop for ClosureToken {
    fn drop(&mut self) {
        self.0.closures_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every task's result: counts its creation (clones too) and its drop.
struct Payload(Arc<Counts>, u64);
impl Clone for Payload {
    fn clone(&self) -> Self {
        Payload::new(&self.0, self.1)
    }
}
impl Payload {
    fn new(c: &Arc<Counts>, v: u64) -> Self {
        c.results_made.fetch_add(1, Ordering::Relaxed);
        Payload(c.clone(), v)
    }
}
impl Drop for Payload {
    fn drop(&mut self) {
        self.0.results_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn submit(pool: &ThreadPoolExecutor, c: &Arc<Counts>, rng: &mut Rng) -> Future<Payload> {
    c.closures_made.fetch_add(1, Ordering::Relaxed);
    let token = ClosureToken(c.clone());
    let (kind, v) = (rng.below(10), rng.next());
    let spin = rng.below(3);
    pool.submit_fallible(move || {
        let c = token.0.clone();
        for _ in 0..spin * 50 {
            std::hint::spin_loop();
        }
        match kind {
            0 => panic!("task {v} panicked"),
            1 => Err(format!("task {v} failed")),
            _ => Ok(Payload::new(&c, v)),
        }
    })
    .unwrap()
}

fn churn(
    pools: [ThreadPoolExecutor; 2],
    c: Arc<Counts>,
    seed: u64,
    n: usize,
) -> Vec<Future<Payload>> {
    let mut rng = Rng(seed | 1);
    let mut kept = Vec::new();
    let mut batch = Vec::new();
    for _ in 0..n {
        let f = submit(&pools[rng.below(2) as usize], &c, &mut rng);
        match rng.below(12) {
            0 => {
                f.cancel();
            }
            1 => {
                c.callbacks_added.fetch_add(1, Ordering::Relaxed);
                let c2 = c.clone();
                f.add_done_callback(move |_| {
                    c2.callbacks_run.fetch_add(1, Ordering::Relaxed);
                });
            }
            2 => {
                let _ = f.result_timeout(Duration::from_micros(rng.below(2000)));
            }
            3 => drop(f.clone().into_result()),
            4 => {
                // Dropped unread: the pool finishes it and drops the result itself.
                drop(f);
                continue;
            }
            5 => {
                batch.push(f.clone());
                if batch.len() >= 16 {
                    let mode = [
                        ReturnWhen::FirstCompleted,
                        ReturnWhen::FirstException,
                        ReturnWhen::AllCompleted,
                    ][rng.below(3) as usize];
                    let _ = wait_timeout(&batch, mode, Duration::from_micros(rng.below(500)));
                    if rng.below(2) == 0 {
                        for r in as_completed(&batch).take(4) {
                            assert!(r.is_ok());
                        }
                    }
                    batch.clear();
                }
            }
            _ => {}
        }
        kept.push(f);
    }
    kept
}

#[test]
#[ignore = "soak: run with `cargo test --release --test soak -- --ignored` (SOAK_TASKS sets the size)"]
fn soak_two_pools_many_threads_nothing_lost_nothing_leaked() {
    let per_thread: usize = std::env::var("SOAK_TASKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    // A tenth of the tasks panic on purpose: keep the default hook from printing each one.
    std::panic::set_hook(Box::new(|_| {}));
    // Warm the process's lazy allocations (thread handles, thread-locals) before counting.
    drop(
        ThreadPoolExecutor::new(1)
            .unwrap()
            .submit(|| 1)
            .unwrap()
            .result()
            .copied(),
    );
    thread::spawn(|| ()).join().unwrap();
    let (a0, d0) = (
        ALLOCS.load(Ordering::SeqCst),
        DEALLOCS.load(Ordering::SeqCst),
    );

    let counts = Arc::new(Counts::default());
    let tally: [usize; 5];
    {
        let pools = [
            ThreadPoolExecutor::new(2).unwrap(),
            ThreadPoolExecutor::new(3).unwrap(),
        ];
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (pools, c) = (pools.clone(), counts.clone());
                thread::spawn(move || churn(pools, c, 0x9E37_79B9 * (t + 1), per_thread))
            })
            .collect();
        let all: Vec<Future<Payload>> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let r = wait(&all, ReturnWhen::AllCompleted);
        assert_eq!(
            r.done.len(),
            all.len(),
            "every future finished or was cancelled"
        );
        let (mut finished, mut cancelled, mut failed) = (0, 0, 0);
        for f in &all {
            match f.state() {
                State::Finished => {
                    finished += 1;
                    if let Err(Error::Exception(_)) = f.result() {
                        failed += 1;
                    }
                }
                State::Cancelled => cancelled += 1,
                s => panic!("future left {s:?}"),
            }
        }
        assert_eq!(finished + cancelled, all.len());
        assert!(
            failed > 0 && cancelled > 0,
            "the mix exercised failures and cancels"
        );
        // Printed at the end, after the allocation count: without `--nocapture`, libtest
        // captures stderr into a buffer it allocates inside the test and frees after it.
        tally = [
            counts.closures_made.load(Ordering::SeqCst),
            all.len(),
            finished,
            failed,
            cancelled,
        ];
        drop(all);
        for p in &pools {
            p.shutdown(true, false);
        }
    }
    let c = &counts;
    assert_eq!(
        c.callbacks_run.load(Ordering::SeqCst),
        c.callbacks_added.load(Ordering::SeqCst),
        "every callback ran exactly once"
    );
    assert_eq!(
        c.closures_dropped.load(Ordering::SeqCst),
        c.closures_made.load(Ordering::SeqCst),
        "every closure dropped exactly once"
    );
    assert_eq!(
        c.results_dropped.load(Ordering::SeqCst),
        c.results_made.load(Ordering::SeqCst),
        "every result dropped exactly once (clones from into_result included)"
    );
    drop(counts);
    let (a1, d1) = (
        ALLOCS.load(Ordering::SeqCst),
        DEALLOCS.load(Ordering::SeqCst),
    );
    let [submitted, kept, finished, failed, cancelled] = tally;
    eprintln!(
        "soak: {submitted} tasks submitted, {kept} kept: {finished} finished ({failed} failed or panicked), {cancelled} cancelled"
    );
    eprintln!(
        "soak: {} allocations, {} deallocations since the start",
        a1 - a0,
        d1 - d0
    );
    assert_eq!(
        a1 - a0,
        d1 - d0,
        "allocations equal deallocations once the pools are dropped"
    );
}
