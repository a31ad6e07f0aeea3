//! The figures of a run, as they come: one [`Metric`] per line of the table, each holding
//! one value per rep for every contender that ran it.

use std::collections::BTreeMap;

/// The workload names a row may carry (CPython's lines are matched against them).
pub const WORKLOADS: [&str; 10] = [
    "W1", "W2", "W3", "W4", "W5", "W6a", "W6b", "P", "floor", "M",
];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_contenders_keep_the_order_they_first_reported() {
        let mut r = Results::default();
        for rep in 0..2 {
            let v = rep as f64;
            r.add("W2", "round trip p50", "µs", "ours", v);
            r.add("W2", "round trip p50", "µs", "tokio", v + 1.0);
            r.add("W2", "round trip p99", "µs", "ours", v + 2.0);
            r.add("W2", "round trip p50", "µs", "rayon", v + 3.0);
        }
        let whats: Vec<&str> = r.metrics.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(whats, ["round trip p50", "round trip p99"]);
        assert_eq!(r.metrics[0].order, ["ours", "tokio", "rayon"]);
        assert_eq!(r.metrics[0].samples["tokio"], [1.0, 2.0]);
        assert_eq!(r.metrics[1].samples["ours"], [2.0, 3.0]);
    }
}
