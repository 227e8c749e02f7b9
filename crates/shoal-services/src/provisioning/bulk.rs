//! Bulk registration (https://docs.aws.amazon.com/iot/latest/developerguide/bulk-provisioning.html):
//! StartThingRegistrationTask reads a newline-delimited JSON file of parameters from object
//! storage and provisions one device per line with the task's template;
//! DescribeThingRegistrationTask, ListThingRegistrationTasks, StopThingRegistrationTask and
//! ListThingRegistrationTaskReports follow it.
//!
//! The task runs on the durable scheduler, a step of lines at a time. Each line commits its
//! resources together with a line record (`registration-line`, `TASK/LINE`) that holds its
//! report line, so a step repeated after a crash skips the lines already done: no line is
//! registered twice. The step then writes its report parts as objects and, in the batch that
//! completes its timer, advances the task and removes its line records. One task runs per
//! account at a time, as on AWS (a guard record, `registration-active`).

use super::Provisioning;
use crate::objects::Objects;
use crate::records::{contention, decode, encode, load, store_error, try_commit, SCHEMA};
use crate::scheduler::{Due, Scheduler, TimerHandler, TimerId};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shoal_domain::error::Result;
use shoal_domain::objects::{BucketName, ByteRange, ObjectKey};
use shoal_domain::provisioning::Template;
use shoal_domain::{ErrorKind, Partition, ServiceError, Timestamp};
use shoal_store::{Batch, BoxFuture, Expect, Term, TermMatch};
use std::collections::BTreeMap;
use std::sync::Arc;

const KIND_TASK: &str = "registration-task";
const KIND_LINE: &str = "registration-line";
const KIND_ACTIVE: &str = "registration-active";
pub(super) const SERVICE: &str = "registration";
/// Lines one step registers: a step holds the scheduler, so it stays short.
const STEP_LINES: usize = 1000;
/// Lines of a step provisioned at once.
const LINES_AT_ONCE: usize = 512;
/// Bytes one step reads (a thousand lines with a CSR each fit); a line longer than this fails
/// the task.
const STEP_BYTES: u64 = 1024 * 1024;
/// Where a task's reports go, in the input file's bucket.
const REPORTS: &str = "thing-registration-tasks";
/// How long a report link stays valid.
const LINK_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
    Cancelling,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::InProgress => "InProgress",
            TaskStatus::Completed => "Completed",
            TaskStatus::Failed => "Failed",
            TaskStatus::Cancelled => "Cancelled",
            TaskStatus::Cancelling => "Cancelling",
        }
    }

    pub fn parse(s: &str) -> Result<TaskStatus> {
        Ok(match s {
            "InProgress" => TaskStatus::InProgress,
            "Completed" => TaskStatus::Completed,
            "Failed" => TaskStatus::Failed,
            "Cancelled" => TaskStatus::Cancelled,
            "Cancelling" => TaskStatus::Cancelling,
            other => {
                return Err(shoal_domain::ids::validation_error(
                    "status",
                    other,
                    "Member must satisfy enum value set: [InProgress, Completed, Failed, Cancelled, Cancelling]",
                ))
            }
        })
    }
}

/// A bulk registration task as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationTask {
    pub id: String,
    pub template_body: String,
    pub bucket: String,
    pub key: String,
    pub role_arn: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub success: u64,
    pub failure: u64,
    /// The input file's size when the task started, and how far it has been read.
    pub size: u64,
    pub offset: u64,
    /// The number of the next line (from 0).
    pub line: u64,
    /// Report parts written so far (object keys in `bucket`).
    #[serde(default)]
    pub results: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
}

impl RegistrationTask {
    pub fn percentage(&self) -> u8 {
        if self.status == TaskStatus::Completed || self.size == 0 {
            return if self.status == TaskStatus::Completed {
                100
            } else {
                0
            };
        }
        ((self.offset.min(self.size) * 100) / self.size) as u8
    }
}

/// One line's outcome, kept until its step completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LineDone {
    ok: bool,
    report: String,
}

fn line_key(task: &str, line: u64) -> String {
    format!("{task}/{line:012}")
}

fn missing(id: &str) -> ServiceError {
    ServiceError::not_found(format!("The thing registration task {id} does not exist"))
}

/// What StartThingRegistrationTask gives.
#[derive(Debug, Clone)]
pub struct StartTask {
    pub template_body: String,
    pub bucket: String,
    pub key: String,
    pub role_arn: String,
}

/// The parameters of one input line: an object whose values are strings (numbers and
/// booleans are taken as their text).
fn line_parameters(line: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let v: Map<String, Value> =
        serde_json::from_str(line).map_err(|e| format!("The line is not a JSON object: {e}"))?;
    v.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(format!("The value of {k} is not a string: {other}")),
        })
        .collect()
}

/// Splits `chunk` (read at the start of a line) into whole lines, at most `max`; a last line
/// without its newline counts only at the end of the file. Returns the lines and the bytes
/// they span.
fn whole_lines(chunk: &[u8], at_end: bool, max: usize) -> (Vec<&[u8]>, usize) {
    let mut lines = Vec::new();
    let mut used = 0;
    while lines.len() < max && used < chunk.len() {
        match chunk[used..].iter().position(|&b| b == b'\n') {
            Some(n) => {
                lines.push(&chunk[used..used + n]);
                used += n + 1;
            }
            None if at_end => {
                lines.push(&chunk[used..]);
                used = chunk.len();
            }
            None => break,
        }
    }
    (lines, used)
}

impl Provisioning {
    fn bulk(&self) -> Result<&(Arc<Scheduler>, Arc<Objects>)> {
        self.bulk
            .get()
            .ok_or_else(|| ServiceError::internal("bulk registration is not set up"))
    }

    /// StartThingRegistrationTask.
    pub async fn start_registration_task(
        &self,
        part: &Partition,
        input: StartTask,
    ) -> Result<RegistrationTask> {
        let (scheduler, objects) = self.bulk()?;
        Template::parse(&input.template_body)?;
        if !(20..=2048).contains(&input.role_arn.chars().count()) {
            return Err(shoal_domain::ids::validation_error(
                "roleArn",
                &input.role_arn,
                "Member must have length between 20 and 2048",
            ));
        }
        let bucket = BucketName::parse(&input.bucket)?;
        let key = ObjectKey::parse(&input.key)?;
        let size = match objects.head(part, &bucket, &key) {
            Ok(info) => info.size,
            Err(_) => {
                return Err(ServiceError::invalid(format!(
                    "The input file s3://{bucket}/{key} cannot be read"
                )))
            }
        };
        let now = self.clock.now();
        let task = RegistrationTask {
            id: uuid::Uuid::new_v4().to_string(),
            template_body: input.template_body,
            bucket: input.bucket,
            key: input.key,
            role_arn: input.role_arn,
            status: TaskStatus::InProgress,
            message: None,
            created: now,
            modified: now,
            success: 0,
            failure: 0,
            size,
            offset: 0,
            line: 0,
            results: Vec::new(),
            errors: Vec::new(),
        };
        scheduler.track(part).await?;
        let batch = Batch::new(part.key())
            .put(
                KIND_ACTIVE,
                "",
                SCHEMA,
                task.id.clone().into_bytes(),
                vec![],
                Expect::Absent,
            )
            .put(
                KIND_TASK,
                &task.id,
                SCHEMA,
                encode(&task)?,
                vec![Term::new("status", task.status.as_str())],
                Expect::Absent,
            );
        let batch = Scheduler::set(
            batch,
            &TimerId::new(SERVICE, task.id.clone()),
            now,
            Value::Null,
            None,
        )?;
        if !try_commit(self.store(), batch).await? {
            return Err(ServiceError::invalid(
                "Only one bulk registration task can run at a time in an account",
            ));
        }
        scheduler.wake();
        Ok(task)
    }

    pub fn describe_registration_task(
        &self,
        part: &Partition,
        id: &str,
    ) -> Result<RegistrationTask> {
        load::<RegistrationTask>(self.store(), &part.key(), KIND_TASK, id)?
            .map(|l| l.value)
            .ok_or_else(|| missing(id))
    }

    /// ListThingRegistrationTasks: task ids, newest last by id order, optionally by status.
    pub fn list_registration_tasks(
        &self,
        part: &Partition,
        status: Option<TaskStatus>,
        max: usize,
        token: Option<&str>,
    ) -> Result<crate::registry::Page<String>> {
        let key = part.key();
        crate::registry::page_of(
            token,
            max,
            |after, n| match status {
                Some(s) => self
                    .store()
                    .list_by_term(
                        &key,
                        KIND_TASK,
                        "status",
                        TermMatch::Exact(s.as_str()),
                        after,
                        n,
                    )
                    .map_err(store_error),
                None => self
                    .store()
                    .list(&key, KIND_TASK, "", after, n)
                    .map_err(store_error),
            },
            |rec| decode::<RegistrationTask>(rec).map(|t| Some(t.id)),
        )
    }

    /// StopThingRegistrationTask: a running task stops after the step under way.
    pub async fn stop_registration_task(&self, part: &Partition, id: &str) -> Result<()> {
        let now = self.clock.now();
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_TASK,
            id,
            || missing(id),
            |t: &RegistrationTask| vec![Term::new("status", t.status.as_str())],
            |t: &mut RegistrationTask| {
                if t.status != TaskStatus::InProgress {
                    return Err(ServiceError::invalid(format!(
                        "The thing registration task {id} is {}",
                        t.status.as_str()
                    )));
                }
                t.status = TaskStatus::Cancelling;
                t.modified = now;
                Ok(())
            },
        )
        .await?;
        if let Ok((scheduler, _)) = self.bulk() {
            scheduler.wake();
        }
        Ok(())
    }

    /// ListThingRegistrationTaskReports: presigned links to the report parts written so far.
    pub fn registration_task_reports(
        &self,
        part: &Partition,
        id: &str,
        errors: bool,
    ) -> Result<Vec<String>> {
        let (_, objects) = self.bulk()?;
        let t = self.describe_registration_task(part, id)?;
        let bucket = BucketName::parse(&t.bucket)?;
        let keys = if errors { &t.errors } else { &t.results };
        keys.iter()
            .map(|k| objects.presign_get(part, &bucket, &ObjectKey::parse(k)?, LINK_SECS))
            .collect()
    }

    /// One step of a task: up to `STEP_LINES` lines.
    async fn step(self: &Arc<Self>, due: &Due) -> Result<()> {
        let (scheduler, objects) = self.bulk()?;
        let part = &due.part;
        let key = part.key();
        let Some(cur) = load::<RegistrationTask>(self.store(), &key, KIND_TASK, &due.name)? else {
            scheduler.commit(due, Batch::new(&key), None).await?;
            return Ok(());
        };
        let mut task = cur.value.clone();
        let now = self.clock.now();
        let finish = |task: &mut RegistrationTask, status: TaskStatus, message: Option<String>| {
            task.status = status;
            task.message = message;
            task.modified = now;
        };
        let mut next = Some((now, Value::Null));
        let mut done_lines: Vec<u64> = Vec::new();
        match task.status {
            TaskStatus::Cancelling => {
                finish(&mut task, TaskStatus::Cancelled, None);
                next = None;
            }
            TaskStatus::InProgress => match self.run_lines(part, objects, &mut task).await {
                Ok(lines) if lines.is_empty() && task.offset >= task.size => {
                    finish(&mut task, TaskStatus::Completed, None);
                    next = None;
                }
                Ok(lines) => done_lines = lines,
                Err(e) => {
                    finish(&mut task, TaskStatus::Failed, Some(e.message));
                    next = None;
                }
            },
            _ => next = None,
        }
        task.modified = now;
        let mut batch = Batch::new(&key).put(
            KIND_TASK,
            &task.id,
            SCHEMA,
            encode(&task)?,
            vec![Term::new("status", task.status.as_str())],
            Expect::Rev(cur.rev),
        );
        for l in &done_lines {
            batch = batch.delete(KIND_LINE, &line_key(&task.id, *l), Expect::Any);
        }
        if next.is_none() {
            batch = batch.delete(KIND_ACTIVE, "", Expect::Any);
        }
        if !scheduler.commit(due, batch, next).await? {
            return Err(contention());
        }
        Ok(())
    }

    /// Registers the next lines of `task` (advancing it) and writes their report parts;
    /// returns the lines done, none at the end of the file.
    async fn run_lines(
        self: &Arc<Self>,
        part: &Partition,
        objects: &Objects,
        task: &mut RegistrationTask,
    ) -> Result<Vec<u64>> {
        if task.offset >= task.size {
            return Ok(Vec::new());
        }
        let bucket = BucketName::parse(&task.bucket)?;
        let input = ObjectKey::parse(&task.key)?;
        let last = (task.offset + STEP_BYTES).min(task.size) - 1;
        let range = ByteRange {
            first: task.offset,
            last,
        };
        let read = objects
            .get(part, &bucket, &input, |info| {
                if info.size != task.size {
                    return Err(ServiceError::invalid(
                        "The input file changed while the task ran",
                    ));
                }
                Ok(Some(range))
            })
            .await;
        let (_, _, mut stream) = read.map_err(|e| match e.kind {
            ErrorKind::InvalidRequest => e,
            _ => ServiceError::invalid(format!(
                "The input file s3://{bucket}/{input} cannot be read"
            )),
        })?;
        let mut chunk = Vec::with_capacity(range.len() as usize);
        while let Some(part) = stream.next().await {
            chunk.extend_from_slice(&part.map_err(|e| ServiceError::internal(e.to_string()))?);
        }
        let at_end = last + 1 >= task.size;
        let (lines, used) = whole_lines(&chunk, at_end, STEP_LINES);
        if lines.is_empty() {
            return Err(ServiceError::invalid(format!(
                "Line {} of the input file is longer than {STEP_BYTES} bytes",
                task.line
            )));
        }
        let template = Template::parse(&task.template_body)?;
        let (mut results, mut errors) = (String::new(), String::new());
        let mut work = Vec::with_capacity(lines.len());
        for raw in lines {
            let n = task.line;
            task.line += 1;
            let text = String::from_utf8_lossy(raw).trim().to_string();
            if !text.is_empty() {
                work.push((n, text));
            }
        }
        let numbers: Vec<u64> = work.iter().map(|(n, _)| *n).collect();
        // Lines run side by side so that their commits share the store's fsyncs; the reports
        // keep the file's order.
        // Each line is a task of its own, so that the runtime's threads share the signing and
        // the store's reads.
        // They finish in any order (a slow line does not hold back the ones behind it) and are
        // put back in the file's order for the reports.
        let template = Arc::new(template);
        let mut done: Vec<(u64, Result<LineDone>)> = futures_util::stream::iter(work)
            .map(|(n, text)| {
                let (me, part, template, id) = (
                    self.clone(),
                    part.clone(),
                    template.clone(),
                    task.id.clone(),
                );
                async move {
                    let run =
                        tokio::spawn(
                            async move { me.run_line(&part, &template, &id, n, &text).await },
                        );
                    let outcome = run.await.unwrap_or_else(|e| {
                        Err(ServiceError::internal(format!("a line's task failed: {e}")))
                    });
                    (n, outcome)
                }
            })
            .buffer_unordered(LINES_AT_ONCE)
            .collect()
            .await;
        done.sort_by_key(|(n, _)| *n);
        for (_, d) in done {
            let d = d?;
            if d.ok {
                task.success += 1;
                results.push_str(&d.report);
                results.push('\n');
            } else {
                task.failure += 1;
                errors.push_str(&d.report);
                errors.push('\n');
            }
        }
        task.offset += used as u64;
        // Report parts are named by the first line they cover, so a repeated step rewrites
        // the same objects.
        let first = numbers.first().copied().unwrap_or(task.line);
        for (text, kind, list) in [
            (results, "results", &mut task.results),
            (errors, "errors", &mut task.errors),
        ] {
            if text.is_empty() {
                continue;
            }
            let name = format!("{REPORTS}/{}/{kind}-{first:012}.json", task.id);
            objects
                .put_bytes(
                    part,
                    &bucket,
                    &ObjectKey::parse(&name)?,
                    text.into_bytes(),
                    "application/json",
                )
                .await?;
            if !list.contains(&name) {
                list.push(name);
            }
        }
        Ok(numbers)
    }

    /// One line: done before (its record says how), or provisioned now with its record in
    /// the same commit; a failure is recorded on its own.
    async fn run_line(
        &self,
        part: &Partition,
        template: &Template,
        task: &str,
        n: u64,
        text: &str,
    ) -> Result<LineDone> {
        let key = part.key();
        let lk = line_key(task, n);
        if let Some(l) = load::<LineDone>(self.store(), &key, KIND_LINE, &lk)? {
            return Ok(l.value);
        }
        let attempt = match line_parameters(text) {
            Err(why) => Err(ServiceError::invalid(why)),
            Ok(params) => template.evaluate_in(part, &params, &BTreeMap::new()),
        };
        let report = |p: &super::Provisioned| {
            let mut response = json!({ "ResourceArns": p.resource_arns });
            if let Some(pem) = p.certificate_pem() {
                response["CertificatePem"] = pem.into();
            }
            LineDone {
                ok: true,
                report: json!({ "offset": n, "response": response }).to_string(),
            }
        };
        let outcome = match attempt {
            Err(e) => Err(e),
            // The line's record, with its report, commits with its resources.
            Ok(plan) => {
                self.provision_with(part, &plan, |p, b| {
                    Ok(b.put(
                        KIND_LINE,
                        &lk,
                        SCHEMA,
                        encode(&report(p))?,
                        vec![],
                        Expect::Absent,
                    ))
                })
                .await
            }
        };
        let failed = match outcome {
            Ok(p) => return Ok(report(&p)),
            Err(e) if e.kind == ErrorKind::Internal => return Err(e),
            Err(e) => LineDone {
                ok: false,
                report: json!({ "offset": n, "errorMessage": e.message }).to_string(),
            },
        };
        let (batch, done) = (
            Batch::new(&key).put(
                KIND_LINE,
                &lk,
                SCHEMA,
                encode(&failed)?,
                vec![],
                Expect::Any,
            ),
            failed,
        );
        self.store().commit(batch).await.map_err(store_error)?;
        Ok(done)
    }
}

/// The scheduler's handle on the provisioning service's tasks.
pub(super) struct Steps(pub Arc<Provisioning>);

impl TimerHandler for Steps {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.step(due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_whole() {
        let (l, used) = whole_lines(b"a\nbb\ncc", false, 10);
        assert_eq!(l, vec![&b"a"[..], b"bb"]);
        assert_eq!(used, 5);
        let (l, used) = whole_lines(b"a\nbb\ncc", true, 10);
        assert_eq!(l.len(), 3);
        assert_eq!(used, 7);
        let (l, used) = whole_lines(b"a\nbb\ncc\n", true, 2);
        assert_eq!(l.len(), 2);
        assert_eq!(used, 5);
        assert_eq!(whole_lines(b"no newline", false, 10).0.len(), 0);
    }

    #[test]
    fn parameters_are_strings() {
        let p = line_parameters(r#"{"ThingName": "a", "N": 3, "B": true}"#).unwrap();
        assert_eq!(p["N"], "3");
        assert_eq!(p["B"], "true");
        assert!(line_parameters(r#"{"A": {"x": 1}}"#).is_err());
        assert!(line_parameters("[1]").is_err());
        assert!(line_parameters("{").is_err());
    }
}
