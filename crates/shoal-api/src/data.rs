//! The `iot-data` API (restJson1, signing names `iotdata` and `iotdevicegateway`): Publish,
//! GetRetainedMessage and ListRetainedMessages here, the shadow operations in `shadow`; the other
//! operations answer UnknownOperationException. Routes and shapes follow the botocore model
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Data_Plane.html).

use crate::api::{Api, Call, Caller, Protocol, Reply};
use crate::error::ApiError;
use crate::http_logs::{HttpLog, What};
use crate::request::{decode, segments, Query};
use crate::ApiState;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use shoal_domain::logging::{reserved_request, EventType, LogLevel, Origin};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_services::messaging::{MessageProps, StoredMessage};
use shoal_services::reserved::Handled;

/// AWS IoT's largest message payload.
pub(crate) const MAX_PAYLOAD: usize = 128 * 1024;
/// AWS's longest message expiry (7 days).
const MAX_EXPIRY: i64 = 604_800;
/// The largest PUBLISH the broker sends (its Maximum Packet Size): the payload and 1 KB of
/// topic and properties.
const MAX_PACKET: usize = MAX_PAYLOAD + 1024;

#[derive(Debug)]
pub enum Endpoint {
    Publish {
        topic: String,
        query: Query,
    },
    GetRetainedMessage {
        topic: String,
    },
    ListRetainedMessages {
        query: Query,
    },
    Shadow(crate::shadow::Endpoint),
    /// GetConnection, DeleteConnection, ListSubscriptions, SendDirectMessage.
    Connection(crate::connections::Route),
}

impl Endpoint {
    pub fn parse(method: &Method, path: &str, raw_query: &str) -> Result<Endpoint, ApiError> {
        let segs = segments(path);
        if let Some(r) = crate::connections::Route::parse(method.as_str(), &segs, raw_query) {
            return r.map(Endpoint::Connection);
        }
        Ok(match (method.as_str(), segs.as_slice()) {
            // The SDKs encode the topic's slashes (`%2F`); AWS's own HTTPS samples post to
            // `/topics/test/topic` with them raw, which AWS accepts too.
            ("POST", ["topics", first, rest @ ..]) => Endpoint::Publish {
                topic: joined(first, rest)?,
                query: Query::parse(raw_query)?,
            },
            ("GET", ["retainedMessage"]) => Endpoint::ListRetainedMessages {
                query: Query::parse(raw_query)?,
            },
            ("GET", ["retainedMessage", first, rest @ ..]) => Endpoint::GetRetainedMessage {
                topic: joined(first, rest)?,
            },
            ("GET" | "POST" | "DELETE", ["things", thing, "shadow"]) => {
                Endpoint::Shadow(crate::shadow::Endpoint::for_shadow(
                    method.as_str(),
                    &decode(thing)?,
                    &Query::parse(raw_query)?,
                )?)
            }
            ("GET", ["api", "things", "shadow", "ListNamedShadowsForThing", thing]) => {
                Endpoint::Shadow(crate::shadow::Endpoint::list_named(
                    &decode(thing)?,
                    Query::parse(raw_query)?,
                )?)
            }
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{method} {path} is not an iot-data operation Shoal serves yet"
                )))
            }
        })
    }
}

/// A topic given as one encoded label or as several raw path segments.
fn joined(first: &str, rest: &[&str]) -> Result<String, ApiError> {
    let mut topic = decode(first)?;
    for seg in rest {
        topic.push('/');
        topic.push_str(&decode(seg)?);
    }
    Ok(topic)
}

/// The `iot-data` API.
pub struct Data;

impl Api for Data {
    type Endpoint = Endpoint;
    const NAME: &'static str = "iot-data";
    const PROTOCOL: Protocol = Protocol::RestJson;
    type Output = http_body_util::Full<bytes::Bytes>;

    fn parse(
        method: &Method,
        path: &str,
        query: &str,
        _headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        Endpoint::parse(method, path, query)
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
        handle(call, endpoint).await
    }

    /// The `iot-data` model's error shapes, whose statuses differ from `iot`'s
    /// (ThrottlingException is 429; there is no LimitExceededException): what it has no shape
    /// for is InvalidRequestException.
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        const INVALID: (StatusCode, &str) = (S::BAD_REQUEST, "InvalidRequestException");
        match kind {
            ErrorKind::NotFound => (S::NOT_FOUND, "ResourceNotFoundException"),
            ErrorKind::Unauthorized => (S::UNAUTHORIZED, "UnauthorizedException"),
            ErrorKind::Forbidden => (S::FORBIDDEN, "ForbiddenException"),
            ErrorKind::Timeout => (S::GATEWAY_TIMEOUT, "GatewayTimeoutException"),
            ErrorKind::Throttled | ErrorKind::LimitExceeded => {
                (S::TOO_MANY_REQUESTS, "ThrottlingException")
            }
            ErrorKind::Conflict
            | ErrorKind::VersionConflict
            | ErrorKind::AlreadyExists { .. }
            | ErrorKind::DeleteConflict
            | ErrorKind::IdConflict
            | ErrorKind::InvalidStateTransition => (S::CONFLICT, "ConflictException"),
            ErrorKind::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException"),
            ErrorKind::UnsupportedEncoding => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedDocumentEncodingException",
            ),
            ErrorKind::Internal => (S::INTERNAL_SERVER_ERROR, "InternalFailureException"),
            ErrorKind::InvalidRequest
            | ErrorKind::CertificateState
            | ErrorKind::CertificateValidation
            | ErrorKind::RegistrationCodeValidation
            | ErrorKind::MalformedPolicy
            | ErrorKind::VersionsLimitExceeded
            | ErrorKind::RegistrationFailed
            | ErrorKind::InvalidQuery
            | ErrorKind::NotConfigured
            | ErrorKind::MalformedQuery { .. }
            | ErrorKind::InvalidResponse
            | ErrorKind::InvalidAggregation
            | ErrorKind::SqlParse
            | ErrorKind::Parameter(_)
            | ErrorKind::IndexNotReady
            | ErrorKind::Storage(_)
            | ErrorKind::NotSupported => INVALID,
        }
    }
}

async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
    let Call {
        state,
        part,
        caller,
        body,
        headers,
        request_id,
        origin,
        ..
    } = call;
    match endpoint {
        Endpoint::Connection(route) => {
            crate::connections::handle(state, part, &caller, route, body, headers, request_id).await
        }
        Endpoint::Shadow(e) => {
            let logged = crate::shadow::logged(&e);
            let out = crate::shadow::handle(state, part, &caller, e, body, request_id).await;
            if let Some((event, thing, topic)) = logged {
                let extra = vec![("deviceShadowName", thing)];
                let (ok_level, topic) = (LogLevel::Info, Some(topic.as_str()));
                let what = What {
                    event,
                    ok_level,
                    topic,
                    extra,
                };
                http_log(state, part, &origin).outcome(what, &out);
            }
            out
        }
        Endpoint::Publish { topic, query } => {
            publish(state, part, &caller, &origin, topic, query, body, headers).await?;
            Ok(crate::json::ok(
                &json!({"message": "OK", "traceId": request_id}),
                request_id,
            ))
        }
        Endpoint::GetRetainedMessage { topic } => {
            let got = get_retained(state, part, &caller, &topic);
            let extra = match &got {
                Ok((_, qos, at)) => vec![
                    ("qos", qos.to_string()),
                    (
                        "lastModifiedDate",
                        shoal_domain::Timestamp(*at).log_format(),
                    ),
                ],
                Err(_) => Vec::new(),
            };
            let what = What {
                event: EventType::GetRetainedMessage,
                ok_level: LogLevel::Info,
                topic: Some(&topic),
                extra,
            };
            http_log(state, part, &origin).outcome(what, &got);
            Ok(crate::json::ok(&got?.0, request_id))
        }
        Endpoint::ListRetainedMessages { query } => {
            let listed = list_retained(state, part, &caller, &query);
            let what = What {
                event: EventType::ListRetainedMessage,
                ok_level: LogLevel::Info,
                topic: None,
                extra: Vec::new(),
            };
            http_log(state, part, &origin).outcome(what, &listed);
            Ok(crate::json::ok(&listed?, request_id))
        }
    }
}

/// GetRetainedMessage: the answer, and the message's QoS and time for its log record.
fn get_retained(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    topic: &str,
) -> Result<(serde_json::Value, u8, i64), ApiError> {
    caller.check("iot:GetRetainedMessage", "topic", topic)?;
    let m = state.messaging.retained(part, topic)?.ok_or_else(|| {
        ApiError::from(ServiceError::not_found(format!(
            "No retained message found for topic {topic}"
        )))
    })?;
    let mut out = json!({
        "topic": m.topic,
        "payload": B64.encode(&m.payload),
        "qos": m.qos,
        "lastModifiedTime": m.published_at,
    });
    if !m.props.user_properties.is_empty() {
        out["userProperties"] = B64.encode(user_properties_json(&m.props)).into();
    }
    Ok((out, m.qos, m.published_at))
}

/// ListRetainedMessages.
fn list_retained(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    query: &Query,
) -> Result<serde_json::Value, ApiError> {
    // AWS: the resource of iot:ListRetainedMessages must be `*`.
    caller.check("iot:ListRetainedMessages", "topic", "*")?;
    let limit = shoal_domain::page::max_results("maxResults", query.int("maxResults")?, 200)?;
    let after = query
        .get("nextToken")
        .map(shoal_domain::page::decode_token)
        .transpose()?;
    let mut page = state
        .messaging
        .list_retained(part, "", after.as_deref(), limit + 1)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let topics: Vec<_> = page
        .iter()
        .map(|m| {
            json!({
                "topic": m.topic,
                "payloadSize": m.payload.len(),
                "qos": m.qos,
                "lastModifiedTime": m.published_at,
            })
        })
        .collect();
    let mut out = json!({ "retainedTopics": topics });
    if more {
        if let Some(last) = page.last() {
            out["nextToken"] = shoal_domain::page::encode_token(&last.topic).into();
        }
    }
    Ok(out)
}

/// Publish: the query carries qos, retain and the MQTT 5 properties; headers carry user
/// properties (base64 of a JSON array of one-member objects), payload format and correlation
/// data (https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html).
#[allow(clippy::too_many_arguments)]
async fn publish(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    origin: &Origin,
    topic: String,
    query: Query,
    body: &Bytes,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError::from(ServiceError::invalid(m));
    if !shoal_mqtt::valid_topic_name(&topic) || shoal_mqtt::topic::aws_topic_ok(&topic).is_err() {
        return Err(invalid(format!("Invalid topic name: {topic}")));
    }
    if body.len() > MAX_PAYLOAD {
        return Err(ApiError::too_large(format!(
            "The payload exceeds the maximum size of {MAX_PAYLOAD} bytes"
        )));
    }
    let qos = match query.int("qos")? {
        None | Some(0) => 0u8,
        Some(1) => 1,
        Some(q) => return Err(invalid(format!("Invalid qos {q}; it must be 0 or 1"))),
    };
    let retain = query.bool("retain")?.unwrap_or(false);
    if state.reserved.owns(&topic) && !retain {
        return publish_request(state, part, caller, origin, &topic, body).await;
    }
    if topic.starts_with('$') {
        return Err(invalid(format!(
            "Publishing to the reserved topic {topic} is not supported"
        )));
    }
    let allowed = caller
        .check("iot:Publish", "topic", &topic)
        .and_then(|()| match retain {
            true => caller.check("iot:RetainPublish", "topic", &topic),
            false => Ok(()),
        });
    let extra = if retain {
        vec![("retain", "True".to_string())]
    } else {
        Vec::new()
    };
    let what = What {
        event: EventType::PublishIn,
        ok_level: LogLevel::Info,
        topic: Some(&topic),
        extra,
    };
    http_log(state, part, origin).outcome(what, &allowed);
    allowed?;
    let now = state.clock.now().millis();
    let expires_at = match query.int("messageExpiry")? {
        None => None,
        Some(s) if s < 0 => return Err(invalid(format!("Invalid messageExpiry {s}"))),
        Some(s) => Some(now + s.clamp(1, MAX_EXPIRY) * 1000),
    };
    let mut props = mqtt5_properties(&query, headers)?;
    props.expires_at = expires_at;
    let message = StoredMessage {
        topic,
        qos,
        payload: body.to_vec(),
        props,
        published_at: now,
    };
    deliverable(&message)?;
    state
        .messaging
        .publish(part.clone(), message, retain)
        .await
        .map_err(ApiError::from)
}

/// The MQTT 5 properties of Publish and SendDirectMessage: user properties (base64 of a JSON
/// array of one-member objects), payload format and correlation data in headers; content type
/// and response topic in the query.
pub(crate) fn mqtt5_properties(
    query: &Query,
    headers: &HeaderMap,
) -> Result<MessageProps, ApiError> {
    let invalid = |m: String| ApiError::from(ServiceError::invalid(m));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let user_properties = match header("x-amz-mqtt5-user-properties") {
        Some(v) => parse_user_properties(v).ok_or_else(|| {
            invalid("x-amz-mqtt5-user-properties must be base64 of a JSON array of objects".into())
        })?,
        None => Vec::new(),
    };
    let payload_format = match header("x-amz-mqtt5-payload-format-indicator") {
        None => None,
        Some("UNSPECIFIED_BYTES") => Some(0),
        Some("UTF8_DATA") => Some(1),
        Some(other) => return Err(invalid(format!("Invalid payload format indicator {other}"))),
    };
    let correlation_data = match header("x-amz-mqtt5-correlation-data") {
        None => None,
        Some(v) => Some(
            B64.decode(v)
                .map_err(|_| invalid("x-amz-mqtt5-correlation-data must be base64".into()))?,
        ),
    };
    let response_topic = query.string("responseTopic");
    if let Some(r) = &response_topic {
        if !shoal_mqtt::valid_topic_name(r) {
            return Err(invalid(format!("Invalid responseTopic: {r}")));
        }
    }
    Ok(MessageProps {
        payload_format,
        content_type: query.string("contentType"),
        response_topic,
        correlation_data,
        user_properties,
        expires_at: None,
    })
}

/// iot-data Publish on a service's request topic (a shadow's get, update or delete): handled
/// by the reserved-topic port as the same publish over MQTT would be, its answers (a refusal
/// included) published on the answer topics
/// (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-rest-api.html).
fn http_log<'a>(state: &'a ApiState, part: &'a Partition, origin: &'a Origin) -> HttpLog<'a> {
    HttpLog {
        state,
        part,
        origin,
        code: Data::code,
    }
}

async fn publish_request(
    state: &ApiState,
    part: &Partition,
    caller: &Caller<'_>,
    origin: &Origin,
    topic: &str,
    body: &Bytes,
) -> Result<(), ApiError> {
    let refused = || {
        ApiError::from(ServiceError::invalid(format!(
            "Publishing to the reserved topic {topic} is not supported"
        )))
    };
    if !state.reserved.is_request(topic) {
        return Err(refused());
    }
    caller.check("iot:Publish", "topic", topic)?;
    let handled = state
        .reserved
        .handle(part, topic, body, shoal_services::reserved::Requester::Http)
        .await;
    // The request's record, with the rejection the service answered if it refused.
    if let (Some((event, ok, extra)), Ok(h)) = (reserved_request(topic), &handled) {
        let failure = match h {
            Handled::Answered { rejection } => rejection.clone(),
            Handled::ToRequester(answers) => shoal_services::reserved::rejection(answers),
            Handled::NotARequest => None,
        };
        let what = What {
            event,
            ok_level: ok,
            topic: Some(topic),
            extra,
        };
        http_log(state, part, origin).failure(what, failure);
    }
    match handled {
        Ok(Handled::Answered { .. } | Handled::ToRequester(_)) => Ok(()),
        Ok(Handled::NotARequest) => Err(refused()),
        Err(e) => Err(e.into()),
    }
}

/// Refuses what no MQTT 5 subscriber could be sent: a property its decoder would reject (a
/// NUL character, a field over 65,535 bytes, MQTT 5 §1.5.4) or a PUBLISH larger than the
/// broker's Maximum Packet Size. Checked with the encoder the broker uses, so a message stored
/// as retained or queued can always be delivered later.
pub(crate) fn deliverable(m: &StoredMessage) -> Result<(), ApiError> {
    let p = &m.props;
    let publish = shoal_mqtt::Packet::Publish(shoal_mqtt::Publish {
        topic: m.topic.clone(),
        qos: shoal_mqtt::QoS::AtLeastOnce,
        pkid: 1,
        payload: Bytes::copy_from_slice(&m.payload),
        properties: shoal_mqtt::PublishProperties {
            payload_format_indicator: p.payload_format,
            message_expiry_interval: p.expires_at.map(|_| 1),
            response_topic: p.response_topic.clone(),
            correlation_data: p.correlation_data.clone().map(Bytes::from),
            user_properties: p.user_properties.clone(),
            content_type: p.content_type.clone(),
            ..Default::default()
        },
        ..Default::default()
    });
    match shoal_mqtt::encoded_len(&publish, shoal_mqtt::Protocol::V5) {
        Ok(n) if n <= MAX_PACKET => Ok(()),
        Ok(n) => Err(ApiError::too_large(format!(
            "The message with its properties is {n} bytes; at most {MAX_PACKET} can be delivered"
        ))),
        Err(e) => Err(ApiError::from(ServiceError::invalid(format!(
            "The message cannot be delivered over MQTT: {e}"
        )))),
    }
}

/// `[{"k":"v"},{"k2":"v2"}]`, base64-encoded, into pairs in order. The header is a `jsonvalue`:
/// SDKs JSON-encode what they are given, so a caller that passes the array as a string (as the
/// AWS CLI's example does) sends a JSON string holding the array; both forms are accepted.
fn parse_user_properties(header: &str) -> Option<Vec<(String, String)>> {
    let raw = B64.decode(header).ok()?;
    let mut value: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    if let serde_json::Value::String(inner) = &value {
        value = serde_json::from_str(inner).ok()?;
    }
    let items: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_value(value).ok()?;
    let mut out = Vec::new();
    for item in items {
        for (k, v) in item {
            out.push((k, v.as_str()?.to_string()));
        }
    }
    Some(out)
}

fn user_properties_json(p: &MessageProps) -> Vec<u8> {
    let items: Vec<_> = p
        .user_properties
        .iter()
        .map(|(k, v)| json!({ k.clone(): v }))
        .collect();
    serde_json::to_vec(&items).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_round_trip_in_order() {
        let header = B64.encode(br#"[{"deviceName":"alpha"},{"deviceCnt":"45"}]"#);
        let props = parse_user_properties(&header).unwrap();
        assert_eq!(
            props,
            vec![
                ("deviceName".to_string(), "alpha".to_string()),
                ("deviceCnt".to_string(), "45".to_string())
            ]
        );
        let p = MessageProps {
            user_properties: props,
            ..MessageProps::default()
        };
        assert_eq!(
            user_properties_json(&p),
            br#"[{"deviceName":"alpha"},{"deviceCnt":"45"}]"#
        );
        assert!(parse_user_properties("not base64!").is_none());
        let as_string = B64.encode(br#""[{\"a\":\"b\"}]""#);
        assert_eq!(
            parse_user_properties(&as_string).unwrap(),
            vec![("a".to_string(), "b".to_string())]
        );
    }

    #[test]
    fn messages_a_subscriber_could_not_decode_are_refused() {
        let ok = StoredMessage {
            topic: "a/b".into(),
            qos: 1,
            payload: vec![0; 1000],
            props: MessageProps {
                user_properties: vec![("k".into(), "v".into())],
                content_type: Some("text/plain".into()),
                ..MessageProps::default()
            },
            published_at: 0,
        };
        assert!(deliverable(&ok).is_ok());
        let mut nul = ok.clone();
        nul.props.user_properties = vec![("k".into(), "a\0b".into())];
        assert!(deliverable(&nul).is_err());
        let mut long = ok.clone();
        long.props.content_type = Some("x".repeat(70 * 1024));
        assert!(deliverable(&long).is_err());
        let mut big = ok.clone();
        big.payload = vec![0; MAX_PAYLOAD];
        big.props.user_properties = vec![("k".into(), "v".repeat(2000))];
        assert!(matches!(
            deliverable(&big),
            Err(ApiError::Service(e)) if e.kind == ErrorKind::PayloadTooLarge
        ));
    }

    /// Every iot-data operation, as the botocore model routes it: each parses to its own
    /// operation, and the ones Shoal does not serve are UnknownOperationException.
    #[test]
    fn routes() {
        use crate::shadow::Endpoint as S;
        let parse = |m: &str, p: &str, q: &str| {
            Endpoint::parse(&Method::from_bytes(m.as_bytes()).unwrap(), p, q)
        };
        assert!(matches!(parse("POST", "/topics/a%2Fb", "qos=1").unwrap(),
            Endpoint::Publish { ref topic, .. } if topic == "a/b"));
        assert!(
            matches!(parse("POST", "/topics/test/topic", "qos=1").unwrap(),
            Endpoint::Publish { ref topic, .. } if topic == "test/topic")
        );
        assert!(matches!(parse("POST", "/topics/a/b%2Fc/", "").unwrap(),
            Endpoint::Publish { ref topic, .. } if topic == "a/b/c/"));
        assert!(matches!(
            parse("GET", "/retainedMessage", "").unwrap(),
            Endpoint::ListRetainedMessages { .. }
        ));
        assert!(matches!(
            parse("GET", "/retainedMessage/a%2Fb", "").unwrap(),
            Endpoint::GetRetainedMessage { ref topic } if topic == "a/b"
        ));
        assert!(matches!(
            parse("GET", "/things/x/shadow", "name=cfg").unwrap(),
            Endpoint::Shadow(S::Get(ref id)) if id.name.as_ref().map(|n| n.as_str()) == Some("cfg")
        ));
        assert!(matches!(
            parse("POST", "/things/x/shadow", "").unwrap(),
            Endpoint::Shadow(S::Update(_))
        ));
        assert!(matches!(
            parse("DELETE", "/things/x/shadow", "").unwrap(),
            Endpoint::Shadow(S::Delete(_))
        ));
        assert!(matches!(
            parse("GET", "/api/things/shadow/ListNamedShadowsForThing/x", "").unwrap(),
            Endpoint::Shadow(S::ListNamed { .. })
        ));
        assert!(parse("GET", "/things/bad%20name/shadow", "").is_err());
        // The connection operations.
        for (m, p, op) in [
            ("DELETE", "/connections/c1", "DeleteConnection"),
            ("GET", "/connections/c1", "GetConnection"),
            ("GET", "/connections/c1/subscriptions", "ListSubscriptions"),
            ("POST", "/connections/c1/messages", "SendDirectMessage"),
        ] {
            let got = format!("{:?}", parse(m, p, "").unwrap());
            assert!(
                got.starts_with(&format!("Connection({op}")),
                "{m} {p}: {got}"
            );
        }
    }
}
