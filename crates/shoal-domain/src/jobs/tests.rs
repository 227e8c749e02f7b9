use super::*;
use crate::clock::Timestamp;
use crate::error::ErrorKind;
use std::collections::BTreeMap;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

fn update(status: ExecutionStatus) -> DeviceUpdate {
    DeviceUpdate {
        status: Some(status),
        ..Default::default()
    }
}

#[test]
fn ids_follow_the_model() {
    assert!(JobId::parse("fw-update_2").is_ok());
    assert!(JobId::parse(&"a".repeat(64)).is_ok());
    let e = JobId::parse(&"a".repeat(65)).unwrap_err();
    assert!(e.message.contains("at 'jobId'"), "{}", e.message);
    assert!(JobId::parse("a/b").is_err());
    assert!(JobId::parse("").is_err());
    assert!(JobTemplateId::parse("tpl:1").is_err());
}

#[test]
fn a_device_moves_its_execution_through_the_status_machine() {
    let mut e = Execution::queued("j", "dev", 1, 0, true, t(100));
    assert_eq!(e.version_number, 1);
    e.apply(&update(ExecutionStatus::InProgress), Some(10), t(110))
        .unwrap();
    assert_eq!(e.started_at, Some(t(110)));
    assert_eq!(e.version_number, 2);
    assert_eq!(e.deadline(), Some(t(110 + 600)));
    assert_eq!(e.seconds_before_timed_out(t(200)), Some(510));
    // A step timer earlier than the in-progress timer wins; a later one does not.
    let mut step = update(ExecutionStatus::InProgress);
    step.step_timeout_minutes = Some(2);
    e.apply(&step, Some(10), t(120)).unwrap();
    assert_eq!(e.deadline(), Some(t(240)));
    step.step_timeout_minutes = Some(60);
    e.apply(&step, Some(10), t(130)).unwrap();
    assert_eq!(
        e.deadline(),
        Some(t(710)),
        "capped by the in-progress timer"
    );
    step.step_timeout_minutes = Some(-1);
    e.apply(&step, Some(10), t(140)).unwrap();
    assert_eq!(e.deadline(), Some(t(710)), "-1 clears the step timer");
    let mut done = update(ExecutionStatus::Succeeded);
    done.status_details = Some([("progress".to_string(), "100".to_string())].into());
    e.apply(&done, Some(10), t(150)).unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(e.deadline(), None);
    assert_eq!(e.status_details["progress"], "100");
    let err = e
        .apply(&update(ExecutionStatus::InProgress), None, t(160))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidStateTransition);
}

#[test]
fn device_updates_are_checked() {
    let mut e = Execution::queued("j", "dev", 1, 0, true, t(100));
    for s in [
        ExecutionStatus::Queued,
        ExecutionStatus::Canceled,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Removed,
    ] {
        assert_eq!(
            e.apply(&update(s), None, t(1)).unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
    }
    let mut stale = update(ExecutionStatus::InProgress);
    stale.expected_version = Some(7);
    assert_eq!(
        e.apply(&stale, None, t(1)).unwrap_err().kind,
        ErrorKind::VersionConflict
    );
    let mut bad = update(ExecutionStatus::InProgress);
    bad.status_details = Some([("bad key".to_string(), "v".to_string())].into());
    assert_eq!(
        e.apply(&bad, None, t(1)).unwrap_err().kind,
        ErrorKind::InvalidRequest
    );
    bad.status_details = Some((0..11).map(|i| (format!("k{i}"), "v".into())).collect());
    assert!(e.apply(&bad, None, t(1)).is_err());
    let mut step = update(ExecutionStatus::InProgress);
    step.step_timeout_minutes = Some(0);
    assert!(e.apply(&step, None, t(1)).is_err());
    // Nothing refused changed the execution.
    assert_eq!(e, Execution::queued("j", "dev", 1, 0, true, t(100)));
    // A QUEUED execution may be rejected outright.
    e.apply(&update(ExecutionStatus::Rejected), None, t(2))
        .unwrap();
    assert_eq!(e.started_at, None);
}

#[test]
fn configurations_are_validated_with_the_models_ranges() {
    let parse = |v: serde_json::Value| serde_json::from_value::<JobConfig>(v).unwrap();
    assert!(parse(serde_json::json!({})).validate().is_ok());
    let ok = parse(serde_json::json!({
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 100, "exponentialRate": {
            "baseRatePerMinute": 10, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 5}}},
        "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
            "thresholdPercentage": 12.5, "minNumberOfExecutedThings": 10}]},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
        "jobExecutionsRetryConfig": {"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 4},
            {"failureType": "TIMED_OUT", "numberOfRetries": 6}]},
        "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/r", "expiresInSec": 3600}
    }));
    ok.validate().unwrap();
    // The echo keeps exactly what was given.
    let echo = serde_json::to_value(&ok).unwrap();
    assert_eq!(
        echo["jobExecutionsRolloutConfig"]["exponentialRate"]["rateIncreaseCriteria"],
        serde_json::json!({"numberOfSucceededThings": 5})
    );
    assert!(echo.get("schedulingConfig").is_none());
    for bad in [
        serde_json::json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 0}}),
        serde_json::json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}}),
        serde_json::json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
            "baseRatePerMinute": 10, "incrementFactor": 1.25,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 5}}}}),
        serde_json::json!({"abortConfig": {"criteriaList": []}}),
        serde_json::json!({"abortConfig": {"criteriaList": [{"failureType": "LOST",
            "action": "CANCEL", "thresholdPercentage": 1, "minNumberOfExecutedThings": 1}]}}),
        serde_json::json!({"abortConfig": {"criteriaList": [{"failureType": "ALL",
            "action": "CANCEL", "thresholdPercentage": 100.5, "minNumberOfExecutedThings": 1}]}}),
        serde_json::json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 10081}}),
        serde_json::json!({"jobExecutionsRetryConfig": {"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 6},
            {"failureType": "ALL", "numberOfRetries": 5}]}}),
        serde_json::json!({"presignedUrlConfig": {"expiresInSec": 59}}),
    ] {
        assert_eq!(
            parse(bad.clone()).validate().unwrap_err().kind,
            ErrorKind::InvalidRequest,
            "{bad}"
        );
    }
    let e = parse(serde_json::json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 0}}))
        .validate()
        .unwrap_err();
    assert_eq!(e.message, "1 validation error detected: Value '0' at 'jobExecutionsRolloutConfig.maximumPerMinute' failed to satisfy constraint: Member must have value greater than or equal to 1");
}

#[test]
fn the_seeds_exponential_rollout_doubles_per_five_successes() {
    // The seed's preview: base 10, factor 2, every 5 succeeded things: 10, 20, 40, 80.
    let c: JobConfig = serde_json::from_value(serde_json::json!({
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 1000, "exponentialRate": {
            "baseRatePerMinute": 10, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 5}}}
    }))
    .unwrap();
    let rates: Vec<u64> = [0, 5, 10, 15, 19]
        .iter()
        .map(|s| c.rate_per_minute(100, *s).unwrap())
        .collect();
    assert_eq!(rates, vec![10, 20, 40, 80, 80]);
    let capped: JobConfig = serde_json::from_value(serde_json::json!({
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 30, "exponentialRate": {
            "baseRatePerMinute": 10, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 10}}}
    }))
    .unwrap();
    assert_eq!(capped.rate_per_minute(100, 0), Some(30));
    assert_eq!(JobConfig::default().rate_per_minute(5, 5), None);
    // Both criteria: whichever is further along raises the rate.
    let both: JobConfig = serde_json::from_value(serde_json::json!({
        "jobExecutionsRolloutConfig": {"exponentialRate": {
            "baseRatePerMinute": 10, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 100,
                                     "numberOfSucceededThings": 5}}}
    }))
    .unwrap();
    assert_eq!(both.rate_per_minute(100, 0), Some(20));
    assert_eq!(both.rate_per_minute(100, 10), Some(40));
    assert_eq!(both.rate_per_minute(400, 10), Some(160));
}

#[test]
fn retries_and_aborts() {
    let c: JobConfig = serde_json::from_value(serde_json::json!({
        "jobExecutionsRetryConfig": {"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 2},
            {"failureType": "ALL", "numberOfRetries": 1}]}
    }))
    .unwrap();
    let first = Execution::queued("j", "t", 1, 0, true, Timestamp(0));
    assert_eq!(c.retries_left("FAILED", &first), 2);
    assert_eq!(c.retries_left("TIMED_OUT", &first), 1);
    let twice = first
        .retried("FAILED", Timestamp(1))
        .retried("FAILED", Timestamp(2));
    assert_eq!(c.retries_left("FAILED", &twice), 0);
    // Each type counts its own: two FAILED retries leave TIMED_OUT's (under ALL, which counts
    // every retry) spent, but a FAILED criterion is not spent by time-outs.
    assert_eq!(c.retries_left("TIMED_OUT", &twice), 0);
    let per_type: JobConfig = serde_json::from_value(serde_json::json!({
        "jobExecutionsRetryConfig": {"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 1},
            {"failureType": "TIMED_OUT", "numberOfRetries": 2}]}
    }))
    .unwrap();
    let timed_out = first
        .retried("TIMED_OUT", Timestamp(1))
        .retried("TIMED_OUT", Timestamp(2));
    assert_eq!(per_type.retries_left("TIMED_OUT", &timed_out), 0);
    assert_eq!(per_type.retries_left("FAILED", &timed_out), 1);
    assert_eq!(timed_out.retry_attempt, 2);
    let mut p = ProcessDetails::default();
    p.counts.insert(ExecutionStatus::Succeeded, 7);
    p.counts.insert(ExecutionStatus::Failed, 2);
    p.counts.insert(ExecutionStatus::Rejected, 1);
    p.counts.insert(ExecutionStatus::Queued, 100);
    assert_eq!(p.executed(), 10);
    assert!(p.abort_fires("FAILED", 20.0, 10));
    assert!(!p.abort_fires("FAILED", 20.01, 10));
    assert!(!p.abort_fires("FAILED", 20.0, 11), "not enough executed");
    assert!(p.abort_fires("ALL", 30.0, 1));
}

#[test]
fn documents_are_json_objects_up_to_32k() {
    assert!(check_document(r#"{"operation":"reboot"}"#).is_ok());
    assert!(check_document("[1]").is_err());
    assert!(check_document("not json").is_err());
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(32_800));
    assert!(check_document(&big).is_err());
}

#[test]
fn managed_templates_substitute_their_parameters() {
    let t = managed_template("AWS-Start-Application", None).unwrap();
    assert_eq!(
        t.arn("us-east-1"),
        "arn:aws:iot:us-east-1::jobtemplate/AWS-Start-Application:1.0"
    );
    assert_eq!(
        parse_managed_arn(&t.arn("eu-west-1")),
        Some(("AWS-Start-Application".into(), "1.0".into()))
    );
    let keys: Vec<&str> = t.parameters.iter().map(|p| p.key).collect();
    assert_eq!(keys, ["services", "runAsUser", "pathToHandler"]);
    let params = [("services".to_string(), "cron \"httpd\"".to_string())].into();
    let doc: serde_json::Value = serde_json::from_str(&t.substitute(&params).unwrap()).unwrap();
    let action = &doc["steps"][0]["action"];
    assert_eq!(action["input"]["handler"], "start-services.sh");
    assert_eq!(action["input"]["args"][0], "cron \"httpd\"");
    assert_eq!(
        action["runAsUser"], "",
        "an optional parameter left out is empty"
    );
    assert!(
        t.substitute(&BTreeMap::new()).is_err(),
        "services is required"
    );
    let unknown = [
        ("services".to_string(), "cron".to_string()),
        ("nope".to_string(), "x".to_string()),
    ]
    .into();
    assert!(t.substitute(&unknown).is_err());
    let long = [
        ("services".to_string(), "cron".to_string()),
        ("runAsUser".to_string(), "u".repeat(257)),
    ]
    .into();
    assert!(t.substitute(&long).is_err());
    let sneaky = [(
        "services".to_string(),
        "${aws:iot:parameter:runAsUser}".to_string(),
    )]
    .into();
    let doc: serde_json::Value = serde_json::from_str(&t.substitute(&sneaky).unwrap()).unwrap();
    assert_eq!(
        doc["steps"][0]["action"]["input"]["args"][0], "${aws:iot:parameter:runAsUser}",
        "a value is not substituted again"
    );
    assert_eq!(managed_templates().len(), 7);
    assert!(managed_template("AWS-Reboot", Some("2.0")).is_none());
    assert!(check_document(
        &managed_template("AWS-Reboot", None)
            .unwrap()
            .substitute(&BTreeMap::new())
            .unwrap()
    )
    .is_ok());
}
