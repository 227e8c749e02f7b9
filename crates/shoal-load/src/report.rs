//! Latency summaries.

use std::time::Duration;

pub struct Summary {
    pub ops: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Summary {
    pub fn new(mut latencies_us: Vec<u64>, errors: usize, elapsed: Duration) -> Summary {
        latencies_us.sort_unstable();
        let pick = |q: f64| -> u64 {
            if latencies_us.is_empty() {
                return 0;
            }
            let i = ((latencies_us.len() as f64 - 1.0) * q).round() as usize;
            latencies_us[i]
        };
        Summary {
            ops: latencies_us.len(),
            errors,
            elapsed,
            p50_us: pick(0.50),
            p99_us: pick(0.99),
            max_us: latencies_us.last().copied().unwrap_or(0),
        }
    }

    /// Latency only, for runs whose throughput is reported separately.
    pub fn print_latency(&self, label: &str) {
        println!(
            "{label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} deliveries",
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
            self.max_us as f64 / 1000.0,
            self.ops
        );
    }

    pub fn print(&self, label: &str) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{label}: {} ok, {} errors in {:.2} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.ops,
            self.errors,
            secs,
            self.ops as f64 / secs,
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
            self.max_us as f64 / 1000.0
        );
    }
}
