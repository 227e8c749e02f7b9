//! The rollout preview, a Shoal extension: for a job definition, before anything is sent, the
//! exact waves of devices and their times under its rollout, schedule and abort settings (the
//! console's "rollout rate preview", made exact: the things are the targets' members now, in
//! the order the rollout takes them).

use super::*;
use shoal_domain::jobs::{preview_waves, Wave};
use shoal_domain::Timestamp;
use std::collections::HashSet;

/// Targets a preview expands at most.
const MAX_PREVIEW_TARGETS: usize = 100_000;
/// Waves a preview lists at most.
const MAX_WAVES: usize = 10_000;

pub struct PreviewWave {
    pub wave: Wave,
    pub things: Vec<String>,
}

/// When an abort criterion can first be judged: once `minNumberOfExecutedThings` were sent.
pub struct AbortFrom {
    pub failure_type: String,
    pub threshold_percentage: f64,
    pub min_executed: i64,
    /// The wave (1-based) and time from which it can fire, if the rollout gets that far.
    pub from: Option<(usize, Timestamp)>,
}

pub struct Preview {
    pub targets: usize,
    pub waves: Vec<PreviewWave>,
    /// Things never released (the schedule ends first).
    pub never_released: usize,
    pub abort: Vec<AbortFrom>,
}

impl Jobs {
    pub fn preview(
        &self,
        part: &Partition,
        targets: &[String],
        config: &JobConfig,
    ) -> Result<Preview> {
        if targets.is_empty() {
            return Err(ServiceError::invalid(
                "targets must name at least one thing or group",
            ));
        }
        for t in targets {
            self.check_target(part, t)?;
        }
        config.validate()?;
        let now = self.clock.now();
        let schedule = config
            .scheduling_config
            .as_ref()
            .map(|c| Schedule::of(c, now))
            .transpose()?;
        // The things, in the order the rollout takes them.
        let mut job = Job::new(
            "preview",
            targets.to_vec(),
            TargetSelection::Snapshot,
            JobStatus::InProgress,
            String::new(),
            config.clone(),
            now,
        );
        let mut things = Vec::new();
        let mut seen = HashSet::new();
        while !job.expanded {
            let (names, done) = self.next_targets(part, &mut job, 1000)?;
            for n in names {
                if seen.insert(n.clone()) {
                    things.push(n);
                }
            }
            job.expanded = done;
            if things.len() > MAX_PREVIEW_TARGETS {
                return Err(ServiceError::invalid(format!(
                    "A rollout preview covers at most {MAX_PREVIEW_TARGETS} things"
                )));
            }
        }
        let (waves, never_released) =
            preview_waves(config, schedule.as_ref(), things.len(), now, MAX_WAVES);
        let mut rest = things.into_iter();
        let mut sent = 0usize;
        let mut out = Vec::with_capacity(waves.len());
        let mut abort: Vec<AbortFrom> = config
            .abort_config
            .iter()
            .flat_map(|a| a.criteria_list.iter())
            .map(|c| AbortFrom {
                failure_type: c.failure_type.clone(),
                threshold_percentage: c.threshold_percentage,
                min_executed: c.min_number_of_executed_things,
                from: None,
            })
            .collect();
        for (i, w) in waves.into_iter().enumerate() {
            sent += w.count;
            for a in abort.iter_mut().filter(|a| a.from.is_none()) {
                if sent as i64 >= a.min_executed {
                    a.from = Some((i + 1, w.at));
                }
            }
            let things = rest.by_ref().take(w.count).collect();
            out.push(PreviewWave { wave: w, things });
        }
        Ok(Preview {
            targets: sent + never_released,
            waves: out,
            never_released,
            abort,
        })
    }
}
