//! The actions an AWS IoT policy may name, and `Action`/`NotAction` lists
//! compiled for evaluation.
//!
//! AWS IoT policies govern the data plane; the actions are the ones listed at
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html>
//! (MQTT, Device Shadow, job executions) plus `iot:AssumeRoleWithCertificate`
//! from the credentials provider
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html>).
//! Greengrass core devices also carry `greengrass:` actions in their IoT
//! policies, so any action of that service is accepted. Action names compare
//! without regard to case, as in IAM.

use crate::api_actions::IOT_API_ACTIONS;
use crate::error::PolicyError;
use crate::pattern::{Pattern, Syntax};

/// Every `iot:` action AWS IoT checks against IoT policies.
pub const IOT_ACTIONS: &[&str] = &[
    "iot:Connect",
    "iot:Publish",
    "iot:Subscribe",
    "iot:Receive",
    "iot:RetainPublish",
    "iot:DeleteConnection",
    "iot:GetRetainedMessage",
    "iot:ListRetainedMessages",
    "iot:GetThingShadow",
    "iot:UpdateThingShadow",
    "iot:DeleteThingShadow",
    "iot:ListNamedShadowsForThing",
    "iot:DescribeJobExecution",
    "iot:GetPendingJobExecutions",
    "iot:StartNextPendingJobExecution",
    "iot:UpdateJobExecution",
    "iot:AssumeRoleWithCertificate",
];

const GREENGRASS: &str = "greengrass:";

/// Whether `action` is an action name (no wildcards) this crate knows:
/// one of [`IOT_ACTIONS`] in any case, or any `greengrass:` action.
pub fn is_known_action(action: &str) -> bool {
    known_index(action).is_some()
        || api_index(action).is_some()
        || greengrass_name(action).is_some_and(|name| !has_wildcard(name))
}

/// The position of `action` in [`IOT_API_ACTIONS`], ignoring case.
fn api_index(action: &str) -> Option<usize> {
    IOT_API_ACTIONS
        .iter()
        .position(|known| known.len() == action.len() && known.eq_ignore_ascii_case(action))
}

/// The position of `action` in [`IOT_ACTIONS`], ignoring case.
pub(crate) fn known_index(action: &str) -> Option<usize> {
    // Callers (the broker, on every packet) spell actions as listed: an exact comparison finds
    // them without the byte-by-byte case folding.
    IOT_ACTIONS
        .iter()
        .position(|known| *known == action)
        .or_else(|| {
            IOT_ACTIONS
                .iter()
                .position(|known| known.len() == action.len() && known.eq_ignore_ascii_case(action))
        })
}

/// The action name after a `greengrass:` prefix (any case), if it is a
/// plausible name: letters, digits and wildcards.
fn greengrass_name(action: &str) -> Option<&str> {
    let name = crate::context::strip_prefix_ignore_case(action, GREENGRASS)?;
    let plausible = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?');
    plausible.then_some(name)
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// The grammar of an action, as IAM checks it: `*`, or `service:name` with one colon and a
/// service prefix of letters, digits, `-` and `.`. The name is not checked against a list:
/// AWS IoT accepts names of actions that do not exist (aws/aws-sdk-js#3993 shows a policy with
/// `iot:GetThingSadow` created and used), which then match nothing; a service prefix with a
/// space is refused, a name with one is kept as written.
fn check_action_syntax(value: &str) -> Result<(), &'static str> {
    if value == "*" {
        return Ok(());
    }
    let Some((service, name)) = value.split_once(':') else {
        return Err("an action is prefixed by its service, e.g. iot:Publish");
    };
    if name.contains(':') {
        return Err("an action can contain only one colon");
    }
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err("the service prefix is not valid");
    }
    if name.is_empty() {
        return Err("the action name is empty");
    }
    Ok(())
}

/// An `Action` or `NotAction` list, compiled.
#[derive(Debug, Clone)]
pub(crate) struct ActionSet {
    /// Bit `i` is set when the list matches `IOT_ACTIONS[i]`: the hot path
    /// answers known actions with one AND instead of glob matching.
    known: u64,
    /// The patterns as written, for actions outside [`IOT_ACTIONS`].
    patterns: Vec<Pattern>,
    /// `NotAction`: the statement covers the actions the list does not match.
    negated: bool,
}

// The bit mask above must hold every known action.
const _: () = assert!(IOT_ACTIONS.len() <= 64);

impl ActionSet {
    pub(crate) fn compile(values: &[&str], negated: bool) -> Result<ActionSet, PolicyError> {
        let element = if negated { "NotAction" } else { "Action" };
        let syntax = Syntax {
            wildcards: true,
            variables: false,
            ignore_case: true,
        };
        let mut known = 0u64;
        let mut patterns = Vec::with_capacity(values.len());
        for value in values {
            check_action_syntax(value).map_err(|why| {
                PolicyError::malformed(format!("{element} \"{value}\" is not valid: {why}"))
            })?;
            let pattern = Pattern::compile(value, syntax);
            for (i, name) in IOT_ACTIONS.iter().enumerate() {
                if pattern.matches_plain(name) {
                    known |= 1 << i;
                }
            }
            patterns.push(pattern);
        }
        Ok(ActionSet {
            known,
            patterns,
            negated,
        })
    }

    /// Whether the statement covers the action. `index` is the action's
    /// position in [`IOT_ACTIONS`], looked up once per request.
    pub(crate) fn covers(&self, action: &str, index: Option<usize>) -> bool {
        let listed = match index {
            Some(i) => self.known & (1u64 << i) != 0,
            None => self.patterns.iter().any(|p| p.matches_plain(action)),
        };
        listed != self.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_actions() {
        assert!(is_known_action("iot:Publish"));
        assert!(is_known_action("IOT:publish"));
        assert!(is_known_action("greengrass:Discover"));
        assert!(!is_known_action("iot:Fly"));
        assert!(is_known_action("iot:UpdateCertificate"));
        assert!(!is_known_action("iot:*"));
        assert!(!is_known_action("greengrass:*"));
        assert!(!is_known_action("s3:GetObject"));
        assert!(!is_known_action(""));
    }

    #[test]
    fn actions_follow_iam_s_grammar_not_a_list() {
        for ok in [
            "iot:*",
            "*",
            "iot:Get*",
            "iot:?ublish",
            "greengrass:*",
            "iot:Fly*",
            "iot:GetThingSadow",
            "iot:Publish ",
            "iot: Publish",
            "iam:PassRole",
        ] {
            assert!(ActionSet::compile(&[ok], false).is_ok(), "{ok}");
        }
        for bad in [
            "iot:",
            "Publish",
            " iot:Connect",
            "io t:Connect",
            "iot:a:b",
            ":x",
        ] {
            assert!(ActionSet::compile(&[bad], false).is_err(), "{bad}");
        }
        // An unknown name matches nothing it does not name.
        let set = ActionSet::compile(&["iot:Publish "], false).unwrap();
        assert!(!set.covers("iot:Publish", known_index("iot:Publish")));
    }

    #[test]
    fn covers() {
        let set = ActionSet::compile(&["iot:Get*", "greengrass:Discover"], false)
            .unwrap_or_else(|e| panic!("{e}"));
        let get = known_index("iot:GetThingShadow");
        assert!(set.covers("iot:GetThingShadow", get));
        assert!(!set.covers("iot:Publish", known_index("iot:Publish")));
        assert!(set.covers("GREENGRASS:discover", None));
        assert!(!set.covers("greengrass:Other", None));
        let not = ActionSet::compile(&["iot:Publish"], true).unwrap_or_else(|e| panic!("{e}"));
        assert!(!not.covers("iot:Publish", known_index("iot:Publish")));
        assert!(not.covers("iot:Receive", known_index("iot:Receive")));
    }
}
