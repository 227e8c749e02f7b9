//! The Device Shadow operations of `iot-data`: GetThingShadow, UpdateThingShadow,
//! DeleteThingShadow and ListNamedShadowsForThing
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Data_Plane.html).
//! The documents are the ones MQTT clients get; an accepted change is also published on the
//! shadow's MQTT answer topics, as AWS does for REST updates, but a refusal is not.

use crate::data::{data_error, Caller};
use crate::error::ApiError;
use crate::request::Query;
use crate::ApiState;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::{json, Value};
use shoal_domain::shadow::{ShadowName, UpdateRequest};
use shoal_domain::{Partition, ServiceError, ThingName};
use shoal_services::messaging::{MessageProps, StoredMessage};
use shoal_services::shadows::{requests, ShadowId};

/// ListNamedShadowsForThing's `pageSize` bounds (model `PageSize`: 1 to 100).
const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: usize = 25;

#[derive(Debug)]
pub enum Endpoint {
    Get(ShadowId),
    Update(ShadowId),
    Delete(ShadowId),
    ListNamed { thing: ThingName, query: Query },
}

impl Endpoint {
    /// `/things/{thingName}/shadow?name=` with GET, POST or DELETE.
    pub fn for_shadow(method: &str, thing: &str, query: &Query) -> Result<Endpoint, ApiError> {
        let thing = ThingName::parse(thing).map_err(data_error)?;
        let name = query
            .get("name")
            .map(ShadowName::parse)
            .transpose()
            .map_err(data_error)?;
        let id = ShadowId { thing, name };
        Ok(match method {
            "GET" => Endpoint::Get(id),
            "POST" => Endpoint::Update(id),
            _ => Endpoint::Delete(id),
        })
    }

    pub fn list_named(thing: &str, query: Query) -> Result<Endpoint, ApiError> {
        let thing = ThingName::parse(thing).map_err(data_error)?;
        Ok(Endpoint::ListNamed { thing, query })
    }
}

/// The resource a device's policy is checked on: `thing/THING`, or `thing/THING/SHADOW` for a
/// named shadow (https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html).
fn resource(id: &ShadowId) -> String {
    match &id.name {
        None => id.thing.to_string(),
        Some(n) => format!("{}/{n}", id.thing),
    }
}

fn document(doc: &Value, request_id: &str) -> Response<Full<Bytes>> {
    crate::json::ok(doc, request_id)
}

pub async fn handle(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    endpoint: Endpoint,
    body: &Bytes,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let shadows = &state.shadows;
    match endpoint {
        Endpoint::Get(id) => {
            caller.check("iot:GetThingShadow", "thing", &resource(&id))?;
            let doc = shadows.get(part, &id, None).map_err(data_error)?;
            Ok(document(&doc, request_id))
        }
        Endpoint::Update(id) => {
            caller.check("iot:UpdateThingShadow", "thing", &resource(&id))?;
            let req = UpdateRequest::parse(body).map_err(data_error)?;
            let applied = shadows.update(part, &id, &req).await.map_err(data_error)?;
            let prefix = id.topic_prefix();
            for (suffix, doc) in applied.answers() {
                announce(
                    state,
                    part,
                    format!("{prefix}/update/{suffix}"),
                    doc.to_vec(),
                )
                .await?;
            }
            Ok(crate::json::encoded(
                http::StatusCode::OK,
                applied.accepted,
                request_id,
            ))
        }
        Endpoint::Delete(id) => {
            caller.check("iot:DeleteThingShadow", "thing", &resource(&id))?;
            let doc = shadows.delete(part, &id, None).await.map_err(data_error)?;
            let topic = format!("{}/delete/accepted", id.topic_prefix());
            announce(
                state,
                part,
                topic,
                serde_json::to_vec(&doc).unwrap_or_default(),
            )
            .await?;
            Ok(document(&doc, request_id))
        }
        Endpoint::ListNamed { thing, query } => {
            caller.check("iot:ListNamedShadowsForThing", "thing", thing.as_str())?;
            let size = match query.int("pageSize")? {
                None => DEFAULT_PAGE,
                Some(n) => shoal_domain::page::max_results("pageSize", Some(n), MAX_PAGE)
                    .map_err(data_error)?,
            };
            let (names, next) = shadows
                .list_named(part, &thing, query.get("nextToken"), size)
                .map_err(data_error)?;
            let mut out = json!({
                "results": names,
                "timestamp": state.clock.now().secs(),
            });
            if let Some(t) = next {
                out["nextToken"] = t.into();
            }
            Ok(crate::json::ok(&out, request_id))
        }
    }
}

/// iot-data Publish on a shadow request topic: handled as the same publish over MQTT would be,
/// its answers (a refusal included) published on the answer topics
/// (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-rest-api.html).
pub async fn publish_request(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    topic: &str,
    body: &Bytes,
) -> Result<(), ApiError> {
    let Some((id, op)) = requests::request(topic) else {
        return Err(data_error(ServiceError::invalid(format!(
            "Publishing to the reserved topic {topic} is not supported"
        ))));
    };
    caller.check("iot:Publish", "topic", topic)?;
    for r in state.shadows.handle_request(part, &id, op, body).await {
        announce(state, part, format!("{topic}/{}", r.suffix), r.payload).await?;
    }
    Ok(())
}

/// Publishes an answer of a REST change to the MQTT subscribers of its topic.
async fn announce(
    state: &ApiState,
    part: &Partition,
    topic: String,
    payload: Vec<u8>,
) -> Result<(), ApiError> {
    let message = StoredMessage {
        topic,
        qos: 1,
        payload,
        props: MessageProps::default(),
        published_at: state.clock.now().millis(),
    };
    state
        .messaging
        .publish(part.clone(), message, false)
        .await
        .map_err(data_error)
}
