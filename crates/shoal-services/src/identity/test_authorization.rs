//! GetEffectivePolicies and TestAuthorization: which policies apply to a principal (those
//! attached to its certificate and to the thing groups, and their ancestors, of the thing it
//! connects as), and what they decide for MQTT actions.
//! https://docs.aws.amazon.com/iot/latest/apireference/API_TestAuthorization.html

use super::Identity;
use crate::records::load;
use crate::registry::KIND_THING;
use shoal_domain::error::Result;
use shoal_domain::identity::Policy;
use shoal_domain::thing::Thing;
use shoal_domain::{Partition, ServiceError};
use shoal_policy::{Context, Effect};

/// One `authInfos` entry.
pub struct AuthCheck {
    /// PUBLISH, SUBSCRIBE, RECEIVE or CONNECT.
    pub action_type: String,
    pub resources: Vec<String>,
}

pub struct AuthResult {
    pub action_type: String,
    pub resources: Vec<String>,
    pub decision: &'static str,
    pub allowed: Vec<String>,
    pub explicit_deny: Vec<String>,
    pub implicit_deny: Vec<String>,
}

fn action_of(action_type: &str) -> Result<&'static str> {
    Ok(match action_type {
        "PUBLISH" => "iot:Publish",
        "SUBSCRIBE" => "iot:Subscribe",
        "RECEIVE" => "iot:Receive",
        "CONNECT" => "iot:Connect",
        other => {
            return Err(ServiceError::invalid(format!(
                "actionType {other} must be one of PUBLISH, SUBSCRIBE, RECEIVE, CONNECT"
            )))
        }
    })
}

impl Identity {
    /// The policies in force for a certificate principal connecting as `thing`: the
    /// certificate's own, then those of the thing's groups and their ancestors.
    pub fn effective_policies(
        &self,
        part: &Partition,
        principal: Option<&str>,
        thing: Option<&str>,
    ) -> Result<Vec<Policy>> {
        let key = part.key();
        let mut names = Vec::new();
        if let Some(p) = principal {
            let id = Self::certificate_id_of(part, p)?;
            self.require_certificate(part, &id)?;
            names.extend(self.attached_policy_names(part, p)?);
        }
        if let Some(t) = thing {
            let thing = load::<Thing>(self.store(), &key, KIND_THING, t)?
                .ok_or_else(|| ServiceError::not_found(format!("Thing {t} cannot be found.")))?;
            for g in &thing.value.group_tree {
                names.extend(self.attached_policy_names(part, &part.arn("thinggroup", g))?);
            }
        }
        names.sort();
        names.dedup();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(p) = load::<Policy>(self.store(), &key, super::KIND_POLICY, &n)? {
                out.push(p.value);
            }
        }
        Ok(out)
    }

    /// TestAuthorization.
    pub fn test_authorization(
        &self,
        part: &Partition,
        principal: Option<&str>,
        client_id: Option<&str>,
        checks: &[AuthCheck],
        add: &[String],
        skip: &[String],
    ) -> Result<Vec<AuthResult>> {
        let thing = match (principal, client_id) {
            (Some(p), Some(c)) if self.is_attached(part, c, p)? => Some(c),
            _ => None,
        };
        let mut policies = self.effective_policies(part, principal, thing)?;
        policies.retain(|p| !skip.contains(&p.name));
        for name in add {
            if !policies.iter().any(|p| &p.name == name) {
                policies.push(self.get_policy(part, name)?);
            }
        }
        let compiled: Vec<(String, shoal_policy::Policy)> = policies
            .iter()
            .map(|p| {
                super::policies::validate_document(p.default_document())
                    .map(|c| (p.name.clone(), c))
            })
            .collect::<Result<_>>()?;
        let base = self.context_for(part, principal, client_id, &Default::default(), &None)?;
        let ctx = super::context::Timed::at(&base, &self.clock);
        let mut results = Vec::with_capacity(checks.len());
        for check in checks {
            let action = action_of(&check.action_type)?;
            let (mut allowed, mut denied) = (Vec::new(), Vec::new());
            let mut all_allowed = !check.resources.is_empty();
            for (name, policy) in &compiled {
                let mut allows_all = !check.resources.is_empty();
                for r in &check.resources {
                    match policy.decide(action, r, &ctx as &dyn Context) {
                        Some(Effect::Deny) => {
                            if !denied.contains(name) {
                                denied.push(name.clone());
                            }
                            allows_all = false;
                        }
                        Some(Effect::Allow) => {}
                        None => allows_all = false,
                    }
                }
                if allows_all {
                    allowed.push(name.clone());
                }
            }
            for r in &check.resources {
                let ok = compiled
                    .iter()
                    .any(|(_, p)| p.decide(action, r, &ctx) == Some(Effect::Allow));
                all_allowed &= ok;
            }
            let decision = if !denied.is_empty() {
                "EXPLICIT_DENY"
            } else if all_allowed {
                "ALLOWED"
            } else {
                "IMPLICIT_DENY"
            };
            let implicit_deny = if decision == "IMPLICIT_DENY" {
                compiled.iter().map(|(n, _)| n.clone()).collect()
            } else {
                Vec::new()
            };
            results.push(AuthResult {
                action_type: check.action_type.clone(),
                resources: check.resources.clone(),
                decision,
                allowed: if decision == "ALLOWED" {
                    allowed
                } else {
                    Vec::new()
                },
                explicit_deny: denied,
                implicit_deny,
            });
        }
        Ok(results)
    }
}
