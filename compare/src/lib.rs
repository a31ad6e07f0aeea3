//! The comparison harness: our `ThreadPoolExecutor` and futures beside rayon, the
//! `threadpool` crate, tokio's blocking pool, a naive Mutex/Condvar pool, a thread per task
//! and CPython's `concurrent.futures`, on the same workloads, on this machine.
//!
//! `cargo run --release -p compare` runs the default set (about two minutes on 2 cores) and
//! prints a markdown table; it also writes every raw sample to `compare/samples.json` and
//! SVG plots to `compare/*.svg` under the cargo target directory (`$CARGO_TARGET_DIR` if
//! set, else the one the binary was built into: `target/compare/` by default), and says
//! where.
//!
//! Flags (after `--`): `--quick` (a smoke run), `--full` (larger sizes, more reps, the
//! 8,000-future drain and the 64-item W4), `--only ours,rayon,...` (contenders, by name
//! prefix), `--workloads W1,W2,...`, `--workers N` (default 2), `--no-python`; `--help`
//! explains each ([`settings::Args`]).
//!
//! How it measures: for each rep, every workload runs for every contender in turn, each with
//! a fresh pool that has run one task first (so its threads exist); CPython runs once per rep
//! as a subprocess. Figures are medians over reps with their min–max, and each contender's
//! ratio to ours is the median of its per-rep ratios, so the drift of a noisy machine hits
//! every contender alike.
//!
//! Workloads:
//! * W1 throughput: submit N empty tasks returning a u64, then wait for all (ns per task;
//!   300,000 tasks, 1,000,000 with `--full`).
//! * W2 latency: submit one task and block on its result, many times (p50, p99, p99.9; CPU
//!   cores used per wall second, from `getrusage`).
//! * W3 fan-out: 10,000 tasks of ~10 µs of spinning, consumed in completion order (× ideal,
//!   ideal = the work divided by the workers; time to first result).
//! * W4 CPU-bound: `map(is_prime)` over the Python documentation's PRIMES, repeated to 16
//!   items (64 with `--full`), chunksize 1 and 8 (× ideal, ideal = inline time ÷ workers).
//! * W5 memory: pending tasks behind a blocked pool (heap bytes per task, handle included;
//!   submit cost while no worker runs; 300,000 tasks, 1,000,000 with `--full`).
//! * W6 waiting at scale (ours and CPython): `wait(AllCompleted)` on 100,000 finished
//!   futures; the `wait(pending, FirstCompleted)` drain of 1,000 / 2,000 / 4,000 (/ 8,000)
//!   futures that another thread finishes one per call.
//! * Floor: the machine's own limits: an uncontended CAS, a lock-free queue push+pop, the
//!   latency of waking a parked thread, a park/unpark ping-pong.
//!
//! The binary (`src/main.rs`) installs the counting allocator and calls [`run::run`],
//! [`report`] and [`output`]; the criterion benches (`benches/`) share [`shared`] and the
//! rayon pool of [`contenders::rayon_spawn`].

pub mod alloc;
pub mod contenders;
pub mod machine;
pub mod output;
pub mod plots;
pub mod report;
pub mod results;
pub mod run;
pub mod samples;
pub mod settings;
pub mod shared;
pub mod stats;
pub mod workloads;
