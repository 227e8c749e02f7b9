//! The device side of tunneling on MQTT: `$aws/things/{thing}/tunnels/notify` carries a new
//! destination token to the thing (subscribe only: a device publishing there is refused, as
//! under every reserved topic a service owns), published through the reserved-topic port's
//! one way of reaching devices
//! (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html#reserved-topics-secure).

use super::Tunnels;
use crate::reserved::{Answer, Requester, TopicService};
use shoal_domain::tunnels::{notify_payload, notify_topic, Tunnel};
use shoal_domain::Partition;
use shoal_store::BoxFuture;

impl Tunnels {
    /// Tells the tunnel's thing (if it names one) its destination token. A device offline
    /// without a persistent session misses it, as on AWS; rotating the token sends it again.
    pub(super) async fn notify(&self, part: &Partition, tunnel: &Tunnel, token: &str) {
        let Some(config) = &tunnel.destination_config else {
            return;
        };
        let Some(thing) = &config.thing_name else {
            return;
        };
        let answer = Answer {
            topic: notify_topic(thing),
            payload: notify_payload(token, part.region.as_str(), &config.services),
        };
        if let Err(e) =
            crate::reserved::publish(&self.messaging, self.clock.as_ref(), part, vec![answer]).await
        {
            tracing::warn!(tunnel = %tunnel.id, error = %e.message, "tunnel notification not published");
        }
    }
}

impl TopicService for Tunnels {
    fn owns(&self, topic: &str) -> bool {
        topic
            .strip_prefix("$aws/things/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, rest)| rest == "tunnels" || rest.starts_with("tunnels/"))
    }

    /// Devices only receive here.
    fn is_request(&self, _topic: &str) -> bool {
        false
    }

    fn request<'a>(
        &'a self,
        _part: &'a Partition,
        _topic: &'a str,
        _payload: &'a [u8],
        _requester: &'a Requester,
    ) -> Option<BoxFuture<'a, Vec<Answer>>> {
        None
    }
}
