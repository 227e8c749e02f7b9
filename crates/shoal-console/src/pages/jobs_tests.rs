//! The jobs pages over real services: a job made through the form reaches its group's things
//! and its page follows it to 100 %; templates, the preview, cancel and delete; escaping and
//! read-only sessions.

use crate::html::url;
use crate::testkit::Kit;
use shoal_domain::jobs::{DeviceUpdate, ExecutionStatus, JobStatus};
use shoal_domain::{ErrorKind, ThingGroupName, ThingName};
use shoal_services::registry::{CreateThing, CreateThingGroup};

async fn thing(k: &Kit, name: &str) {
    k.registry
        .create_thing(
            &k.part,
            CreateThing {
                name: ThingName::parse(name).unwrap(),
                type_name: None,
                attributes: Default::default(),
                billing_group: None,
            },
        )
        .await
        .unwrap();
}

/// A static group holding `things` (made too).
async fn group(k: &Kit, name: &str, things: &[&str]) {
    let g = ThingGroupName::parse(name).unwrap();
    k.registry
        .create_thing_group(
            &k.part,
            CreateThingGroup {
                name: g.clone(),
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
        thing(k, t).await;
        k.registry
            .add_thing_to_thing_group(&k.part, &ThingName::parse(t).unwrap(), &g)
            .await
            .unwrap();
    }
}

/// The device reports `status` for its execution of `job`.
async fn report(k: &Kit, thing: &str, job: &str, status: ExecutionStatus) {
    k.jobs
        .update_execution(
            &k.part,
            thing,
            job,
            &DeviceUpdate {
                status: Some(status),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
}

const DOC: &str = "document=%7B%22operation%22%3A%22update%22%7D";

#[tokio::test]
async fn a_job_made_through_the_form_runs_on_a_group_to_100_percent() {
    let k = Kit::signed_in().await;
    group(&k, "line-a", &["pump-1", "pump-2"]).await;
    let form = k.get("/console/jobs/new").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("<option value=\"line-a\">line-a</option>"),
        "{}",
        form.body
    );
    assert!(form.body.contains("AWS-Start-Application"));

    let a = k
        .post(
            "/console/jobs/new",
            &format!("job_id=update-1&group=line-a&source=json&{DOC}&target_selection=SNAPSHOT"),
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        a.location()
            .starts_with(&format!("/console/jobs/{}?ok=", url("update-1"))),
        "{}",
        a.location()
    );
    let (job, _) = k.jobs.describe_job(&k.part, "update-1").unwrap();
    assert_eq!(job.targets, vec![k.part.arn("thinggroup", "line-a")]);
    assert_eq!(job.document, "{\"operation\":\"update\"}");

    let page = k.get("/console/jobs/update-1").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"job-live\" data-live=\"3\""));
    assert!(page.body.contains("Progress: 0 %"), "{}", page.body);
    assert!(page
        .body
        .contains("&quot;operation&quot;: &quot;update&quot;"));

    // The rollout makes the executions.
    k.scheduler.run_due().await.unwrap();
    let page = k.get("/console/jobs/update-1").await;
    assert!(page.body.contains("Progress: 0 %"), "{}", page.body);
    assert!(page.body.contains(">pump-1</a>") && page.body.contains(">pump-2</a>"));
    assert!(page.body.contains("Queued <b>2</b>"), "{}", page.body);

    report(&k, "pump-1", "update-1", ExecutionStatus::InProgress).await;
    report(&k, "pump-1", "update-1", ExecutionStatus::Succeeded).await;
    let page = k.get("/console/jobs/update-1").await;
    assert!(page.body.contains("Progress: 50 %"), "{}", page.body);

    report(&k, "pump-2", "update-1", ExecutionStatus::Succeeded).await;
    let page = k.get("/console/jobs/update-1").await;
    assert!(page.body.contains("Progress: 100 %"), "{}", page.body);
    assert!(page.body.contains("Succeeded <b>2</b>"), "{}", page.body);
    assert!(page.body.contains("id=\"job-progress\" data-total=\"2\""));

    let list = k.get("/console/jobs").await;
    assert!(list.body.contains("id=\"jobs\""));
    let link = format!("<a href=\"/console/jobs/{}\">update-1</a>", url("update-1"));
    assert!(list.body.contains(&link), "{}", list.body);
}

#[tokio::test]
async fn jobs_are_listed_fifty_a_page() {
    let k = Kit::signed_in().await;
    thing(&k, "t-1").await;
    for i in 0..51 {
        let a = k
            .post(
                "/console/jobs/new",
                &format!("job_id=j-{i:02}&things=t-1&{DOC}"),
            )
            .await;
        assert_eq!(a.status, 303, "{}", a.body);
    }
    let first = k.get("/console/jobs").await;
    assert!(first.body.contains(">j-49</a>"));
    assert!(!first.body.contains(">j-50</a>"));
    let marker = "id=\"next-page\" href=\"";
    let at = first.body.find(marker).expect("a next page") + marker.len();
    let href = &first.body[at..first.body[at..].find('"').unwrap() + at];
    let second = k.get(&href.replace("&amp;", "&")).await;
    assert!(second.body.contains(">j-50</a>"), "{}", second.body);
    assert!(!second.body.contains(">j-49</a>"));
    assert!(!second.body.contains("next-page"));
}

#[tokio::test]
async fn documents_come_from_templates_and_bad_forms_come_back_with_the_error() {
    let k = Kit::signed_in().await;
    thing(&k, "t-1").await;
    let a = k
        .post(
            "/console/jobs/new",
            "job_id=start&things=t-1&source=managed&managed=AWS-Start-Application&parameters=%7B%22services%22%3A%22cron%22%7D",
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (job, _) = k.jobs.describe_job(&k.part, "start").unwrap();
    assert_eq!(
        job.job_template_arn.as_deref(),
        Some("arn:aws:iot:us-east-1::jobtemplate/AWS-Start-Application:1.0")
    );
    assert!(job.document.contains("cron"), "{}", job.document);
    assert_eq!(job.document_parameters["services"], "cron");

    // A missing required parameter: the service's refusal, the form kept.
    let a = k
        .post(
            "/console/jobs/new",
            "job_id=start-2&things=t-1&source=managed&managed=AWS-Start-Application",
        )
        .await;
    assert_eq!(a.status, 400);
    let notice = &a.body[a.body.find("notice error").expect("a notice")..];
    assert!(notice[..300].contains("services"), "{notice}");

    // A document that is not JSON, and a value that is escaped when the form comes back.
    let a = k
        .post(
            "/console/jobs/new",
            "job_id=bad&things=t-1&description=%3Cscript%3Ex%3C%2Fscript%3E&document=not+json",
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("must be a JSON object"), "{}", a.body);
    assert!(a.body.contains("value=\"&lt;script&gt;x&lt;/script&gt;\""));
    assert!(!a.body.contains("<script>x"));
    assert!(k.jobs.describe_job(&k.part, "bad").is_err());

    // No target; an unknown group; an account template that does not exist.
    let a = k
        .post("/console/jobs/new", &format!("job_id=x&{DOC}"))
        .await;
    assert!(a.body.contains("needs a target"), "{}", a.body);
    let a = k
        .post("/console/jobs/new", &format!("job_id=x&group=nope&{DOC}"))
        .await;
    assert!(a.body.contains("does not exist"), "{}", a.body);
    let a = k
        .post(
            "/console/jobs/new",
            "job_id=x&things=t-1&source=template&template_id=missing",
        )
        .await;
    assert!(a.body.contains("missing does not exist"), "{}", a.body);
    let a = k
        .post(
            "/console/jobs/new",
            &format!("job_id=x&things=t-1&{DOC}&maximum_per_minute=lots"),
        )
        .await;
    assert!(a.body.contains("must be a number"), "{}", a.body);
    assert!(k
        .jobs
        .list_jobs(&k.part, &Default::default(), None, 10)
        .unwrap()
        .items
        .iter()
        .all(|j| j.job_id == "start"));
}

#[tokio::test]
async fn the_preview_lists_the_things_and_creates_nothing() {
    let k = Kit::signed_in().await;
    group(&k, "line-b", &["b-1", "b-2", "b-3"]).await;
    let a = k
        .post(
            "/console/jobs/preview",
            &format!("job_id=later&group=line-b&{DOC}&maximum_per_minute=2&abort_failure_type=FAILED&abort_threshold=50&abort_min_executed=2"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body.contains("The job would reach 3 things in 2 waves"),
        "{}",
        a.body
    );
    let waves = &a.body[a.body.find("id=\"preview-waves\"").unwrap()..];
    assert!(
        waves.contains("b-1, b-2") && waves.contains("b-3"),
        "{waves}"
    );
    assert!(a.body.contains("from wave 1"), "{}", a.body);
    // The form comes back filled, ready to create the job.
    assert!(a.body.contains("value=\"later\""));
    assert!(k
        .jobs
        .list_jobs(&k.part, &Default::default(), None, 10)
        .unwrap()
        .items
        .is_empty());
    let a = k.post("/console/jobs/preview", DOC).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("needs a target"));
}

#[tokio::test]
async fn jobs_are_canceled_and_deleted() {
    let k = Kit::signed_in().await;
    group(&k, "line-c", &["c-1"]).await;
    let a = k
        .post(
            "/console/jobs/new",
            &format!("job_id=c&group=line-c&{DOC}&description=%3Cb%3Ebold%3C%2Fb%3E"),
        )
        .await;
    assert_eq!(a.status, 303);
    k.scheduler.run_due().await.unwrap();
    let page = k.get("/console/jobs/c").await;
    assert!(page.body.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(!page.body.contains("<b>bold</b>"));
    assert!(page.body.contains("action=\"/console/jobs/c/cancel\""));

    // A running job is deleted only with force.
    let a = k.post("/console/jobs/c/delete", "").await;
    assert_eq!(a.status, 303);
    assert!(a.location().starts_with("/console/jobs/c?error="));
    let shown = k.get(a.location()).await;
    assert!(shown.body.contains("notice error"), "{}", shown.body);

    let a = k
        .post(
            "/console/jobs/c/cancel",
            "reason_code=OPS_STOP&comment=%3Ci%3Eno%3C%2Fi%3E&force=true",
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(a.location().starts_with("/console/jobs/c?ok="));
    let (job, _) = k.jobs.describe_job(&k.part, "c").unwrap();
    assert_eq!(job.status, JobStatus::Canceled);
    assert!(job.force_canceled);
    assert_eq!(job.reason_code.as_deref(), Some("OPS_STOP"));
    k.scheduler.run_due().await.unwrap();
    let page = k.get("/console/jobs/c").await;
    assert!(page.body.contains("Canceled <b>1</b>"), "{}", page.body);
    assert!(page.body.contains("Progress: 100 %"));
    assert!(page.body.contains("&lt;i&gt;no&lt;/i&gt;"));
    let a = k.post("/console/jobs/c/cancel", "reason_code=lower").await;
    assert!(a.location().contains("error="), "{}", a.location());

    let a = k.post("/console/jobs/c/delete", "").await;
    assert_eq!(a.status, 303);
    assert!(a.location().starts_with("/console/jobs?ok="));
    let err = k.jobs.describe_job(&k.part, "c").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(k.get("/console/jobs/c").await.status, 404);
}

#[tokio::test]
async fn a_read_only_session_changes_no_job() {
    let mut k = Kit::new().await;
    thing(&k, "t-1").await;
    k.sign_in(true).await;
    let page = k.get("/console/jobs/new").await;
    assert_eq!(page.status, 200);
    for path in [
        "/console/jobs/new",
        "/console/jobs/preview",
        "/console/jobs/x/cancel",
        "/console/jobs/x/delete",
    ] {
        let a = k
            .post(path, &format!("job_id=x&things=t-1&{DOC}&force=true"))
            .await;
        assert_eq!(a.status, 403, "{path}");
    }
    assert!(k.jobs.describe_job(&k.part, "x").is_err());
}
