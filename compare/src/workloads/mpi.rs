//! The M rows (`--mpi`, issue #14): our MPI executor beside our process pool, on the same
//! measurements. The harness launches itself under `mpirun` (`--mpi-child`), once per rank
//! count and rep; the root measures and prints its rows as one JSON line, which the parent
//! reads. The process pool runs the same measurements in the parent, in the same rep.
//!
//! * round trip: sequential `submit_task(echo)` → `result()`, p50;
//! * `map(echo)` at chunksize 1 and at chunksize 1,000: per item;
//! * `map(spin_100us)` over 200 items at chunksize 4: CPU-bound work, which is what more
//!   ranks should speed up (on this 2-core machine, only up to 2 serving ranks).

use crate::results::Results;
use crate::settings::Settings;
use crate::stats::percentile;
use crate::workloads::process::echo;
use concurrent_futures::{Executor, MapOptions, ProcessPoolExecutor, task};
use std::process::Command;
use std::time::{Duration, Instant};

/// The process pool's name in these rows (its W2 and P rows use the same).
pub const PROCESS: &str = crate::workloads::process::NAME;

/// The serving-rank counts measured: 1, 2 and 4 (3 ranks is the headline).
pub const SERVING: [usize; 3] = [1, 2, 4];

task! {
    /// About 100 µs of CPU.
    fn spin_100us(x: u64) -> u64 {
        let until = Instant::now() + Duration::from_micros(100);
        let mut n = x;
        while Instant::now() < until {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        n & 1
    }
}

/// One row: what, unit, value.
type Row = (String, String, f64);

/// The measurements, on any executor with `workers` workers, warm.
fn measure(ex: &impl Executor, workers: usize, quick: bool) -> Vec<Row> {
    let warm: Vec<_> = (0..4 * workers as u64)
        .map(|i| ex.submit_task(echo, i).unwrap())
        .collect();
    for f in warm {
        f.result().unwrap();
    }
    let mut rows = Vec::new();
    let n = if quick { 300 } else { 2_000 };
    let mut lat = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t = Instant::now();
        assert_eq!(*ex.submit_task(echo, i).unwrap().result().unwrap(), i);
        lat.push(t.elapsed());
    }
    lat.sort();
    rows.push(("round trip p50".into(), "µs".into(), percentile(&lat, 0.5)));
    for (chunk, n) in [(1, if quick { 1_000 } else { 5_000 }), (1_000, 100_000)] {
        let t = Instant::now();
        let sum: u64 = ex
            .map_task(echo, 0..n as u64, MapOptions::default().chunksize(chunk))
            .unwrap()
            .map(Result::unwrap)
            .sum();
        let el = t.elapsed();
        assert_eq!(sum, (n as u64 - 1) * n as u64 / 2);
        rows.push((
            format!("map {n} trivial items, chunksize {chunk}"),
            "ns/task".into(),
            el.as_nanos() as f64 / n as f64,
        ));
    }
    let t = Instant::now();
    let odd: u64 = ex
        .map_task(spin_100us, 0..200u64, MapOptions::default().chunksize(4))
        .unwrap()
        .map(Result::unwrap)
        .sum();
    assert!(odd <= 200);
    rows.push((
        "map 200 × 100 µs of CPU, chunksize 4".into(),
        "ms".into(),
        t.elapsed().as_secs_f64() * 1e3,
    ));
    rows
}

/// The contender's name for `serving` serving ranks.
pub fn mpi_name(serving: usize) -> String {
    format!(
        "ours MpiCommExecutor, {} ranks ({serving} serving)",
        serving + 1
    )
}

/// `--mpi-child [quick]`: one rank of the job. The root measures and prints its rows; the
/// other ranks serve inside the constructor and never return.
pub fn child(quick: bool) -> ! {
    let ex = concurrent_futures::MpiCommExecutor::new().expect("the MPI executor");
    let rows = measure(&ex, ex.workers(), quick);
    drop(ex);
    println!("MPI-ROWS {}", serde_json::to_string(&rows).unwrap());
    std::process::exit(0)
}

/// One rep of the M rows: the process pool here, then each rank count under mpirun. `Err`
/// says why MPI could not run (then the rest of the run skips it).
pub fn rep(s: &Settings, r: &mut Results) -> Result<(), String> {
    let quick = s.mode == "quick";
    let pool = ProcessPoolExecutor::new(2).expect("a process pool");
    add(
        r,
        &format!("{PROCESS}, 2 workers"),
        measure(&pool, 2, quick),
    );
    drop(pool);
    for serving in SERVING {
        let rows = launch(serving + 1, quick)?;
        add(r, &mpi_name(serving), rows);
    }
    Ok(())
}

fn add(r: &mut Results, who: &str, rows: Vec<Row>) {
    for (what, unit, v) in rows {
        let unit = crate::results::UNITS
            .iter()
            .copied()
            .find(|u| *u == unit)
            .unwrap_or("ms");
        r.add("M", &what, unit, who, v);
    }
}

/// Runs this harness as an MPI job of `ranks` ranks and reads the root's rows.
fn launch(ranks: usize, quick: bool) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("no path to the harness: {e}"))?;
    let mut cmd = Command::new("timeout");
    cmd.arg("600").arg("mpirun").arg("--oversubscribe");
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--allow-run-as-root");
    }
    cmd.arg("-n")
        .arg(ranks.to_string())
        .arg(exe)
        .arg("--mpi-child");
    if quick {
        cmd.arg("quick");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("mpirun could not run ({e}); install Open MPI (openmpi-bin)"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MPI-ROWS "))
        .ok_or_else(|| {
            format!(
                "mpirun -n {ranks} ended ({}) without rows: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" / ")
            )
        })?;
    serde_json::from_str(line).map_err(|e| format!("the rows did not parse: {e}"))
}
