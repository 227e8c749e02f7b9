//! The statistics CloudWatch computes over a period's samples
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html>):
//! SampleCount, Average, Sum, Minimum, Maximum from statistic sets, and percentiles `pNN` over
//! the samples' values.

use super::invalid_value;
use crate::error::Result;

/// One stored datapoint: a statistic set (one value is a set of one).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    #[serde(rename = "n")]
    pub count: f64,
    #[serde(rename = "s")]
    pub sum: f64,
    #[serde(rename = "lo")]
    pub min: f64,
    #[serde(rename = "hi")]
    pub max: f64,
}

impl Sample {
    pub fn value(v: f64) -> Sample {
        Sample {
            count: 1.0,
            sum: v,
            min: v,
            max: v,
        }
    }

    /// A count over an interval (the operational metrics): Sum is the count.
    pub fn count_of(n: u64) -> Sample {
        Sample::value(n as f64)
    }

    /// The sample's own value (its average).
    pub fn mean(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            0.0
        }
    }
}

/// A statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    /// `pNN` or `pNN.NN`: 0 to 100.
    Percentile(f64),
}

impl Stat {
    /// A statistic's name as the API takes it (`Statistic`, `Stat`, `ExtendedStatistic`).
    pub fn parse(member: &str, s: &str) -> Result<Stat> {
        Ok(match s {
            "SampleCount" => Stat::SampleCount,
            "Average" => Stat::Average,
            "Sum" => Stat::Sum,
            "Minimum" => Stat::Minimum,
            "Maximum" => Stat::Maximum,
            _ => {
                let p = s
                    .strip_prefix('p')
                    .filter(|n| {
                        !n.is_empty()
                            && n.len() <= 6
                            && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    })
                    .and_then(|n| n.parse::<f64>().ok())
                    .filter(|p| (0.0..=100.0).contains(p));
                match p {
                    Some(p) => Stat::Percentile(p),
                    None => {
                        return Err(invalid_value(
                            member,
                            s,
                            "Shoal computes SampleCount, Average, Sum, Minimum, Maximum and percentiles pNN",
                        ))
                    }
                }
            }
        })
    }

    pub fn is_extended(&self) -> bool {
        matches!(self, Stat::Percentile(_))
    }

    /// The statistic over `samples` (none: no value).
    pub fn of(&self, samples: &[Sample]) -> Option<f64> {
        if samples.is_empty() {
            return None;
        }
        let count: f64 = samples.iter().map(|s| s.count).sum();
        let sum: f64 = samples.iter().map(|s| s.sum).sum();
        Some(match self {
            Stat::SampleCount => count,
            Stat::Sum => sum,
            Stat::Average => {
                if count > 0.0 {
                    sum / count
                } else {
                    0.0
                }
            }
            Stat::Minimum => samples.iter().map(|s| s.min).fold(f64::INFINITY, f64::min),
            Stat::Maximum => samples
                .iter()
                .map(|s| s.max)
                .fold(f64::NEG_INFINITY, f64::max),
            Stat::Percentile(p) => {
                // Nearest rank over the samples' values.
                let mut v: Vec<f64> = samples.iter().map(Sample::mean).collect();
                v.sort_by(f64::total_cmp);
                let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
                v[rank.clamp(1, v.len()) - 1]
            }
        })
    }
}

/// A statistic's name as CloudWatch writes it in an alarm notification (`AVERAGE`).
pub fn notification_name(statistic: &str) -> String {
    match statistic {
        "SampleCount" => "SAMPLE_COUNT".into(),
        other => other.to_uppercase(),
    }
}
