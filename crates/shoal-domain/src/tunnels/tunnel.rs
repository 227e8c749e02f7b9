//! One tunnel's life: OPEN until CloseTunnel or its lifetime ends, then CLOSED for good; two
//! sides (source, destination), each with the hash of its current access token, whether that
//! token was used (a token is single-use unless the proxy that used it gave a `client-token`
//! and gives the same one again), and which connection holds the side (a number that grows
//! with every connection, so the end of a replaced connection cannot mark its successor
//! disconnected) (https://docs.aws.amazon.com/iot/latest/developerguide/iot-secure-tunneling-troubleshooting.html,
//! "client access tokens are single use").

use super::DestinationConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Source,
    Destination,
}

impl Side {
    /// As the proxy's `local-proxy-mode` names it.
    pub fn parse_mode(s: &str) -> Option<Side> {
        match s {
            "source" => Some(Side::Source),
            "destination" => Some(Side::Destination),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Source => Side::Destination,
            Side::Destination => Side::Source,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TunnelStatus {
    Open,
    Closed,
}

impl TunnelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelStatus::Open => "OPEN",
            TunnelStatus::Closed => "CLOSED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideState {
    /// SHA-256 (hex) of the side's current token: the token itself is never stored.
    pub token_hash: String,
    pub used: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub connected: bool,
    /// Which connection holds the side (0: none ever).
    pub connection: u64,
    /// Epoch milliseconds of the last change of `connected`.
    pub updated_at: i64,
}

impl SideState {
    pub fn new(token_hash: String, now: i64) -> SideState {
        SideState {
            token_hash,
            used: false,
            client_token: None,
            connected: false,
            connection: 0,
            updated_at: now,
        }
    }
}

/// Why a proxy may not take a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The tunnel is closed.
    Closed,
    /// Not the side's current token (rotated away, or never its).
    InvalidToken,
    /// The token was used, and this proxy did not give the client token it was used with.
    TokenUsed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tunnel {
    pub id: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_config: Option<DestinationConfig>,
    pub lifetime_minutes: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub status: TunnelStatus,
    pub created_at: i64,
    pub last_updated_at: i64,
    pub source: SideState,
    pub destination: SideState,
}

impl Tunnel {
    pub fn side(&self, side: Side) -> &SideState {
        match side {
            Side::Source => &self.source,
            Side::Destination => &self.destination,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::Source => &mut self.source,
            Side::Destination => &mut self.destination,
        }
    }

    /// When the lifetime ends (epoch milliseconds).
    pub fn closes_at(&self) -> i64 {
        self.created_at + self.lifetime_minutes * 60_000
    }

    /// The services the destination serves (none named: one unnamed service, V1).
    pub fn services(&self) -> &[String] {
        self.destination_config
            .as_ref()
            .map(|d| d.services.as_slice())
            .unwrap_or(&[])
    }

    /// A proxy presents the side's token (hashed) and maybe a client token: the side is its,
    /// as connection number the result gives (any earlier connection of the side is replaced).
    pub fn connect(
        &mut self,
        side: Side,
        token_hash: &str,
        client_token: Option<&str>,
        now: i64,
    ) -> Result<u64, Refusal> {
        if self.status == TunnelStatus::Closed {
            return Err(Refusal::Closed);
        }
        let s = self.side_mut(side);
        if s.token_hash != token_hash {
            return Err(Refusal::InvalidToken);
        }
        if s.used {
            match (s.client_token.as_deref(), client_token) {
                (Some(a), Some(b)) if a == b => {}
                _ => return Err(Refusal::TokenUsed),
            }
        }
        s.used = true;
        if client_token.is_some() {
            s.client_token = client_token.map(str::to_string);
        }
        s.connected = true;
        s.connection += 1;
        s.updated_at = now;
        let n = s.connection;
        self.last_updated_at = now;
        Ok(n)
    }

    /// Connection `connection` of `side` ended; false when a later one holds the side (or the
    /// side was already disconnected), and nothing changes.
    pub fn disconnect(&mut self, side: Side, connection: u64, now: i64) -> bool {
        let s = self.side_mut(side);
        if s.connection != connection || !s.connected {
            return false;
        }
        s.connected = false;
        s.updated_at = now;
        self.last_updated_at = now;
        true
    }

    /// CloseTunnel, or the end of the lifetime: both sides are let go. False if already closed.
    pub fn close(&mut self, now: i64) -> bool {
        if self.status == TunnelStatus::Closed {
            return false;
        }
        self.status = TunnelStatus::Closed;
        for side in [Side::Source, Side::Destination] {
            let s = self.side_mut(side);
            if s.connected {
                s.connected = false;
                s.updated_at = now;
            }
        }
        self.last_updated_at = now;
        true
    }

    /// RotateTunnelAccessToken: the side takes a new token; the old one stops working and the
    /// connection made with it is let go ("the previous access tokens ... are invalidated and
    /// any connections using them are disconnected").
    pub fn rotate(&mut self, side: Side, token_hash: String, now: i64) {
        let s = self.side_mut(side);
        let connected = s.connected;
        *s = SideState {
            connection: s.connection + 1,
            updated_at: if connected { now } else { s.updated_at },
            ..SideState::new(token_hash, now)
        };
        self.last_updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tunnel() -> Tunnel {
        Tunnel {
            id: "t1".into(),
            arn: "arn:aws:iot:us-east-1:123456789012:tunnel/t1".into(),
            description: None,
            destination_config: None,
            lifetime_minutes: 60,
            tags: BTreeMap::new(),
            status: TunnelStatus::Open,
            created_at: 1_000,
            last_updated_at: 1_000,
            source: SideState::new("S".into(), 1_000),
            destination: SideState::new("D".into(), 1_000),
        }
    }

    #[test]
    fn a_token_is_single_use_without_a_client_token() {
        let mut t = tunnel();
        assert_eq!(t.connect(Side::Source, "S", None, 2_000), Ok(1));
        assert!(t.source.connected);
        assert!(t.disconnect(Side::Source, 1, 3_000));
        assert_eq!(
            t.connect(Side::Source, "S", None, 4_000),
            Err(Refusal::TokenUsed)
        );
        assert_eq!(
            t.connect(Side::Source, "D", None, 4_000),
            Err(Refusal::InvalidToken)
        );
    }

    #[test]
    fn a_client_token_lets_the_same_proxy_back_and_replaces_its_connection() {
        let mut t = tunnel();
        let ct = Some("c".repeat(32));
        assert_eq!(
            t.connect(Side::Destination, "D", ct.as_deref(), 2_000),
            Ok(1)
        );
        assert_eq!(
            t.connect(Side::Destination, "D", Some(&"x".repeat(32)), 2_500),
            Err(Refusal::TokenUsed)
        );
        assert_eq!(
            t.connect(Side::Destination, "D", None, 2_500),
            Err(Refusal::TokenUsed)
        );
        assert_eq!(
            t.connect(Side::Destination, "D", ct.as_deref(), 3_000),
            Ok(2)
        );
        // The first connection's end comes late: the side stays with the second.
        assert!(!t.disconnect(Side::Destination, 1, 3_500));
        assert!(t.destination.connected);
    }

    #[test]
    fn rotation_and_closing_let_connections_go() {
        let mut t = tunnel();
        t.connect(Side::Source, "S", None, 2_000).unwrap();
        t.rotate(Side::Source, "S2".into(), 3_000);
        assert!(!t.source.connected && !t.source.used);
        assert_eq!(t.source.connection, 2);
        assert_eq!(
            t.connect(Side::Source, "S", None, 3_500),
            Err(Refusal::InvalidToken)
        );
        assert_eq!(t.connect(Side::Source, "S2", None, 4_000), Ok(3));
        assert!(t.close(5_000));
        assert!(!t.close(6_000));
        assert_eq!(t.status, TunnelStatus::Closed);
        assert!(!t.source.connected);
        assert_eq!(
            t.connect(Side::Destination, "D", None, 7_000),
            Err(Refusal::Closed)
        );
        assert_eq!(t.closes_at(), 1_000 + 3_600_000);
    }
}
