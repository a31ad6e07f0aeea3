//! Differential check of `Future`, `wait` and `as_completed` against a plain transcription
//! of CPython's `concurrent/futures/_base.py` semantics, with this crate's documented fixes
//! (a cancel is terminal for waiters at once). Shared by the `future_ops` fuzz target and
//! `tests/fuzz_corpus.rs`, which replays the checked-in corpus.
//!
//! The bytes are a program: each operation picks a future (of four) and an action; both
//! sides run it and must answer the same. Callbacks log `(id, future)` when they run, and the
//! logs must match too (exactly once, registration order, at once when already done).

use concurrent_futures::{
    Error, Exception, Future, ReturnWhen, State, as_completed_timeout, wait_timeout,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: usize = 4;

/// The model of one future: Python's states and its callback list.
#[derive(Clone, Debug, PartialEq)]
enum M {
    Pending,
    Running,
    Cancelled { notified: bool },
    Finished(Result<u32, u32>),
}

#[derive(Default)]
struct Model {
    fs: Vec<(M, Vec<u32>)>,
    log: Vec<(u32, usize)>,
}

impl Model {
    fn done(&self, i: usize) -> bool {
        matches!(self.fs[i].0, M::Cancelled { .. } | M::Finished(_))
    }
    /// Runs (and forgets) the callbacks of future `i`, in order: Python calls them once.
    fn run_callbacks(&mut self, i: usize) {
        for id in std::mem::take(&mut self.fs[i].1) {
            self.log.push((id, i));
        }
    }
}

/// What an operation answered, in a form both sides produce.
#[derive(Debug, PartialEq)]
enum Answer {
    Bool(bool),
    Start(Result<bool, State>),
    Set(Result<(), State>),
    Get(Result<u32, String>),
    Partition(Vec<usize>, Vec<usize>),
    Yielded(Vec<usize>, Option<(usize, usize)>),
    State(State),
    Unit,
}

fn model_state(m: &M) -> State {
    match m {
        M::Pending => State::Pending,
        M::Running => State::Running,
        M::Cancelled { .. } => State::Cancelled,
        M::Finished(_) => State::Finished,
    }
}

/// Runs the program `data`; panics on the first divergence.
pub fn run(data: &[u8]) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let real: Vec<Future<u32>> = (0..N).map(|_| Future::new()).collect();
    let mut model = Model {
        fs: vec![(M::Pending, Vec::new()); N],
        ..Model::default()
    };
    let mut next_id = 0u32;
    for (step, chunk) in data.chunks(2).enumerate() {
        let (op, arg) = (chunk[0], chunk.get(1).copied().unwrap_or(0));
        let i = (op as usize >> 4) % N;
        let mask: Vec<usize> = (0..N).filter(|k| arg & (1 << k) != 0).collect();
        // Duplicates in the input are allowed and reported once.
        let mut with_dups = mask.clone();
        with_dups.extend(mask.iter().copied().filter(|k| arg & (0x10 << k) != 0));
        let (got, want) = match op & 0x0f {
            0 => {
                let want = match model.fs[i].0 {
                    M::Pending => {
                        model.fs[i].0 = M::Cancelled { notified: false };
                        model.run_callbacks(i);
                        true
                    }
                    M::Cancelled { .. } => true,
                    _ => false,
                };
                (Answer::Bool(real[i].cancel()), Answer::Bool(want))
            }
            1 => {
                let want = match model.fs[i].0.clone() {
                    M::Pending => {
                        model.fs[i].0 = M::Running;
                        Ok(true)
                    }
                    M::Cancelled { notified: false } => {
                        model.fs[i].0 = M::Cancelled { notified: true };
                        Ok(false)
                    }
                    other => Err(model_state(&other)),
                };
                let got = real[i]
                    .set_running_or_notify_cancel()
                    .map_err(|e| e.state());
                (Answer::Start(got), Answer::Start(want))
            }
            2 | 3 => {
                let v = u32::from(arg);
                let outcome = if op & 0x0f == 2 { Ok(v) } else { Err(v) };
                let want = match model.fs[i].0.clone() {
                    M::Pending | M::Running => {
                        model.fs[i].0 = M::Finished(outcome);
                        model.run_callbacks(i);
                        Ok(())
                    }
                    other => Err(model_state(&other)),
                };
                let got = match outcome {
                    Ok(v) => real[i].set_result(v),
                    Err(v) => real[i].set_exception(Exception::msg(v.to_string())),
                };
                (Answer::Set(got.map_err(|e| e.state())), Answer::Set(want))
            }
            4 => {
                let id = next_id;
                next_id += 1;
                if model.done(i) {
                    model.log.push((id, i));
                } else {
                    model.fs[i].1.push(id);
                }
                let l = log.clone();
                real[i].add_done_callback(move |_| l.lock().unwrap().push((id, i)));
                (Answer::Unit, Answer::Unit)
            }
            5 => {
                let want = match &model.fs[i].0 {
                    M::Finished(Ok(v)) => Ok(*v),
                    M::Finished(Err(v)) => Err(format!("raised {v}")),
                    M::Cancelled { .. } => Err("cancelled".into()),
                    _ => Err("timeout".into()),
                };
                let got = match real[i].result_timeout(Duration::ZERO) {
                    Ok(v) => Ok(*v),
                    Err(Error::Exception(e)) => Err(format!("raised {e}")),
                    Err(Error::Cancelled) => Err("cancelled".into()),
                    Err(Error::Timeout { .. }) => Err("timeout".into()),
                    Err(e) => Err(format!("{e:?}")),
                };
                (Answer::Get(got), Answer::Get(want))
            }
            6..=8 => {
                let mode = [
                    ReturnWhen::FirstCompleted,
                    ReturnWhen::FirstException,
                    ReturnWhen::AllCompleted,
                ][usize::from(op & 0x0f) - 6];
                let fs: Vec<&Future<u32>> = with_dups.iter().map(|&k| &real[k]).collect();
                let r = wait_timeout(fs, mode, Duration::ZERO);
                let pos = |f: &&Future<u32>| real.iter().position(|g| g == *f).unwrap();
                let got = Answer::Partition(
                    r.done.iter().map(pos).collect(),
                    r.not_done.iter().map(pos).collect(),
                );
                // A zero timeout: the partition as it stands, in input order, no duplicates.
                let (d, nd): (Vec<usize>, Vec<usize>) = mask.iter().partition(|&&k| model.done(k));
                (got, Answer::Partition(d, nd))
            }
            9 => {
                let fs: Vec<&Future<u32>> = with_dups.iter().map(|&k| &real[k]).collect();
                let mut yielded = Vec::new();
                let mut timeout = None;
                for r in as_completed_timeout(fs, Duration::ZERO) {
                    match r {
                        Ok(f) => yielded.push(real.iter().position(|g| g == f).unwrap()),
                        Err(Error::Timeout { unfinished, total }) => {
                            timeout = Some((unfinished, total))
                        }
                        Err(e) => panic!("step {step}: as_completed yielded {e:?}"),
                    }
                }
                let done: Vec<usize> = mask.iter().copied().filter(|&k| model.done(k)).collect();
                let pending = mask.len() - done.len();
                let want_timeout = (pending > 0).then_some((pending, mask.len()));
                (
                    Answer::Yielded(yielded, timeout),
                    Answer::Yielded(done, want_timeout),
                )
            }
            _ => (
                Answer::State(real[i].state()),
                Answer::State(model_state(&model.fs[i].0)),
            ),
        };
        assert_eq!(
            got, want,
            "step {step}: op {op:#04x} arg {arg:#04x} on future {i}"
        );
        assert_eq!(*log.lock().unwrap(), model.log, "step {step}: callback log");
        for (k, f) in real.iter().enumerate() {
            assert_eq!(f.done(), model.done(k), "step {step}: done() of future {k}");
            assert!(
                !f.has_waiters(),
                "step {step}: a zero-timeout wait left a waiter linked"
            );
        }
    }
}
