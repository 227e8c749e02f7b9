//! Events published once the change they report is durable, and at least once: a service adds
//! its events to the batch that writes the change, as timers of the durable scheduler due at
//! once (service `event`). The scheduler fires them in order and the handler publishes each at
//! QoS 1, then removes its timer; a crash in between publishes it again after the restart,
//! which AWS allows ("It is possible for them to be published more than once",
//! https://docs.aws.amazon.com/iot/latest/developerguide/iot-events.html). A change that is
//! rolled back takes its events with it.

use super::Events;
use crate::messaging::Messaging;
use crate::reserved::Answer;
use crate::scheduler::{Due, Scheduler, TimerHandler, TimerId};
use serde_json::{json, Value};
use shoal_domain::error::Result;
use shoal_domain::{Clock, Partition, ServiceError};
use shoal_store::{Batch, BoxFuture};
use std::sync::{Arc, Weak};

/// The kind of an event every account gets, whatever its event configurations (JITR's
/// `$aws/events/certificates/registered/...`).
pub const ALWAYS: &str = "ALWAYS";

/// The scheduler's service name of staged events.
const SERVICE: &str = "event";

/// One event a change publishes: its type (an `EventType` of UpdateEventConfigurations, which
/// decides whether it is published at all), topic and JSON payload.
pub struct Event {
    pub kind: &'static str,
    pub topic: String,
    pub payload: Value,
}

impl Event {
    pub fn new(kind: &'static str, topic: String, payload: Value) -> Event {
        Event {
            kind,
            topic,
            payload,
        }
    }
}

struct Publisher {
    messaging: Arc<Messaging>,
    clock: Arc<dyn Clock>,
    scheduler: Weak<Scheduler>,
}

impl TimerHandler for Publisher {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(scheduler) = self.scheduler.upgrade() else {
                return Ok(());
            };
            let topic = due.payload["topic"].as_str().unwrap_or_default();
            if !topic.is_empty() {
                let answer = Answer {
                    topic: topic.to_string(),
                    payload: due.payload["message"].to_string().into_bytes(),
                };
                crate::reserved::publish(
                    &self.messaging,
                    self.clock.as_ref(),
                    &due.part,
                    vec![answer],
                )
                .await?;
            }
            scheduler
                .commit(due, Batch::new(due.part.key()), None)
                .await?;
            Ok(())
        })
    }
}

impl Events {
    /// Makes staged events timers of `scheduler`, published through `messaging`.
    pub fn publish_with(&self, scheduler: &Arc<Scheduler>, messaging: Arc<Messaging>) {
        scheduler.register(
            SERVICE,
            Arc::new(Publisher {
                messaging,
                clock: self.clock.clone(),
                scheduler: Arc::downgrade(scheduler),
            }),
        );
        let _ = self.scheduler.set(scheduler.clone());
    }

    /// Adds to `batch` (of `part`) the events the partition has enabled, to be published once
    /// the batch commits. Each payload gets `eventId` and `timestamp` (milliseconds, as AWS's
    /// registry examples show) unless it has them.
    pub async fn stage(&self, part: &Partition, batch: Batch, events: Vec<Event>) -> Result<Batch> {
        let Some(scheduler) = self.scheduler.get() else {
            return Ok(batch);
        };
        if events.is_empty() {
            return Ok(batch);
        }
        let config = self.describe(part)?;
        let wanted: Vec<Event> = events
            .into_iter()
            .filter(|e| e.kind == ALWAYS || config.is_enabled(e.kind))
            .collect();
        if wanted.is_empty() {
            return Ok(batch);
        }
        scheduler.track(part).await?;
        let now = self.clock.now();
        let mut batch = batch;
        for (i, mut e) in wanted.into_iter().enumerate() {
            let Some(obj) = e.payload.as_object_mut() else {
                return Err(ServiceError::internal("an event payload is not an object"));
            };
            let id = uuid::Uuid::new_v4().to_string();
            obj.entry("eventId").or_insert_with(|| json!(id));
            obj.entry("timestamp")
                .or_insert_with(|| json!(now.millis()));
            // Timers due at the same moment fire in key order: the index keeps the events of
            // one change in the order given.
            let timer = TimerId::new(SERVICE, format!("{}-{i:03}-{id}", now.millis()));
            batch = Scheduler::set(
                batch,
                &timer,
                now,
                json!({ "topic": e.topic, "message": e.payload }),
                None,
            )?;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::CreateThing;
    use crate::{Events, Messaging, Registry, Scheduler};
    use shoal_domain::{AccountId, ManualClock, Partition, Region, ThingName, Timestamp};
    use shoal_store::sqlite::SqliteStore;
    use shoal_store::Store;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// The (topic, payload) of each message a node published.
    type Published = Arc<Mutex<Vec<(String, String)>>>;

    /// A node: registry, events and scheduler on `store`, its published messages in a list.
    fn node(store: &Arc<dyn Store>) -> (Registry, Arc<Scheduler>, Published) {
        let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
        let scheduler = Scheduler::new(store.clone(), clock.clone());
        let messaging = Arc::new(Messaging::new(store.clone(), clock.clone()));
        let mut bus = messaging.take_bus().unwrap();
        let published = Arc::new(Mutex::new(Vec::new()));
        let seen = published.clone();
        tokio::spawn(async move {
            while let Some(m) = bus.recv().await {
                let body = String::from_utf8(m.message.payload.clone()).unwrap();
                seen.lock().unwrap().push((m.message.topic.clone(), body));
                let _ = m.done.send(());
            }
        });
        let events = Arc::new(Events::new(store.clone(), clock.clone()));
        events.publish_with(&scheduler, messaging);
        let registry =
            Registry::new(store.clone(), clock, Default::default()).with_events(events.clone());
        (registry, scheduler, published)
    }

    fn thing(name: &str) -> CreateThing {
        CreateThing {
            name: ThingName::parse(name).unwrap(),
            type_name: None,
            attributes: Default::default(),
            billing_group: None,
        }
    }

    #[tokio::test]
    async fn an_event_is_published_after_a_restart_and_only_when_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let part = Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("us-east-1").unwrap(),
        );
        {
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
            let (registry, _scheduler, published) = node(&store);
            // Off by default: nothing is staged.
            registry.create_thing(&part, thing("quiet")).await.unwrap();
            let events = Events::new(store.clone(), Arc::new(ManualClock::new(Timestamp(0))));
            let on = BTreeMap::from([("THING".to_string(), true)]);
            events.update(&part, &on).await.unwrap();
            // Staged with the change; the node stops before its scheduler runs.
            registry.create_thing(&part, thing("loud")).await.unwrap();
            assert!(published.lock().unwrap().is_empty());
            store.shutdown().await;
        }
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let (_registry, scheduler, published) = node(&store);
        assert_eq!(scheduler.run_due().await.unwrap(), 1);
        let got = published.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "$aws/events/thing/loud/created");
        let v: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
        assert_eq!(v["eventType"], "THING_EVENT");
        assert_eq!(v["operation"], "CREATED");
        assert_eq!(v["accountId"], "123456789012");
        assert_eq!(v["timestamp"], 1_700_000_000_000i64);
        // Published once: the timer is gone.
        assert_eq!(scheduler.run_due().await.unwrap(), 0);
    }
}
