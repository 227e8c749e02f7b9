//! What the proxy endpoint asks of a tunnel's record. A client access token is
//! `BASE64URL(ACCOUNT/REGION/TUNNEL/SIDE).BASE64URL(32 random bytes)`: it names its tunnel, so a
//! proxy with no AWS credentials is placed without a global index, and the record keeps only
//! its SHA-256, so a token is good exactly while the side's hash is its own. A connection holds
//! its side as the connection number its conditional write gave it; it lives while the record
//! still says so (`holds`): a close, a delete, a rotation or a newer connection with the same
//! client token ends it on whichever node it is.

use super::{put, Tunnels, KIND};
use crate::records::{load, try_commit, RETRIES};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shoal_domain::tunnels::{Refusal, Side, Tunnel, TunnelStatus};
use shoal_domain::{AccountId, Partition, Region};
use shoal_store::{Batch, Changes, Expect};
use std::sync::Arc;

/// A side taken by one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub part: Partition,
    pub tunnel: String,
    pub side: Side,
    pub connection: u64,
    /// The destination's services (`SERVICE_IDS`); empty for a tunnel without any.
    pub services: Vec<String>,
}

/// Why a proxy is refused at the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    /// Not a token of any open tunnel's side (malformed, rotated, closed or deleted tunnel).
    InvalidToken,
    /// The token is the other side's (`local-proxy-mode` does not match).
    WrongMode,
    /// Used before, by a proxy that did not give this client token.
    TokenUsed,
    /// The store failed: the proxy may try again.
    Unavailable,
}

pub(super) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token for `side` of tunnel `id`, and its hash for the record.
pub(super) fn new_token(part: &Partition, id: &str, side: Side) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let name = format!("{}/{id}/{}", part.key(), side.as_str());
    let token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(name),
        URL_SAFE_NO_PAD.encode(secret)
    );
    let h = hash(&token);
    (token, h)
}

/// The partition, tunnel and side a token names (not yet whether it is good).
fn named(token: &str) -> Option<(Partition, String, Side)> {
    if token.len() > 1024 {
        return None;
    }
    let (name, _) = token.split_once('.')?;
    let name = String::from_utf8(URL_SAFE_NO_PAD.decode(name).ok()?).ok()?;
    let mut parts = name.splitn(4, '/');
    let account = AccountId::parse(parts.next()?).ok()?;
    let region = Region::parse(parts.next()?).ok()?;
    let id = parts.next()?.to_string();
    let side = Side::parse_mode(parts.next()?)?;
    Some((Partition::new(account, region), id, side))
}

impl Tunnels {
    /// A local proxy in `mode` presents `token` (and maybe a client token): it takes the side,
    /// replacing an earlier connection of the same proxy.
    pub async fn connect(
        &self,
        token: &str,
        mode: Side,
        client_token: Option<&str>,
    ) -> Result<Claim, AccessError> {
        let (part, id, side) = named(token).ok_or(AccessError::InvalidToken)?;
        let token_hash = hash(token);
        let pk = part.key();
        for _ in 0..RETRIES {
            let found = load::<Tunnel>(self.store.as_ref(), &pk, KIND, &id)
                .map_err(|_| AccessError::Unavailable)?
                .ok_or(AccessError::InvalidToken)?;
            let mut tunnel = found.value;
            if tunnel.side(side).token_hash != token_hash {
                return Err(AccessError::InvalidToken);
            }
            if side != mode {
                return Err(AccessError::WrongMode);
            }
            let connection = match tunnel.connect(side, &token_hash, client_token, self.now()) {
                Ok(n) => n,
                Err(Refusal::TokenUsed) => return Err(AccessError::TokenUsed),
                Err(Refusal::Closed | Refusal::InvalidToken) => {
                    return Err(AccessError::InvalidToken)
                }
            };
            let batch = put(Batch::new(&pk), &tunnel, Expect::Rev(found.rev))
                .map_err(|_| AccessError::Unavailable)?;
            match try_commit(self.store.as_ref(), batch).await {
                Ok(true) => {
                    return Ok(Claim {
                        part,
                        tunnel: id,
                        side,
                        connection,
                        services: tunnel.services().to_vec(),
                    })
                }
                Ok(false) => continue,
                Err(_) => return Err(AccessError::Unavailable),
            }
        }
        Err(AccessError::Unavailable)
    }

    /// The connection of `claim` ended: its side is DISCONNECTED unless a later connection
    /// took it (or the tunnel went).
    pub async fn disconnect(&self, claim: &Claim) {
        let pk = claim.part.key();
        for _ in 0..RETRIES {
            let Ok(Some(found)) = load::<Tunnel>(self.store.as_ref(), &pk, KIND, &claim.tunnel)
            else {
                return;
            };
            let mut tunnel = found.value;
            if !tunnel.disconnect(claim.side, claim.connection, self.now()) {
                return;
            }
            let Ok(batch) = put(Batch::new(&pk), &tunnel, Expect::Rev(found.rev)) else {
                return;
            };
            match try_commit(self.store.as_ref(), batch).await {
                Ok(false) => continue,
                Ok(true) => return,
                Err(e) => {
                    tracing::warn!(tunnel = %claim.tunnel, error = %e.message, "tunnel disconnect not recorded");
                    return;
                }
            }
        }
    }

    /// Whether `claim`'s connection still holds its side: a newer connection of the same
    /// proxy took it, or the tunnel closed, went or had the side's token rotated. A read error
    /// keeps the connection.
    pub fn standing(&self, claim: &Claim) -> Standing {
        match load::<Tunnel>(self.store.as_ref(), &claim.part.key(), KIND, &claim.tunnel) {
            Ok(Some(t)) => {
                let s = t.value.side(claim.side);
                if t.value.status != TunnelStatus::Open {
                    Standing::Ended
                } else if s.connected && s.connection == claim.connection {
                    Standing::Holds
                } else if s.connected && s.connection > claim.connection && s.used {
                    Standing::Replaced
                } else {
                    Standing::Ended
                }
            }
            Ok(None) => Standing::Ended,
            Err(_) => Standing::Holds,
        }
    }

    /// At start-up, before the proxy endpoint listens: no connection of this node is live, so
    /// a side the records still show CONNECTED (the process was killed, or stopped during a
    /// handshake) is DISCONNECTED. With several nodes each would need to clear only its own
    /// connections; Shoal's store is one node's today.
    pub async fn forget_connections(&self) -> shoal_domain::error::Result<usize> {
        let mut fixed = 0;
        let parts = self
            .store
            .partitions()
            .map_err(crate::records::store_error)?;
        for pk in parts {
            let mut after: Option<String> = None;
            loop {
                let recs = self
                    .store
                    .list_by_term(
                        &pk,
                        KIND,
                        super::TERM_OPEN,
                        shoal_store::TermMatch::Exact("1"),
                        after.as_deref(),
                        256,
                    )
                    .map_err(crate::records::store_error)?;
                let Some(last) = recs.last() else { break };
                after = Some(last.key.clone());
                for r in &recs {
                    let mut t: Tunnel = crate::records::decode(r)?;
                    let now = self.now();
                    let mut changed = false;
                    for side in [Side::Source, Side::Destination] {
                        let n = t.side(side).connection;
                        changed |= t.disconnect(side, n, now);
                    }
                    if changed
                        && try_commit(
                            self.store.as_ref(),
                            put(Batch::new(&pk), &t, Expect::Rev(r.rev))?,
                        )
                        .await?
                    {
                        fixed += 1;
                    }
                }
            }
        }
        Ok(fixed)
    }

    /// Whether the claim's tunnel is still open (a read error says yes).
    pub fn is_open(&self, claim: &Claim) -> bool {
        match load::<Tunnel>(self.store.as_ref(), &claim.part.key(), KIND, &claim.tunnel) {
            Ok(Some(t)) => t.value.status == TunnelStatus::Open,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    pub fn holds(&self, claim: &Claim) -> bool {
        self.standing(claim) == Standing::Holds
    }

    /// The tunnels whose records change, from the store's change stream.
    pub fn watch(&self) -> TunnelWatch {
        TunnelWatch {
            rx: self.store.changes(),
        }
    }
}

/// Where a connection stands against its tunnel's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Holds,
    /// The same proxy connected again (its client token) and took the side.
    Replaced,
    /// Closed, deleted, or the token rotated.
    Ended,
}

/// Follows tunnel records through the store's change stream.
pub struct TunnelWatch {
    rx: tokio::sync::broadcast::Receiver<Arc<Changes>>,
}

/// What changed: tunnels as (partition key, id), or `None` when the stream was missed and
/// every live tunnel must be checked again.
pub type Changed = Option<Vec<(String, String)>>;

impl TunnelWatch {
    /// The next batch that touched tunnel records; `Err(())` when the store closed.
    pub async fn next(&mut self) -> Result<Changed, ()> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match self.rx.recv().await {
                Ok(c) => {
                    let ids: Vec<(String, String)> = c
                        .records
                        .iter()
                        .filter(|(k, _)| k == KIND || k == "*")
                        .map(|(_, key)| (c.partition.clone(), key.clone()))
                        .collect();
                    if ids.iter().any(|(_, k)| k == "*") || c.records.iter().any(|(k, _)| k == "*")
                    {
                        return Ok(None);
                    }
                    if !ids.is_empty() {
                        return Ok(Some(ids));
                    }
                }
                Err(RecvError::Lagged(_)) => return Ok(None),
                Err(RecvError::Closed) => return Err(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_tunnel_and_side() {
        let part = Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("eu-west-1").unwrap(),
        );
        let (token, h) = new_token(&part, "abc-123", Side::Destination);
        assert_eq!(hash(&token), h);
        let (p, id, side) = named(&token).unwrap();
        assert_eq!((p, id.as_str(), side), (part, "abc-123", Side::Destination));
        assert!(named("garbage").is_none());
        assert!(named("Zm9v.YmFy").is_none());
        assert!(named(&"A".repeat(2000)).is_none());
    }
}
