//! The request context of IoT policies: the values of policy variables and condition keys for
//! one device connection (or one TestAuthorization call), and the list of keys Shoal supplies.
//! Every key a policy may test gets its value here, so that a `Deny` conditioned on it works as
//! on AWS; a key Shoal cannot supply is refused when the policy is created, rather than
//! silently never matching.
//! https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html

use super::Identity;
use crate::records::load;
use crate::registry::KIND_THING;
use shoal_domain::error::Result;
use shoal_domain::thing::Thing;
use shoal_domain::{Clock, ErrorKind, Partition, ServiceError};
use shoal_policy::Context;
use std::collections::HashMap;
use std::sync::Arc;

/// What the transport knows about a connection, for the keys that describe it.
#[derive(Debug, Clone, Default)]
pub struct ConnFacts<'a> {
    /// `aws:SourceIp`.
    pub source_ip: Option<std::net::IpAddr>,
    /// `aws:SecureTransport`: TLS (MQTT over TLS, WebSocket over TLS, HTTPS).
    pub secure_transport: bool,
    /// `iot:DomainName`: the TLS server name the device asked for.
    pub domain_name: Option<&'a str>,
    /// `iot:ConnectAttributes` has `PersistentConnect` for a session that outlives its
    /// connection (https://docs.aws.amazon.com/iot/latest/developerguide/connect-policy.html).
    pub persistent: bool,
    /// `iot:LastWillTopic`, and `LastWill` in `iot:ConnectAttributes`.
    pub will_topic: Option<&'a str>,
}

/// Whether Shoal gives `key` a value: it supplies every key AWS IoT defines (below, in
/// `context_for` and in `Timed`).
pub(crate) fn supplied(key: &str) -> bool {
    shoal_policy::is_iot_key(key)
}

/// Refuses a policy that tests a condition key Shoal never gives a value to
/// (CreatePolicy, CreatePolicyVersion).
pub(crate) fn check_condition_keys(policy: &shoal_policy::Policy) -> Result<()> {
    for key in policy.condition_keys() {
        if !supplied(key) {
            return Err(ServiceError::new(
                ErrorKind::MalformedPolicy,
                format!(
                    "The condition key {key} is not supported: Shoal does not supply its value, so a condition on it could never hold"
                ),
            ));
        }
    }
    Ok(())
}

/// Values by key; multi-valued keys (`iot:ConnectAttributes`, certificate `.List` keys,
/// `iot:Certificate.AvailableKeys`) keep every value.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    values: HashMap<String, Vec<String>>,
}

impl RequestContext {
    pub(crate) fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), vec![value.into()]);
    }

    fn set_all(&mut self, key: impl Into<String>, values: Vec<String>) {
        self.values.insert(key.into(), values);
    }
}

impl Context for RequestContext {
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn for_each_value(&self, key: &str, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        match self.values.get(key) {
            Some(values) => {
                for v in values {
                    if !visit(v) {
                        break;
                    }
                }
                true
            }
            None => false,
        }
    }
}

/// The context with the time keys of the moment of evaluation, for policies that test them.
pub(crate) struct Timed<'a> {
    pub base: &'a RequestContext,
    pub epoch: String,
    pub current: String,
}

impl Timed<'_> {
    pub(crate) fn at<'a>(base: &'a RequestContext, clock: &Arc<dyn Clock>) -> Timed<'a> {
        let secs = clock.now().secs();
        Timed {
            base,
            epoch: secs.to_string(),
            current: shoal_sigv4::format_iso8601(secs),
        }
    }
}

impl Context for Timed<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "aws:EpochTime" => Some(&self.epoch),
            "aws:CurrentTime" => Some(&self.current),
            _ => self.base.get(key),
        }
    }

    fn for_each_value(&self, key: &str, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        match key {
            "aws:EpochTime" | "aws:CurrentTime" => {
                visit(self.get(key).unwrap_or_default());
                true
            }
            _ => self.base.for_each_value(key, visit),
        }
    }
}

/// Whether any of the policies tests the time keys, so evaluation must read the clock.
pub(crate) fn uses_time(policies: &[Arc<shoal_policy::Policy>]) -> bool {
    policies.iter().any(|p| {
        p.condition_keys()
            .any(|k| k == "aws:CurrentTime" || k == "aws:EpochTime")
    })
}

/// The context keys a set of policies may read, or every key (`None`, for TestAuthorization).
pub(crate) type Wanted = Option<std::collections::HashSet<String>>;

/// The keys the policies may read: a connection's context keeps only those, so it costs
/// memory and store reads only for what its policies use.
pub(crate) fn wanted_by(policies: &[Arc<shoal_policy::Policy>]) -> Wanted {
    Some(
        policies
            .iter()
            .flat_map(|p| p.context_keys())
            .map(str::to_string)
            .collect(),
    )
}

impl Identity {
    /// The context of a certificate connecting with `client_id`: the thing variables resolve
    /// when a thing of that name is attached to the certificate (AWS); the certificate's fields
    /// and the connection's facts fill the rest. Only keys in `wanted` are kept, and the thing
    /// and certificate are read only when a wanted key needs them.
    pub(crate) fn context_for(
        &self,
        part: &Partition,
        principal: Option<&str>,
        client_id: Option<&str>,
        facts: &ConnFacts<'_>,
        wanted: &Wanted,
    ) -> Result<RequestContext> {
        let wants = |k: &str| wanted.as_ref().is_none_or(|w| w.contains(k));
        let wants_family = |prefix: &str| {
            wanted
                .as_ref()
                .is_none_or(|w| w.iter().any(|k| k.starts_with(prefix)))
        };
        let mut ctx = RequestContext::default();
        if let Some(c) = client_id {
            ctx.set("iot:ClientId", c);
            if let (Some(p), true) = (principal, wants_family("iot:Connection.Thing.")) {
                // The thing named by the client id when it is attached; otherwise the thing the
                // certificate is exclusively attached to, whatever the client id
                // (https://docs.aws.amazon.com/iot/latest/developerguide/exclusive-thing.html).
                let thing = if self.is_attached(part, c, p)? {
                    Some(c.to_string())
                } else {
                    self.exclusive_thing(part, p)?
                };
                ctx.set(
                    "iot:Connection.Thing.IsAttached",
                    if thing.is_some() { "true" } else { "false" },
                );
                if let Some(name) = &thing {
                    if let Some(t) = load::<Thing>(self.store(), &part.key(), KIND_THING, name)? {
                        ctx.set("iot:Connection.Thing.ThingName", t.value.name.as_str());
                        if let Some(ty) = &t.value.type_name {
                            ctx.set("iot:Connection.Thing.ThingTypeName", ty.as_str());
                        }
                        for (k, v) in &t.value.attributes {
                            ctx.set(format!("iot:Connection.Thing.Attributes[{k}]"), v.as_str());
                        }
                    }
                }
            }
        }
        if let Some(p) = principal {
            let id = Self::certificate_id_of(part, p)?;
            if wants_family("iot:Certificate.") {
                let cert = self.require_certificate(part, &id)?.value;
                if let Ok(parsed) = shoal_pki::parse_pem(&cert.pem) {
                    if let Ok(vars) = shoal_pki::policy_variables(&parsed.der) {
                        for (k, v) in vars {
                            ctx.set_all(k, v);
                        }
                    }
                }
            }
            ctx.set("iot:CertificateId", id.as_str());
        }
        if let Some(ip) = facts.source_ip {
            ctx.set("aws:SourceIp", ip.to_string());
        }
        ctx.set(
            "aws:SecureTransport",
            if facts.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        if let Some(d) = facts.domain_name {
            ctx.set("iot:DomainName", d);
        }
        let mut attributes = Vec::new();
        if facts.persistent {
            attributes.push("PersistentConnect".to_string());
        }
        if let Some(t) = facts.will_topic {
            attributes.push("LastWill".to_string());
            ctx.set("iot:LastWillTopic", t);
        }
        // No attributes: the key is absent, which `ForAllValues` treats as passing and
        // `ForAnyValue` as failing, as IAM does for an empty set.
        if !attributes.is_empty() {
            ctx.set_all("iot:ConnectAttributes", attributes);
        }
        ctx.values.retain(|k, _| wants(k));
        ctx.values.shrink_to_fit();
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_keys_come_from_the_clock_at_evaluation() {
        let clock: Arc<dyn Clock> = Arc::new(shoal_domain::ManualClock::new(
            shoal_domain::Timestamp::from_secs(1_577_836_801),
        ));
        let base = RequestContext::default();
        let t = Timed::at(&base, &clock);
        assert_eq!(t.get("aws:EpochTime"), Some("1577836801"));
        assert_eq!(t.get("aws:CurrentTime"), Some("2020-01-01T00:00:01Z"));
        // The policy language reads the value as the instant it is.
        let p = shoal_policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*",
                "Condition":{"DateEquals":{"aws:CurrentTime":"2020-01-01T00:00:01Z"},
                             "NumericEquals":{"aws:EpochTime":"1577836801"}}}]}"#,
        )
        .unwrap();
        assert!(shoal_policy::evaluate([&p], "iot:Connect", "arn:x", &t).is_allowed());
    }
}
