//! The broker's side of the services' live-connections port (`shoal_services::messaging::
//! LiveConnections`): GetConnection's and ListSubscriptions' view of a session,
//! DeleteConnection and SendDirectMessage, each a command to the partition's router shard.

use crate::message::{AckSignal, Msg};
use crate::router::{Delivery, Router};
use bytes::Bytes;
use shoal_domain::{Clock, Partition, Region};
use shoal_mqtt::QoS;
use shoal_services::messaging::{Deleted, Direct, DirectMessage, LiveConnections, LiveSession};
use std::sync::Arc;

/// The port's future type (`shoal_store::BoxFuture`, which this crate does not depend on).
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub(crate) struct Live {
    pub(crate) router: Router,
    /// The region this broker serves: clients of other regions are never connected here.
    pub(crate) region: Region,
    pub(crate) clock: Arc<dyn Clock>,
}

impl LiveConnections for Live {
    fn session<'a>(
        &'a self,
        part: &'a Partition,
        client_id: &'a str,
    ) -> BoxFuture<'a, Option<LiveSession>> {
        Box::pin(async move {
            if part.region != self.region {
                return None;
            }
            self.router.shard(part).inspect(client_id).await
        })
    }

    fn delete<'a>(
        &'a self,
        part: &'a Partition,
        client_id: &'a str,
        clean_session: bool,
        prevent_will: bool,
    ) -> BoxFuture<'a, Deleted> {
        Box::pin(async move {
            if part.region != self.region {
                return Deleted::NotFound;
            }
            self.router
                .shard(part)
                .kick(client_id, clean_session, prevent_will)
                .await
        })
    }

    fn reset<'a>(&'a self, part: &'a Partition) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if part.region == self.region {
                self.router.shard(part).reset().await;
            }
        })
    }

    fn send<'a>(
        &'a self,
        part: &'a Partition,
        client_id: &'a str,
        message: DirectMessage,
    ) -> BoxFuture<'a, Direct> {
        Box::pin(async move {
            if part.region != self.region {
                return Direct::NotConnected { persistent: false };
            }
            let (ack, acked) = match message.confirm {
                Some(_) => {
                    let (a, rx) = AckSignal::new();
                    (Some(a), Some(rx))
                }
                None => (None, None),
            };
            let qos = if ack.is_some() {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            let msg = Msg {
                topic: Arc::from(message.topic.as_str()),
                payload: Bytes::from(message.payload),
                qos,
                props: (!message.props.is_empty()).then(|| Arc::new(message.props)),
                from: None,
                published_at: self.clock.now().millis(),
                ack,
                // A direct message goes to one client, not through the rules.
                principal: None,
                hops: 0,
                evaluated: false,
            };
            let sent = self
                .router
                .shard(part)
                .direct(client_id, Delivery::new(Arc::new(msg), qos))
                .await;
            match (sent, acked, message.confirm) {
                (Direct::Sent, Some(rx), Some(wait)) => {
                    match tokio::time::timeout(wait, rx).await {
                        Ok(Ok(true)) => Direct::Sent,
                        Ok(Ok(false)) => Direct::Denied,
                        // The connection ended before it acknowledged.
                        Ok(Err(_)) => Direct::NotConnected { persistent: false },
                        Err(_) => Direct::TimedOut,
                    }
                }
                (other, _, _) => other,
            }
        })
    }

    fn route(
        &self,
        part: &Partition,
        message: shoal_services::messaging::StoredMessage,
        hops: u8,
    ) -> bool {
        // Clients of other regions never connect here: nothing to route to.
        if part.region != self.region {
            return false;
        }
        let mut msg = Msg::from_stored(message);
        msg.hops = hops;
        self.router.shard(part).try_publish(msg)
    }
}
