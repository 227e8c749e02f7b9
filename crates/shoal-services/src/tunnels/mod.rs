//! Secure tunneling (the `iotsecuretunneling` API's state): one record per tunnel (kind
//! `tunnel`, keyed by its id, in the account's partition) holding its settings, status and both
//! sides' token hashes and connection states; its lifetime as a timer of the durable scheduler
//! (`lifetime.rs`); the device notification through the reserved-topic port (`notify.rs`); and
//! what the proxy endpoint asks when a local proxy connects or leaves (`access.rs`). The relay
//! itself is the tunnel gateway's (shoal-tunnel), which follows these records through the
//! store's change stream, so every node sees a close, a rotation or a replaced connection
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Secure_Tunneling.html).

mod access;
mod lifetime;
mod notify;
#[cfg(test)]
mod tests;

pub use access::{AccessError, Claim, Standing, TunnelWatch};

use crate::records::{decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use crate::scheduler::{Scheduler, TimerId};
use crate::Messaging;
use shoal_domain::error::Result;
use shoal_domain::tunnels::{
    self as rules, ClientMode, DestinationConfig, Side, SideState, Tunnel, TunnelStatus,
};
use shoal_domain::{Clock, ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Store, Term};
use std::collections::BTreeMap;
use std::sync::Arc;

const KIND: &str = "tunnel";
/// Newest first: `HEX16(created ms)/ID`.
const TERM_ORDER: &str = "tunnel-order";
/// A thing's tunnels, newest first: `THING/HEX16(created ms)/ID`.
const TERM_THING: &str = "tunnel-thing";
/// Present while the tunnel is open (the account's open-tunnel quota counts these).
const TERM_OPEN: &str = "tunnel-open";
/// The scheduler's service name for tunnel lifetimes.
const TIMER: &str = "tunnel";
/// How long a closed tunnel stays describable and listed before its record goes.
pub const CLOSED_RETENTION_MS: i64 = 3 * 3_600_000;
/// ListTunnels' page when `maxResults` is not given (the model allows 1 to 100).
const DEFAULT_PAGE: usize = 100;

pub struct Tunnels {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    scheduler: Arc<Scheduler>,
    messaging: Arc<Messaging>,
    max_open: usize,
}

/// OpenTunnel's request, its fields still unchecked.
#[derive(Debug, Default)]
pub struct OpenRequest {
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
    pub destination: Option<DestinationConfig>,
    pub lifetime_minutes: Option<i64>,
}

/// What OpenTunnel and RotateTunnelAccessToken give back: the tokens, shown once.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub id: String,
    pub arn: String,
    pub source: Option<String>,
    pub destination: Option<String>,
}

impl Tunnels {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        scheduler: Arc<Scheduler>,
        messaging: Arc<Messaging>,
        max_open: usize,
    ) -> Arc<Tunnels> {
        let t = Arc::new(Tunnels {
            store,
            clock,
            scheduler: scheduler.clone(),
            messaging,
            max_open: max_open.max(1),
        });
        scheduler.register(TIMER, Arc::new(lifetime::Lifetime(Arc::downgrade(&t))));
        t
    }

    fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    pub async fn open(&self, part: &Partition, req: OpenRequest) -> Result<Tokens> {
        if let Some(d) = &req.description {
            rules::check_description(d)?;
        }
        if let Some(d) = &req.destination {
            d.validate()?;
        }
        let lifetime = rules::lifetime_minutes(req.lifetime_minutes)?;
        let mut tags = shoal_domain::tags::Tags::default();
        tags.merge(&req.tags)?;
        let pk = part.key();
        let open = self
            .store
            .count_by_term(
                &pk,
                KIND,
                TERM_OPEN,
                shoal_store::TermMatch::Exact("1"),
                self.max_open,
            )
            .map_err(store_error)?;
        if open >= self.max_open {
            return Err(ServiceError::limit(format!(
                "You have reached the maximum number of open tunnels ({}) for this account",
                self.max_open
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let (source, source_hash) = access::new_token(part, &id, Side::Source);
        let (destination, destination_hash) = access::new_token(part, &id, Side::Destination);
        let tunnel = Tunnel {
            arn: format!(
                "arn:aws:iot:{}:{}:tunnel/{id}",
                part.region.as_str(),
                part.account.as_str()
            ),
            id: id.clone(),
            description: req.description,
            destination_config: req.destination,
            lifetime_minutes: lifetime,
            tags: tags.0,
            status: TunnelStatus::Open,
            created_at: now,
            last_updated_at: now,
            source: SideState::new(source_hash, now),
            destination: SideState::new(destination_hash, now),
        };
        self.scheduler.track(part).await?;
        let batch = put(Batch::new(&pk), &tunnel, Expect::Absent)?;
        let batch = Scheduler::set(
            batch,
            &TimerId::new(TIMER, id.clone()),
            shoal_domain::Timestamp(tunnel.closes_at()),
            lifetime::CLOSE.clone(),
            None,
        )?;
        self.store.commit(batch).await.map_err(store_error)?;
        self.scheduler.wake();
        self.notify(part, &tunnel, &destination).await;
        Ok(Tokens {
            id,
            arn: tunnel.arn,
            source: Some(source),
            destination: Some(destination),
        })
    }

    pub fn describe(&self, part: &Partition, id: &str) -> Result<Tunnel> {
        Ok(self.load(part, id)?.0)
    }

    fn load(&self, part: &Partition, id: &str) -> Result<(Tunnel, u64)> {
        let found = load::<Tunnel>(self.store.as_ref(), &part.key(), KIND, id)?;
        found.map(|l| (l.value, l.rev)).ok_or_else(|| not_found(id))
    }

    /// CloseTunnel: CLOSED (kept a while, then removed), or removed at once with `delete`.
    pub async fn close(&self, part: &Partition, id: &str, delete: bool) -> Result<()> {
        rules::TunnelId::parse(id)?;
        let pk = part.key();
        let timer = TimerId::new(TIMER, id.to_string());
        for _ in 0..RETRIES {
            let (mut tunnel, rev) = self.load(part, id)?;
            let current = self.scheduler.find(part, &timer)?;
            let batch = Batch::new(&pk);
            let batch = if delete {
                let batch = batch.delete(KIND, id, Expect::Rev(rev));
                match &current {
                    Some(c) => Scheduler::clear(batch, c),
                    None => batch,
                }
            } else {
                if !tunnel.close(self.now()) {
                    return Ok(());
                }
                let batch = put(batch, &tunnel, Expect::Rev(rev))?;
                Scheduler::set(
                    batch,
                    &timer,
                    shoal_domain::Timestamp(self.now() + CLOSED_RETENTION_MS),
                    lifetime::DELETE.clone(),
                    current.as_ref(),
                )?
            };
            if try_commit(self.store.as_ref(), batch).await? {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// ListTunnels: newest first, a thing's only when `thing` is given.
    pub fn list(
        &self,
        part: &Partition,
        thing: Option<&str>,
        max: Option<i64>,
        next: Option<&str>,
    ) -> Result<(Vec<Tunnel>, Option<String>)> {
        let max = match max {
            None => DEFAULT_PAGE,
            Some(m) => shoal_domain::page::max_results("maxResults", Some(m), 100)?,
        };
        let after = next.map(shoal_domain::page::decode_token).transpose()?;
        let (term, prefix) = match thing {
            Some(t) => (TERM_THING, format!("{t}/")),
            None => (TERM_ORDER, String::new()),
        };
        let cursor = after.as_ref().map(|a| {
            let id = a.rsplit('/').next().unwrap_or_default();
            (a.as_str(), id)
        });
        let recs = self
            .store
            .list_by_term_ordered(&part.key(), KIND, term, &prefix, cursor, true, max + 1)
            .map_err(store_error)?;
        let more = recs.len() > max;
        let mut out = Vec::with_capacity(max);
        let mut last = None;
        for (value, rec) in recs.into_iter().take(max) {
            out.push(decode::<Tunnel>(&rec)?);
            last = Some(value);
        }
        let token = if more {
            last.map(|l| shoal_domain::page::encode_token(&l))
        } else {
            None
        };
        Ok((out, token))
    }

    /// RotateTunnelAccessToken: new tokens for the sides `mode` names; a new destination
    /// token is published to the thing (the request's `destinationConfig`, which then becomes
    /// the tunnel's, or the tunnel's own).
    pub async fn rotate(
        &self,
        part: &Partition,
        id: &str,
        mode: ClientMode,
        destination: Option<DestinationConfig>,
    ) -> Result<Tokens> {
        rules::TunnelId::parse(id)?;
        if let Some(d) = &destination {
            if mode == ClientMode::Source {
                return Err(ServiceError::invalid(
                    "You can not use DestinationConfig with source clientMode",
                ));
            }
            d.validate()?;
        }
        for _ in 0..RETRIES {
            let (mut tunnel, rev) = self.load(part, id)?;
            if tunnel.status == TunnelStatus::Closed {
                return Err(ServiceError::new(
                    ErrorKind::InvalidRequest,
                    format!("Tunnel {id} is closed"),
                ));
            }
            let now = self.now();
            let mut tokens = Tokens {
                id: id.to_string(),
                arn: tunnel.arn.clone(),
                source: None,
                destination: None,
            };
            for side in [Side::Source, Side::Destination] {
                if mode.covers(side) {
                    let (token, hash) = access::new_token(part, id, side);
                    tunnel.rotate(side, hash, now);
                    match side {
                        Side::Source => tokens.source = Some(token),
                        Side::Destination => tokens.destination = Some(token),
                    }
                }
            }
            if let Some(d) = &destination {
                tunnel.destination_config = Some(d.clone());
            }
            let batch = put(Batch::new(part.key()), &tunnel, Expect::Rev(rev))?;
            if try_commit(self.store.as_ref(), batch).await? {
                if let Some(t) = &tokens.destination {
                    self.notify(part, &tunnel, t).await;
                }
                return Ok(tokens);
            }
        }
        Err(crate::records::contention())
    }

    /// The tunnel an ARN names, in the caller's account and region.
    fn by_arn(&self, part: &Partition, arn: &str) -> Result<(Tunnel, u64)> {
        let prefix = format!(
            "arn:aws:iot:{}:{}:tunnel/",
            part.region.as_str(),
            part.account.as_str()
        );
        let id = arn.strip_prefix(&prefix).ok_or_else(|| not_found(arn))?;
        rules::TunnelId::parse(id).map_err(|_| not_found(arn))?;
        self.load(part, id)
    }

    pub fn list_tags(&self, part: &Partition, arn: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.by_arn(part, arn)?.0.tags)
    }

    pub async fn tag(&self, part: &Partition, arn: &str, tags: &[(String, String)]) -> Result<()> {
        self.change_tags(part, arn, |t| {
            let mut all = shoal_domain::tags::Tags(std::mem::take(&mut t.tags));
            let r = all.merge(tags);
            t.tags = all.0;
            r
        })
        .await
    }

    pub async fn untag(&self, part: &Partition, arn: &str, keys: &[String]) -> Result<()> {
        self.change_tags(part, arn, |t| {
            for k in keys {
                t.tags.remove(k);
            }
            Ok(())
        })
        .await
    }

    async fn change_tags(
        &self,
        part: &Partition,
        arn: &str,
        change: impl Fn(&mut Tunnel) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let (mut tunnel, rev) = self.by_arn(part, arn)?;
            change(&mut tunnel)?;
            let batch = put(Batch::new(part.key()), &tunnel, Expect::Rev(rev))?;
            if try_commit(self.store.as_ref(), batch).await? {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }
}

fn not_found(what: &str) -> ServiceError {
    ServiceError::not_found(format!("Tunnel {what} not found"))
}

/// `batch` with the tunnel's record written (under `expect`) with its terms.
fn put(batch: Batch, t: &Tunnel, expect: Expect) -> Result<Batch> {
    Ok(batch.put(KIND, &t.id, SCHEMA, encode(t)?, terms(t), expect))
}

fn terms(t: &Tunnel) -> Vec<Term> {
    let order = format!("{:016x}/{}", t.created_at.max(0), t.id);
    let mut terms = vec![Term::new(TERM_ORDER, order.clone())];
    if let Some(thing) = t
        .destination_config
        .as_ref()
        .and_then(|d| d.thing_name.as_ref())
    {
        terms.push(Term::new(TERM_THING, format!("{thing}/{order}")));
    }
    if t.status == TunnelStatus::Open {
        terms.push(Term::new(TERM_OPEN, "1"));
    }
    terms
}
