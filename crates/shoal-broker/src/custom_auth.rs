//! MQTT with a custom authorizer: a TLS connection without a client certificate whose CONNECT
//! names an authorizer in its user name (`USER?x-amz-customauthorizer-name=NAME` plus, when
//! the authorizer verifies signatures, the token under its `tokenKeyName` and
//! `x-amz-customauthorizer-signature`), or whose account has a default authorizer. The account
//! is the one whose endpoint the TLS server name names, else the default account
//! (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth.html).
//!
//! The function's answer governs the connection: its policies authorize it, it ends after
//! `disconnectAfterInSeconds`, and after `refreshAfterInSeconds` the function is asked again
//! (and a refusal then ends it). Both are read on the `Clock`.

use crate::principal::Principal;
use crate::Gateway;
use shoal_domain::{Partition, ServiceError};
use shoal_services::authorizers::{AuthRequest, Authenticated, MqttAuth};
use shoal_services::domains::DomainConfiguration;
use std::collections::BTreeMap;

const NAME_PARAM: &str = "x-amz-customauthorizer-name";
const SIGNATURE_PARAM: &str = "x-amz-customauthorizer-signature";

/// A connection a custom authorizer let in.
pub struct Custom {
    pub partition: Partition,
    pub principal_id: String,
    pub policies: Vec<String>,
    /// Epoch ms after which the connection ends, and after which the function is asked again.
    pub disconnect_at: i64,
    pub refresh_at: i64,
    /// What the device presented, to ask the function again.
    pub request: AuthRequest,
}

impl Custom {
    fn new(partition: Partition, a: Authenticated, request: AuthRequest, now: i64) -> Custom {
        let r = a.response;
        Custom {
            partition,
            principal_id: r.principal_id,
            policies: r.policy_documents,
            disconnect_at: now + r.disconnect_after_secs * 1000,
            refresh_at: now + r.refresh_after_secs * 1000,
            request,
        }
    }

    /// The next time the connection must be looked at (epoch ms).
    pub fn next_check(&self) -> i64 {
        self.disconnect_at.min(self.refresh_at)
    }

    /// A refreshed answer: new policies and the next refresh; the end stays where it was.
    pub fn refreshed(&mut self, a: Authenticated, now: i64) {
        self.principal_id = a.response.principal_id;
        self.policies = a.response.policy_documents;
        self.refresh_at = now + a.response.refresh_after_secs * 1000;
    }
}

/// The user name's own part and its query parameters (percent-decoded).
fn split_username(username: &str) -> (String, BTreeMap<String, String>) {
    let (user, query) = username.split_once('?').unwrap_or((username, ""));
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(decode(k), decode(v));
    }
    (user.to_string(), params)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            if let Some(h) = hex {
                let text = std::str::from_utf8(h).unwrap_or("00");
                out.push(u8::from_str_radix(text, 16).unwrap_or(0));
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Gateway {
    /// The account a connection without a certificate belongs to and the domain
    /// configuration its TLS server name picks: a created configuration's domain, or an
    /// account endpoint (its `iot:Data-ATS`), else the default account's `iot:Data-ATS`. A
    /// DISABLED configuration refuses the connection.
    pub(crate) fn custom_partition(
        &self,
        server_name: Option<&str>,
    ) -> Result<(Partition, DomainConfiguration), ServiceError> {
        if let Some(host) = server_name {
            if let Some((part, config)) = self.domains.resolve(host)? {
                if part.region == self.region {
                    if let Some(e) = config.refuses() {
                        return Err(e);
                    }
                    return Ok((part, config));
                }
            }
        }
        let named = match server_name {
            Some(host) => self.accounts.account_of_endpoint(host)?,
            None => None,
        };
        let account = match named {
            Some(a) => a,
            None => self
                .accounts
                .default_account()?
                .ok_or_else(|| ServiceError::internal("no default account"))?,
        };
        let part = Partition::new(account, self.region.clone());
        let config = self.domains.data_endpoint(&part)?;
        if let Some(e) = config.refuses() {
            return Err(e);
        }
        Ok((part, config))
    }

    /// Authenticates a CONNECT with a custom authorizer.
    pub(crate) async fn custom_login(
        &self,
        connect: &shoal_mqtt::Connect,
        server_name: Option<&str>,
        connection_id: String,
    ) -> Result<Principal, ServiceError> {
        let (partition, domain) = self.custom_partition(server_name)?;
        // The function gets the whole user name, its query included, as AWS's sample
        // functions expect (they parse it themselves).
        let user = connect.username.clone();
        let params = match user.as_deref() {
            Some(u) => split_username(u).1,
            None => BTreeMap::new(),
        };
        let request = AuthRequest {
            authorizer: domain.authorizer_for(params.get(NAME_PARAM).map(String::as_str)),
            token: None,
            signature: params.get(SIGNATURE_PARAM).cloned(),
            token_sources: params
                .into_iter()
                .filter(|(k, _)| k != NAME_PARAM && k != SIGNATURE_PARAM)
                .collect(),
            mqtt: Some(MqttAuth {
                username: user,
                password: connect.password.as_ref().map(|p| p.to_vec()),
                client_id: connect.client_id.clone(),
            }),
            http: None,
            server_name: server_name.map(str::to_string),
            connection_id,
        };
        let a = self.authorizers.authenticate(&partition, &request).await?;
        let now = self.messaging.now();
        Ok(Principal::Custom(Box::new(Custom::new(
            partition, a, request, now,
        ))))
    }
}

impl Gateway {
    /// Whether a WebSocket upgrade without SigV4 has a custom authorizer to ask: it names one,
    /// or its account has a default.
    pub(crate) fn custom_auth_possible(
        &self,
        up: &crate::websocket::Upgrade,
        server_name: Option<&str>,
    ) -> bool {
        let named = up.headers.iter().any(|(n, _)| n == NAME_PARAM)
            || split_username(&format!("?{}", up.query))
                .1
                .contains_key(NAME_PARAM);
        let Ok((part, domain)) = self.custom_partition(server_name) else {
            return named;
        };
        named
            || domain.authorizer_for(None).is_some()
            || self
                .authorizers
                .default_name(&part)
                .is_ok_and(|d| d.is_some())
    }

    /// Authenticates a WebSocket upgrade with a custom authorizer: the authorizer, token and
    /// signature come from its headers or query string, and the function gets them as
    /// `protocolData.http`.
    pub(crate) async fn custom_login_websocket(
        &self,
        up: &crate::websocket::Upgrade,
        server_name: Option<&str>,
        connection_id: String,
    ) -> Result<Principal, ServiceError> {
        let (partition, domain) = self.custom_partition(server_name)?;
        let (_, params) = split_username(&format!("?{}", up.query));
        let headers: BTreeMap<String, String> = up.headers.iter().cloned().collect();
        let pick = |name: &str| headers.get(name).or_else(|| params.get(name)).cloned();
        let request = AuthRequest {
            authorizer: domain.authorizer_for(pick(NAME_PARAM).as_deref()),
            token: None,
            signature: pick(SIGNATURE_PARAM),
            token_sources: headers
                .iter()
                .chain(params.iter())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            mqtt: None,
            http: Some(shoal_services::authorizers::HttpAuth {
                headers: headers.clone(),
                query_string: if up.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", up.query)
                },
            }),
            server_name: server_name.map(str::to_string),
            connection_id,
        };
        let a = self.authorizers.authenticate(&partition, &request).await?;
        let now = self.messaging.now();
        Ok(Principal::Custom(Box::new(Custom::new(
            partition, a, request, now,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_name_carries_the_authorizer_and_the_token() {
        let (user, params) =
            split_username("dev?x-amz-customauthorizer-name=my%2Dauth&token=a+b&x-amz-customauthorizer-signature=c2ln");
        assert_eq!(user, "dev");
        assert_eq!(params[NAME_PARAM], "my-auth");
        assert_eq!(params["token"], "a b");
        assert_eq!(params[SIGNATURE_PARAM], "c2ln");
        let (user, params) = split_username("plain");
        assert_eq!(user, "plain");
        assert!(params.is_empty());
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
