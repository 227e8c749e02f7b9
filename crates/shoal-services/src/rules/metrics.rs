//! The rules engine's counts for `GET /metrics` (Prometheus): messages evaluated and
//! evaluation errors per partition, and per action its work queued, dropped (queue full),
//! succeeded and failed, so a slow action's losses are visible.

use super::Rules;
use shoal_domain::Partition;
use std::fmt::Write;
use std::sync::atomic::Ordering;

impl Rules {
    pub fn prometheus(&self, only: Option<&Partition>, out: &mut String) {
        let mut parts = self.partitions();
        parts.retain(|p| only.is_none_or(|o| *o == p.part));
        parts.sort_by_key(|p| p.part.key());
        out.push_str("# HELP shoal_rule_messages_total Messages the rules engine evaluated, and statements that failed.\n# TYPE shoal_rule_messages_total counter\n");
        for p in &parts {
            let (a, r) = (p.part.account.as_str(), p.part.region.as_str());
            let _ = writeln!(
                out,
                "shoal_rule_messages_total{{account=\"{a}\",region=\"{r}\",outcome=\"evaluated\"}} {}\nshoal_rule_messages_total{{account=\"{a}\",region=\"{r}\",outcome=\"error\"}} {}",
                p.evaluated.load(Ordering::Relaxed),
                p.errors.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP shoal_rule_actions_total Rule action work: queued, dropped because the action's queue was full, succeeded, failed. index is the action's place in the rule; error for its errorAction.\n# TYPE shoal_rule_actions_total counter\n");
        for p in &parts {
            let (a, r) = (p.part.account.as_str(), p.part.region.as_str());
            let counters = p.counters.read().unwrap_or_else(|e| e.into_inner());
            let mut keys: Vec<_> = counters.keys().collect();
            keys.sort();
            for key in keys {
                let c = &counters[key];
                let index = if key.1 == usize::MAX {
                    "error".to_string()
                } else {
                    key.1.to_string()
                };
                for (outcome, n) in [
                    ("queued", &c.queued),
                    ("dropped", &c.dropped),
                    ("succeeded", &c.succeeded),
                    ("failed", &c.failed),
                ] {
                    let _ = writeln!(
                        out,
                        "shoal_rule_actions_total{{account=\"{a}\",region=\"{r}\",rule=\"{}\",index=\"{index}\",outcome=\"{outcome}\"}} {}",
                        key.0,
                        n.load(Ordering::Relaxed)
                    );
                }
            }
        }
    }
}
