//! What a run measures: the sizes and reps of each mode, the worker count, and which
//! contenders and workloads take part, from the command line ([`Args`], parsed by clap).

use crate::results::WORKLOADS;
use clap::Parser;

/// The settings of one run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Reps: every workload runs this many times for every contender, interleaved.
    pub reps: usize,
    /// Workers per pool.
    pub workers: usize,
    /// W1's tasks.
    pub w1_n: usize,
    /// W1's tasks for a thread per task, which cannot take a million.
    pub w1_thread_n: usize,
    /// W2's round trips (a thread per task makes a quarter of them).
    pub w2_n: usize,
    /// W3's 10 µs tasks.
    pub w3_n: usize,
    /// W4's items.
    pub w4_len: usize,
    /// W5's pending tasks.
    pub w5_n: usize,
    /// W6a's finished futures.
    pub w6_all_n: usize,
    /// W6b's drain sizes.
    pub w6_drains: Vec<usize>,
    /// Contender name prefixes, lowercase (ours always runs); `None`: all.
    pub only: Option<Vec<String>>,
    /// Workload names; `None`: all.
    pub workloads: Option<Vec<String>>,
    /// Whether CPython runs.
    pub python: bool,
    /// `default`, `quick` or `full`.
    pub mode: &'static str,
    /// The machine states W2 and W3 run in (the other workloads run as the machine is).
    pub states: Vec<crate::machine::MachineState>,
    /// `--mpi`: the M rows only (the MPI executor beside the process pool).
    pub mpi: bool,
}

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "compare",
    about = "concurrent-futures beside rayon, the threadpool crate, tokio's blocking pool, a \
             naive Mutex/Condvar pool, a thread per task and CPython, on this machine",
    long_about = "concurrent-futures beside rayon, the threadpool crate, tokio's blocking pool, \
                  a naive Mutex/Condvar pool, a thread per task and CPython's \
                  concurrent.futures, on the same workloads, on this machine.\n\n\
                  Each rep runs every workload for every contender in turn, each on a fresh \
                  pool that has run one task; CPython runs once per rep as a subprocess. It \
                  prints a markdown table of medians over reps (min–max) and each \
                  contender's ratio to ours (the median of per-rep ratios), and writes the \
                  raw samples and SVG plots under the cargo target directory, in compare/.\n\n\
                  With neither --quick nor --full it is the default run (about 2½ minutes \
                  on 2 cores): 5 reps, W1 and W5 at 300,000 tasks, W2 at 20,000 round \
                  trips, W3 at 10,000 tasks, W4 at 16 items, the drains of 1,000, 2,000 and \
                  4,000 futures.\n\n\
                  Run it as: cargo run --release -p compare [-- FLAGS]"
)]
pub struct Args {
    /// A smoke run (about 30 s): 3 reps, small sizes, one 1,000-future drain.
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// The full run (about 10 minutes): 9 reps, W1 and W5 at 1,000,000 tasks, W2 at 50,000
    /// round trips, the 64-item W4 and the 8,000-future drain.
    #[arg(long)]
    pub full: bool,
    /// Only these contenders beside ours, which always runs: comma-separated name prefixes,
    /// any case (rayon, threadpool, tokio, mutex, std). CPython is left out with
    /// --no-python.
    #[arg(long, value_name = "PREFIXES", value_delimiter = ',', value_parser = prefix)]
    pub only: Option<Vec<String>>,
    /// Only these workloads: comma-separated, any case, from W1, W2, W3, W4, W5, W6a, W6b,
    /// P, floor, and M (the MPI rows, as --mpi).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = workload)]
    pub workloads: Option<Vec<String>>,
    /// Workers per pool (every contender gets the same number).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = workers)]
    pub workers: usize,
    /// Leave CPython out (it also drops out by itself, with a note, when python3 cannot run
    /// the script).
    #[arg(long)]
    pub no_python: bool,
    /// The machine states W2 and W3 run in, comma-separated: idle (as the machine is),
    /// one-core (every contender under one CPU's affinity), loaded (one busy thread per
    /// core beside it). Default: all three.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_enum)]
    pub states: Option<Vec<crate::machine::MachineState>>,
    /// The MPI rows only (workload M): our MPI executor on 2, 3 and 5 ranks, launched by
    /// the harness through mpirun, beside our process pool. Needs the harness built with
    /// --features mpi and Open MPI installed (docs/scale-out.md).
    #[arg(long)]
    pub mpi: bool,
}

/// A contender prefix as `--only` compares it: trimmed, lowercase.
fn prefix(s: &str) -> Result<String, String> {
    Ok(s.trim().to_lowercase())
}

/// A workload name, checked, kept lowercase (CPython's script reads the same list).
fn workload(s: &str) -> Result<String, String> {
    let name = s.trim();
    if WORKLOADS.iter().any(|w| w.eq_ignore_ascii_case(name)) {
        Ok(name.to_lowercase())
    } else {
        Err(format!(
            "no such workload; the workloads are {}",
            WORKLOADS.join(", ")
        ))
    }
}

/// A worker count: a number above zero.
fn workers(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("a pool needs at least one worker: give a number above zero".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number ({e})")),
    }
}

impl From<Args> for Settings {
    fn from(a: Args) -> Settings {
        let mpi = a.mpi
            || a.workloads
                .as_ref()
                .is_some_and(|w| w.iter().any(|x| x == "m"));
        let s = Settings {
            reps: 5,
            workers: a.workers,
            w1_n: 300_000,
            w1_thread_n: 20_000,
            w2_n: 20_000,
            w3_n: 10_000,
            w4_len: 16,
            w5_n: 300_000,
            w6_all_n: 100_000,
            w6_drains: vec![1000, 2000, 4000],
            only: a.only,
            // `--mpi` alone is the M rows only; `--workloads` with M runs what it lists.
            workloads: match a.workloads {
                None if mpi => Some(vec!["m".to_owned()]),
                w => w,
            },
            python: !a.no_python && !mpi,
            mpi,
            mode: "default",
            states: a
                .states
                .unwrap_or_else(|| crate::machine::MachineState::ALL.to_vec()),
        };
        if a.quick {
            Settings {
                reps: 3,
                w1_n: 100_000,
                w1_thread_n: 5_000,
                w2_n: 2_000,
                w3_n: 2_000,
                w4_len: 6,
                w5_n: 100_000,
                w6_drains: vec![1000],
                mode: "quick",
                ..s
            }
        } else if a.full {
            Settings {
                reps: 9,
                w1_n: 1_000_000,
                w2_n: 50_000,
                w4_len: 64,
                w5_n: 1_000_000,
                w6_drains: vec![1000, 2000, 4000, 8000],
                mode: "full",
                ..s
            }
        } else {
            s
        }
    }
}

impl Settings {
    /// The settings from this process's command line; on a bad one (or `--help`) clap
    /// prints why (or the help) and exits, with status 2 for an error.
    pub fn from_args() -> Settings {
        Args::parse().into()
    }

    /// The settings from `args` (the program name first), or clap's error.
    pub fn try_parse_from<I, T>(args: I) -> Result<Settings, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Args::try_parse_from(args).map(Settings::from)
    }

    /// Whether `contender` runs: ours always, the others when `--only` names a prefix of
    /// theirs (or is absent).
    pub fn wants(&self, contender: &str) -> bool {
        contender == "ours"
            || self.only.as_ref().is_none_or(|o| {
                o.iter()
                    .any(|p| contender.to_lowercase().starts_with(p.as_str()))
            })
    }

    /// Whether `workload` runs.
    pub fn runs(&self, workload: &str) -> bool {
        if workload.eq_ignore_ascii_case("M") {
            // Only on request: it needs MPI.
            return self.mpi;
        }
        self.workloads
            .as_ref()
            .is_none_or(|w| w.iter().any(|x| x.eq_ignore_ascii_case(workload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(std::iter::once("compare").chain(args.iter().copied()))
    }

    #[test]
    fn no_flags_is_the_default_run() {
        let s = parse(&[]).unwrap();
        assert_eq!((s.mode, s.reps, s.workers), ("default", 5, 2));
        assert_eq!(
            (s.w1_n, s.w2_n, s.w3_n, s.w4_len, s.w5_n),
            (300_000, 20_000, 10_000, 16, 300_000)
        );
        assert_eq!(s.w6_drains, [1000, 2000, 4000]);
        assert!(s.python && s.only.is_none() && s.workloads.is_none());
    }

    #[test]
    fn quick_and_full_set_their_sizes_and_not_together() {
        let q = parse(&["--quick"]).unwrap();
        assert_eq!((q.mode, q.reps, q.w1_n, q.w4_len), ("quick", 3, 100_000, 6));
        assert_eq!(q.w6_drains, [1000]);
        let f = parse(&["--full"]).unwrap();
        assert_eq!(
            (f.mode, f.reps, f.w1_n, f.w4_len),
            ("full", 9, 1_000_000, 64)
        );
        assert_eq!(f.w6_drains, [1000, 2000, 4000, 8000]);
        let both = parse(&["--quick", "--full"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn workers_takes_a_number_above_zero() {
        assert_eq!(parse(&["--workers", "3"]).unwrap().workers, 3);
        let zero = parse(&["--workers", "0"]).unwrap_err();
        assert_eq!(zero.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(zero.to_string().contains("at least one worker"), "{zero}");
        assert_eq!(zero.exit_code(), 2);
        assert!(parse(&["--workers", "two"]).is_err());
        assert!(parse(&["--workers"]).is_err());
    }

    #[test]
    fn only_selects_by_prefix_in_any_case_and_ours_always_runs() {
        let s = parse(&["--only", "Rayon, TOKIO"]).unwrap();
        assert_eq!(
            s.only.as_deref(),
            Some(&["rayon".to_string(), "tokio".to_string()][..])
        );
        assert!(s.wants("ours"));
        assert!(s.wants("rayon spawn+oneshot") && s.wants("rayon scope"));
        assert!(s.wants("tokio spawn_blocking"));
        assert!(!s.wants("threadpool+channel") && !s.wants("Mutex/Condvar pool"));
        assert!(parse(&[]).unwrap().wants("std::thread::spawn"));
    }

    #[test]
    fn workloads_are_checked_and_matched_in_any_case() {
        let s = parse(&["--workloads", "w1,W6B,Floor"]).unwrap();
        assert!(s.runs("W1") && s.runs("W6b") && s.runs("floor"));
        assert!(!s.runs("W2") && !s.runs("W6a"));
        let bad = parse(&["--workloads", "W1,W7"]).unwrap_err();
        assert!(bad.to_string().contains("no such workload"), "{bad}");
    }

    #[test]
    fn no_python_leaves_cpython_out() {
        assert!(!parse(&["--no-python"]).unwrap().python);
    }

    #[test]
    fn an_unknown_flag_is_an_error() {
        assert_eq!(
            parse(&["--quik"]).unwrap_err().kind(),
            clap::error::ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn machine_states_default_to_all_three_and_parse_by_name() {
        use crate::machine::MachineState::*;
        assert_eq!(parse(&[]).unwrap().states, [Idle, OneCore, Loaded]);
        assert_eq!(
            parse(&["--states", "loaded,idle"]).unwrap().states,
            [Loaded, Idle]
        );
        assert!(parse(&["--states", "busy"]).is_err());
    }
}
