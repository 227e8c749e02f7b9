//! Deciding a request: one policy ([`Policy::decide`]) and all the policies of
//! a principal ([`evaluate`]).
//!
//! AWS IoT uses IAM's evaluation logic
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html>):
//! everything is denied unless a statement allows it, and an explicit `Deny`
//! in any policy overrides every `Allow`. A statement applies when its action
//! list, its resource list and all its conditions match the request.
//!
//! This runs for every MQTT packet, so nothing here allocates: patterns were
//! compiled at parse time, the action is looked up once per request, and
//! deny statements are tried before allow statements so the first matching
//! deny ends the evaluation.

use crate::actions::{known_index, ActionSet};
use crate::condition::Condition;
use crate::context::Context;
use crate::pattern::{Outcome, Pattern};

/// The effect of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The outcome of evaluating all policies of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allowed,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// No statement matched: denied by default.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// A parsed and validated AWS IoT policy, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Deny statements are kept apart and tried first.
    pub(crate) denies: Vec<Statement>,
    pub(crate) allows: Vec<Statement>,
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) actions: ActionSet,
    pub(crate) resources: ResourceSet,
    pub(crate) conditions: Vec<Condition>,
}

/// A `Resource` or `NotResource` list.
#[derive(Debug, Clone)]
pub(crate) struct ResourceSet {
    pub(crate) patterns: Vec<Pattern>,
    pub(crate) negated: bool,
}

impl ResourceSet {
    fn covers(&self, resource: &str, ctx: &dyn Context) -> bool {
        if !self.negated {
            // A pattern whose variable has no value does not match; another
            // pattern of the list still may.
            return self
                .patterns
                .iter()
                .any(|p| p.matches(resource, ctx) == Outcome::Match);
        }
        // NotResource: the statement covers what no pattern matches. A
        // pattern that cannot be resolved cannot prove the resource is
        // outside it, so the statement does not apply (IAM: an unresolvable
        // variable may invalidate the statement,
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
        self.patterns
            .iter()
            .all(|p| p.matches(resource, ctx) == Outcome::NoMatch)
    }
}

impl Statement {
    fn applies(
        &self,
        action: &str,
        index: Option<usize>,
        resource: &str,
        ctx: &dyn Context,
    ) -> bool {
        self.actions.covers(action, index)
            && self.resources.covers(resource, ctx)
            && self.conditions.iter().all(|c| c.holds(ctx))
    }
}

impl Policy {
    /// What this one policy says about the request: `Some(Deny)` if any
    /// matching `Deny` statement, else `Some(Allow)` if any matching `Allow`
    /// statement, else `None`.
    pub fn decide(&self, action: &str, resource: &str, ctx: &dyn Context) -> Option<Effect> {
        let index = known_index(action);
        if self.denies_request(action, index, resource, ctx) {
            Some(Effect::Deny)
        } else if self.allows_request(action, index, resource, ctx) {
            Some(Effect::Allow)
        } else {
            None
        }
    }

    /// Every condition key the policy tests, once per condition (in the documented spelling
    /// for the keys AWS defines): what a request must supply for the policy to mean what it
    /// says.
    pub fn condition_keys(&self) -> impl Iterator<Item = &str> {
        self.denies
            .iter()
            .chain(&self.allows)
            .flat_map(|s| s.conditions.iter().map(|c| c.key()))
    }

    /// Every context key evaluation may read: condition keys and the keys of the policy
    /// variables in resources and condition values. A caller that builds request contexts
    /// needs to supply these and no others.
    pub fn context_keys(&self) -> Vec<&str> {
        let mut keys = Vec::new();
        for s in self.denies.iter().chain(&self.allows) {
            for p in &s.resources.patterns {
                keys.extend(p.variable_keys());
            }
            for c in &s.conditions {
                keys.push(c.key());
                keys.extend(c.variable_keys());
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// How many statements the policy has.
    pub fn statement_count(&self) -> usize {
        self.denies.len() + self.allows.len()
    }

    fn denies_request(
        &self,
        action: &str,
        index: Option<usize>,
        resource: &str,
        ctx: &dyn Context,
    ) -> bool {
        self.denies
            .iter()
            .any(|s| s.applies(action, index, resource, ctx))
    }

    fn allows_request(
        &self,
        action: &str,
        index: Option<usize>,
        resource: &str,
        ctx: &dyn Context,
    ) -> bool {
        self.allows
            .iter()
            .any(|s| s.applies(action, index, resource, ctx))
    }
}

impl std::str::FromStr for Policy {
    type Err = crate::PolicyError;

    fn from_str(document: &str) -> Result<Policy, Self::Err> {
        crate::parse(document)
    }
}

/// Decides a request across all policies of a principal: an explicit `Deny`
/// in any of them beats every `Allow`; nothing matching is an implicit deny.
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a Policy>,
    action: &str,
    resource: &str,
    ctx: &dyn Context,
) -> Decision {
    let index = known_index(action);
    let mut allowed = false;
    for policy in policies {
        if policy.denies_request(action, index, resource, ctx) {
            return Decision::ExplicitDeny;
        }
        // Once allowed, only denies can change the answer.
        allowed = allowed || policy.allows_request(action, index, resource, ctx);
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn context_keys_are_those_of_conditions_and_variables() {
        let p = crate::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/${iot:Connection.Thing.ThingName}/*",
                 "Condition":{"StringEquals":{"iot:ClientId":"${iot:Certificate.Subject.CommonName}"},
                              "IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
                {"Effect":"Deny","Action":"iot:Connect","Resource":"*"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            p.context_keys(),
            [
                "aws:SourceIp",
                "iot:Certificate.Subject.CommonName",
                "iot:ClientId",
                "iot:Connection.Thing.ThingName"
            ]
        );
    }
}
