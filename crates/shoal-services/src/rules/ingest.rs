//! Basic Ingest (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html):
//! a publish on `$aws/rules/RULE/...` goes to that rule alone, never to subscribers. It is a
//! reserved-topic service like the others, so every gateway hands it over the same way after
//! its `iot:Publish` check; `topic()` sees the topic after the prefix. A rule that does not
//! exist or is disabled drops the message, as AWS does.

use super::Rules;
use crate::reserved::{Answer, Requester, TopicService};
use shoal_domain::Partition;
use shoal_store::BoxFuture;
use std::sync::Arc;

pub struct BasicIngest {
    rules: Arc<Rules>,
}

impl BasicIngest {
    pub fn new(rules: Arc<Rules>) -> Arc<BasicIngest> {
        Arc::new(BasicIngest { rules })
    }
}

impl TopicService for BasicIngest {
    fn owns(&self, topic: &str) -> bool {
        topic.starts_with("$aws/rules/")
    }

    fn is_request(&self, topic: &str) -> bool {
        shoal_domain::rules::basic_ingest(topic).is_some()
    }

    fn request<'a>(
        &'a self,
        part: &'a Partition,
        topic: &'a str,
        payload: &'a [u8],
        requester: &'a Requester,
    ) -> Option<BoxFuture<'a, Vec<Answer>>> {
        let (rule, rest) = shoal_domain::rules::basic_ingest(topic)?;
        let m = requester.message(rest, payload, self.rules.clock.now().millis());
        if !self.rules.partition(part).ingest(rule, &m) {
            tracing::debug!(
                rule,
                "Basic Ingest message for a rule that is not enabled; dropped"
            );
        }
        Some(Box::pin(async { Vec::new() }))
    }
}
