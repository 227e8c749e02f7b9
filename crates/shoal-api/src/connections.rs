//! iot-data's connection operations: GetConnection, DeleteConnection, ListSubscriptions and
//! SendDirectMessage (https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetConnection.html
//! and siblings). What outlives a connection comes from the messaging service's records; what
//! only the live connection knows comes through its live-connections port.

use crate::api::{Caller, Reply};
use crate::error::ApiError;
use crate::request::{decode, Query};
use crate::ApiState;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{json, Value};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_services::identity::ThingPrincipalType;
use shoal_services::messaging::{Deleted, Direct, DirectMessage, StoredMessage};
use std::time::Duration;

/// GetConnection: "disconnectedSince ... is available for 30 minutes after the client
/// disconnects".
const DISCONNECTED_KEPT_MS: i64 = 30 * 60 * 1000;
/// ListSubscriptions' default and largest page.
const SUBSCRIPTIONS_DEFAULT: usize = 20;
const SUBSCRIPTIONS_MAX: i64 = 200;
/// SendDirectMessage's `timeout`: 1..=15 seconds, 5 by default.
const DIRECT_TIMEOUT_DEFAULT: i64 = 5;

#[derive(Debug)]
pub enum Route {
    GetConnection { client_id: String, query: Query },
    DeleteConnection { client_id: String, query: Query },
    ListSubscriptions { client_id: String, query: Query },
    SendDirectMessage { client_id: String, query: Query },
}

impl Route {
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        let build = |c: &str, f: fn(String, Query) -> Route| -> Result<Route, ApiError> {
            Ok(f(decode(c)?, Query::parse(raw_query)?))
        };
        Some(match (method, segs) {
            ("GET", ["connections", c]) => build(c, |client_id, query| Route::GetConnection {
                client_id,
                query,
            }),
            ("DELETE", ["connections", c]) => build(c, |client_id, query| {
                Route::DeleteConnection { client_id, query }
            }),
            ("GET", ["connections", c, "subscriptions"]) => build(c, |client_id, query| {
                Route::ListSubscriptions { client_id, query }
            }),
            ("POST", ["connections", c, "messages"]) => build(c, |client_id, query| {
                Route::SendDirectMessage { client_id, query }
            }),
            _ => return None,
        })
    }
}

/// The model's `ClientId`: 1..=128 characters, not starting with `$`.
fn check_client_id(c: &str) -> Result<(), ApiError> {
    if c.is_empty() || c.chars().count() > 128 || c.starts_with('$') {
        return Err(ApiError::invalid(format!(
            "Invalid client ID {c}: it must have 1 to 128 characters and not start with $"
        )));
    }
    Ok(())
}

fn not_found(client_id: &str) -> ApiError {
    ServiceError::not_found(format!(
        "The client ID {client_id} does not exist or is not currently connected, and doesn't have a persistent session"
    ))
    .into()
}

pub async fn handle(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    route: Route,
    body: &Bytes,
    headers: &HeaderMap,
    request_id: &str,
) -> Reply {
    let value = match route {
        Route::GetConnection { client_id, query } => {
            check_client_id(&client_id)?;
            caller.check("iot:GetConnection", "client", &client_id)?;
            get(state, part, &client_id, &query).await?
        }
        Route::DeleteConnection { client_id, query } => {
            check_client_id(&client_id)?;
            caller.check("iot:DeleteConnection", "client", &client_id)?;
            let clean = query.bool("cleanSession")?.unwrap_or(false);
            let prevent_will = query.bool("preventWillMessage")?.unwrap_or(false);
            let live = state.messaging.live()?;
            match live.delete(part, &client_id, clean, prevent_will).await {
                Deleted::Connected | Deleted::Offline => json!({}),
                Deleted::NotFound => return Err(not_found(&client_id)),
            }
        }
        Route::ListSubscriptions { client_id, query } => {
            check_client_id(&client_id)?;
            caller.check("iot:ListSubscriptions", "client", &client_id)?;
            subscriptions(state, part, &client_id, &query).await?
        }
        Route::SendDirectMessage { client_id, query } => {
            check_client_id(&client_id)?;
            direct(
                state, part, caller, &client_id, &query, body, headers, request_id,
            )
            .await?
        }
    };
    Ok(crate::json::ok(&value, request_id))
}

async fn get(
    state: &ApiState,
    part: &Partition,
    client_id: &str,
    query: &Query,
) -> Result<Value, ApiError> {
    let c = state
        .messaging
        .connectivity(part, client_id)?
        .ok_or_else(|| not_found(client_id))?;
    let session = state.messaging.live()?.session(part, client_id).await;
    let persistent = session
        .as_ref()
        .is_some_and(|s| !s.online && s.expiry_secs > 0);
    let now = state.clock.now().millis();
    if !c.connected && !persistent && now - c.timestamp > DISCONNECTED_KEPT_MS {
        return Err(not_found(client_id));
    }
    let mut v = json!({
        "connected": c.connected,
        "clientId": c.client_id,
        "cleanSession": c.clean_session,
        "keepAliveDuration": c.keep_alive_secs,
        "sessionExpiry": c.session_expiry_secs,
    });
    if c.connected {
        v["connectedSince"] = c.timestamp.into();
    } else {
        v["disconnectedSince"] = c.timestamp.into();
        if let Some(r) = &c.disconnect_reason {
            v["disconnectReason"] = r.as_str().into();
        }
    }
    if let Some(t) = thing_of(state, part, client_id, &c.principal)? {
        v["thingName"] = t.into();
    }
    if query.bool("includeSocketInformation")? == Some(true) {
        if let Some(ip) = &c.source_ip {
            v["sourceIp"] = ip.as_str().into();
        }
        if let Some(port) = c.source_port {
            v["sourcePort"] = port.into();
        }
    }
    Ok(v)
}

/// The thing of the client's certificate: the one named by the client id when it is attached,
/// else the one the certificate is exclusively attached to.
fn thing_of(
    state: &ApiState,
    part: &Partition,
    client_id: &str,
    principal: &str,
) -> Result<Option<String>, ApiError> {
    let arn = part.arn("cert", principal);
    let page = state
        .identity
        .list_principal_things(part, &arn, None, 250, None)?;
    if page.items.iter().any(|a| a.thing == client_id) {
        return Ok(Some(client_id.to_string()));
    }
    Ok(page
        .items
        .into_iter()
        .find(|a| a.kind == ThingPrincipalType::Exclusive)
        .map(|a| a.thing))
}

async fn subscriptions(
    state: &ApiState,
    part: &Partition,
    client_id: &str,
    query: &Query,
) -> Result<Value, ApiError> {
    let limit = match query.int("maxResults")? {
        None => SUBSCRIPTIONS_DEFAULT,
        v => shoal_domain::page::max_results("maxResults", v, SUBSCRIPTIONS_MAX)?,
    };
    let session = state
        .messaging
        .live()?
        .session(part, client_id)
        .await
        .ok_or_else(|| not_found(client_id))?;
    let mut subs = session.subscriptions;
    subs.sort();
    let after = query
        .get("nextToken")
        .map(shoal_domain::page::decode_token)
        .transpose()?;
    let rest: Vec<(String, u8)> = subs
        .into_iter()
        .filter(|(f, _)| after.as_ref().is_none_or(|a| f > a))
        .collect();
    let more = rest.len() > limit;
    let page: Vec<Value> = rest
        .iter()
        .take(limit)
        .map(|(f, q)| json!({ "topicFilter": f, "qos": q }))
        .collect();
    let mut v = json!({ "subscriptions": page });
    if more {
        v["nextToken"] = shoal_domain::page::encode_token(&rest[limit - 1].0).into();
    }
    Ok(v)
}

/// SendDirectMessage: one message to one connected client, which needs no subscription but
/// must be allowed `iot:Receive` on the topic; never queued, never retained
/// (https://docs.aws.amazon.com/iot/latest/developerguide/direct-messaging.html).
#[allow(clippy::too_many_arguments)]
async fn direct(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    client_id: &str,
    query: &Query,
    body: &Bytes,
    headers: &HeaderMap,
    request_id: &str,
) -> Result<Value, ApiError> {
    let topic = query
        .string("topic")
        .ok_or_else(|| ApiError::invalid("topic is required"))?;
    if !shoal_mqtt::valid_topic_name(&topic) || topic.starts_with('$') {
        return Err(ApiError::invalid(format!(
            "Invalid topic {topic}: it must be a topic name that does not start with $"
        )));
    }
    caller.check("iot:SendDirectMessage", "client", client_id)?;
    if body.len() > crate::data::MAX_PAYLOAD {
        return Err(ApiError::too_large(format!(
            "The payload exceeds the maximum size of {} bytes",
            crate::data::MAX_PAYLOAD
        )));
    }
    let confirm = query.bool("confirmation")?.unwrap_or(false);
    let timeout = query.int("timeout")?.unwrap_or(DIRECT_TIMEOUT_DEFAULT);
    if !(1..=15).contains(&timeout) {
        return Err(ApiError::invalid(format!(
            "Invalid timeout {timeout}: it must be between 1 and 15 seconds"
        )));
    }
    let props = crate::data::mqtt5_properties(query, headers)?;
    crate::data::deliverable(&StoredMessage {
        topic: topic.clone(),
        qos: 1,
        payload: body.to_vec(),
        props: props.clone(),
        published_at: 0,
    })?;
    let message = DirectMessage {
        topic,
        payload: body.to_vec(),
        props,
        confirm: confirm.then(|| Duration::from_secs(timeout as u64)),
    };
    let refused = |kind: ErrorKind, m: String| ApiError::from(ServiceError::new(kind, m));
    match state.messaging.live()?.send(part, client_id, message).await {
        Direct::Sent => Ok(json!({ "message": "OK", "traceId": request_id })),
        Direct::NotConnected { persistent: true } => Err(refused(
            ErrorKind::NotFound,
            "The target client ID is not connected, but it has an active persistent session".into(),
        )),
        Direct::NotConnected { persistent: false } => Err(refused(
            ErrorKind::NotFound,
            format!("The target client ID {client_id} is not connected to AWS IoT Core"),
        )),
        Direct::Denied => Err(refused(
            ErrorKind::Forbidden,
            "The target client is not authorized to receive messages on this topic".into(),
        )),
        Direct::TimedOut => Err(refused(
            ErrorKind::Timeout,
            format!("The target client did not acknowledge the message within {timeout} seconds"),
        )),
        Direct::Busy => Err(refused(
            ErrorKind::Throttled,
            "The target client's outgoing queue is full".into(),
        )),
    }
}
