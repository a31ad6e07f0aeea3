//! CPython's `concurrent.futures` (`ThreadPoolExecutor` and `ProcessPoolExecutor`): the
//! Python script runs once per rep as a subprocess and prints its figures, one a line.

use crate::machine::MachineState;
use crate::results::{Results, UNITS, WORKLOADS};
use crate::settings::Settings;
use std::process::Command;

/// The script, where the build found it.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/wait_bench.py");
/// The script's path in the repository, for the notes under the table.
pub const SCRIPT_IN_REPO: &str = "compare/python/wait_bench.py";

/// Runs the Python script once (one rep) and adds its figures; `Err` says why it did not.
/// `heavy` adds W4 and W6b, which take CPython tens of seconds (the first rep only).
pub fn run_rep(s: &Settings, heavy: bool, results: &mut Results) -> Result<(), String> {
    let workloads = s
        .workloads
        .as_ref()
        .map_or("all".to_string(), |w| w.join(","));
    run_script(s, heavy, &workloads, "", results)
}

/// Runs the script's W2 and W3 (those selected) in `state`, their metrics named for it.
pub fn run_in_state(
    s: &Settings,
    state: MachineState,
    results: &mut Results,
) -> Result<(), String> {
    let workloads: Vec<&str> = ["w2", "w3"].into_iter().filter(|w| s.runs(w)).collect();
    if workloads.is_empty() {
        return Ok(());
    }
    state.run(|| run_script(s, false, &workloads.join(","), state.suffix(), results))
}

/// One run of the script over `workloads` ("all" or a list); `suffix` is added to every
/// metric's name (the machine state's).
fn run_script(
    s: &Settings,
    heavy: bool,
    workloads: &str,
    suffix: &str,
    results: &mut Results,
) -> Result<(), String> {
    let mut cmd = Command::new("python3");
    cmd.arg(SCRIPT)
        .arg(format!("--workers={}", s.workers))
        .arg(format!("--mode={}", s.mode))
        .arg(format!("--w4-len={}", s.w4_len))
        .arg(format!("--w6-all={}", s.w6_all_n))
        .arg(format!(
            "--w6-drains={}",
            s.w6_drains
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ))
        .arg(format!("--workloads={workloads}"));
    if heavy {
        cmd.arg("--heavy");
    }
    let out = cmd.output().map_err(|e| format!("no python3 ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "the script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // One line per figure: `workload<TAB>metric<TAB>unit<TAB>contender<TAB>value`.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if let [w, m, u, who, v] = f[..] {
            let Ok(v) = v.parse::<f64>() else { continue };
            let workload = WORKLOADS.iter().copied().find(|x| *x == w).unwrap_or("?");
            let unit = UNITS.iter().copied().find(|x| *x == u).unwrap_or("?");
            results.add(workload, &format!("{m}{suffix}"), unit, who, v);
        }
    }
    Ok(())
}

/// `python3 --version`, or empty when there is none.
pub fn version() -> String {
    Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
