//! AWS IoT secure tunneling's rules, pure: the request fields OpenTunnel and
//! RotateTunnelAccessToken take (validated with the `iotsecuretunneling` model's patterns), the
//! device notification, and a tunnel's life (`tunnel.rs`: OPEN to CLOSED, the two sides'
//! tokens and connections)
//! (https://docs.aws.amazon.com/iot/latest/developerguide/secure-tunneling.html).

mod tunnel;

pub use tunnel::{Refusal, Side, SideState, Tunnel, TunnelStatus};

use crate::error::{Result, ServiceError};
use crate::ids::check;
use serde::{Deserialize, Serialize};

/// `maxLifetimeTimeoutMinutes`: 1 to 720 (12 hours), 720 when not given (TimeoutInMin).
pub const MAX_LIFETIME_MINUTES: i64 = 720;
/// Services a destination may name: "You can specify up to three services"
/// (https://docs.aws.amazon.com/iot/latest/developerguide/multiplexing.html).
pub const MAX_SERVICES: usize = 3;
/// AWS's default quota of tunnels open at once per account and region
/// (https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html); Shoal's
/// `[tunnels] max_open` changes it.
pub const DEFAULT_MAX_OPEN: usize = 300;

/// A tunnel's id (TunnelId: `[a-zA-Z0-9_\-+=:]{1,128}`); Shoal makes UUIDs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TunnelId(String);

impl TunnelId {
    pub fn parse(s: &str) -> Result<TunnelId> {
        check("tunnelId", s, 1, 128, "[a-zA-Z0-9_\\-+=:]{1,128}", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '=' | ':')
        })?;
        Ok(TunnelId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TunnelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which tokens RotateTunnelAccessToken replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    Source,
    Destination,
    All,
}

impl ClientMode {
    pub fn parse(s: &str) -> Result<ClientMode> {
        match s {
            "SOURCE" => Ok(ClientMode::Source),
            "DESTINATION" => Ok(ClientMode::Destination),
            "ALL" => Ok(ClientMode::All),
            _ => Err(ServiceError::invalid(format!(
                "1 validation error detected: Value '{s}' at 'clientMode' failed to satisfy constraint: Member must satisfy enum value set: [SOURCE, DESTINATION, ALL]"
            ))),
        }
    }

    pub fn covers(self, side: Side) -> bool {
        matches!(
            (self, side),
            (ClientMode::All, _)
                | (ClientMode::Source, Side::Source)
                | (ClientMode::Destination, Side::Destination)
        )
    }
}

/// Where the destination is and what it serves (DestinationConfig).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_name: Option<String>,
    pub services: Vec<String>,
}

impl DestinationConfig {
    /// Checks the model's patterns and AWS's rules: 1 to 3 services, each named once.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.thing_name {
            check(
                "destinationConfig.thingName",
                t,
                1,
                128,
                "[a-zA-Z0-9:_-]+",
                is_name_char,
            )?;
        }
        if self.services.is_empty() {
            return Err(ServiceError::invalid(
                "1 validation error detected: Value '[]' at 'destinationConfig.services' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        if self.services.len() > MAX_SERVICES {
            return Err(ServiceError::invalid(format!(
                "A tunnel can have at most {MAX_SERVICES} services"
            )));
        }
        for (i, s) in self.services.iter().enumerate() {
            check(
                "destinationConfig.services.member",
                s,
                1,
                128,
                "[a-zA-Z0-9:_-]+",
                is_name_char,
            )?;
            if self.services[..i].contains(s) {
                return Err(ServiceError::invalid(format!(
                    "The service {s} is listed more than once"
                )));
            }
        }
        Ok(())
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
}

/// `maxLifetimeTimeoutMinutes` as given (or AWS's default of 720).
pub fn lifetime_minutes(given: Option<i64>) -> Result<i64> {
    match given {
        None => Ok(MAX_LIFETIME_MINUTES),
        Some(m) if (1..=MAX_LIFETIME_MINUTES).contains(&m) => Ok(m),
        Some(m) => Err(ServiceError::invalid(format!(
            "1 validation error detected: Value '{m}' at 'timeoutConfig.maxLifetimeTimeoutMinutes' failed to satisfy constraint: Member must have value between 1 and {MAX_LIFETIME_MINUTES}"
        ))),
    }
}

/// A tunnel's description (`[^\p{C}]{1,2048}`: no control or format characters).
pub fn check_description(d: &str) -> Result<()> {
    check("description", d, 1, 2048, "[^\\p{C}]{1,2048}", |c| {
        !c.is_control()
            && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{feff}' | '\u{2028}'..='\u{202e}')
    })
}

/// A local proxy's `client-token` header: `^[a-zA-Z0-9-]{32,128}$`, as the local proxy's
/// guide for `--client-token` gives it.
pub fn valid_client_token(t: &str) -> bool {
    (32..=128).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The topic a thing's destination token is published on.
pub fn notify_topic(thing: &str) -> String {
    format!("$aws/things/{thing}/tunnels/notify")
}

/// The notification's payload, in AWS's field order
/// (https://docs.aws.amazon.com/iot/latest/developerguide/agent-snippet.html).
pub fn notify_payload(token: &str, region: &str, services: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "clientAccessToken": token,
        "clientMode": "destination",
        "region": region,
        "services": services,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(thing: Option<&str>, services: &[&str]) -> DestinationConfig {
        DestinationConfig {
            thing_name: thing.map(str::to_string),
            services: services.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn destination_configs_follow_the_model() {
        assert!(config(Some("dev-1"), &["SSH"]).validate().is_ok());
        assert!(config(None, &["SSH1", "SSH2", "RDP:3389"])
            .validate()
            .is_ok());
        assert!(config(None, &[]).validate().is_err());
        assert!(config(None, &["A", "B", "C", "D"]).validate().is_err());
        assert!(config(None, &["SSH", "SSH"]).validate().is_err());
        assert!(config(None, &["bad name"]).validate().is_err());
        assert!(config(Some("bad/thing"), &["SSH"]).validate().is_err());
        assert!(config(None, &[&"x".repeat(129)]).validate().is_err());
    }

    #[test]
    fn lifetimes_default_to_twelve_hours() {
        assert_eq!(lifetime_minutes(None).unwrap(), 720);
        assert_eq!(lifetime_minutes(Some(1)).unwrap(), 1);
        assert!(lifetime_minutes(Some(0)).is_err());
        assert!(lifetime_minutes(Some(721)).is_err());
    }

    #[test]
    fn ids_modes_and_tokens() {
        assert!(TunnelId::parse("a1b2-c3+d4=e5:f6_").is_ok());
        assert!(TunnelId::parse("").is_err());
        assert!(TunnelId::parse("a/b").is_err());
        assert_eq!(ClientMode::parse("ALL").unwrap(), ClientMode::All);
        assert!(ClientMode::parse("all").is_err());
        assert!(ClientMode::Source.covers(Side::Source));
        assert!(!ClientMode::Source.covers(Side::Destination));
        assert!(ClientMode::All.covers(Side::Destination));
        assert!(valid_client_token(&"a-1".repeat(11)));
        assert!(!valid_client_token("short"));
        assert!(!valid_client_token(&"a_".repeat(20)));
        assert!(check_description("an SSH session").is_ok());
        assert!(check_description("bell\u{7}").is_err());
    }

    #[test]
    fn the_notification_is_awss_document() {
        let p = notify_payload("tok", "us-east-1", &["SSH".to_string()]);
        assert_eq!(
            String::from_utf8(p).unwrap(),
            r#"{"clientAccessToken":"tok","clientMode":"destination","region":"us-east-1","services":["SSH"]}"#
        );
        assert_eq!(notify_topic("dev"), "$aws/things/dev/tunnels/notify");
    }
}
