//! The worker of one action: it carries out the work queued for the action in order (HTTP: a
//! few requests at once, within the partition's share), and reports failures to the message's
//! error action. Republish here is what could not be handed to the broker at once: onto a
//! service's request topic (through the reserved-topic port) or the failures (a loop, a bad or
//! reserved topic).

use super::actions::{ActionCounters, HttpRequest, Job, Work};
use super::engine::MAX_HOPS;
use super::Ports;
use crate::messaging::StoredMessage;
use bytes::Bytes;
use shoal_domain::rules::Destination;
use shoal_domain::Partition;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// "The HTTPS rule action ... retries up to a maximum of three times" on 429 and 5xx
/// (https://docs.aws.amazon.com/iot/latest/developerguide/https-rule-action.html).
const HTTP_TRIES: usize = 3;
/// How long one HTTP action may take in all, tries included (AWS's quota: 3,000 ms).
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(3000);

/// Carries out one action's work, in order (HTTP: a few requests at once).
pub(super) struct Worker {
    pub part: Partition,
    pub ports: Arc<Ports>,
    pub counters: Arc<ActionCounters>,
    pub kind: &'static str,
    /// The partition's outbound HTTP permits.
    pub http: Arc<tokio::sync::Semaphore>,
}

impl Worker {
    pub(super) async fn run(self, mut rx: mpsc::Receiver<Work>, in_flight: usize) {
        let me = Arc::new(self);
        let permits = Arc::new(tokio::sync::Semaphore::new(in_flight));
        while let Some(work) = rx.recv().await {
            if in_flight == 1 {
                me.carry_out(work).await;
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let me = me.clone();
            tokio::spawn(async move {
                me.carry_out(work).await;
                drop(permit);
            });
        }
    }

    async fn carry_out(&self, work: Work) {
        let destinations = work.destinations.clone();
        match self.execute(work.job, &destinations).await {
            Ok(()) => {
                self.counters.succeeded.fetch_add(1, Ordering::Relaxed);
            }
            Err((resource, reason)) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(action = self.kind, %resource, %reason, "rule action failed");
                if let Some(f) = &work.failure {
                    f.record(self.kind, &resource, &reason);
                }
            }
        }
    }

    async fn execute(
        &self,
        job: Job,
        destinations: &[Destination],
    ) -> std::result::Result<(), (String, String)> {
        let p = &self.ports;
        match job {
            Job::Failed { resource, reason } => Err((resource, reason)),
            Job::Republish {
                topic,
                qos,
                payload,
                props,
                hops,
                limit,
            } => {
                if hops >= limit {
                    return Err((
                        topic,
                        format!("Republished {MAX_HOPS} times in a row: a rule loop was stopped"),
                    ));
                }
                if !shoal_mqtt::topic::valid_topic_name(&topic) {
                    return Err((
                        topic,
                        "The republish topic is not a valid topic name".into(),
                    ));
                }
                let Some(reserved) = p.reserved.upgrade() else {
                    return Err((topic, "The server is shutting down".into()));
                };
                if reserved.is_request(&topic) {
                    // A service's request (`$$aws/things/T/shadow/update`): carried out by the
                    // service, as an iot-data Publish would be.
                    let requester = crate::reserved::Requester::Rule { hops: hops + 1 };
                    return match reserved
                        .handle(&self.part, &topic, &payload, requester)
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) => Err((topic, e.message)),
                    };
                }
                if reserved.owns(&topic) {
                    return Err((topic, "The topic is reserved".into()));
                }
                let message = StoredMessage {
                    topic: topic.clone(),
                    qos,
                    payload: payload.to_vec(),
                    props,
                    published_at: 0,
                };
                // Routed (and evaluated by the rules again) in this worker's task, so a tenant's
                // republishing rules run at the pace of their own workers, never in a task
                // other tenants share.
                match p.messaging.route(&self.part, message.clone(), hops + 1) {
                    Some(true) => Ok(()),
                    Some(false) => {
                        Err((topic, "The broker's queue for the account is full".into()))
                    }
                    None => p
                        .messaging
                        .forward(self.part.clone(), message, hops + 1)
                        .await
                        .map_err(|e| (topic, e.message)),
                }
            }
            Job::Http {
                url,
                confirmation_url,
                headers,
                body,
            } => {
                let Some(d) = destinations
                    .iter()
                    .find(|d| d.confirmation_url == confirmation_url)
                else {
                    return Err((
                        url,
                        format!("No topic rule destination for {confirmation_url}"),
                    ));
                };
                if !d.admits(&url) {
                    return Err((
                        url,
                        format!(
                            "The topic rule destination {} is {}",
                            d.arn,
                            d.status.as_str()
                        ),
                    ));
                }
                self.post(url, headers, body).await
            }
            Job::S3 { bucket, key, body } => {
                let b = shoal_domain::objects::BucketName::parse(&bucket)
                    .map_err(|e| (bucket.clone(), e.message))?;
                let k = shoal_domain::objects::ObjectKey::parse(&key)
                    .map_err(|e| (bucket.clone(), e.message))?;
                p.objects
                    .put_bytes(
                        &self.part,
                        &b,
                        &k,
                        body.to_vec(),
                        "application/octet-stream",
                    )
                    .await
                    .map_err(|e| (bucket, e.message))
            }
            Job::Logs {
                group,
                batch,
                timestamp,
                body,
            } => {
                if !valid_log_group(&group) {
                    return Err((group, "The log group name is not valid".into()));
                }
                let events = if batch {
                    batch_events(&body).map_err(|r| (group.clone(), r))?
                } else {
                    vec![(timestamp, String::from_utf8_lossy(&body).into_owned())]
                };
                for (ts, message) in events {
                    if !p.logs.put_event(&self.part, &group, ts, message) {
                        return Err((group, "The log writer's queue is full".into()));
                    }
                }
                Ok(())
            }
        }
    }

    /// POST with AWS's retries: up to three tries, again only after 429 or 5xx (or no
    /// answer), all within `HTTP_TIMEOUT`.
    async fn post(
        &self,
        url: String,
        mut headers: Vec<(String, String)>,
        body: Bytes,
    ) -> std::result::Result<(), (String, String)> {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
            let ct = if json {
                "application/json"
            } else {
                "application/octet-stream"
            };
            headers.push(("content-type".into(), ct.into()));
        }
        // One of the partition's permits for all the tries (waiting for it is not AWS's 3 s).
        let Ok(_permit) = self.http.acquire().await else {
            return Err((url, "The server is shutting down".into()));
        };
        let deadline = tokio::time::Instant::now() + HTTP_TIMEOUT;
        let mut last = String::new();
        for _ in 0..HTTP_TRIES {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let req = HttpRequest {
                url: url.clone(),
                headers: headers.clone(),
                body: body.clone(),
            };
            match self.ports.http.post(req, left).await {
                Ok(s) if (200..300).contains(&s) => return Ok(()),
                Ok(s) if s == 429 || s >= 500 => last = format!("The endpoint answered {s}"),
                Ok(s) => return Err((url, format!("The endpoint answered {s}"))),
                Err(e) => last = e,
            }
        }
        Err((url, last))
    }
}

/// CloudWatch Logs' LogGroupName: 1 to 512 of `[\.\-_/#A-Za-z0-9]`.
fn valid_log_group(g: &str) -> bool {
    !g.is_empty()
        && g.len() <= 512
        && g.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'))
}

/// `batchMode`: the output must be a JSON array of `{"timestamp": ms, "message": "..."}`.
fn batch_events(body: &[u8]) -> std::result::Result<Vec<(i64, String)>, String> {
    let bad = || {
        "In batch mode the payload must be a JSON array of {\"timestamp\", \"message\"} objects"
            .to_string()
    };
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let list = v.as_array().ok_or_else(bad)?;
    list.iter()
        .map(|e| {
            let ts = e.get("timestamp").and_then(serde_json::Value::as_i64);
            let msg = e.get("message").and_then(serde_json::Value::as_str);
            match (ts, msg) {
                (Some(t), Some(m)) => Ok((t, m.to_string())),
                _ => Err(bad()),
            }
        })
        .collect()
}
