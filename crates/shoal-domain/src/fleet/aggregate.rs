//! GetStatistics and GetPercentiles arithmetic over exact values, each with how many times it
//! occurs. <https://docs.aws.amazon.com/iot/latest/developerguide/index-aggregate.html>

#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub count: u64,
    pub average: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    pub sum_of_squares: f64,
    pub variance: f64,
    pub std_deviation: f64,
}

/// Statistics of `(value, occurrences)` pairs, `None` when there are none. The variance is the
/// population variance computed as `(Σx² − (Σx)²/n) / n`, which reproduces AWS's published
/// figures to the last digit (236.04000000000013 for the TempSensor example).
pub fn statistics(values: &[(f64, u64)]) -> Option<Statistics> {
    let count: u64 = values.iter().map(|v| v.1).sum();
    if count == 0 {
        return None;
    }
    let n = count as f64;
    let mut sum = 0.0;
    let mut sum_of_squares = 0.0;
    let mut minimum = f64::INFINITY;
    let mut maximum = f64::NEG_INFINITY;
    for &(v, c) in values {
        for _ in 0..c {
            sum += v;
            sum_of_squares += v * v;
        }
        minimum = minimum.min(v);
        maximum = maximum.max(v);
    }
    let variance = ((sum_of_squares - sum * sum / n) / n).max(0.0);
    Some(Statistics {
        count,
        average: sum / n,
        sum,
        minimum,
        maximum,
        sum_of_squares,
        variance,
        std_deviation: variance.sqrt(),
    })
}

/// AWS's default percents when a request names none.
pub const DEFAULT_PERCENTS: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];

/// The value at each percent of ascending `(value, occurrences)` pairs, interpolating linearly
/// between the two closest ranks (the seed's 67.7 for the 10th percentile of ten temperatures).
pub fn percentiles(sorted: &[(f64, u64)], percents: &[f64]) -> Vec<(f64, f64)> {
    let total: u64 = sorted.iter().map(|v| v.1).sum();
    if total == 0 {
        return Vec::new();
    }
    // The value at rank r (0-based) of the expanded list.
    let at = |rank: u64| -> f64 {
        let mut seen = 0;
        for &(v, c) in sorted {
            seen += c;
            if rank < seen {
                return v;
            }
        }
        sorted[sorted.len() - 1].0
    };
    percents
        .iter()
        .map(|&p| {
            let r = p / 100.0 * (total - 1) as f64;
            let lo = r.floor() as u64;
            let hi = (lo + 1).min(total - 1);
            let (a, b) = (at(lo), at(hi));
            (p, a + (b - a) * (r - lo as f64))
        })
        .collect()
}
