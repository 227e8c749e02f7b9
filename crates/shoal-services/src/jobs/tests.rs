//! The jobs service on a clock the tests move by hours and days (the API tests cannot: SigV4
//! allows 15 minutes of skew): schedules, windows and their end behaviours.

use super::*;
use crate::registry::CreateThing;
use crate::Registry;
use serde_json::json;
use shoal_domain::jobs::{parse_date_time, SchedulingConfig};
use shoal_domain::{AccountId, ManualClock, Region, ThingName};
use shoal_store::sqlite::SqliteStore;
use std::sync::Mutex;

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    jobs: Arc<Jobs>,
    scheduler: Arc<Scheduler>,
    registry: Registry,
    part: Partition,
    /// Topics published (the messaging bus answered by a stand-in broker).
    published: Arc<Mutex<Vec<String>>>,
}

fn at(s: &str) -> shoal_domain::Timestamp {
    parse_date_time(s).unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    // A Monday.
    let clock = Arc::new(ManualClock::new(at("2026-12-07T10:00")));
    let scheduler = Scheduler::new(store.clone(), clock.clone());
    let messaging = Arc::new(Messaging::new(store.clone(), clock.clone()));
    let mut bus = messaging.take_bus().unwrap();
    let published = Arc::new(Mutex::new(Vec::new()));
    let seen = published.clone();
    tokio::spawn(async move {
        while let Some(m) = bus.recv().await {
            seen.lock().unwrap().push(m.message.topic.clone());
            let _ = m.done.send(());
        }
    });
    let events = Arc::new(crate::Events::new(store.clone(), clock.clone()));
    let jobs = Jobs::new(
        store.clone(),
        clock.clone(),
        scheduler.clone(),
        messaging,
        events,
    );
    let registry = Registry::new(store, clock.clone(), Default::default());
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    for t in ["s-1", "s-2"] {
        registry
            .create_thing(
                &part,
                CreateThing {
                    name: ThingName::parse(t).unwrap(),
                    type_name: None,
                    attributes: Default::default(),
                    billing_group: None,
                },
            )
            .await
            .unwrap();
    }
    Fixture {
        _dir: dir,
        clock,
        jobs,
        scheduler,
        registry,
        part,
        published,
    }
}

impl Fixture {
    async fn job(&self, id: &str, scheduling: serde_json::Value) -> Result<Job> {
        let scheduling: SchedulingConfig = serde_json::from_value(scheduling).unwrap();
        self.jobs
            .create_job(
                &self.part,
                CreateJob {
                    job_id: JobId::parse(id).unwrap(),
                    targets: ["s-1", "s-2"]
                        .iter()
                        .map(|t| self.part.arn("thing", t))
                        .collect(),
                    document: Some("{}".into()),
                    document_source: None,
                    description: None,
                    target_selection: None,
                    config: JobConfig {
                        scheduling_config: Some(scheduling),
                        ..Default::default()
                    },
                    job_template_arn: None,
                    document_parameters: BTreeMap::new(),
                },
            )
            .await
    }

    async fn advance_to(&self, t: &str) {
        self.clock.set(at(t));
        self.scheduler.run_due().await.unwrap();
        self.jobs.quiet().await;
    }

    fn status(&self, id: &str) -> (JobStatus, ProcessDetails) {
        let (j, d) = self.jobs.describe_job(&self.part, id).unwrap();
        (j.status, d)
    }

    /// A static group holding `things`.
    async fn group(&self, group: &shoal_domain::ThingGroupName, things: &[&str]) {
        self.registry
            .create_thing_group(
                &self.part,
                crate::registry::CreateThingGroup {
                    name: group.clone(),
                    parent: None,
                    description: None,
                    attributes: Default::default(),
                    tags: vec![],
                    dynamic: None,
                },
            )
            .await
            .unwrap();
        for t in things {
            self.registry
                .add_thing_to_thing_group(&self.part, &ThingName::parse(t).unwrap(), group)
                .await
                .unwrap();
        }
    }

    fn pending(&self) -> usize {
        ["s-1", "s-2"]
            .iter()
            .map(|t| self.jobs.pending(&self.part, t).unwrap().len())
            .sum()
    }
}

#[tokio::test]
async fn a_scheduled_job_starts_and_is_canceled_at_its_end() {
    let f = fixture().await;
    let _ = &f.registry;
    f.job(
        "night",
        json!({"startTime": "2026-12-07T22:00", "endTime": "2026-12-08T06:00", "endBehavior": "CANCEL"}),
    )
    .await
    .unwrap();
    f.scheduler.run_due().await.unwrap();
    assert_eq!(f.status("night").0, JobStatus::Scheduled);
    assert_eq!(f.pending(), 0, "nothing released before the start");
    f.advance_to("2026-12-07T21:59").await;
    assert_eq!(f.pending(), 0);
    f.advance_to("2026-12-07T22:00").await;
    assert_eq!(f.status("night").0, JobStatus::InProgress);
    assert_eq!(f.pending(), 2);
    assert!(f
        .published
        .lock()
        .unwrap()
        .iter()
        .any(|t| t == "$aws/things/s-1/jobs/notify-next"));
    f.advance_to("2026-12-08T06:00").await;
    let (status, details) = f.status("night");
    assert_eq!(status, JobStatus::Canceled);
    assert_eq!(details.count(ExecutionStatus::Canceled), 2);
    assert_eq!(f.pending(), 0);
}

#[tokio::test]
async fn stop_rollout_withdraws_what_was_not_released() {
    let f = fixture().await;
    // One execution a minute, ending one minute after the start: the second is never sent.
    let mut config: JobConfig = serde_json::from_value(json!({
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 1},
        "schedulingConfig": {"startTime": "2026-12-07T11:00", "endTime": "2026-12-07T11:30"}
    }))
    .unwrap();
    config.validate().unwrap();
    let req = CreateJob {
        job_id: JobId::parse("slow").unwrap(),
        targets: vec![f.part.arn("thing", "s-1"), f.part.arn("thing", "s-2")],
        document: Some("{}".into()),
        document_source: None,
        description: None,
        target_selection: None,
        config: std::mem::take(&mut config),
        job_template_arn: None,
        document_parameters: BTreeMap::new(),
    };
    f.jobs.create_job(&f.part, req).await.unwrap();
    f.advance_to("2026-12-07T11:00").await;
    assert_eq!(f.pending(), 1);
    f.advance_to("2026-12-07T11:30").await;
    let (status, details) = f.status("slow");
    assert_eq!(status, JobStatus::InProgress, "STOP_ROLLOUT by default");
    assert_eq!(
        details.count(ExecutionStatus::Queued),
        1,
        "only the released one is left"
    );
    let e = &f.jobs.pending(&f.part, "s-1").unwrap();
    let released = if e.is_empty() { "s-2" } else { "s-1" };
    f.jobs
        .update_execution(
            &f.part,
            released,
            "slow",
            &shoal_domain::jobs::DeviceUpdate {
                status: Some(ExecutionStatus::Succeeded),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(f.status("slow").0, JobStatus::Completed);
}

#[tokio::test]
async fn maintenance_windows_open_and_close_the_rollout() {
    let f = fixture().await;
    let job = f
        .job(
            "windowed",
            json!({"maintenanceWindows": [{"startTime": "cron(0 22 * * ? *)", "durationInMinutes": 60}]}),
        )
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Scheduled);
    f.advance_to("2026-12-07T22:30").await;
    assert_eq!(f.status("windowed").0, JobStatus::InProgress);
    assert_eq!(f.pending(), 2);
    f.advance_to("2026-12-07T23:00").await;
    assert_eq!(
        f.status("windowed").0,
        JobStatus::Scheduled,
        "between windows"
    );
    for bad in [
        json!({"startTime": "2026-12-07T10:10"}),
        json!({"startTime": "yesterday"}),
        json!({"maintenanceWindows": [{"startTime": "cron(0 22 L * ? *)", "durationInMinutes": 60}]}),
        json!({"endBehavior": "CANCEL"}),
    ] {
        let e = f.job("bad", bad.clone()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{bad}");
    }
}

#[tokio::test]
async fn starting_an_execution_that_becomes_the_head_is_told_once() {
    let f = fixture().await;
    f.job("first", json!({})).await.unwrap();
    f.job("second", json!({})).await.unwrap();
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    f.published.lock().unwrap().clear();
    // The second job's execution starts: it heads the list now (IN_PROGRESS first), which is
    // a new head (notify-next) but not a change of the pending set (no notify).
    f.jobs
        .update_execution(
            &f.part,
            "s-1",
            "second",
            &shoal_domain::jobs::DeviceUpdate {
                status: Some(ExecutionStatus::InProgress),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    f.jobs.quiet().await;
    assert_eq!(
        *f.published.lock().unwrap(),
        vec!["$aws/things/s-1/jobs/notify-next".to_string()]
    );
    // Starting the head itself tells nothing.
    f.published.lock().unwrap().clear();
    f.jobs
        .start_next(&f.part, "s-2", None, None)
        .await
        .unwrap()
        .unwrap();
    f.jobs.quiet().await;
    assert!(f.published.lock().unwrap().is_empty());
}

/// A thing that joined a CONTINUOUS job's group while nothing followed the change stream (the
/// process stopped between the two) gets its execution from the walk at the next start.
#[tokio::test]
async fn a_missed_membership_change_is_caught_up_at_start() {
    use shoal_domain::ThingGroupName;
    let f = fixture().await;
    let group = ThingGroupName::parse("fleet").unwrap();
    f.group(&group, &["s-1"]).await;
    f.jobs
        .create_job(
            &f.part,
            CreateJob {
                job_id: JobId::parse("cont").unwrap(),
                targets: vec![f.part.arn("thinggroup", "fleet")],
                document: Some("{}".into()),
                document_source: None,
                description: None,
                target_selection: Some(TargetSelection::Continuous),
                config: JobConfig::default(),
                job_template_arn: None,
                document_parameters: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    assert_eq!(f.pending(), 1);
    // No follower runs in this fixture: the change below is missed, as after a crash.
    f.registry
        .add_thing_to_thing_group(&f.part, &ThingName::parse("s-2").unwrap(), &group)
        .await
        .unwrap();
    f.scheduler.run_due().await.unwrap();
    assert_eq!(f.pending(), 1);
    assert_eq!(f.jobs.reconcile_continuous().await.unwrap(), 1);
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    assert_eq!(f.pending(), 2);
    // Walking again makes nothing twice.
    f.jobs.reconcile_continuous().await.unwrap();
    f.scheduler.run_due().await.unwrap();
    assert_eq!(f.pending(), 2);
    assert_eq!(f.status("cont").1.count(ExecutionStatus::Queued), 2);
    // A thing that left unseen has its pending execution REMOVED by the walk.
    f.registry
        .remove_thing_from_thing_group(&f.part, &ThingName::parse("s-1").unwrap(), &group)
        .await
        .unwrap();
    assert_eq!(f.pending(), 2);
    f.jobs.reconcile_continuous().await.unwrap();
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    assert_eq!(f.pending(), 1);
    assert_eq!(f.status("cont").1.count(ExecutionStatus::Removed), 1);
}

/// A job with more executions than one write should hold is deleted step by step on its timer,
/// DELETION_IN_PROGRESS meanwhile, and its devices are told.
#[tokio::test]
async fn a_large_job_is_deleted_step_by_step() {
    let f = fixture().await;
    f.job("big", json!({})).await.unwrap();
    f.advance_to("2026-12-07T10:00").await;
    assert_eq!(f.pending(), 2);
    f.jobs.delete_job(&f.part, "big", true).await.unwrap();
    assert_eq!(f.status("big").0, JobStatus::DeletionInProgress);
    // Deleting again is fine; devices cannot update executions of a job being deleted.
    f.jobs.delete_job(&f.part, "big", true).await.unwrap();
    let refused = f
        .jobs
        .update_execution(
            &f.part,
            "s-1",
            "big",
            &shoal_domain::jobs::DeviceUpdate {
                status: Some(ExecutionStatus::InProgress),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.error.kind, ErrorKind::NotFound);
    f.published.lock().unwrap().clear();
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    assert_eq!(f.pending(), 0);
    let e = f.jobs.describe_job(&f.part, "big").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let told = f.published.lock().unwrap().clone();
    assert!(
        told.contains(&"$aws/things/s-1/jobs/notify".to_string()),
        "{told:?}"
    );
    assert!(
        told.contains(&"$aws/things/s-2/jobs/notify".to_string()),
        "{told:?}"
    );
}

/// A large job's abort criteria are judged from device updates at most once a second; what an
/// update in between leaves unjudged, the job's own timer judges within the minute, and the
/// update that ends its last execution judges whatever the throttle.
#[tokio::test]
async fn a_large_jobs_abort_criteria_are_judged_once_a_second_and_by_its_timer() {
    use shoal_domain::jobs::{AbortConfig, AbortCriteria, DeviceUpdate};
    let f = fixture().await;
    for t in ["s-3"] {
        f.registry
            .create_thing(
                &f.part,
                CreateThing {
                    name: ThingName::parse(t).unwrap(),
                    type_name: None,
                    attributes: Default::default(),
                    billing_group: None,
                },
            )
            .await
            .unwrap();
    }
    let abortable = |id: &str, things: &[&str]| CreateJob {
        job_id: JobId::parse(id).unwrap(),
        targets: things.iter().map(|t| f.part.arn("thing", t)).collect(),
        document: Some("{}".into()),
        document_source: None,
        description: None,
        target_selection: None,
        config: JobConfig {
            abort_config: Some(AbortConfig {
                criteria_list: vec![AbortCriteria {
                    failure_type: "FAILED".into(),
                    action: "CANCEL".into(),
                    threshold_percentage: 50.0,
                    min_number_of_executed_things: 1,
                    query_string: None,
                }],
            }),
            ..Default::default()
        },
        job_template_arn: None,
        document_parameters: BTreeMap::new(),
    };
    f.jobs
        .create_job(&f.part, abortable("a", &["s-1", "s-2", "s-3"]))
        .await
        .unwrap();
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    let update = |status| DeviceUpdate {
        status: Some(status),
        ..Default::default()
    };
    let run = |thing: &'static str, status| {
        let jobs = f.jobs.clone();
        let part = f.part.clone();
        async move {
            jobs.update_execution(&part, thing, "a", &update(status), None)
                .await
                .unwrap();
        }
    };
    // Judged at once: 0% failed. The failure in the same second is not judged...
    run("s-1", ExecutionStatus::Succeeded).await;
    run("s-2", ExecutionStatus::Failed).await;
    assert_eq!(f.status("a").0, JobStatus::InProgress);
    // ...until the job's timer runs: 50% of 2 executed things failed.
    f.clock.advance_millis(61_000);
    f.scheduler.run_due().await.unwrap();
    let (j, _) = f.jobs.describe_job(&f.part, "a").unwrap();
    assert_eq!(j.status, JobStatus::Canceled);
    assert_eq!(j.reason_code.as_deref(), Some("FAILED_THRESHOLD_EXCEEDED"));

    // The last execution ending within the throttled second still judges: CANCELED, not
    // COMPLETED.
    f.jobs
        .create_job(&f.part, abortable("b", &["s-1", "s-2"]))
        .await
        .unwrap();
    f.scheduler.run_due().await.unwrap();
    f.jobs.quiet().await;
    for (thing, status) in [
        ("s-1", ExecutionStatus::Succeeded),
        ("s-2", ExecutionStatus::Failed),
    ] {
        f.jobs
            .update_execution(&f.part, thing, "b", &update(status), None)
            .await
            .unwrap();
    }
    let (j, _) = f.jobs.describe_job(&f.part, "b").unwrap();
    assert_eq!(j.status, JobStatus::Canceled);
}

/// A CONTINUOUS job whose schedule ends with STOP_ROLLOUT stops following its groups: a thing
/// that joins later gets nothing, even from the catch-up walk.
#[tokio::test]
async fn stop_rollout_ends_a_continuous_jobs_following() {
    use shoal_domain::ThingGroupName;
    let f = fixture().await;
    let group = ThingGroupName::parse("late").unwrap();
    f.group(&group, &["s-1"]).await;
    let config: JobConfig = serde_json::from_value(json!({
        "schedulingConfig": {"startTime": "2026-12-07T11:00", "endTime": "2026-12-07T11:30"}
    }))
    .unwrap();
    f.jobs
        .create_job(
            &f.part,
            CreateJob {
                job_id: JobId::parse("follow").unwrap(),
                targets: vec![f.part.arn("thinggroup", "late")],
                document: Some("{}".into()),
                document_source: None,
                description: None,
                target_selection: Some(TargetSelection::Continuous),
                config,
                job_template_arn: None,
                document_parameters: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    f.advance_to("2026-12-07T11:00").await;
    assert_eq!(f.pending(), 1);
    f.advance_to("2026-12-07T11:30").await;
    assert_eq!(f.status("follow").0, JobStatus::InProgress);
    f.registry
        .add_thing_to_thing_group(&f.part, &ThingName::parse("s-2").unwrap(), &group)
        .await
        .unwrap();
    assert_eq!(f.jobs.reconcile_continuous().await.unwrap(), 0);
    f.scheduler.run_due().await.unwrap();
    assert_eq!(f.pending(), 1);
    let refused = f
        .jobs
        .associate_targets(&f.part, "follow", vec![f.part.arn("thing", "s-2")], None)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::InvalidRequest);
}
