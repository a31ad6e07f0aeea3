//! The `pool_ops` fuzz target's logic: submits (returning, failing, panicking, panicking
//! with a payload whose drop panics, waiting inline on earlier tasks), the public setters on
//! pool futures, cancels, cooperative cancel requests on cancellable tasks, lazy maps and a
//! shutdown with each flag, scopes whose tasks borrow, on an unbounded pool or a bounded one
//! with each `WhenFull`, against a model of which states each future may end in and of
//! the pool's counts. Shared by the fuzz target and `tests/fuzz_corpus.rs`.

use concurrent_futures::{
    Error, Executor, Future, MapOptions, ReturnWhen, State, SubmitError, ThreadPoolExecutor,
    WhenFull, wait,
};
use std::sync::Once;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Value(u32),
    Raised,
    /// Waited on future `k`: `k`'s value plus one, or 0 if `k` raised or was cancelled.
    After(usize),
    /// A cancellable task: this value, or [`STOPPED`] if it saw a cancel request.
    Cancellable(u32),
}

/// What a cancellable task returns when it saw a request.
const STOPPED: u32 = u32::MAX - 1;

/// Every panic this program causes on purpose says so, or is a [`Bomb`].
const EXPECTED: &str = "pool_ops: expected";

/// A panic payload whose drop panics again (the panic-safety of every path that drops one).
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("{EXPECTED}: a panic payload's drop panicked");
    }
}

/// Keeps the panics this program causes on purpose quiet, and lets every other one through:
/// under the fuzzer, an unexpected panic anywhere (a worker thread included) aborts, which is
/// how libFuzzer's own hook reports it.
fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let message = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied());
            if p.is::<Bomb>() || message.is_some_and(|m| m.starts_with(EXPECTED)) {
                return;
            }
            previous(info);
            if cfg!(fuzzing) {
                std::process::abort();
            }
        }));
    });
}

struct Tracked {
    fut: Future<u32>,
    expect: Expect,
    /// `cancel()` answered true.
    cancelled_by_user: bool,
    /// A `shutdown(cancel_futures = true)` came after its submit.
    may_be_cancelled: bool,
    /// `request_cancel()` answered true (it cancelled the task, or asked it to stop).
    requested: bool,
}

/// Runs the program `data`; panics on the first violation.
pub fn run(data: &[u8]) {
    quiet_expected_panics();
    let Some((&first, ops)) = data.split_first() else {
        return;
    };
    // The first byte: 1-3 workers; unbounded, or a queue of 1-3 with a policy when full.
    let bound = usize::from(first >> 2) % 4;
    let policy = match (first >> 4) % 3 {
        0 => WhenFull::Block { timeout: None },
        1 => WhenFull::Reject,
        _ => WhenFull::CallerRuns,
    };
    let mut builder = ThreadPoolExecutor::builder().max_workers(1 + usize::from(first % 3));
    if bound > 0 {
        builder = builder.max_queued(bound).when_full(policy);
    }
    let pool = builder.build().unwrap();
    let may_be_full = bound > 0 && policy == WhenFull::Reject;
    let mut fs: Vec<Tracked> = Vec::new();
    let mut shut = false;
    for (step, chunk) in ops.chunks(2).enumerate() {
        let (op, arg) = (chunk[0], u32::from(chunk.get(1).copied().unwrap_or(0)));
        match op % 15 {
            0..=2 | 8 | 10..=12 => {
                let r = match op % 15 {
                    0 => pool
                        .submit(move || arg * 2)
                        .map(|f| (f, Expect::Value(arg * 2))),
                    1 => pool
                        .submit_fallible(move || if arg > 0 { Err("failed") } else { Ok(0) })
                        .map(|f| {
                            (
                                f,
                                if arg > 0 {
                                    Expect::Raised
                                } else {
                                    Expect::Value(0)
                                },
                            )
                        }),
                    2 => pool
                        .submit(move || -> u32 { panic!("{EXPECTED}: task {arg} panicked") })
                        .map(|f| (f, Expect::Raised)),
                    10 => pool
                        .submit(move || -> u32 { std::panic::panic_any(Bomb) })
                        .map(|f| (f, Expect::Raised)),
                    // Waits on an earlier future of this pool: run inline if it is still
                    // queued (with one worker it always is, behind this task).
                    8 if !fs.is_empty() => {
                        let k = arg as usize % fs.len();
                        let target = fs[k].fut.clone();
                        pool.submit(move || match target.result() {
                            Ok(v) => v.wrapping_add(1),
                            Err(_) => 0,
                        })
                        .map(|f| (f, Expect::After(k)))
                    }
                    // Waits on the two latest futures with `wait`, which runs them inline too.
                    11 if fs.len() >= 2 => {
                        let (a, b) = (fs[fs.len() - 1].fut.clone(), fs[fs.len() - 2].fut.clone());
                        pool.submit(move || {
                            wait([&a, &b], ReturnWhen::AllCompleted).done.len() as u32
                        })
                        .map(|f| (f, Expect::Value(2)))
                    }
                    12 => pool
                        .submit_cancellable(move |t| if t.is_requested() { STOPPED } else { arg })
                        .map(|f| (f, Expect::Cancellable(arg))),
                    _ => pool.submit(move || arg).map(|f| (f, Expect::Value(arg))),
                };
                match r {
                    Ok((fut, expect)) => {
                        assert!(!shut, "step {step}: accepted after shutdown");
                        fs.push(Tracked {
                            fut,
                            expect,
                            cancelled_by_user: false,
                            may_be_cancelled: false,
                            requested: false,
                        });
                    }
                    Err(SubmitError::Shutdown) => {
                        assert!(shut, "step {step}: refused before shutdown")
                    }
                    Err(SubmitError::Full { .. }) => {
                        assert!(may_be_full, "step {step}: refused as full")
                    }
                    Err(e) => panic!("step {step}: {e}"),
                }
            }
            14 => {
                // A scope whose tasks borrow a local, some cancelled by its body. Every
                // task has ended when the scope returns.
                let local: Vec<u32> = (0..arg % 6).collect();
                let cancel_every = 1 + (u32::from(op) >> 4) as usize % 3;
                let out = pool.scope(|s| {
                    let futs: Vec<_> = local.iter().map(|v| s.submit(move || *v * 3)).collect();
                    for (i, f) in futs.iter().enumerate() {
                        if let Ok(f) = f {
                            if i % cancel_every == 0 {
                                f.cancel();
                            }
                        }
                    }
                    futs
                });
                for (i, f) in out.into_iter().enumerate() {
                    match f {
                        Ok(f) => {
                            assert!(f.done(), "step {step}: scope task {i} outlived its scope");
                            if !f.cancelled() {
                                assert_eq!(*f.result().unwrap(), local[i] * 3, "step {step}");
                            }
                        }
                        Err(SubmitError::Shutdown) => assert!(shut),
                        Err(SubmitError::Full { .. }) => assert!(may_be_full),
                        Err(e) => panic!("step {step}: {e}"),
                    }
                }
            }
            13 if !fs.is_empty() => {
                let k = arg as usize % fs.len();
                let t = &mut fs[k];
                let before = t.fut.state();
                if t.fut.request_cancel() {
                    t.requested = true;
                } else {
                    assert!(
                        t.fut.done(),
                        "step {step}: request_cancel refused a live future ({before:?})"
                    );
                }
            }
            3 | 4 if !fs.is_empty() => {
                let k = arg as usize % fs.len();
                if fs[k].fut.cancel() {
                    fs[k].cancelled_by_user = true;
                }
            }
            5 => {
                let n = arg % 12;
                let b = 1 + (u32::from(op) >> 4) as usize % 4;
                match pool.map_with(|x: u32| x + 1, 0..n, MapOptions::default().buffersize(b)) {
                    Ok(it) => {
                        // Zero items submit nothing, so even a shut-down pool returns an empty
                        // iterator, as Python's map over an empty iterable does.
                        assert!(!shut || n == 0, "step {step}: map accepted after shutdown");
                        let take = (u32::from(op) >> 6) % (n + 1);
                        let got: Vec<Result<u32, Error>> = it.take(take as usize).collect();
                        // A full queue that rejects refuses some items: each is then its
                        // error, in its place; every other item is its value, in order.
                        for (i, r) in got.iter().enumerate() {
                            match r {
                                Ok(v) => assert_eq!(*v, i as u32 + 1, "step {step}: map order"),
                                Err(e) => assert!(may_be_full, "step {step}: map item {i}: {e}"),
                            }
                        }
                        assert_eq!(got.len(), take as usize, "step {step}: map lost items");
                    }
                    Err(SubmitError::Shutdown) => assert!(shut),
                    Err(SubmitError::Full { .. }) => assert!(may_be_full),
                    Err(e) => panic!("step {step}: {e}"),
                }
            }
            9 if !fs.is_empty() => {
                // The public setters never win on a pool future, whatever its state.
                let t = &fs[arg as usize % fs.len()];
                assert!(
                    t.fut.set_result(u32::MAX).is_err(),
                    "step {step}: set_result won"
                );
                assert!(
                    t.fut
                        .set_exception(concurrent_futures::Exception::msg("user"))
                        .is_err(),
                    "step {step}: set_exception won"
                );
                if let Ok(started) = t.fut.set_running_or_notify_cancel() {
                    assert!(
                        !started && t.fut.cancelled(),
                        "step {step}: started by a user"
                    );
                }
            }
            6 | 7 if !shut => {
                let (wait, cancel) = (op & 0x10 != 0, op & 0x20 != 0);
                if cancel {
                    for t in &mut fs {
                        t.may_be_cancelled = true;
                    }
                }
                pool.shutdown(wait, cancel);
                shut = true;
            }
            _ => {}
        }
    }
    pool.shutdown(true, false);
    for (i, t) in fs.iter().enumerate() {
        match t.fut.state() {
            State::Cancelled => assert!(
                t.cancelled_by_user || t.may_be_cancelled || t.requested,
                "future {i} cancelled with nobody cancelling it"
            ),
            State::Finished => {
                assert!(
                    !t.cancelled_by_user,
                    "future {i}: cancel() said true but it finished"
                );
                match (t.fut.result(), t.expect) {
                    (Ok(v), Expect::Value(want)) => assert_eq!(*v, want, "future {i}"),
                    (Ok(v), Expect::After(k)) => {
                        let want = fs[k].fut.result().map_or(0, |v| v.wrapping_add(1));
                        assert_eq!(*v, want, "future {i} waited on {k}");
                    }
                    (Ok(v), Expect::Cancellable(want)) => assert!(
                        *v == want || (*v == STOPPED && t.requested),
                        "future {i}: {v}, expected {want} (or {STOPPED} if asked to stop)"
                    ),
                    (Err(Error::Exception(_)), Expect::Raised) => {}
                    (got, want) => panic!("future {i}: {got:?}, expected {want:?}"),
                }
            }
            s => panic!("future {i} left {s:?} after shutdown(wait = true)"),
        }
    }
    // The counts: once the pool is quiet, every accepted task ended exactly one way, and
    // at least the tracked futures that ended so are counted so.
    let m = pool.metrics();
    assert_eq!(
        m.submitted,
        m.completed + m.failed + m.panicked + m.cancelled,
        "{m}"
    );
    let cancelled = fs.iter().filter(|t| t.fut.cancelled()).count() as u64;
    assert!(
        m.cancelled >= cancelled,
        "{m}: {cancelled} tracked futures cancelled"
    );
    assert!(m.submitted >= fs.len() as u64, "{m}");
    assert_eq!((m.queued, m.live_workers), (0, 0), "{m}");
}
