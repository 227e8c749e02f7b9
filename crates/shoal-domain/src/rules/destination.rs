//! Topic rule destinations for HTTP actions: a confirmation URL that must prove it wants the
//! traffic before any rule sends it some. AWS posts a confirmation token to the URL; the
//! owner confirms it (ConfirmTopicRuleDestination, or a GET of the enable URL) and the
//! destination is ENABLED (https://docs.aws.amazon.com/iot/latest/developerguide/rule-destination.html).

use crate::error::{ErrorKind, Result, ServiceError};
use serde::{Deserialize, Serialize};

/// Destinations per account: AWS's quota of topic rule destinations is 5,000
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#rules-limits).
pub const MAX_DESTINATIONS: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DestinationStatus {
    Enabled,
    InProgress,
    Disabled,
    Error,
    Deleting,
}

impl DestinationStatus {
    pub fn parse(s: &str) -> Result<DestinationStatus> {
        Ok(match s {
            "ENABLED" => DestinationStatus::Enabled,
            "IN_PROGRESS" => DestinationStatus::InProgress,
            "DISABLED" => DestinationStatus::Disabled,
            "ERROR" => DestinationStatus::Error,
            "DELETING" => DestinationStatus::Deleting,
            other => {
                return Err(ServiceError::invalid(format!(
                    "Invalid destination status {other}"
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationStatus::Enabled => "ENABLED",
            DestinationStatus::InProgress => "IN_PROGRESS",
            DestinationStatus::Disabled => "DISABLED",
            DestinationStatus::Error => "ERROR",
            DestinationStatus::Deleting => "DELETING",
        }
    }
}

/// An HTTP destination as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub arn: String,
    pub confirmation_url: String,
    pub status: DestinationStatus,
    #[serde(default)]
    pub status_reason: Option<String>,
    /// The token of the confirmation last sent; confirming with it enables the destination.
    pub token: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub last_updated_at: i64,
}

impl Destination {
    pub fn new(arn: String, confirmation_url: String, token: String, now: i64) -> Destination {
        Destination {
            arn,
            confirmation_url,
            status: DestinationStatus::InProgress,
            status_reason: None,
            token,
            created_at: now,
            last_updated_at: now,
        }
    }

    /// ConfirmTopicRuleDestination with `token`: IN_PROGRESS becomes ENABLED.
    pub fn confirm(&mut self, token: &str, now: i64) -> Result<()> {
        if token != self.token {
            return Err(ServiceError::invalid("The confirmation token is not valid"));
        }
        match self.status {
            DestinationStatus::InProgress | DestinationStatus::Error => {
                self.status = DestinationStatus::Enabled;
                self.status_reason = None;
                self.last_updated_at = now;
                Ok(())
            }
            DestinationStatus::Enabled => Ok(()),
            s => Err(ServiceError::new(
                ErrorKind::Conflict,
                format!("The destination is {} and cannot be confirmed", s.as_str()),
            )),
        }
    }

    /// UpdateTopicRuleDestination: "You can only enable a destination in DISABLED status
    /// [and] only disable one in ENABLED"; IN_PROGRESS starts a new confirmation, which the
    /// caller sends with the new token
    /// (https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateTopicRuleDestination.html).
    /// Returns whether a confirmation must be sent.
    pub fn update(&mut self, to: DestinationStatus, new_token: String, now: i64) -> Result<bool> {
        use DestinationStatus as S;
        let resend = match (self.status, to) {
            (S::Disabled, S::Enabled) | (S::Enabled, S::Disabled) => false,
            (S::Enabled, S::Enabled) | (S::Disabled, S::Disabled) => false,
            // "Calling UpdateTopicRuleDestination causes a new confirmation challenge to be
            // sent" whatever the status was.
            (S::InProgress | S::Error | S::Enabled | S::Disabled, S::InProgress) => true,
            (S::InProgress, S::Enabled) => {
                return Err(ServiceError::invalid(
                    "The destination has not been confirmed: confirm it with the token sent to its confirmation URL",
                ))
            }
            (from, to) => {
                return Err(ServiceError::invalid(format!(
                    "A destination cannot go from {} to {}",
                    from.as_str(),
                    to.as_str()
                )))
            }
        };
        if resend {
            self.token = new_token;
            self.status_reason = None;
        }
        self.status = to;
        self.last_updated_at = now;
        Ok(resend)
    }

    /// Whether HTTP actions may send to `url` through this destination: it is ENABLED and
    /// `url` is under its confirmation URL.
    pub fn admits(&self, url: &str) -> bool {
        self.status == DestinationStatus::Enabled && under(url, &self.confirmation_url)
    }
}

/// A URL's scheme, authority (host and port, lower-cased) and the rest; `None` for anything
/// but an `http(s)` URL with a host and no user information (`user@host` would let a URL that
/// starts with a confirmed one reach another host).
pub fn url_parts(url: &str) -> Option<(&'static str, String, &str)> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        ("https", r)
    } else {
        ("http", url.strip_prefix("http://")?)
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    // The default port written or not is the same origin.
    let authority = match (
        scheme,
        authority.strip_suffix(":443"),
        authority.strip_suffix(":80"),
    ) {
        ("https", Some(a), _) | ("http", _, Some(a)) => a.to_string(),
        _ => authority,
    };
    Some((scheme, authority, tail))
}

/// Whether `url` is under `base`: the same scheme and authority, and a path that starts with
/// the base's (the whole URL when it has one).
pub fn under(url: &str, base: &str) -> bool {
    match (url_parts(url), url_parts(base)) {
        (Some((s1, a1, t1)), Some((s2, a2, t2))) => {
            s1 == s2 && a1 == a2 && (t2.is_empty() || t2 == "/" || t1.starts_with(t2))
        }
        _ => false,
    }
}
