//! The Device Shadow operations of `iot-data`: GetThingShadow, UpdateThingShadow,
//! DeleteThingShadow and ListNamedShadowsForThing
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Data_Plane.html).
//! The documents are the ones MQTT clients get; an accepted change is also published on the
//! shadow's MQTT answer topics, as AWS does for REST updates, but a refusal is not.

use crate::api::Caller;
use crate::error::ApiError;
use crate::request::Query;
use crate::ApiState;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::{json, Value};
use shoal_domain::shadow::{ShadowName, UpdateRequest};
use shoal_domain::{Partition, ThingName};
use shoal_services::reserved::Answer;
use shoal_services::shadows::ShadowId;

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
        let thing = ThingName::parse(thing)?;
        let name = query.get("name").map(ShadowName::parse).transpose()?;
        let id = ShadowId { thing, name };
        Ok(match method {
            "GET" => Endpoint::Get(id),
            "POST" => Endpoint::Update(id),
            _ => Endpoint::Delete(id),
        })
    }

    pub fn list_named(thing: &str, query: Query) -> Result<Endpoint, ApiError> {
        let thing = ThingName::parse(thing)?;
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

/// The log record a shadow operation makes (MQTT's names, with the topic the same request
/// would have on MQTT): event type, thing, topic.
pub fn logged(e: &Endpoint) -> Option<(shoal_domain::logging::EventType, String, String)> {
    use shoal_domain::logging::EventType as E;
    let (event, id, op) = match e {
        Endpoint::Get(id) => (E::GetThingShadow, id, "get"),
        Endpoint::Update(id) => (E::UpdateThingShadow, id, "update"),
        Endpoint::Delete(id) => (E::DeleteThingShadow, id, "delete"),
        Endpoint::ListNamed { .. } => return None,
    };
    Some((
        event,
        id.thing.to_string(),
        format!("{}/{op}", id.topic_prefix()),
    ))
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
            let doc = shadows.get(part, &id, None)?;
            Ok(document(&doc, request_id))
        }
        Endpoint::Update(id) => {
            caller.check("iot:UpdateThingShadow", "thing", &resource(&id))?;
            let req = UpdateRequest::parse(body)?;
            let applied = shadows.update(part, &id, &req).await?;
            let prefix = id.topic_prefix();
            let answers = applied
                .answers()
                .into_iter()
                .map(|(suffix, doc)| Answer {
                    topic: format!("{prefix}/update/{suffix}"),
                    payload: doc.to_vec(),
                })
                .collect();
            announce(state, part, answers).await?;
            Ok(crate::json::encoded(
                http::StatusCode::OK,
                applied.accepted,
                request_id,
            ))
        }
        Endpoint::Delete(id) => {
            caller.check("iot:DeleteThingShadow", "thing", &resource(&id))?;
            let doc = shadows.delete(part, &id, None).await?;
            let answer = Answer {
                topic: format!("{}/delete/accepted", id.topic_prefix()),
                payload: serde_json::to_vec(&doc).unwrap_or_default(),
            };
            announce(state, part, vec![answer]).await?;
            Ok(document(&doc, request_id))
        }
        Endpoint::ListNamed { thing, query } => {
            caller.check("iot:ListNamedShadowsForThing", "thing", thing.as_str())?;
            let size = match query.int("pageSize")? {
                None => DEFAULT_PAGE,
                Some(n) => shoal_domain::page::max_results("pageSize", Some(n), MAX_PAGE)?,
            };
            let (names, next) = shadows.list_named(part, &thing, query.get("nextToken"), size)?;
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

/// Publishes the answers of a REST change to the MQTT subscribers of their topics.
async fn announce(
    state: &ApiState,
    part: &Partition,
    answers: Vec<Answer>,
) -> Result<(), ApiError> {
    state
        .reserved
        .publish(part, answers)
        .await
        .map_err(ApiError::from)
}
