//! What a run measures: the sizes and reps of each mode, the worker count, and which
//! contenders and workloads take part.

/// The settings of one run.
#[derive(Clone)]
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
}

impl Settings {
    /// The settings from the command line.
    pub fn from_args() -> Settings {
        let args: Vec<String> = std::env::args().collect();
        let has = |f: &str| args.iter().any(|a| a == f);
        let value = |f: &str| {
            args.iter()
                .position(|a| a == f)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let list =
            |f: &str| value(f).map(|v| v.split(',').map(|s| s.trim().to_lowercase()).collect());
        let mut s = Settings {
            reps: 5,
            workers: 2,
            w1_n: 300_000,
            w1_thread_n: 20_000,
            w2_n: 20_000,
            w3_n: 10_000,
            w4_len: 16,
            w5_n: 300_000,
            w6_all_n: 100_000,
            w6_drains: vec![1000, 2000, 4000],
            only: list("--only"),
            workloads: list("--workloads"),
            python: !has("--no-python"),
            mode: "default",
        };
        if has("--quick") {
            s = Settings {
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
            };
        } else if has("--full") {
            s = Settings {
                reps: 9,
                w1_n: 1_000_000,
                w2_n: 50_000,
                w4_len: 64,
                w5_n: 1_000_000,
                w6_drains: vec![1000, 2000, 4000, 8000],
                mode: "full",
                ..s
            };
        }
        if let Some(w) = value("--workers") {
            match w.parse::<usize>() {
                Ok(n) if n > 0 => s.workers = n,
                _ => {
                    eprintln!("--workers takes a number above zero, not {w:?}");
                    std::process::exit(2);
                }
            }
        }
        s
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
        self.workloads
            .as_ref()
            .is_none_or(|w| w.iter().any(|x| x.eq_ignore_ascii_case(workload)))
    }
}
