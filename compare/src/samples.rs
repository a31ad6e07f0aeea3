//! Every raw sample of a run, as JSON (`samples.json`).

use crate::results::Results;
use crate::settings::Settings;
use std::fmt::Write as _;
use std::thread;

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every raw sample, as JSON.
pub fn json(results: &Results, s: &Settings, notes: &[String]) -> String {
    let mut out = String::new();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    write!(
        out,
        "{{\n  \"machine\": {{\"cores\": {cores}, \"os\": \"{}\", \"arch\": \"{}\"}},\n  \"settings\": {{\"mode\": \"{}\", \"reps\": {}, \"workers\": {}}},\n  \"notes\": [{}],\n  \"samples\": [\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        s.mode,
        s.reps,
        s.workers,
        notes.iter().map(|n| format!("\"{}\"", json_escape(n))).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    let mut first = true;
    for m in &results.metrics {
        for who in &m.order {
            if !first {
                out.push_str(",\n");
            }
            first = false;
            let vals: Vec<String> = m.samples[who].iter().map(|v| format!("{v}")).collect();
            write!(
                out,
                "    {{\"workload\": \"{}\", \"metric\": \"{}\", \"unit\": \"{}\", \"contender\": \"{}\", \"values\": [{}]}}",
                m.workload,
                json_escape(&m.what),
                m.unit,
                json_escape(who),
                vals.join(", ")
            )
            .unwrap();
        }
    }
    out.push_str("\n  ]\n}\n");
    out
}
