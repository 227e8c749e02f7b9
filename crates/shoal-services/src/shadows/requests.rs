//! Device Shadow requests by topic: a publish on
//! `$aws/things/{thing}/shadow[/name/{shadow}]/get|update|delete`, over MQTT or through
//! iot-data Publish, is answered on the request topic's `/accepted`, `/rejected`, `/delta` and
//! `/documents` topics, which the reserved-topic port publishes (the shadow service is one of
//! its `TopicService`s)
//! (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html). This is
//! also the one mapping of service errors to the shadow `rejected` document.

use super::{ShadowId, Shadows};
use crate::reserved::{Answer, TopicService};
use serde_json::Value;
use shoal_domain::shadow::{self, ShadowName, UpdateRequest};
use shoal_domain::{ErrorKind, Partition, ServiceError, ThingName};
use shoal_store::BoxFuture;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Update,
    Delete,
}

/// Whether a topic is under a thing's shadow prefix: requests are handled, and publishing to
/// the rest (the answer topics) is refused as AWS refuses it.
pub fn is_shadow_topic(topic: &str) -> bool {
    topic
        .strip_prefix("$aws/things/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, rest)| rest == "shadow" || rest.starts_with("shadow/"))
}

/// Parses a request topic into the shadow it names and what it asks.
pub fn request(topic: &str) -> Option<(ShadowId, Op)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("shadow/")?;
    let (name, op) = match rest.strip_prefix("name/") {
        Some(named) => {
            let (name, op) = named.split_once('/')?;
            (Some(ShadowName::parse(name).ok()?), op)
        }
        None => (None, rest),
    };
    let op = match op {
        "get" => Op::Get,
        "update" => Op::Update,
        "delete" => Op::Delete,
        _ => return None,
    };
    let thing = ThingName::parse(thing).ok()?;
    Some((ShadowId { thing, name }, op))
}

/// An answer: the suffix added to the request topic, and the JSON document.
pub struct Reply {
    pub suffix: &'static str,
    pub payload: Vec<u8>,
}

fn reply(suffix: &'static str, doc: &Value) -> Reply {
    Reply {
        suffix,
        payload: serde_json::to_vec(doc).unwrap_or_default(),
    }
}

/// The shadow error codes: HTTP statuses in a JSON document
/// (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html).
fn rejected(e: &ServiceError, token: Option<&str>, now: i64) -> Reply {
    let (code, message) = match e.kind {
        ErrorKind::InvalidRequest => (400, e.message.as_str()),
        ErrorKind::Unauthorized => (401, "Unauthorized"),
        ErrorKind::NotFound => (404, e.message.as_str()),
        ErrorKind::VersionConflict | ErrorKind::Conflict => (409, "Version conflict"),
        ErrorKind::PayloadTooLarge => (413, e.message.as_str()),
        ErrorKind::UnsupportedEncoding => (415, e.message.as_str()),
        ErrorKind::Throttled | ErrorKind::LimitExceeded => (429, e.message.as_str()),
        _ => (500, "Internal service failure"),
    };
    reply(
        "rejected",
        &shadow::error_document(code, message, token, now),
    )
}

impl Shadows {
    /// Carries out one request and gives its answers, a refusal included.
    pub async fn handle_request(
        &self,
        part: &Partition,
        id: &ShadowId,
        op: Op,
        payload: &[u8],
    ) -> Vec<Reply> {
        let result = match op {
            Op::Get => shadow::parse_token_only(payload)
                .and_then(|t| self.get(part, id, t.as_deref()))
                .map(|doc| vec![reply("accepted", &doc)]),
            Op::Delete => match shadow::parse_token_only(payload) {
                Ok(t) => self
                    .delete(part, id, t.as_deref())
                    .await
                    .map(|doc| vec![reply("accepted", &doc)]),
                Err(e) => Err(e),
            },
            Op::Update => match UpdateRequest::parse(payload) {
                Ok(req) => self.update(part, id, &req).await.map(|a| {
                    a.answers()
                        .into_iter()
                        .map(|(suffix, doc)| Reply {
                            suffix,
                            payload: doc.to_vec(),
                        })
                        .collect()
                }),
                Err(e) => Err(e),
            },
        };
        // The token is read again only for a refusal: a malformed request may still carry one.
        result.unwrap_or_else(|e| {
            let token = shadow::client_token(payload);
            vec![rejected(&e, token.as_deref(), self.now())]
        })
    }
}

impl TopicService for Shadows {
    fn owns(&self, topic: &str) -> bool {
        is_shadow_topic(topic)
    }

    fn is_request(&self, topic: &str) -> bool {
        request(topic).is_some()
    }

    fn request<'a>(
        &'a self,
        part: &'a Partition,
        topic: &'a str,
        payload: &'a [u8],
        _requester: &'a crate::reserved::Requester,
    ) -> Option<BoxFuture<'a, Vec<Answer>>> {
        let (id, op) = request(topic)?;
        Some(Box::pin(async move {
            self.handle_request(part, &id, op, payload)
                .await
                .into_iter()
                .map(|r| Answer {
                    topic: format!("{topic}/{}", r.suffix),
                    payload: r.payload,
                })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_topics() {
        let (id, op) = request("$aws/things/dev-1/shadow/update").unwrap();
        assert_eq!(
            (id.thing.as_str(), id.name, op),
            ("dev-1", None, Op::Update)
        );
        let (id, op) = request("$aws/things/dev-1/shadow/name/cfg/get").unwrap();
        assert_eq!(id.name.unwrap().as_str(), "cfg");
        assert_eq!(op, Op::Get);
        assert!(request("$aws/things/dev-1/shadow/name/cfg/delete").is_some());
        for t in [
            "$aws/things/dev-1/shadow/update/accepted",
            "$aws/things/dev-1/shadow/name/update",
            "$aws/things/dev-1/shadow/name/a/b/get",
            "$aws/things/bad name/shadow/get",
            "$aws/things/dev-1/jobs/get",
            "a/b",
        ] {
            assert!(request(t).is_none(), "{t}");
        }
        assert!(is_shadow_topic("$aws/things/d/shadow/update/accepted"));
        assert!(is_shadow_topic("$aws/things/d/shadow/name/x/update/delta"));
        assert!(!is_shadow_topic("$aws/things/d/jobs/get"));
    }
}
