//! The figures the table and the plots show: medians, percentiles, min–max, the ratio to
//! ours, and how a figure is printed.

use std::time::Duration;

/// The median of `v` (the mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// The `p` quantile (0 to 1) of `sorted`, in µs: the sample at `⌊(len − 1) · p⌋`, no
/// interpolation.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6
}

/// The smallest and the largest of `v`.
pub fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)))
}

/// A contender's figure as a multiple of ours. With one value per rep on both sides it is
/// the median of the per-rep ratios: each rep's drift hits both alike. Otherwise (a rep
/// missing on one side) it falls back to the ratio of the medians.
pub fn ratio_to_ours(theirs: &[f64], ours: &[f64]) -> f64 {
    if theirs.len() == ours.len() {
        let r: Vec<f64> = theirs.iter().zip(ours).map(|(x, y)| x / y).collect();
        median(&r)
    } else {
        median(theirs) / median(ours)
    }
}

/// A figure with three significant digits or so: no decimals from 100 up, one from 10,
/// two below; a dash for what is not finite.
pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
