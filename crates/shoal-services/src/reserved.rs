//! The one port for device requests on reserved topics (`$aws/things/{thing}/shadow/...` now;
//! jobs, fleet provisioning and tunnel notifications plug in here). Every gateway that takes a
//! device's publish — the MQTT broker, iot-data Publish over SigV4 or a client certificate —
//! asks this port whether the topic is a service's, hands it the request after its own policy
//! check (`iot:Publish` on the topic), and the port publishes the answers through the messaging
//! service, so each gateway routes them the same way and no gateway knows a service's topics
//! (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html).

use crate::messaging::{MessageProps, StoredMessage};
use crate::Messaging;
use shoal_domain::error::Result;
use shoal_domain::{Clock, Partition};
use shoal_store::BoxFuture;
use std::sync::Arc;

/// A message a service publishes in answer (or as a notification): always QoS 1, never
/// retained, as AWS sends its reserved-topic answers.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// A service that answers device requests on reserved topics.
pub trait TopicService: Send + Sync + 'static {
    /// Whether `topic` is under this service's reserved prefix (its requests and its answer
    /// topics alike): a publish there is this service's to take or refuse, never routed.
    fn owns(&self, topic: &str) -> bool;

    /// Whether `topic` names a request this service carries out (`request` gives work for it).
    fn is_request(&self, topic: &str) -> bool;

    /// Carries out the request `topic` names, giving the answers to publish (a refusal is an
    /// answer too: the `rejected` document). `None` when the topic is not a request (an answer
    /// topic, a malformed name): the gateway refuses the publish as AWS does.
    fn request<'a>(
        &'a self,
        part: &'a Partition,
        topic: &'a str,
        payload: &'a [u8],
        requester: &'a Requester,
    ) -> Option<BoxFuture<'a, Vec<Answer>>>;

    /// Whether the answers to a request go to the client that made it alone, subscribed or
    /// not (AWS IoT Jobs: "These response messages don't pass through the message broker and
    /// can't be subscribed to by other clients or rules"), rather than to every subscriber of
    /// the answer topic (Device Shadow).
    fn answers_requester_only(&self) -> bool {
        false
    }
}

/// Who made a request: a client that can take answers on its own connection (MQTT), or one
/// that cannot (iot-data Publish over HTTP), whose answers go to the subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    Connection {
        client_id: String,
        /// The certificate it connected with (none for other principals).
        certificate_id: Option<String>,
    },
    Http,
    /// A rule's republish onto a service's topic, `hops` republishes deep: its answers carry
    /// the count on, so a rule that republishes what the service answers cannot loop for ever.
    Rule {
        hops: u8,
    },
}

impl Requester {
    /// The request as a message the rules engine evaluates (`clientid()`, and `principal()`
    /// the certificate id); a `timestamp_ms` of 0 is stamped by the engine.
    pub fn message<'a>(
        &'a self,
        topic: &'a str,
        payload: &'a [u8],
        timestamp_ms: i64,
    ) -> crate::rules::Message<'a> {
        let (client_id, principal) = match self {
            Requester::Connection {
                client_id,
                certificate_id,
            } => (Some(client_id.as_str()), certificate_id.as_deref()),
            Requester::Http | Requester::Rule { .. } => (None, None),
        };
        crate::rules::Message {
            topic,
            payload,
            client_id,
            principal,
            timestamp_ms,
            hops: self.hops(),
        }
    }

    /// Republishes that led to the request (0 unless a rule made it).
    pub fn hops(&self) -> u8 {
        match self {
            Requester::Rule { hops } => *hops,
            _ => 0,
        }
    }
}

/// What the port made of a publish on a reserved topic.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// Carried out; its answers are published. `rejection`: the reason and text of a
    /// `rejected` answer, for the device's log record.
    Answered { rejection: Option<(String, String)> },
    /// Carried out; its answers are for the requester's connection alone, to be written there
    /// by the gateway.
    ToRequester(Vec<Answer>),
    /// No service takes it: refused.
    NotARequest,
}

pub struct ReservedTopics {
    messaging: Arc<Messaging>,
    clock: Arc<dyn Clock>,
    services: Vec<Arc<dyn TopicService>>,
    /// Requests are messages too: the rules engine sees them (`SELECT * FROM
    /// '$aws/things/+/shadow/update'`), their answers reach it through the broker.
    rules: std::sync::OnceLock<Arc<crate::Rules>>,
}

impl ReservedTopics {
    pub fn new(
        messaging: Arc<Messaging>,
        clock: Arc<dyn Clock>,
        services: Vec<Arc<dyn TopicService>>,
    ) -> ReservedTopics {
        ReservedTopics {
            messaging,
            clock,
            services,
            rules: std::sync::OnceLock::new(),
        }
    }

    pub fn set_rules(&self, rules: Arc<crate::Rules>) {
        let _ = self.rules.set(rules);
    }

    /// Whether a service owns `topic`.
    pub fn owns(&self, topic: &str) -> bool {
        self.services.iter().any(|s| s.owns(topic))
    }

    /// Whether `topic` is a request some service carries out; a gateway refuses a publish on a
    /// reserved topic that is not one before anything else.
    pub fn is_request(&self, topic: &str) -> bool {
        self.services
            .iter()
            .any(|s| s.owns(topic) && s.is_request(topic))
    }

    /// Carries out a device's request (its gateway has checked `iot:Publish` on the topic) and
    /// returns once its answers are published, so the gateway acknowledges the request after
    /// them.
    pub async fn handle(
        &self,
        part: &Partition,
        topic: &str,
        payload: &[u8],
        requester: Requester,
    ) -> Result<Handled> {
        let Some(service) = self.services.iter().find(|s| s.owns(topic)) else {
            return Ok(Handled::NotARequest);
        };
        let Some(work) = service.request(part, topic, payload, &requester) else {
            return Ok(Handled::NotARequest);
        };
        if let Some(rules) = self.rules.get() {
            rules
                .partition(part)
                .evaluate(&requester.message(topic, payload, 0));
        }
        let answers = work.await;
        if matches!(requester, Requester::Connection { .. }) && service.answers_requester_only() {
            return Ok(Handled::ToRequester(answers));
        }
        let rejection = rejection(&answers);
        publish_at(
            &self.messaging,
            self.clock.as_ref(),
            part,
            answers,
            requester.hops(),
        )
        .await?;
        Ok(Handled::Answered { rejection })
    }

    /// Publishes answers or notifications of a service (a REST shadow update, a job's
    /// `notify-next`) to the devices subscribed to them, in order.
    pub async fn publish(&self, part: &Partition, answers: Vec<Answer>) -> Result<()> {
        publish(&self.messaging, self.clock.as_ref(), part, answers).await
    }
}

/// The reason and text of the first `rejected` answer (a shadow's `code`/`message`, a job's,
/// or fleet provisioning's `errorCode`/`errorMessage`).
pub fn rejection(answers: &[Answer]) -> Option<(String, String)> {
    let a = answers.iter().find(|a| a.topic.contains("/rejected"))?;
    let doc: serde_json::Value = serde_json::from_slice(&a.payload).unwrap_or_default();
    let text = |k: &str| match &doc[k] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let reason = text("code")
        .or_else(|| text("errorCode"))
        .unwrap_or_else(|| "Rejected".into());
    let details = text("message")
        .or_else(|| text("errorMessage"))
        .unwrap_or_default();
    Some((reason, details))
}

/// Publishes a service's answers or notifications, in order, at QoS 1 and not retained (the
/// one way services reach devices, for the port and for services that notify on their own).
pub(crate) async fn publish(
    messaging: &Messaging,
    clock: &dyn Clock,
    part: &Partition,
    answers: Vec<Answer>,
) -> Result<()> {
    publish_at(messaging, clock, part, answers, 0).await
}

/// `publish` of the answers to a request `hops` republishes deep.
async fn publish_at(
    messaging: &Messaging,
    clock: &dyn Clock,
    part: &Partition,
    answers: Vec<Answer>,
    hops: u8,
) -> Result<()> {
    for a in answers {
        let message = StoredMessage {
            topic: a.topic,
            qos: 1,
            payload: a.payload,
            props: MessageProps::default(),
            published_at: clock.now().millis(),
        };
        messaging
            .publish_at(part.clone(), message, false, hops)
            .await?;
    }
    Ok(())
}
