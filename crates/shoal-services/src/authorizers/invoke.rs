//! Authenticating a device with a custom authorizer: the authorizer it names (or the account's
//! default) must be ACTIVE; when signing is on, its token must carry a valid signature by one
//! of the authorizer's keys; then the function gets AWS's event and its answer is checked
//! (https://docs.aws.amazon.com/iot/latest/developerguide/config-custom-auth.html).

use super::Authorizers;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};
use shoal_domain::authorizer::{parse_response, AuthResponse, Authorizer};
use shoal_domain::error::Result;
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_store::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// How long a function may take before the connection is refused.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP answers kept for `enableCachingForHttp`; past this the cache starts afresh.
const CACHE_LIMIT: usize = 10_000;

/// Calls the function an authorizer names: the binary maps function ARNs to HTTP endpoints.
pub trait FunctionPort: Send + Sync {
    /// Posts `event` (JSON) to the function and returns its answer's bytes, or why it could
    /// not (no endpoint for the ARN, unreachable, an error status).
    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        event: Vec<u8>,
    ) -> BoxFuture<'a, std::result::Result<Vec<u8>, String>>;
}

/// What a device presented.
#[derive(Debug, Clone, Default)]
pub struct AuthRequest {
    /// The authorizer it named (`x-amz-customauthorizer-name`); `None`: the account's default.
    pub authorizer: Option<String>,
    pub token: Option<String>,
    /// Where the token is when `token` is not given: the authorizer's `tokenKeyName` names it
    /// among these (an MQTT user name's query parameters, an HTTP request's headers).
    pub token_sources: BTreeMap<String, String>,
    /// `x-amz-customauthorizer-signature`, base64.
    pub signature: Option<String>,
    pub mqtt: Option<MqttAuth>,
    pub http: Option<HttpAuth>,
    /// The TLS server name, when the connection had one.
    pub server_name: Option<String>,
    pub connection_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct MqttAuth {
    /// The CONNECT's user name, its query parameters included.
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub client_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct HttpAuth {
    pub headers: BTreeMap<String, String>,
    pub query_string: String,
}

/// A device the function let in, and what it may do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub authorizer: String,
    pub response: AuthResponse,
}

fn refused(why: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Unauthorized, why)
}

/// AWS's event for the function (config-custom-auth.html, "Defining your Lambda function").
fn event(req: &AuthRequest, verified: bool) -> Value {
    let mut protocols = Vec::new();
    let mut data = Map::new();
    if let Some(s) = &req.server_name {
        protocols.push("tls");
        data.insert("tls".into(), json!({ "serverName": s }));
    }
    if let Some(h) = &req.http {
        protocols.push("http");
        data.insert(
            "http".into(),
            json!({ "headers": h.headers, "queryString": h.query_string }),
        );
    }
    if let Some(m) = &req.mqtt {
        protocols.push("mqtt");
        // "clientId: Included in the event only when the device sends the value."
        let mut mqtt = json!({});
        if !m.client_id.is_empty() {
            mqtt["clientId"] = m.client_id.as_str().into();
        }
        if let Some(u) = &m.username {
            mqtt["username"] = u.as_str().into();
        }
        if let Some(p) = &m.password {
            mqtt["password"] = B64.encode(p).into();
        }
        data.insert("mqtt".into(), mqtt);
    }
    let mut v = json!({
        "signatureVerified": verified,
        "protocols": protocols,
        "protocolData": data,
        "connectionMetadata": { "id": req.connection_id },
    });
    if let Some(t) = &req.token {
        v["token"] = t.as_str().into();
    }
    v
}

impl Authorizers {
    fn authorizer_for(&self, part: &Partition, name: Option<&str>) -> Result<Authorizer> {
        let name = match name {
            Some(n) => n.to_string(),
            None => self
                .default_name(part)?
                .ok_or_else(|| refused("No authorizer named and no default authorizer set"))?,
        };
        match self.describe(part, &name) {
            Ok(a) => Ok(a),
            Err(e) if e.kind == ErrorKind::NotFound => {
                Err(refused(format!("Authorizer {name} does not exist")))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the token's signature is valid under one of the authorizer's keys.
    fn signature_valid(a: &Authorizer, req: &AuthRequest) -> bool {
        let (Some(token), Some(sig)) = (&req.token, &req.signature) else {
            return false;
        };
        let Ok(sig) = B64.decode(sig.trim()) else {
            return false;
        };
        a.token_signing_public_keys
            .values()
            .any(|pem| shoal_pki::verify_token_signature(pem, token.as_bytes(), &sig))
    }

    async fn call(&self, a: &Authorizer, req: &AuthRequest, verified: bool) -> Result<Value> {
        let functions = self
            .functions
            .get()
            .ok_or_else(|| refused("No function endpoints are configured"))?;
        let body = serde_json::to_vec(&event(req, verified))
            .map_err(|e| ServiceError::internal(e.to_string()))?;
        let answer =
            tokio::time::timeout(FUNCTION_TIMEOUT, functions.invoke(&a.function_arn, body))
                .await
                .map_err(|_| {
                    refused(format!(
                        "Function {} did not answer in time",
                        a.function_arn
                    ))
                })?
                .map_err(|e| refused(format!("Function {} failed: {e}", a.function_arn)))?;
        serde_json::from_slice(&answer)
            .map_err(|e| refused(format!("Function {} answered no JSON: {e}", a.function_arn)))
    }

    /// Authenticates a device: `Ok` with what it may do when the function let it in; an
    /// Unauthorized error otherwise (the caller refuses the connection).
    pub async fn authenticate(&self, part: &Partition, req: &AuthRequest) -> Result<Authenticated> {
        let a = self.authorizer_for(part, req.authorizer.as_deref())?;
        let with_token;
        let req = if req.token.is_none() {
            let mut r = req.clone();
            r.token = a.token_key_name.as_ref().and_then(|k| {
                r.token_sources
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            });
            with_token = r;
            &with_token
        } else {
            req
        };
        if !a.active {
            return Err(refused(format!("Authorizer {} is INACTIVE", a.name)));
        }
        let verified = if a.signing_disabled {
            false
        } else if Self::signature_valid(&a, req) {
            true
        } else {
            return Err(refused("The token signature is missing or not valid"));
        };
        let cache_key = (a.enable_caching_for_http && req.http.is_some())
            .then(|| req.token.clone())
            .flatten()
            .map(|t| format!("{}|{}|{}", part.key(), a.name, t));
        if let Some(k) = &cache_key {
            if let Some(hit) = self.cached(k) {
                return Ok(Authenticated {
                    authorizer: a.name,
                    response: hit,
                });
            }
        }
        let v = self.call(&a, req, verified).await?;
        let response = parse_response(&v)
            .map_err(|e| refused(format!("Function {} answered badly: {e}", a.function_arn)))?;
        if !response.is_authenticated {
            return Err(refused(
                "The authorizer's function did not authenticate the client",
            ));
        }
        for doc in &response.policy_documents {
            crate::identity::policies::validate_document(doc).map_err(|e| {
                refused(format!(
                    "The function returned a policy that is not valid: {}",
                    e.message
                ))
            })?;
        }
        if let Some(k) = cache_key {
            self.remember(k, &response);
        }
        Ok(Authenticated {
            authorizer: a.name,
            response,
        })
    }

    /// TestInvokeAuthorizer: the function's answer for what the request describes, whether it
    /// authenticates or not; an answer that breaks the rules is InvalidResponseException.
    pub async fn test_invoke(
        &self,
        part: &Partition,
        name: &str,
        req: &AuthRequest,
    ) -> Result<AuthResponse> {
        let a = self.describe(part, name)?;
        let verified = !a.signing_disabled && Self::signature_valid(&a, req);
        if !a.signing_disabled && !verified {
            return Err(ServiceError::invalid(
                "The token signature is missing or not valid",
            ));
        }
        let v = self
            .call(&a, req, verified)
            .await
            .map_err(|e| ServiceError::new(ErrorKind::InvalidResponse, e.message))?;
        parse_response(&v).map_err(|e| ServiceError::new(ErrorKind::InvalidResponse, e))
    }

    fn cached(&self, key: &str) -> Option<AuthResponse> {
        let now = self.clock.now().millis();
        let cache = self.cache.lock().ok()?;
        let (until, r) = cache.get(key)?;
        (now < *until).then(|| r.clone())
    }

    fn remember(&self, key: String, r: &AuthResponse) {
        let until = self.clock.now().millis() + r.refresh_after_secs * 1000;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, (until, r.clone()));
        }
    }
}

/// HTTP answers kept for `enableCachingForHttp`, by partition, authorizer and token, until
/// their `refreshAfterInSeconds` (epoch ms).
pub(super) type Cache = std::sync::Mutex<HashMap<String, (i64, AuthResponse)>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_carries_what_the_device_presented() {
        let req = AuthRequest {
            token: Some("t".into()),
            mqtt: Some(MqttAuth {
                username: Some("u".into()),
                password: Some(b"pw".to_vec()),
                client_id: "c1".into(),
            }),
            server_name: Some("x.iot.example".into()),
            connection_id: "id-1".into(),
            ..Default::default()
        };
        let v = event(&req, false);
        assert_eq!(v["protocols"], json!(["tls", "mqtt"]));
        assert_eq!(v["protocolData"]["mqtt"]["password"], "cHc=");
        assert_eq!(v["protocolData"]["mqtt"]["clientId"], "c1");
        assert_eq!(v["protocolData"]["tls"]["serverName"], "x.iot.example");
        assert_eq!(v["token"], "t");
        assert_eq!(v["signatureVerified"], false);
        assert_eq!(v["connectionMetadata"]["id"], "id-1");
    }
}
