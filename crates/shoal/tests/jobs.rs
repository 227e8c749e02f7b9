//! Jobs run for real, driven by real clients: `aws-sdk-iot` creates and watches jobs,
//! `rumqttc` devices over mutual TLS and `aws-sdk-iotjobsdataplane` over HTTPS carry them out;
//! rollouts, time-outs, retries and aborts move on the test's clock through the durable
//! scheduler, never on sleeps.

mod common;

use aws_sdk_iot::types::{
    AbortAction, AbortConfig, AbortCriteria, JobExecutionFailureType, JobExecutionStatus,
    JobStatus, RetryCriteria, RetryableFailureType, TimeoutConfig,
};
use aws_sdk_iotjobsdataplane::types::JobExecutionStatus as DeviceStatus;
use common::device::{connected, open_device, options, things_of, until, DeviceCert};
use common::{code, TestServer};
use rumqttc::{AsyncClient, EventLoop, Incoming, QoS};
use serde_json::{json, Value};

fn thing_arn(account: &str, t: &str) -> String {
    format!("arn:aws:iot:us-east-1:{account}:thing/{t}")
}

async fn group_of(s: &TestServer, cert: &DeviceCert, group: &str, things: &[&str]) -> String {
    let c = s.client("us-east-1");
    things_of(&c, cert, things).await;
    let g = c
        .create_thing_group()
        .thing_group_name(group)
        .send()
        .await
        .unwrap();
    for t in things {
        c.add_thing_to_thing_group()
            .thing_group_name(group)
            .thing_name(*t)
            .send()
            .await
            .unwrap();
    }
    g.thing_group_arn().unwrap().to_string()
}

/// A device connected as `thing`, subscribed to its jobs topics.
async fn device(s: &TestServer, cert: &DeviceCert, thing: &str) -> (AsyncClient, EventLoop) {
    let (dev, mut ev) = AsyncClient::new(options(s, thing, cert), 16);
    connected(&mut ev).await.unwrap();
    let filter = format!("$aws/things/{thing}/jobs/#");
    dev.subscribe(&filter, QoS::AtLeastOnce).await.unwrap();
    until(&mut ev, |i| matches!(i, Incoming::SubAck(_)))
        .await
        .unwrap();
    (dev, ev)
}

async fn message_on(ev: &mut EventLoop, topic: &str) -> Value {
    let Incoming::Publish(p) = until(
        ev,
        |i| matches!(i, Incoming::Publish(p) if p.topic == topic),
    )
    .await
    .unwrap_or_else(|e| panic!("nothing on {topic}: {e}")) else {
        unreachable!()
    };
    serde_json::from_slice(&p.payload).unwrap()
}

/// The next message on each of `topics`, whatever their order.
async fn messages_on(ev: &mut EventLoop, topics: &[&str]) -> Vec<Value> {
    let mut found: Vec<Option<Value>> = vec![None; topics.len()];
    while found.iter().any(Option::is_none) {
        let Incoming::Publish(p) = until(
            ev,
            |i| matches!(i, Incoming::Publish(p) if topics.contains(&p.topic.as_str())),
        )
        .await
        .unwrap_or_else(|e| panic!("nothing on {topics:?}: {e}")) else {
            unreachable!()
        };
        let i = topics.iter().position(|t| *t == p.topic).unwrap();
        found[i].get_or_insert(serde_json::from_slice(&p.payload).unwrap());
    }
    found.into_iter().map(Option::unwrap).collect()
}

async fn request(
    dev: &AsyncClient,
    ev: &mut EventLoop,
    topic: &str,
    body: Value,
    answer: &str,
) -> Value {
    dev.publish(topic, QoS::AtLeastOnce, false, body.to_string())
        .await
        .unwrap();
    message_on(ev, &format!("{topic}/{answer}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_job_runs_to_completion_over_mqtt_and_https() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    let group = group_of(&s, &cert, "fw-v1", &["gw-1", "gw-2"]).await;
    let (dev, mut ev) = device(&s, &cert, "gw-1").await;

    let made = c
        .create_job()
        .job_id("install-1")
        .targets(&group)
        .document(r#"{"operation":"install","version":"2.0"}"#)
        .description("firmware 2.0")
        .send()
        .await
        .unwrap();
    assert_eq!(made.job_id(), Some("install-1"));
    assert!(made.job_arn().unwrap().ends_with(":job/install-1"));
    let again = c
        .create_job()
        .job_id("install-1")
        .targets(&group)
        .document("{}")
        .send()
        .await;
    assert_eq!(code(again), "ResourceAlreadyExistsException");
    s.run_due().await;

    // The device is told of its new job, with the document as a JSON object.
    let told = messages_on(
        &mut ev,
        &[
            "$aws/things/gw-1/jobs/notify-next",
            "$aws/things/gw-1/jobs/notify",
        ],
    )
    .await;
    let (next, notify) = (&told[0], &told[1]);
    assert_eq!(next["execution"]["jobId"], "install-1");
    assert_eq!(next["execution"]["status"], "QUEUED");
    assert_eq!(next["execution"]["jobDocument"]["version"], "2.0");
    assert_eq!(notify["jobs"]["QUEUED"][0]["jobId"], "install-1");
    assert!(
        notify["timestamp"].as_i64().unwrap() < 10_000_000_000,
        "seconds"
    );

    let pending = request(
        &dev,
        &mut ev,
        "$aws/things/gw-1/jobs/get",
        json!({"clientToken": "t-1"}),
        "accepted",
    )
    .await;
    assert_eq!(pending["clientToken"], "t-1");
    assert_eq!(pending["queuedJobs"][0]["versionNumber"], 1);
    let started = request(
        &dev,
        &mut ev,
        "$aws/things/gw-1/jobs/start-next",
        json!({"statusDetails": {"step": "download"}}),
        "accepted",
    )
    .await;
    assert_eq!(started["execution"]["status"], "IN_PROGRESS");
    assert_eq!(started["execution"]["versionNumber"], 2);
    assert_eq!(started["execution"]["statusDetails"]["step"], "download");
    let stale = request(
        &dev,
        &mut ev,
        "$aws/things/gw-1/jobs/install-1/update",
        json!({"status": "SUCCEEDED", "expectedVersion": 1, "clientToken": "t-2"}),
        "rejected",
    )
    .await;
    assert_eq!(stale["code"], "VersionMismatch");
    assert_eq!(stale["clientToken"], "t-2");
    assert_eq!(stale["executionState"]["versionNumber"], 2);
    // The answer and the notifications of the pending list's change, in whatever order.
    dev.publish(
        "$aws/things/gw-1/jobs/install-1/update",
        QoS::AtLeastOnce,
        false,
        json!({"status": "SUCCEEDED", "expectedVersion": 2, "includeJobExecutionState": true})
            .to_string(),
    )
    .await
    .unwrap();
    let told = messages_on(
        &mut ev,
        &[
            "$aws/things/gw-1/jobs/notify-next",
            "$aws/things/gw-1/jobs/notify",
            "$aws/things/gw-1/jobs/install-1/update/accepted",
        ],
    )
    .await;
    let done = &told[2];
    assert_eq!(done["executionState"]["status"], "SUCCEEDED");
    assert!(done.get("jobDocument").is_none());
    // Nothing pending any more: notify with no jobs, notify-next without an execution.
    assert!(told[0].get("execution").is_none(), "{}", told[0]);
    assert_eq!(told[1]["jobs"], json!({}));
    let after = request(
        &dev,
        &mut ev,
        "$aws/things/gw-1/jobs/install-1/update",
        json!({"status": "IN_PROGRESS"}),
        "rejected",
    )
    .await;
    assert_eq!(after["code"], "InvalidStateTransition");
    let bad = request(
        &dev,
        &mut ev,
        "$aws/things/gw-1/jobs/start-next",
        json!([1]),
        "rejected",
    )
    .await;
    assert_eq!(bad["code"], "InvalidJson");

    // The other device works over HTTPS.
    let d = s.jobs_data_client();
    let p = d
        .get_pending_job_executions()
        .thing_name("gw-2")
        .send()
        .await
        .unwrap();
    assert_eq!(p.queued_jobs().len(), 1);
    let e = d
        .start_next_pending_job_execution()
        .thing_name("gw-2")
        .send()
        .await
        .unwrap();
    let e = e.execution().unwrap();
    assert_eq!(e.status(), Some(&DeviceStatus::InProgress));
    assert_eq!(
        e.job_document(),
        Some(r#"{"operation":"install","version":"2.0"}"#)
    );
    d.update_job_execution()
        .thing_name("gw-2")
        .job_id("install-1")
        .status(DeviceStatus::Succeeded)
        .send()
        .await
        .unwrap();
    let again = d
        .update_job_execution()
        .thing_name("gw-2")
        .job_id("install-1")
        .status(DeviceStatus::Failed)
        .send()
        .await;
    let err = again.unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidStateTransitionException")
    );

    // The owner sees the job complete.
    let j = c.describe_job().job_id("install-1").send().await.unwrap();
    let job = j.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::Completed));
    assert!(job.completed_at().is_some());
    let pd = job.job_process_details().unwrap();
    assert_eq!(pd.number_of_succeeded_things(), Some(2));
    assert_eq!(pd.number_of_queued_things(), Some(0));
    let ex = c
        .list_job_executions_for_job()
        .job_id("install-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ex.execution_summaries().len(), 2);
    let one = c
        .describe_job_execution()
        .job_id("install-1")
        .thing_name("gw-1")
        .send()
        .await
        .unwrap();
    let one = one.execution().unwrap();
    assert_eq!(one.status(), Some(&JobExecutionStatus::Succeeded));
    assert_eq!(one.version_number(), 3);
    let doc = c
        .get_job_document()
        .job_id("install-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        doc.document(),
        Some(r#"{"operation":"install","version":"2.0"}"#)
    );
    let listed = c
        .list_jobs()
        .status(JobStatus::Completed)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.jobs().len(), 1);
    c.delete_job().job_id("install-1").send().await.unwrap();
    assert_eq!(
        code(c.describe_job().job_id("install-1").send().await),
        "ResourceNotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_rate_time_outs_retries_and_abort_move_on_the_clock() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    let names = ["r-1", "r-2", "r-3", "r-4", "r-5"];
    let group = group_of(&s, &cert, "fleet", &names).await;
    let d = s.jobs_data_client();
    let released = || async {
        let mut n = 0;
        for t in names {
            let p = d
                .get_pending_job_executions()
                .thing_name(t)
                .send()
                .await
                .unwrap();
            n += p.queued_jobs().len() + p.in_progress_jobs().len();
        }
        n
    };
    c.create_job()
        .job_id("paced")
        .targets(&group)
        .document(r#"{"op":"x"}"#)
        .job_executions_rollout_config(
            aws_sdk_iot::types::JobExecutionsRolloutConfig::builder()
                .maximum_per_minute(2)
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .in_progress_timeout_in_minutes(1)
                .build(),
        )
        .job_executions_retry_config(
            aws_sdk_iot::types::JobExecutionsRetryConfig::builder()
                .criteria_list(
                    RetryCriteria::builder()
                        .failure_type(RetryableFailureType::TimedOut)
                        .number_of_retries(1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s.run_due().await;
    assert_eq!(released().await, 2, "two per minute");
    let j = c.describe_job().job_id("paced").send().await.unwrap();
    let job = j.job().unwrap();
    assert_eq!(job.is_concurrent(), Some(false));
    assert_eq!(
        job.job_executions_rollout_config()
            .unwrap()
            .maximum_per_minute(),
        Some(2)
    );
    s.clock.advance_millis(59_000);
    s.run_due().await;
    assert_eq!(released().await, 2);
    s.clock.advance_millis(1_000);
    s.run_due().await;
    assert_eq!(released().await, 4);
    s.clock.advance_millis(60_000);
    s.run_due().await;
    assert_eq!(released().await, 5);

    // A started execution times out after a minute and is retried once.
    let started = d
        .start_next_pending_job_execution()
        .thing_name("r-1")
        .send()
        .await
        .unwrap();
    let e = started.execution().unwrap();
    assert_eq!(e.approximate_seconds_before_timed_out(), Some(60));
    s.clock.advance_millis(60_000);
    s.run_due().await;
    let ex = c
        .describe_job_execution()
        .job_id("paced")
        .thing_name("r-1")
        .send()
        .await
        .unwrap();
    let ex = ex.execution().unwrap();
    assert_eq!(ex.status(), Some(&JobExecutionStatus::Queued));
    assert_eq!(ex.execution_number(), Some(2));
    let summaries = c
        .list_job_executions_for_thing()
        .thing_name("r-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        summaries.execution_summaries()[0]
            .job_execution_summary()
            .unwrap()
            .retry_attempt(),
        Some(1)
    );
    // The retry times out too: no retries are left.
    d.start_next_pending_job_execution()
        .thing_name("r-1")
        .send()
        .await
        .unwrap();
    s.clock.advance_millis(60_000);
    s.run_due().await;
    let ex = c
        .describe_job_execution()
        .job_id("paced")
        .thing_name("r-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ex.execution().unwrap().status(),
        Some(&JobExecutionStatus::TimedOut)
    );

    // An abort: two of the first two executions failing cancels the job and its queued ones.
    c.create_job()
        .job_id("canary")
        .targets(&group)
        .document(r#"{"op":"y"}"#)
        .abort_config(
            AbortConfig::builder()
                .criteria_list(
                    AbortCriteria::builder()
                        .failure_type(JobExecutionFailureType::Failed)
                        .action(AbortAction::Cancel)
                        .threshold_percentage(50.0)
                        .min_number_of_executed_things(2)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s.run_due().await;
    for t in ["r-2", "r-3"] {
        d.update_job_execution()
            .thing_name(t)
            .job_id("canary")
            .status(DeviceStatus::Failed)
            .send()
            .await
            .unwrap();
    }
    s.run_due().await;
    let j = c.describe_job().job_id("canary").send().await.unwrap();
    let job = j.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::Canceled));
    assert_eq!(job.reason_code(), Some("FAILED_THRESHOLD_EXCEEDED"));
    let pd = job.job_process_details().unwrap();
    assert_eq!(pd.number_of_failed_things(), Some(2));
    assert_eq!(pd.number_of_canceled_things(), Some(3));
    assert_eq!(
        code(c.delete_job().job_id("paced").send().await),
        "InvalidStateTransitionException"
    );
    c.delete_job()
        .job_id("paced")
        .force(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_rollout_sends_nothing_twice() {
    let mut s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    let names = ["k-1", "k-2", "k-3"];
    things_of(&c, &cert, &names).await;
    let account = cert.account.clone();
    let mut job = c
        .create_job()
        .job_id("slow")
        .document(r#"{"op":"z"}"#)
        .job_executions_rollout_config(
            aws_sdk_iot::types::JobExecutionsRolloutConfig::builder()
                .maximum_per_minute(1)
                .build(),
        );
    for t in names {
        job = job.targets(thing_arn(&account, t));
    }
    job.send().await.unwrap();
    s.run_due().await;
    s.restart().await;
    s.run_due().await;
    let d = s.jobs_data_client();
    let pending = |t: &'static str| {
        let d = d.clone();
        async move {
            d.get_pending_job_executions()
                .thing_name(t)
                .send()
                .await
                .unwrap()
                .queued_jobs()
                .len()
        }
    };
    assert_eq!(
        pending("k-1").await + pending("k-2").await + pending("k-3").await,
        1
    );
    s.clock.advance_millis(60_000);
    s.run_due().await;
    assert_eq!(
        pending("k-1").await + pending("k-2").await + pending("k-3").await,
        2
    );
    let c = s.client("us-east-1");
    let ex = c
        .list_job_executions_for_job()
        .job_id("slow")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ex.execution_summaries().len(),
        3,
        "each thing has one execution"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_from_managed_and_account_templates() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    things_of(&c, &cert, &["tpl-dev"]).await;
    let target = thing_arn(&cert.account, "tpl-dev");

    // AWS's managed templates, as the seed picks AWS-Start-Application.
    let listed = c.list_managed_job_templates().send().await.unwrap();
    let names: Vec<&str> = listed
        .managed_job_templates()
        .iter()
        .filter_map(|t| t.template_name())
        .collect();
    assert!(names.contains(&"AWS-Start-Application"), "{names:?}");
    let start = c
        .describe_managed_job_template()
        .template_name("AWS-Start-Application")
        .send()
        .await
        .unwrap();
    assert_eq!(start.template_version(), Some("1.0"));
    let services = start
        .document_parameters()
        .iter()
        .find(|p| p.key() == Some("services"))
        .unwrap();
    assert!(!services.optional());
    let arn = start.template_arn().unwrap().to_string();
    assert_eq!(
        arn,
        "arn:aws:iot:us-east-1::jobtemplate/AWS-Start-Application:1.0"
    );
    c.create_job()
        .job_id("start-cron")
        .targets(&target)
        .job_template_arn(&arn)
        .document_parameters("services", "cron httpd")
        .send()
        .await
        .unwrap();
    let doc = c
        .get_job_document()
        .job_id("start-cron")
        .send()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(doc.document().unwrap()).unwrap();
    assert_eq!(doc["steps"][0]["action"]["input"]["args"][0], "cron httpd");
    let raw = c
        .get_job_document()
        .job_id("start-cron")
        .before_substitution(true)
        .send()
        .await
        .unwrap();
    assert!(raw
        .document()
        .unwrap()
        .contains("${aws:iot:parameter:services}"));
    let j = c.describe_job().job_id("start-cron").send().await.unwrap();
    let job = j.job().unwrap();
    assert_eq!(job.job_template_arn(), Some(arn.as_str()));
    assert_eq!(
        job.document_parameters()
            .unwrap()
            .get("services")
            .map(String::as_str),
        Some("cron httpd")
    );
    let missing = c
        .create_job()
        .job_id("start-nothing")
        .targets(&target)
        .job_template_arn(&arn)
        .send()
        .await;
    assert_eq!(code(missing), "InvalidRequestException");
    let stray = c
        .create_job()
        .job_id("stray")
        .targets(&target)
        .document("{}")
        .document_parameters("services", "cron")
        .send()
        .await;
    assert_eq!(code(stray), "InvalidRequestException");

    // An account's own template: its document and configuration, overridden member by member.
    let made = c
        .create_job_template()
        .job_template_id("reboot-tpl")
        .description("reboot the gateway")
        .document(r#"{"operation":"reboot"}"#)
        .timeout_config(
            TimeoutConfig::builder()
                .in_progress_timeout_in_minutes(5)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tpl_arn = made.job_template_arn().unwrap().to_string();
    assert!(tpl_arn.ends_with(":jobtemplate/reboot-tpl"));
    let dup = c
        .create_job_template()
        .job_template_id("reboot-tpl")
        .description("again")
        .document("{}")
        .send()
        .await;
    assert_eq!(code(dup), "ConflictException");
    let d = c
        .describe_job_template()
        .job_template_id("reboot-tpl")
        .send()
        .await
        .unwrap();
    assert_eq!(d.document(), Some(r#"{"operation":"reboot"}"#));
    assert_eq!(
        d.timeout_config().unwrap().in_progress_timeout_in_minutes(),
        Some(5)
    );
    c.create_job()
        .job_id("reboot-1")
        .targets(&target)
        .job_template_arn(&tpl_arn)
        .timeout_config(
            TimeoutConfig::builder()
                .in_progress_timeout_in_minutes(9)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let j = c.describe_job().job_id("reboot-1").send().await.unwrap();
    assert_eq!(
        j.job()
            .unwrap()
            .timeout_config()
            .unwrap()
            .in_progress_timeout_in_minutes(),
        Some(9)
    );
    let doc = c
        .get_job_document()
        .job_id("reboot-1")
        .send()
        .await
        .unwrap();
    assert_eq!(doc.document(), Some(r#"{"operation":"reboot"}"#));
    let all = c.list_job_templates().send().await.unwrap();
    assert_eq!(all.job_templates().len(), 1);
    c.delete_job_template()
        .job_template_id("reboot-tpl")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            c.describe_job_template()
                .job_template_id("reboot-tpl")
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_events_follow_the_event_configuration() {
    use aws_sdk_iot::types::{Configuration, EventType};
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    things_of(&c, &cert, &["ev-dev"]).await;
    let before = c.describe_event_configurations().send().await.unwrap();
    let configs = before.event_configurations().unwrap();
    assert_eq!(configs.len(), 11);
    assert!(!configs[&EventType::Job].enabled());
    let on = Configuration::builder().enabled(true).build();
    c.update_event_configurations()
        .event_configurations(EventType::Job, on.clone())
        .event_configurations(EventType::JobExecution, on)
        .send()
        .await
        .unwrap();
    let after = c.describe_event_configurations().send().await.unwrap();
    let configs = after.event_configurations().unwrap();
    assert!(configs[&EventType::Job].enabled());
    assert!(!configs[&EventType::Thing].enabled());
    assert!(after.last_modified_date().is_some());

    let (watcher, mut ev) = AsyncClient::new(options(&s, "watcher", &cert), 16);
    connected(&mut ev).await.unwrap();
    watcher
        .subscribe("$aws/events/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    until(&mut ev, |i| matches!(i, Incoming::SubAck(_)))
        .await
        .unwrap();
    c.create_job()
        .job_id("evented")
        .targets(thing_arn(&cert.account, "ev-dev"))
        .document("{}")
        .send()
        .await
        .unwrap();
    s.run_due().await;
    s.jobs_data_client()
        .update_job_execution()
        .thing_name("ev-dev")
        .job_id("evented")
        .status(DeviceStatus::Succeeded)
        .status_details("result", "ok")
        .send()
        .await
        .unwrap();
    let got = messages_on(
        &mut ev,
        &[
            "$aws/events/jobExecution/evented/succeeded",
            "$aws/events/job/evented/completed",
        ],
    )
    .await;
    assert_eq!(got[0]["eventType"], "JOB_EXECUTION");
    assert_eq!(got[0]["status"], "SUCCEEDED");
    assert_eq!(got[0]["statusDetails"]["result"], "ok");
    assert!(got[0]["thingArn"]
        .as_str()
        .unwrap()
        .ends_with(":thing/ev-dev"));
    assert_eq!(got[1]["eventType"], "JOB");
    assert_eq!(got[1]["status"], "COMPLETED");
    assert_eq!(got[1]["jobProcessDetails"]["numberOfSucceededThings"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_job_follows_its_groups_members() {
    use aws_sdk_iot::types::TargetSelection;
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    let group = group_of(&s, &cert, "cont", &["c-1"]).await;
    things_of(&c, &cert, &["c-2", "c-3"]).await;
    let followed = || async { s.server.as_ref().unwrap().jobs.caught_up().await };
    let status = |t: &'static str| {
        let c = c.clone();
        async move {
            c.describe_job_execution()
                .job_id("always")
                .thing_name(t)
                .send()
                .await
                .ok()
                .and_then(|r| r.execution().and_then(|e| e.status().cloned()))
        }
    };
    c.create_job()
        .job_id("always")
        .targets(&group)
        .target_selection(TargetSelection::Continuous)
        .document("{}")
        .send()
        .await
        .unwrap();
    s.run_due().await;
    assert_eq!(status("c-1").await, Some(JobExecutionStatus::Queued));
    assert_eq!(status("c-2").await, None);

    // A thing that joins gets an execution; one that leaves has its execution removed.
    c.add_thing_to_thing_group()
        .thing_group_name("cont")
        .thing_name("c-2")
        .send()
        .await
        .unwrap();
    c.remove_thing_from_thing_group()
        .thing_group_name("cont")
        .thing_name("c-1")
        .send()
        .await
        .unwrap();
    followed().await;
    assert_eq!(status("c-2").await, Some(JobExecutionStatus::Queued));
    assert_eq!(status("c-1").await, Some(JobExecutionStatus::Removed));
    let j = c.describe_job().job_id("always").send().await.unwrap();
    let job = j.job().unwrap();
    assert_eq!(
        job.status(),
        Some(&JobStatus::InProgress),
        "never completes"
    );
    assert_eq!(
        job.job_process_details()
            .unwrap()
            .number_of_removed_things(),
        Some(1)
    );

    // More targets for the job.
    c.associate_targets_with_job()
        .job_id("always")
        .targets(thing_arn(&cert.account, "c-3"))
        .send()
        .await
        .unwrap();
    s.run_due().await;
    assert_eq!(status("c-3").await, Some(JobExecutionStatus::Queued));
    c.create_job()
        .job_id("once")
        .targets(thing_arn(&cert.account, "c-3"))
        .document("{}")
        .send()
        .await
        .unwrap();
    let refused = c
        .associate_targets_with_job()
        .job_id("once")
        .targets(&group)
        .send()
        .await;
    assert_eq!(code(refused), "InvalidRequestException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_criterion_may_name_a_fleet_query() {
    use aws_sdk_iot::types::{ThingIndexingConfiguration, ThingIndexingMode};
    use aws_sdk_iotdataplane::primitives::Blob;
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    let group = group_of(&s, &cert, "crashy", &["q-1", "q-2", "q-3", "q-4"]).await;
    c.update_indexing_configuration()
        .thing_indexing_configuration(
            ThingIndexingConfiguration::builder()
                .thing_indexing_mode(ThingIndexingMode::RegistryAndShadow)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s.server.as_ref().unwrap().fleet.caught_up().await;
    // Shoal's extension: `queryString` in an abort criterion (no SDK knows the member).
    let body = json!({
        "targets": [group],
        "document": "{}",
        "abortConfig": {"criteriaList": [{
            "failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 50,
            "minNumberOfExecutedThings": 2,
            "queryString": "shadow.reported.crashCount > 0"}]}
    });
    let (status, made) = common::signed_json(&s, "PUT", "/jobs/canary-q", &body).await;
    assert_eq!(status, 200, "{made}");
    let bad = json!({"targets": [group], "document": "{}", "abortConfig": {"criteriaList": [{
        "failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 50,
        "minNumberOfExecutedThings": 2, "queryString": "shadow.reported.crashCount >"}]}});
    let (status, _) = common::signed_json(&s, "PUT", "/jobs/bad-q", &bad).await;
    assert_eq!(status, 400);
    s.run_due().await;
    let d = s.jobs_data_client();
    let data = s.data_client();
    for t in ["q-1", "q-2"] {
        d.update_job_execution()
            .thing_name(t)
            .job_id("canary-q")
            .status(DeviceStatus::Succeeded)
            .send()
            .await
            .unwrap();
        data.update_thing_shadow()
            .thing_name(t)
            .payload(Blob::new(
                r#"{"state":{"reported":{"crashCount":1}}}"#.as_bytes(),
            ))
            .send()
            .await
            .unwrap();
    }
    s.server.as_ref().unwrap().fleet.caught_up().await;
    let status = |c: aws_sdk_iot::Client| async move {
        c.describe_job()
            .job_id("canary-q")
            .send()
            .await
            .unwrap()
            .job()
            .unwrap()
            .clone()
    };
    assert_eq!(
        status(c.clone()).await.status(),
        Some(&JobStatus::InProgress),
        "both succeeded: the status alone aborts nothing, the query waits for the job's check"
    );
    s.clock.advance_millis(60_000);
    s.run_due().await;
    let job = status(c.clone()).await;
    assert_eq!(job.status(), Some(&JobStatus::Canceled));
    assert_eq!(job.reason_code(), Some("QUERY_THRESHOLD_EXCEEDED"));
}
