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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts_in_any_order() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn percentile_takes_the_sample_at_the_floor_index_in_microseconds() {
        let sorted: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // index ⌊999 · p⌋: 499 (the 500th sample), 989, 998.
        assert!(close(percentile(&sorted, 0.5), 500.0));
        assert!(close(percentile(&sorted, 0.99), 990.0));
        assert!(close(percentile(&sorted, 0.999), 999.0));
        assert!(close(percentile(&sorted[..1], 0.999), 1.0));
    }

    #[test]
    fn min_max_finds_both_ends() {
        assert_eq!(min_max(&[2.0, -1.0, 5.0, 0.5]), (-1.0, 5.0));
    }

    #[test]
    fn the_ratio_is_the_median_of_per_rep_ratios_not_the_ratio_of_medians() {
        let ours = [1.0, 2.0, 3.0];
        let theirs = [3.0, 2.0, 6.0];
        // Per rep: 3, 1, 2 → 2. The medians would give 3 / 2 = 1.5.
        assert_eq!(ratio_to_ours(&theirs, &ours), 2.0);
    }

    #[test]
    fn with_a_rep_missing_the_ratio_falls_back_to_the_medians() {
        assert_eq!(ratio_to_ours(&[3.0, 2.0, 6.0], &[1.0, 2.0]), 2.0);
    }

    #[test]
    fn figures_keep_about_three_digits() {
        assert_eq!(fmt(1234.6), "1235");
        assert_eq!(fmt(12.34), "12.3");
        assert_eq!(fmt(1.234), "1.23");
        assert_eq!(fmt(f64::NAN), "–");
        assert_eq!(fmt(f64::INFINITY), "–");
    }
}
