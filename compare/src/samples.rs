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
