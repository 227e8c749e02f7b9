//! AWS IoT secure tunneling's control plane (`iotsecuretunneling`: awsJson 1.1,
//! `X-Amz-Target: IoTSecuredTunneling.<Operation>`, SigV4 scope service `IoTSecuredTunneling`).
//! Timestamps are epoch seconds; every error is HTTP 400 with its `__type`, as the model (which
//! gives no statuses) and botocore expect
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Secure_Tunneling.html).

use crate::api::{Api, Call, Protocol, Reply};
use crate::error::ApiError;
use crate::json;
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use shoal_domain::tunnels::{ClientMode, DestinationConfig, SideState, Tunnel};
use shoal_domain::ErrorKind;
use shoal_services::tunnels::OpenRequest;
use std::collections::BTreeMap;

pub struct Tunneling;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    OpenTunnel,
    CloseTunnel,
    DescribeTunnel,
    ListTunnels,
    RotateTunnelAccessToken,
    TagResource,
    UntagResource,
    ListTagsForResource,
}

const PREFIX: &str = "IoTSecuredTunneling.";

impl Endpoint {
    pub fn from_target(target: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        Ok(match target.strip_prefix(PREFIX).unwrap_or("") {
            "OpenTunnel" => E::OpenTunnel,
            "CloseTunnel" => E::CloseTunnel,
            "DescribeTunnel" => E::DescribeTunnel,
            "ListTunnels" => E::ListTunnels,
            "RotateTunnelAccessToken" => E::RotateTunnelAccessToken,
            "TagResource" => E::TagResource,
            "UntagResource" => E::UntagResource,
            "ListTagsForResource" => E::ListTagsForResource,
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{target} is not an AWS IoT secure tunneling operation"
                )))
            }
        })
    }
}

impl Api for Tunneling {
    type Endpoint = Endpoint;
    const NAME: &'static str = "iotsecuretunneling";
    const PROTOCOL: Protocol = Protocol::AwsJson;
    type Output = http_body_util::Full<bytes::Bytes>;

    fn parse(
        method: &Method,
        path: &str,
        _query: &str,
        headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        Endpoint::from_target(crate::api::aws_json_target(
            method,
            path,
            headers,
            "AWS IoT secure tunneling",
        )?)
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
        let v = handle(&call, endpoint).await?;
        Ok(crate::api::aws_json_ok(&v, call.request_id))
    }

    /// The model's two errors, and the awsJson generic ones for the rest (all 400 but the
    /// service's own failures).
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match kind {
            ErrorKind::NotFound => (S::BAD_REQUEST, "ResourceNotFoundException"),
            ErrorKind::LimitExceeded | ErrorKind::VersionsLimitExceeded => {
                (S::BAD_REQUEST, "LimitExceededException")
            }
            ErrorKind::Throttled => (S::BAD_REQUEST, "ThrottlingException"),
            ErrorKind::Unauthorized | ErrorKind::Forbidden => {
                (S::BAD_REQUEST, "AccessDeniedException")
            }
            ErrorKind::NotSupported => (S::BAD_REQUEST, "UnknownOperationException"),
            ErrorKind::Internal | ErrorKind::Timeout | ErrorKind::IndexNotReady => {
                (S::INTERNAL_SERVER_ERROR, "InternalFailure")
            }
            ErrorKind::Conflict
            | ErrorKind::VersionConflict
            | ErrorKind::DeleteConflict
            | ErrorKind::AlreadyExists { .. }
            | ErrorKind::IdConflict
            | ErrorKind::InvalidRequest
            | ErrorKind::InvalidStateTransition
            | ErrorKind::InvalidResponse
            | ErrorKind::PayloadTooLarge
            | ErrorKind::UnsupportedEncoding
            | ErrorKind::CertificateState
            | ErrorKind::CertificateValidation
            | ErrorKind::RegistrationCodeValidation
            | ErrorKind::MalformedPolicy
            | ErrorKind::RegistrationFailed
            | ErrorKind::InvalidQuery
            | ErrorKind::InvalidAggregation
            | ErrorKind::SqlParse
            | ErrorKind::Parameter(_)
            | ErrorKind::NotConfigured
            | ErrorKind::MalformedQuery { .. }
            | ErrorKind::Storage(_) => (S::BAD_REQUEST, "ValidationException"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct TagIn {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimeoutIn {
    max_lifetime_timeout_minutes: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DestinationIn {
    thing_name: Option<String>,
    services: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct In {
    tunnel_id: Option<String>,
    delete: Option<bool>,
    description: Option<String>,
    tags: Option<Vec<TagIn>>,
    destination_config: Option<DestinationIn>,
    timeout_config: Option<TimeoutIn>,
    thing_name: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    client_mode: Option<String>,
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    v.as_deref().ok_or_else(|| {
        ApiError::invalid(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn destination(d: Option<DestinationIn>) -> Result<Option<DestinationConfig>, ApiError> {
    match d {
        None => Ok(None),
        Some(d) => Ok(Some(DestinationConfig {
            thing_name: d.thing_name,
            services: d.services.ok_or_else(|| {
                ApiError::invalid("1 validation error detected: Value null at 'destinationConfig.services' failed to satisfy constraint: Member must not be null")
            })?,
        })),
    }
}

fn tags_in(t: Option<Vec<TagIn>>) -> Vec<(String, String)> {
    t.unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
}

fn tags_json(tags: &BTreeMap<String, String>) -> Value {
    tags.iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect()
}

fn secs(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn connection(s: &SideState) -> Value {
    json!({
        "status": if s.connected { "CONNECTED" } else { "DISCONNECTED" },
        "lastUpdatedAt": secs(s.updated_at),
    })
}

/// DescribeTunnel's `tunnel` (ListTunnels' summary is its first fields but the states).
fn tunnel_json(t: &Tunnel, whole: bool) -> Value {
    let mut m = Map::new();
    m.insert("tunnelId".into(), json!(t.id));
    m.insert("tunnelArn".into(), json!(t.arn));
    m.insert("status".into(), json!(t.status.as_str()));
    if whole {
        m.insert("sourceConnectionState".into(), connection(&t.source));
        m.insert(
            "destinationConnectionState".into(),
            connection(&t.destination),
        );
    }
    if let Some(d) = &t.description {
        m.insert("description".into(), json!(d));
    }
    if whole {
        if let Some(d) = &t.destination_config {
            let mut c = Map::new();
            if let Some(thing) = &d.thing_name {
                c.insert("thingName".into(), json!(thing));
            }
            c.insert("services".into(), json!(d.services));
            m.insert("destinationConfig".into(), Value::Object(c));
        }
        m.insert(
            "timeoutConfig".into(),
            json!({ "maxLifetimeTimeoutMinutes": t.lifetime_minutes }),
        );
        if !t.tags.is_empty() {
            m.insert("tags".into(), tags_json(&t.tags));
        }
    }
    m.insert("createdAt".into(), secs(t.created_at));
    m.insert("lastUpdatedAt".into(), secs(t.last_updated_at));
    Value::Object(m)
}

async fn handle(call: &Call<'_>, endpoint: Endpoint) -> Result<Value, ApiError> {
    let i: In = if call.body.is_empty() {
        In::default()
    } else {
        json::parse(call.body)?
    };
    let tunnels = &call.state.tunnels;
    let part = call.part;
    use Endpoint as E;
    Ok(match endpoint {
        E::OpenTunnel => {
            if i.tags.as_ref().is_some_and(Vec::is_empty) {
                return Err(ApiError::invalid("1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"));
            }
            let req = OpenRequest {
                description: i.description,
                tags: tags_in(i.tags),
                destination: destination(i.destination_config)?,
                lifetime_minutes: i
                    .timeout_config
                    .and_then(|t| t.max_lifetime_timeout_minutes),
            };
            let t = tunnels.open(part, req).await?;
            json!({
                "tunnelId": t.id,
                "tunnelArn": t.arn,
                "sourceAccessToken": t.source,
                "destinationAccessToken": t.destination,
            })
        }
        E::CloseTunnel => {
            let id = required(&i.tunnel_id, "tunnelId")?;
            tunnels.close(part, id, i.delete.unwrap_or(false)).await?;
            json!({})
        }
        E::DescribeTunnel => {
            let id = required(&i.tunnel_id, "tunnelId")?;
            shoal_domain::tunnels::TunnelId::parse(id)?;
            json!({ "tunnel": tunnel_json(&tunnels.describe(part, id)?, true) })
        }
        E::ListTunnels => {
            if let Some(t) = &i.thing_name {
                shoal_domain::tunnels::DestinationConfig {
                    thing_name: Some(t.clone()),
                    services: vec!["-".into()],
                }
                .validate()?;
            }
            let (page, next) = tunnels.list(
                part,
                i.thing_name.as_deref(),
                i.max_results,
                i.next_token.as_deref(),
            )?;
            let mut v = json!({
                "tunnelSummaries": page.iter().map(|t| tunnel_json(t, false)).collect::<Vec<_>>(),
            });
            if let Some(n) = next {
                v["nextToken"] = json!(n);
            }
            v
        }
        E::RotateTunnelAccessToken => {
            let id = required(&i.tunnel_id, "tunnelId")?;
            let mode = ClientMode::parse(required(&i.client_mode, "clientMode")?)?;
            let t = tunnels
                .rotate(part, id, mode, destination(i.destination_config)?)
                .await?;
            let mut v = json!({ "tunnelArn": t.arn });
            if let Some(s) = t.source {
                v["sourceAccessToken"] = json!(s);
            }
            if let Some(d) = t.destination {
                v["destinationAccessToken"] = json!(d);
            }
            v
        }
        E::TagResource => {
            let arn = required(&i.resource_arn, "resourceArn")?;
            let tags = tags_in(i.tags);
            if tags.is_empty() {
                return Err(ApiError::invalid(
                    "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            tunnels.tag(part, arn, &tags).await?;
            json!({})
        }
        E::UntagResource => {
            let arn = required(&i.resource_arn, "resourceArn")?;
            let keys = i.tag_keys.ok_or_else(|| {
                ApiError::invalid("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
            })?;
            tunnels.untag(part, arn, &keys).await?;
            json!({})
        }
        E::ListTagsForResource => {
            let arn = required(&i.resource_arn, "resourceArn")?;
            json!({ "tags": tags_json(&tunnels.list_tags(part, arn)?) })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_routes_and_others_are_unknown() {
        for (t, e) in [
            ("OpenTunnel", Endpoint::OpenTunnel),
            ("CloseTunnel", Endpoint::CloseTunnel),
            ("DescribeTunnel", Endpoint::DescribeTunnel),
            ("ListTunnels", Endpoint::ListTunnels),
            ("RotateTunnelAccessToken", Endpoint::RotateTunnelAccessToken),
            ("TagResource", Endpoint::TagResource),
            ("UntagResource", Endpoint::UntagResource),
            ("ListTagsForResource", Endpoint::ListTagsForResource),
        ] {
            assert_eq!(Endpoint::from_target(&format!("{PREFIX}{t}")).unwrap(), e);
        }
        assert!(Endpoint::from_target("IoTSecuredTunneling.Nope").is_err());
        assert!(Endpoint::from_target("OpenTunnel").is_err());
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-target",
            "IoTSecuredTunneling.ListTunnels".parse().unwrap(),
        );
        assert!(Tunneling::parse(&Method::GET, "/", "", &h).is_err());
        assert_eq!(
            Tunneling::parse(&Method::POST, "/", "", &h).unwrap(),
            Endpoint::ListTunnels
        );
    }
}
