//! Every raw sample of a run, as JSON (`samples.json`): the machine, the settings, the
//! notes, and each (metric, contender)'s values, one per rep, in table order.

use crate::results::Results;
use crate::settings::Settings;
use serde::Serialize;
use std::thread;

/// The whole file.
#[derive(Serialize)]
struct Samples<'a> {
    machine: Machine,
    settings: RunSettings<'a>,
    notes: &'a [String],
    samples: Vec<Sample<'a>>,
}

/// Where the run ran.
#[derive(Serialize)]
struct Machine {
    cores: usize,
    os: &'static str,
    arch: &'static str,
}

/// What shaped the figures.
#[derive(Serialize)]
struct RunSettings<'a> {
    mode: &'a str,
    reps: usize,
    workers: usize,
}

/// One row of the table, with every rep's value.
#[derive(Serialize)]
struct Sample<'a> {
    workload: &'a str,
    metric: &'a str,
    unit: &'a str,
    contender: &'a str,
    values: &'a [f64],
}

/// Every raw sample, as JSON.
pub fn json(results: &Results, s: &Settings, notes: &[String]) -> String {
    let samples = Samples {
        machine: Machine {
            cores: thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
        },
        settings: RunSettings {
            mode: s.mode,
            reps: s.reps,
            workers: s.workers,
        },
        notes,
        samples: results
            .metrics
            .iter()
            .flat_map(|m| {
                m.order.iter().map(|who| Sample {
                    workload: m.workload,
                    metric: &m.what,
                    unit: m.unit,
                    contender: who,
                    values: &m.samples[who],
                })
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&samples).expect("plain data serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_settings_the_notes_and_every_value() {
        let mut r = Results::default();
        r.add(
            "W5",
            "pending tasks, heap incl. handle",
            "B/task",
            "ours",
            88.0,
        );
        r.add(
            "W5",
            "pending tasks, heap incl. handle",
            "B/task",
            "ours",
            88.5,
        );
        r.add("W1", "say \"hi\"\n", "ns/task", "tokio", 1.0);
        let s = Settings::try_parse_from(["compare", "--quick", "--workers", "3"]).unwrap();
        let notes = ["CPython skipped: the script failed: line 1\nline 2".to_string()];
        let v: serde_json::Value = serde_json::from_str(&json(&r, &s, &notes)).unwrap();
        assert_eq!(v["settings"]["mode"], "quick");
        assert_eq!(v["settings"]["reps"], 3);
        assert_eq!(v["settings"]["workers"], 3);
        assert_eq!(v["machine"]["os"], std::env::consts::OS);
        assert_eq!(v["notes"][0], notes[0].as_str());
        let rows = v["samples"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["workload"], "W5");
        assert_eq!(rows[0]["unit"], "B/task");
        assert_eq!(rows[0]["contender"], "ours");
        assert_eq!(rows[0]["values"], serde_json::json!([88.0, 88.5]));
        assert_eq!(rows[1]["metric"], "say \"hi\"\n");
    }
}
