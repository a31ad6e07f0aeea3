//! A whole run: the reps, each running every selected workload for every contender in turn,
//! behind a progress bar.

use crate::contenders::cpython;
use crate::machine::MachineState;
use crate::results::Results;
use crate::settings::Settings;
use crate::workloads::{floor, process, w1, w2, w3, w4, w5, w6};

/// What a run gathered: the figures and the notes for under the table.
pub struct Run {
    /// One value per rep for each (metric, contender).
    pub results: Results,
    /// What went differently, e.g. why CPython was skipped.
    pub notes: Vec<String>,
}

/// Runs `s.reps` reps. Within a rep the workloads run in the order W1 … W6b, floor, then
/// CPython (once per rep as a subprocess, its heavy workloads on the first rep only; if it
/// cannot run, it is skipped from then on and a note says why).
pub fn run(s: &Settings) -> Run {
    let mut r = Results::default();
    let mut notes = Vec::new();
    let mut python = s.python;

    let steps_per_rep = crate::results::WORKLOADS
        .iter()
        .filter(|x| s.runs(x))
        .count()
        + usize::from(s.python);
    let bar = indicatif::ProgressBar::new((s.reps * steps_per_rep) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} {msg}")
            .unwrap(),
    );
    let items = w4::primes(s.w4_len);
    for rep in 0..s.reps {
        let mut step = |workload: &str, what: &str, body: &mut dyn FnMut(&mut Results)| {
            if s.runs(workload) {
                bar.set_message(format!("rep {}/{}: {what}", rep + 1, s.reps));
                body(&mut r);
                bar.inc(1);
            }
        };
        step("W1", "W1 throughput", &mut |r| w1::rep(s, r));
        step("W2", "W2 latency", &mut |r| w2::rep(s, r));
        step("W3", "W3 fan-out", &mut |r| w3::rep(s, r));
        step("W4", "W4 CPU-bound map(is_prime)", &mut |r| {
            w4::rep(s, &items, r)
        });
        step("W5", "W5 memory", &mut |r| w5::rep(s, r));
        step("W6a", "W6a wait over finished futures", &mut |r| {
            w6::rep_wait_all(s, r)
        });
        step("W6b", "W6b FirstCompleted drain loop", &mut |r| {
            w6::rep_drain(s, r)
        });
        step("P", "P our process pool", &mut |r| process::rep_p(s, r));
        step("floor", "the machine's floor", &mut floor::rep);
        step(
            "M",
            "M the MPI executor beside the process pool",
            &mut |r| {
                if let Err(why) = mpi_rep(s, r) {
                    if !notes.contains(&why) {
                        notes.push(why);
                    }
                }
            },
        );
        if python {
            bar.set_message(format!("rep {}/{}: CPython", rep + 1, s.reps));
            let mut ran = cpython::run_rep(s, rep == 0, &mut r);
            for &state in s.states.iter().filter(|st| **st != MachineState::Idle) {
                if ran.is_ok() {
                    bar.set_message(format!(
                        "rep {}/{}: CPython, {}",
                        rep + 1,
                        s.reps,
                        state.name()
                    ));
                    ran = cpython::run_in_state(s, state, &mut r);
                }
            }
            if let Err(why) = ran {
                notes.push(format!("CPython skipped: {why}"));
                python = false;
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Run { results: r, notes }
}

/// The M rows, where the harness was built with them.
#[cfg(feature = "mpi")]
fn mpi_rep(s: &Settings, r: &mut Results) -> Result<(), String> {
    crate::workloads::mpi::rep(s, r).map_err(|why| format!("MPI skipped: {why}"))
}

#[cfg(not(feature = "mpi"))]
fn mpi_rep(_: &Settings, _: &mut Results) -> Result<(), String> {
    Err("MPI skipped: build the harness with --features mpi (docs/scale-out.md)".into())
}
