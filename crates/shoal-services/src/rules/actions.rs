//! The actions: what a matching rule hands over (its templates already rendered against the
//! message), the bounded queue of each action with its counters, the worker that carries the
//! work out (republish through the broker or a service's reserved topic, HTTP to a confirmed
//! destination with AWS's retries, S3 into the object store, CloudWatch Logs into the log
//! store), and the error action, which gets AWS's error message when an action fails
//! (https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html).

use super::budget::{Budget, Reservation};
use super::engine::{Message, PartitionRules, MAX_HOPS};
use super::Ports;
use crate::messaging::{MessageProps, StoredMessage};
use base64::Engine;
use bytes::Bytes;
use shoal_domain::error::Result;
use shoal_domain::rules::{Action, Destination, MqttHeaders, PayloadFormat};
use shoal_domain::{Partition, ServiceError};
use shoal_iotsql::{Context, SqlVersion, Template};
use shoal_store::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Work waiting for one action at most; beyond it new work is dropped and counted, so an
/// action that cannot keep up (a slow HTTP endpoint) never holds message routing up.
pub const QUEUE: usize = 1024;
/// HTTP requests of one action in flight at once.
const HTTP_IN_FLIGHT: usize = 8;

/// An outbound HTTP POST of the HTTP action or a destination's confirmation.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Outbound HTTP, installed by the binary (which owns the client and the guard that keeps
/// requests away from private networks).
pub trait HttpPort: Send + Sync {
    /// Posts the request within `timeout`; the response status, or why there is none (refused
    /// by the guard, unreachable, timed out).
    fn post(
        &self,
        req: HttpRequest,
        timeout: std::time::Duration,
    ) -> BoxFuture<'_, std::result::Result<u16, String>>;
}

/// One action's counts, kept across recompilations of its rule.
#[derive(Debug, Default)]
pub struct ActionCounters {
    pub queued: AtomicU64,
    pub dropped: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
}

pub(super) struct Compiled {
    pub name: String,
    pub statement: shoal_iotsql::Statement,
    pub actions: Vec<CompiledAction>,
    pub error_action: Option<CompiledAction>,
}

/// An action's templates, parsed once.
enum Templates {
    Republish {
        topic: Template,
        headers: Vec<(Header, Template)>,
        user_properties: Vec<(Template, Template)>,
    },
    Http {
        url: Template,
        confirmation_url: Template,
        headers: Vec<(String, Template)>,
    },
    S3 {
        key: Template,
    },
    Logs {
        group: Template,
    },
}

#[derive(Clone, Copy)]
enum Header {
    ContentType,
    ResponseTopic,
    CorrelationData,
    MessageExpiry,
}

pub(super) struct CompiledAction {
    pub action: Action,
    templates: Templates,
    queue: Option<mpsc::Sender<Work>>,
    pub counters: Arc<ActionCounters>,
    budget: Arc<Budget>,
    /// A republish routes at once through these (no queue, no task between): the shard's
    /// own bounded queue is where it waits.
    direct: Option<(Partition, Arc<Ports>)>,
}

/// What an action is to do for one message.
#[derive(Debug, Clone)]
pub(super) enum Job {
    Republish {
        topic: String,
        qos: u8,
        payload: Bytes,
        props: MessageProps,
        hops: u8,
        /// Hops past which it is not sent: MAX_HOPS, one more for an error action's report
        /// (so a loop's failure is still reported, and a report cannot loop either).
        limit: u8,
    },
    Http {
        url: String,
        /// The destination it goes through (rendered when it is a template).
        confirmation_url: String,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
    S3 {
        bucket: String,
        key: String,
        body: Bytes,
    },
    Logs {
        group: String,
        batch: bool,
        timestamp: i64,
        body: Bytes,
    },
    /// A template could not be rendered: the action fails without running.
    Failed { resource: String, reason: String },
}

pub(super) struct Work {
    pub job: Job,
    pub destinations: Arc<Vec<Destination>>,
    pub failure: Option<Arc<ErrorShell>>,
    /// Its bytes of the partition's budget, taken by `offer`.
    held: Option<Reservation>,
}

impl Work {
    pub fn new(
        job: Job,
        destinations: Arc<Vec<Destination>>,
        failure: Option<Arc<ErrorShell>>,
    ) -> Work {
        Work {
            job,
            destinations,
            failure,
            held: None,
        }
    }

    /// Roughly what it holds: the payload and what was rendered for it.
    fn size(&self) -> usize {
        256 + match &self.job {
            Job::Republish { topic, payload, .. } => topic.len() + payload.len(),
            Job::Http {
                url, headers, body, ..
            } => {
                url.len()
                    + body.len()
                    + headers
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>()
            }
            Job::S3 { key, body, .. } => key.len() + body.len(),
            Job::Logs { group, body, .. } => group.len() + body.len(),
            Job::Failed { resource, reason } => resource.len() + reason.len(),
        }
    }
}

/// The error action of a rule, rendered for one message: each of the message's actions that
/// fails adds its failure, and when the last of them is done (every `Work` holding it carried
/// out or dropped) one error message goes with them all, as AWS sends "a single message ...
/// per rule and message" (rule-error-handling.html).
pub(super) struct ErrorShell {
    job: Job,
    queue: Option<mpsc::Sender<Work>>,
    counters: Arc<ActionCounters>,
    rule: String,
    topic: String,
    client_id: String,
    original: Bytes,
    failures: std::sync::Mutex<Vec<serde_json::Value>>,
    /// For an HTTP error action.
    destinations: Arc<Vec<Destination>>,
    budget: Arc<Budget>,
    /// The copy of the message it keeps, counted in the partition's budget.
    _held: Reservation,
}

fn template(text: &str, version: SqlVersion) -> Result<Template> {
    Template::parse(text, version).map_err(|e| ServiceError::invalid(e.reason))
}

impl CompiledAction {
    pub fn new(
        action: Action,
        version: SqlVersion,
        counters: Arc<ActionCounters>,
        p: &Arc<PartitionRules>,
        ports: Option<Arc<Ports>>,
    ) -> Result<CompiledAction> {
        let templates = match &action {
            Action::Republish(r) => {
                let mut headers = Vec::new();
                let mut user_properties = Vec::new();
                if let Some(h) = &r.headers {
                    for (which, t) in [
                        (Header::ContentType, &h.content_type),
                        (Header::ResponseTopic, &h.response_topic),
                        (Header::CorrelationData, &h.correlation_data),
                        (Header::MessageExpiry, &h.message_expiry),
                    ] {
                        if let Some(t) = t {
                            headers.push((which, template(t, version)?));
                        }
                    }
                    for (k, v) in &h.user_properties {
                        user_properties.push((template(k, version)?, template(v, version)?));
                    }
                }
                Templates::Republish {
                    topic: template(&r.topic, version)?,
                    headers,
                    user_properties,
                }
            }
            Action::Http(h) => Templates::Http {
                url: template(&h.url, version)?,
                confirmation_url: template(&h.confirmation_url, version)?,
                headers: h
                    .headers
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), template(v, version)?)))
                    .collect::<Result<_>>()?,
            },
            Action::S3(s) => Templates::S3 {
                key: template(&s.key, version)?,
            },
            Action::CloudwatchLogs(l) => Templates::Logs {
                group: template(&l.log_group_name, version)?,
            },
        };
        let direct = match (&action, &ports) {
            (Action::Republish(_), Some(ports)) => Some((p.part.clone(), ports.clone())),
            _ => None,
        };
        let queue = match (ports, tokio::runtime::Handle::try_current()) {
            (Some(ports), Ok(rt)) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                let w = super::worker::Worker {
                    part: p.part.clone(),
                    ports,
                    counters: counters.clone(),
                    kind: action.kind(),
                    http: p.budget.http.clone(),
                };
                let in_flight = if matches!(action, Action::Http(_)) {
                    HTTP_IN_FLIGHT
                } else {
                    1
                };
                rt.spawn(w.run(rx, in_flight));
                Some(tx)
            }
            _ => None,
        };
        Ok(CompiledAction {
            action,
            templates,
            queue,
            counters,
            budget: p.budget.clone(),
            direct,
        })
    }

    /// Renders the action's templates against the message.
    pub fn prepare(&self, ctx: &Context, payload: &Bytes, m: &Message) -> Job {
        let failed = |what: &str, e: shoal_iotsql::EvalError| Job::Failed {
            resource: what.to_string(),
            reason: format!("A substitution template could not be evaluated: {e}"),
        };
        match (&self.action, &self.templates) {
            (
                Action::Republish(r),
                Templates::Republish {
                    topic,
                    headers,
                    user_properties,
                },
            ) => {
                let topic = match topic.render(ctx) {
                    Ok(t) => t,
                    Err(e) => return failed(&r.topic, e),
                };
                let mut props = MessageProps::default();
                if let Some(h) = &r.headers {
                    if let Err(reason) =
                        fill_headers(&mut props, h, headers, user_properties, ctx, m)
                    {
                        return Job::Failed {
                            resource: topic,
                            reason,
                        };
                    }
                }
                Job::Republish {
                    topic,
                    qos: r.qos,
                    payload: payload.clone(),
                    props,
                    hops: m.hops,
                    limit: MAX_HOPS,
                }
            }
            (
                Action::Http(h),
                Templates::Http {
                    url,
                    confirmation_url,
                    headers,
                },
            ) => {
                let url = match url.render(ctx) {
                    Ok(u) => u,
                    Err(e) => return failed(&h.url, e),
                };
                let confirmation_url = match confirmation_url.render(ctx) {
                    Ok(u) => u,
                    Err(e) => return failed(&h.confirmation_url, e),
                };
                let mut rendered = Vec::with_capacity(headers.len());
                for (k, t) in headers {
                    match t.render(ctx) {
                        Ok(v) => rendered.push((k.clone(), v)),
                        Err(e) => return failed(&url, e),
                    }
                }
                Job::Http {
                    url,
                    confirmation_url,
                    headers: rendered,
                    body: payload.clone(),
                }
            }
            (Action::S3(s), Templates::S3 { key }) => match key.render(ctx) {
                Ok(key) => Job::S3 {
                    bucket: s.bucket_name.clone(),
                    key,
                    body: payload.clone(),
                },
                Err(e) => failed(&s.bucket_name, e),
            },
            (Action::CloudwatchLogs(l), Templates::Logs { group }) => match group.render(ctx) {
                Ok(group) => Job::Logs {
                    group,
                    batch: l.batch_mode,
                    timestamp: m.timestamp_ms,
                    body: payload.clone(),
                },
                Err(e) => failed(&l.log_group_name, e),
            },
            _ => Job::Failed {
                resource: String::new(),
                reason: "internal: action and templates differ".into(),
            },
        }
    }

    /// Hands work to the action's queue; full, past the partition's budget (or no worker):
    /// dropped and counted.
    pub fn offer(&self, work: Work) {
        if let Some((part, ports)) = &self.direct {
            match republish_at_once(part, ports, &work.job) {
                // Handed over and done at once: queued and succeeded alike.
                Some(true) => {
                    self.counters.queued.fetch_add(1, Ordering::Relaxed);
                    self.counters.succeeded.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                // A full shard queue drops it, as a full action queue would.
                Some(false) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    if let (Some(f), Job::Republish { topic, .. }) = (&work.failure, &work.job) {
                        f.record(
                            "republish",
                            topic,
                            "The broker's queue for the account is full",
                        );
                    }
                    return;
                }
                None => {}
            }
        }
        offer(&self.queue, &self.counters, &self.budget, work);
    }
}

/// The `Action` member a job belongs to (none for a template that failed).
fn job_kind(job: &Job) -> Option<&'static str> {
    Some(match job {
        Job::Republish { .. } => "republish",
        Job::Http { .. } => "http",
        Job::S3 { .. } => "s3",
        Job::Logs { .. } => "cloudwatchLogs",
        Job::Failed { .. } => return None,
    })
}

/// A republish onto an ordinary topic, within the hop limit, handed to this node's broker
/// now: whether it was taken; `None` when it goes the worker's way (a reserved topic, a bad
/// topic, the loop limit: the worker fails it and the error action hears; or no broker here).
fn republish_at_once(part: &Partition, ports: &Ports, job: &Job) -> Option<bool> {
    let Job::Republish {
        topic,
        qos,
        payload,
        props,
        hops,
        limit,
    } = job
    else {
        return None;
    };
    let reserved = ports.reserved.upgrade()?;
    // Only an original message republishes inline: what a republished message republishes
    // goes through the action's queue and worker, so rules that republish onto their own
    // filters (several actions each) cannot multiply work inside one publisher's task.
    if *hops > 0
        || hops >= limit
        || reserved.owns(topic)
        || !shoal_mqtt::topic::valid_topic_name(topic)
    {
        return None;
    }
    let message = StoredMessage {
        topic: topic.clone(),
        qos: *qos,
        payload: payload.to_vec(),
        props: props.clone(),
        published_at: 0,
    };
    ports.messaging.route(part, message, hops + 1)
}

fn offer(
    queue: &Option<mpsc::Sender<Work>>,
    counters: &ActionCounters,
    budget: &Arc<Budget>,
    mut work: Work,
) {
    work.held = budget.reserve(work.size());
    let failure = work.failure.clone();
    let kind = job_kind(&work.job);
    let sent = work.held.is_some() && queue.as_ref().is_some_and(|q| q.try_send(work).is_ok());
    if !sent {
        // Dropped work is a failure the message's error action hears of.
        if let (Some(f), Some(kind)) = (failure, kind) {
            f.record(
                kind,
                "",
                "The action's queue is full (or the account's budget is spent)",
            );
        }
    }
    let c = if sent {
        &counters.queued
    } else {
        &counters.dropped
    };
    c.fetch_add(1, Ordering::Relaxed);
}

fn fill_headers(
    props: &mut MessageProps,
    h: &MqttHeaders,
    headers: &[(Header, Template)],
    user_properties: &[(Template, Template)],
    ctx: &Context,
    m: &Message,
) -> std::result::Result<(), String> {
    let bad = |e: shoal_iotsql::EvalError| format!("A header template could not be evaluated: {e}");
    props.payload_format = h.payload_format_indicator.map(|f| match f {
        PayloadFormat::Bytes => 0,
        PayloadFormat::Utf8 => 1,
    });
    for (which, t) in headers {
        let v = t.render(ctx).map_err(bad)?;
        match which {
            Header::ContentType => props.content_type = Some(v),
            Header::ResponseTopic => props.response_topic = Some(v),
            Header::CorrelationData => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.as_bytes())
                    .map_err(|_| "correlationData is not base64".to_string())?;
                props.correlation_data = Some(bytes);
            }
            Header::MessageExpiry => {
                let secs: u32 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("messageExpiry {v:?} is not a number of seconds"))?;
                props.expires_at = Some(m.timestamp_ms + i64::from(secs) * 1000);
            }
        }
    }
    for (k, v) in user_properties {
        props
            .user_properties
            .push((k.render(ctx).map_err(bad)?, v.render(ctx).map_err(bad)?));
    }
    Ok(())
}

/// Renders a rule's error action for a message; its payload is made when an action fails.
pub(super) fn prepare_error(
    e: &CompiledAction,
    r: &Compiled,
    ctx: &Context,
    m: &Message,
    destinations: Arc<Vec<Destination>>,
) -> Option<Arc<ErrorShell>> {
    // Past the partition's budget the message's failures go unreported (and are counted).
    let held = e.budget.reserve(256 + m.payload.len())?;
    let mut job = e.prepare(ctx, &Bytes::new(), m);
    if let Job::Republish { limit, .. } = &mut job {
        *limit = MAX_HOPS + 1;
    }
    Some(Arc::new(ErrorShell {
        job,
        queue: e.queue.clone(),
        counters: e.counters.clone(),
        rule: r.name.clone(),
        topic: m.topic.to_string(),
        client_id: m.client_id.unwrap_or("n/a").to_string(),
        original: Bytes::copy_from_slice(m.payload),
        failures: std::sync::Mutex::default(),
        destinations,
        budget: e.budget.clone(),
        _held: held,
    }))
}

impl ErrorShell {
    /// Adds a failure: `failedAction` is the action's shape name (`RepublishAction`,
    /// `HttpAction`, `S3Action`, `CloudwatchLogsAction`).
    pub(super) fn record(&self, kind: &str, resource: &str, reason: &str) {
        let failed_action = match kind {
            "republish" => "RepublishAction",
            "http" => "HttpAction",
            "s3" => "S3Action",
            _ => "CloudwatchLogsAction",
        };
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(serde_json::json!({
                "failedAction": failed_action,
                "failedResource": resource,
                "errorMessage": reason,
            }));
    }
}

impl Drop for ErrorShell {
    fn drop(&mut self) {
        let failures = std::mem::take(self.failures.get_mut().unwrap_or_else(|p| p.into_inner()));
        if failures.is_empty() {
            return;
        }
        let message = serde_json::json!({
            "ruleName": self.rule,
            "topic": self.topic,
            "cloudwatchTraceId": uuid::Uuid::new_v4().to_string(),
            "clientId": self.client_id,
            "base64OriginalPayload": base64::engine::general_purpose::STANDARD.encode(&self.original),
            "failures": failures,
        });
        let payload = Bytes::from(message.to_string());
        let job = match std::mem::replace(
            &mut self.job,
            Job::Failed {
                resource: String::new(),
                reason: String::new(),
            },
        ) {
            Job::Republish {
                topic,
                qos,
                props,
                hops,
                limit,
                ..
            } => Job::Republish {
                topic,
                qos,
                payload,
                props,
                hops,
                limit,
            },
            Job::Http {
                url,
                confirmation_url,
                headers,
                ..
            } => Job::Http {
                url,
                confirmation_url,
                headers,
                body: payload,
            },
            Job::S3 { bucket, key, .. } => Job::S3 {
                bucket,
                key,
                body: payload,
            },
            Job::Logs {
                group, timestamp, ..
            } => Job::Logs {
                group,
                batch: false,
                timestamp,
                body: payload,
            },
            f @ Job::Failed { .. } => f,
        };
        // The error action's own failure is counted, never reported again.
        let work = Work::new(job, self.destinations.clone(), None);
        offer(&self.queue, &self.counters, &self.budget, work);
    }
}
