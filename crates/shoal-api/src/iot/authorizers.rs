//! The custom-authorizer operations: their routes and handlers
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateAuthorizer.html and siblings).

use super::shapes::{epoch, tag_pairs, TagIn};
use crate::error::ApiError;
use crate::json;
use crate::request::{decode, Query};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::authorizer::Authorizer;
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::authorizers::{AuthRequest, AuthorizerInput, Authorizers, HttpAuth, MqttAuth};
use std::collections::BTreeMap;

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    CreateAuthorizer { name: String },
    DescribeAuthorizer { name: String },
    UpdateAuthorizer { name: String },
    DeleteAuthorizer { name: String },
    ListAuthorizers { query: Query },
    TestInvokeAuthorizer { name: String },
    SetDefaultAuthorizer,
    DescribeDefaultAuthorizer,
    ClearDefaultAuthorizer,
}

impl Route {
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as A;
        Some(match (method, segs) {
            // The model's URI is `/authorizers/`; without the slash it is the same list.
            ("GET", ["authorizers"] | ["authorizers", ""]) => {
                Query::parse(raw_query).map(|query| A::ListAuthorizers { query })
            }
            ("POST", ["authorizer", n]) => decode(n).map(|name| A::CreateAuthorizer { name }),
            ("GET", ["authorizer", n]) => decode(n).map(|name| A::DescribeAuthorizer { name }),
            ("PUT", ["authorizer", n]) => decode(n).map(|name| A::UpdateAuthorizer { name }),
            ("DELETE", ["authorizer", n]) => decode(n).map(|name| A::DeleteAuthorizer { name }),
            ("POST", ["authorizer", n, "test"]) => {
                decode(n).map(|name| A::TestInvokeAuthorizer { name })
            }
            ("POST", ["default-authorizer"]) => Ok(A::SetDefaultAuthorizer),
            ("GET", ["default-authorizer"]) => Ok(A::DescribeDefaultAuthorizer),
            ("DELETE", ["default-authorizer"]) => Ok(A::ClearDefaultAuthorizer),
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizerIn {
    authorizer_function_arn: Option<String>,
    token_key_name: Option<String>,
    token_signing_public_keys: Option<BTreeMap<String, String>>,
    status: Option<String>,
    signing_disabled: Option<bool>,
    enable_caching_for_http: Option<bool>,
    tags: Option<Vec<TagIn>>,
}

impl AuthorizerIn {
    fn input(&self) -> Result<AuthorizerInput, ApiError> {
        let active = match self.status.as_deref() {
            None => None,
            Some("ACTIVE") => Some(true),
            Some("INACTIVE") => Some(false),
            Some(other) => {
                return Err(shoal_domain::ids::validation_error(
                    "status",
                    other,
                    "Member must satisfy enum value set: [ACTIVE, INACTIVE]",
                )
                .into())
            }
        };
        Ok(AuthorizerInput {
            function_arn: self.authorizer_function_arn.clone(),
            token_key_name: self.token_key_name.clone(),
            token_signing_public_keys: self.token_signing_public_keys.clone(),
            active,
            signing_disabled: self.signing_disabled,
            enable_caching_for_http: self.enable_caching_for_http,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultIn {
    authorizer_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpContextIn {
    headers: Option<BTreeMap<String, String>>,
    query_string: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MqttContextIn {
    username: Option<String>,
    /// A blob: base64 in JSON.
    password: Option<String>,
    client_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsContextIn {
    server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestInvokeIn {
    token: Option<String>,
    token_signature: Option<String>,
    http_context: Option<HttpContextIn>,
    mqtt_context: Option<MqttContextIn>,
    tls_context: Option<TlsContextIn>,
}

fn name_and_arn(part: &Partition, name: &str) -> Value {
    json!({ "authorizerName": name, "authorizerArn": part.arn("authorizer", name) })
}

fn description(part: &Partition, a: &Authorizer) -> Value {
    let mut d = json!({
        "authorizerName": a.name,
        "authorizerArn": part.arn("authorizer", &a.name),
        "authorizerFunctionArn": a.function_arn,
        "tokenSigningPublicKeys": a.token_signing_public_keys,
        "status": if a.active { "ACTIVE" } else { "INACTIVE" },
        "creationDate": epoch(a.created),
        "lastModifiedDate": epoch(a.modified),
        "signingDisabled": a.signing_disabled,
        "enableCachingForHttp": a.enable_caching_for_http,
    });
    if let Some(t) = &a.token_key_name {
        d["tokenKeyName"] = t.as_str().into();
    }
    d
}

pub async fn handle(auth: &Authorizers, part: &Partition, route: Route, body: &[u8]) -> R {
    use Route as A;
    match route {
        A::CreateAuthorizer { name } => {
            let mut input: AuthorizerIn = json::parse(body)?;
            let tags = tag_pairs(input.tags.take());
            let a = auth.create(part, &name, input.input()?, &tags).await?;
            Ok(name_and_arn(part, &a.name))
        }
        A::DescribeAuthorizer { name } => {
            let a = auth.describe(part, &name)?;
            Ok(json!({ "authorizerDescription": description(part, &a) }))
        }
        A::UpdateAuthorizer { name } => {
            let input: AuthorizerIn = json::parse(body)?;
            if input.signing_disabled.is_some() {
                return Err(ApiError::invalid(
                    "signingDisabled cannot be changed by UpdateAuthorizer",
                ));
            }
            let a = auth.update(part, &name, input.input()?).await?;
            Ok(name_and_arn(part, &a.name))
        }
        A::DeleteAuthorizer { name } => {
            auth.delete(part, &name).await?;
            Ok(json!({}))
        }
        A::ListAuthorizers { query } => {
            let active = match query.get("status") {
                None => None,
                Some("ACTIVE") => Some(true),
                Some("INACTIVE") => Some(false),
                Some(other) => {
                    return Err(ApiError::invalid(format!("Invalid status {other}")));
                }
            };
            let (names, next) = auth.list(
                part,
                max_results("pageSize", query.int("pageSize")?, 250)?,
                query.get("marker"),
                query.bool("isAscendingOrder")?.unwrap_or(true),
                active,
            )?;
            let list: Vec<Value> = names.iter().map(|n| name_and_arn(part, n)).collect();
            let mut v = json!({ "authorizers": list });
            if let Some(m) = next {
                v["nextMarker"] = m.into();
            }
            Ok(v)
        }
        A::SetDefaultAuthorizer => {
            let input: DefaultIn = json::parse(body)?;
            let name = input
                .authorizer_name
                .ok_or_else(|| ApiError::invalid("authorizerName is required"))?;
            let a = auth.set_default(part, &name).await?;
            Ok(name_and_arn(part, &a.name))
        }
        A::DescribeDefaultAuthorizer => {
            let a = auth.describe_default(part)?;
            Ok(json!({ "authorizerDescription": description(part, &a) }))
        }
        A::ClearDefaultAuthorizer => {
            auth.clear_default(part).await?;
            Ok(json!({}))
        }
        A::TestInvokeAuthorizer { name } => {
            let input: TestInvokeIn = json::parse(body)?;
            let mqtt = match input.mqtt_context {
                Some(m) => Some(MqttAuth {
                    username: m.username,
                    password: m
                        .password
                        .map(|p| B64.decode(p.as_bytes()))
                        .transpose()
                        .map_err(|_| ApiError::invalid("mqttContext.password must be base64"))?,
                    client_id: m.client_id.unwrap_or_default(),
                }),
                None => None,
            };
            let req = AuthRequest {
                authorizer: Some(name.clone()),
                token: input.token,
                token_sources: Default::default(),
                signature: input.token_signature,
                mqtt,
                http: input.http_context.map(|h| HttpAuth {
                    headers: h.headers.unwrap_or_default(),
                    query_string: h.query_string.unwrap_or_default(),
                }),
                server_name: input.tls_context.and_then(|t| t.server_name),
                connection_id: uuid::Uuid::new_v4().to_string(),
            };
            let r = auth.test_invoke(part, &name, &req).await?;
            Ok(json!({
                "isAuthenticated": r.is_authenticated,
                "principalId": r.principal_id,
                "policyDocuments": r.policy_documents,
                "refreshAfterInSeconds": r.refresh_after_secs,
                "disconnectAfterInSeconds": r.disconnect_after_secs,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_parses_and_others_pass() {
        for (m, path, op) in [
            ("POST", "/authorizer/a1", "CreateAuthorizer"),
            ("GET", "/authorizer/a1", "DescribeAuthorizer"),
            ("PUT", "/authorizer/a1", "UpdateAuthorizer"),
            ("DELETE", "/authorizer/a1", "DeleteAuthorizer"),
            ("GET", "/authorizers/", "ListAuthorizers"),
            ("POST", "/authorizer/a1/test", "TestInvokeAuthorizer"),
            ("POST", "/default-authorizer", "SetDefaultAuthorizer"),
            ("GET", "/default-authorizer", "DescribeDefaultAuthorizer"),
            ("DELETE", "/default-authorizer", "ClearDefaultAuthorizer"),
        ] {
            let segs = crate::request::segments(path);
            let r = Route::parse(m, &segs, "").unwrap().unwrap();
            assert!(format!("{r:?}").starts_with(op), "{m} {path}: {r:?}");
        }
        assert!(Route::parse("GET", &["things"], "").is_none());
    }
}
