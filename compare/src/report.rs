//! The markdown table and the lines printed around it.

use crate::contenders::cpython;
use crate::results::Results;
use crate::run::Run;
use crate::settings::Settings;
use crate::stats::{fmt, median, min_max, ratio_to_ours};
use std::fmt::Write as _;
use std::thread;

/// The table: one row per (metric, contender).
pub fn table(results: &Results) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "| workload | metric | unit | contender | median | min–max | vs ours |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---:|---:|---:|").unwrap();
    for m in &results.metrics {
        let ours = m.samples.get("ours");
        for who in &m.order {
            let v = &m.samples[who];
            let (lo, hi) = min_max(v);
            let ratio = match ours {
                Some(o) if who != "ours" => format!("{:.2}×", ratio_to_ours(v, o)),
                _ => String::new(),
            };
            writeln!(
                out,
                "| {} | {} | {} | {who} | {} | {}–{} | {ratio} |",
                m.workload,
                m.what,
                m.unit,
                fmt(median(v)),
                fmt(lo),
                fmt(hi)
            )
            .unwrap();
        }
    }
    out
}

/// What the run prints: a line on the machine and the settings, the table, how to read it,
/// the sizes, and the notes.
pub fn summary(s: &Settings, run: &Run) -> String {
    let mut out = String::new();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let version = cpython::version();
    writeln!(
        out,
        "concurrent-futures comparison, {} run: {} reps, {} workers per pool, {cores} cores{}",
        s.mode,
        s.reps,
        s.workers,
        if s.python && !version.is_empty() {
            format!(", {version}")
        } else {
            String::new()
        }
    )
    .unwrap();
    writeln!(out).unwrap();
    out.push_str(&table(&run.results));
    writeln!(out).unwrap();
    writeln!(
        out,
        "Medians over reps (min–max); \"vs ours\" is the median of per-rep ratios, above 1× = slower (or larger) than ours."
    )
    .unwrap();
    writeln!(
        out,
        "Sizes: W1 {} tasks (std::thread::spawn {}), W2 {} round trips, W3 {} tasks, W4 {} items, W5 {} tasks.",
        s.w1_n, s.w1_thread_n, s.w2_n, s.w3_n, s.w4_len, s.w5_n
    )
    .unwrap();
    if s.python {
        writeln!(
            out,
            "CPython rows use smaller sizes where CPython needs seconds (per-task and normalised figures, so rows compare); its W4 and W6b ran on the first rep only ({}).",
            cpython::SCRIPT_IN_REPO
        )
        .unwrap();
    }
    for n in &run.notes {
        writeln!(out, "{n}").unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_row_per_contender_and_the_per_rep_ratio() {
        let mut r = Results::default();
        for (ours, theirs) in [(1.0, 3.0), (2.0, 2.0), (3.0, 6.0)] {
            r.add(
                "W1",
                "submit N empty tasks, wait all",
                "ns/task",
                "ours",
                ours,
            );
            r.add(
                "W1",
                "submit N empty tasks, wait all",
                "ns/task",
                "rayon",
                theirs,
            );
        }
        let t = table(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "| workload | metric | unit | contender | median | min–max | vs ours |"
        );
        assert_eq!(lines[1], "|---|---|---|---|---:|---:|---:|");
        assert_eq!(
            lines[2],
            "| W1 | submit N empty tasks, wait all | ns/task | ours | 2.00 | 1.00–3.00 |  |"
        );
        assert_eq!(
            lines[3],
            "| W1 | submit N empty tasks, wait all | ns/task | rayon | 3.00 | 2.00–6.00 | 2.00× |"
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn a_metric_without_ours_has_no_ratio() {
        let mut r = Results::default();
        r.add("floor", "uncontended CAS", "ns", "machine", 12.0);
        assert!(
            table(&r)
                .ends_with("| floor | uncontended CAS | ns | machine | 12.0 | 12.0–12.0 |  |\n")
        );
    }
}
