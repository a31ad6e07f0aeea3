//! The figures of a run, as they come: one [`Metric`] per line of the table, each holding
//! one value per rep for every contender that ran it.

use std::collections::BTreeMap;

/// The workload names a row may carry (CPython's lines are matched against them).
pub const WORKLOADS: [&str; 8] = ["W1", "W2", "W3", "W4", "W5", "W6a", "W6b", "floor"];
/// The units a row may carry.
pub const UNITS: [&str; 7] = ["ns/task", "µs", "cores", "× ideal", "ms", "B/task", "ns"];

/// One line of the table: a workload's metric.
pub struct Metric {
    /// `W1` … `W6b`, `floor`.
    pub workload: &'static str,
    /// What is measured, e.g. `round trip p99`.
    pub what: String,
    /// The unit of every value.
    pub unit: &'static str,
    /// contender → one value per rep (None: not run that rep)
    pub samples: BTreeMap<String, Vec<f64>>,
    /// The contenders in the order they first reported.
    pub order: Vec<String>,
}

/// Every metric of a run, in the order each first reported.
#[derive(Default)]
pub struct Results {
    /// The metrics, in table order.
    pub metrics: Vec<Metric>,
}

impl Results {
    /// Adds one rep's value `v` of `who` to the metric (`workload`, `what`), creating it.
    pub fn add(
        &mut self,
        workload: &'static str,
        what: &str,
        unit: &'static str,
        who: &str,
        v: f64,
    ) {
        let m = match self
            .metrics
            .iter_mut()
            .position(|m| m.workload == workload && m.what == what)
        {
            Some(i) => &mut self.metrics[i],
            None => {
                self.metrics.push(Metric {
                    workload,
                    what: what.to_string(),
                    unit,
                    samples: BTreeMap::new(),
                    order: Vec::new(),
                });
                self.metrics.last_mut().unwrap()
            }
        };
        if !m.samples.contains_key(who) {
            m.order.push(who.to_string());
        }
        m.samples.entry(who.to_string()).or_default().push(v);
    }
}
