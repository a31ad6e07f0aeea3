//! The `pool_ops` fuzz target's logic: submits (returning, failing, panicking), cancels,
//! lazy maps and a shutdown with each flag, against a model of which states each future may
//! end in. Shared by the fuzz target and `tests/fuzz_corpus.rs`.

use concurrent_futures::{
    Error, Executor, Future, MapOptions, State, SubmitError, ThreadPoolExecutor,
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Value(u32),
    Raised,
}

struct Tracked {
    fut: Future<u32>,
    expect: Expect,
    /// `cancel()` answered true.
    cancelled_by_user: bool,
    /// A `shutdown(cancel_futures = true)` came after its submit.
    may_be_cancelled: bool,
}

/// Runs the program `data`; panics on the first violation.
pub fn run(data: &[u8]) {
    let Some((&first, ops)) = data.split_first() else {
        return;
    };
    let pool = ThreadPoolExecutor::new(1 + usize::from(first % 3)).unwrap();
    let mut fs: Vec<Tracked> = Vec::new();
    let mut shut = false;
    for (step, chunk) in ops.chunks(2).enumerate() {
        let (op, arg) = (chunk[0], u32::from(chunk.get(1).copied().unwrap_or(0)));
        match op % 8 {
            0..=2 => {
                let r = match op % 8 {
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
                    // libFuzzer's panic hook aborts on any panic, even a caught one: under the
                    // fuzzer this task raises by returning an error instead.
                    _ if cfg!(fuzzing) => pool
                        .submit_fallible(move || Err::<u32, _>(format!("task {arg} raised")))
                        .map(|f| (f, Expect::Raised)),
                    _ => pool
                        .submit(move || -> u32 { panic!("task {arg} panicked") })
                        .map(|f| (f, Expect::Raised)),
                };
                match r {
                    Ok((fut, expect)) => {
                        assert!(!shut, "step {step}: accepted after shutdown");
                        fs.push(Tracked {
                            fut,
                            expect,
                            cancelled_by_user: false,
                            may_be_cancelled: false,
                        });
                    }
                    Err(SubmitError::Shutdown) => {
                        assert!(shut, "step {step}: refused before shutdown")
                    }
                    Err(e) => panic!("step {step}: {e}"),
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
                        let got: Vec<u32> = it.take(take as usize).map(Result::unwrap).collect();
                        assert_eq!(
                            got,
                            (1..=take).collect::<Vec<_>>(),
                            "step {step}: map order"
                        );
                    }
                    Err(SubmitError::Shutdown) => assert!(shut),
                    Err(e) => panic!("step {step}: {e}"),
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
                t.cancelled_by_user || t.may_be_cancelled,
                "future {i} cancelled with nobody cancelling it"
            ),
            State::Finished => {
                assert!(
                    !t.cancelled_by_user,
                    "future {i}: cancel() said true but it finished"
                );
                match (t.fut.result(), t.expect) {
                    (Ok(v), Expect::Value(want)) => assert_eq!(*v, want, "future {i}"),
                    (Err(Error::Exception(_)), Expect::Raised) => {}
                    (got, want) => panic!("future {i}: {got:?}, expected {want:?}"),
                }
            }
            s => panic!("future {i} left {s:?} after shutdown(wait = true)"),
        }
    }
}
