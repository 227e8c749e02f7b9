//! A shard's tables: the partition's sessions (online or offline persistent) and its
//! subscription tree, and the operations that keep the two in step.

use super::{ConnId, Delivery, SubOptions};
use crate::subtree::SubTree;
use shoal_mqtt::QoS;
use shoal_services::messaging::{PersistentSession, SessionSubscription};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) struct Subscriber {
    /// As the client sent it, `$share/...` included.
    pub(super) raw: String,
    /// The share group of a shared subscription (MQTT 5 §4.8.2).
    pub(super) group: Option<String>,
    pub(super) client: Arc<str>,
    pub(super) opts: SubOptions,
}

pub(super) struct Online {
    pub(super) conn: ConnId,
    /// The id of the certificate the connection authenticated with.
    pub(super) cert: String,
    pub(super) outbox: mpsc::Sender<Delivery>,
    pub(super) control: Arc<super::Control>,
    /// Its outbox stayed full for `STALL`: it is being disconnected and gets nothing more.
    pub(super) stuck: bool,
}

pub(super) struct Session {
    pub(super) online: Option<Online>,
    /// The session's subscriptions (filter as sent, options), also in the account's tree.
    pub(super) subs: Vec<(String, SubOptions)>,
    /// Seconds the session outlives its connection; 0 for a clean session.
    pub(super) expiry: u32,
    pub(super) disconnected_at: Option<i64>,
    /// Messages in its stored queue (bounded by `MAX_QUEUED`). While it is online the
    /// connection owns what was queued before and reports what is left of it when it ends;
    /// this counts only what was queued since.
    pub(super) queued: u32,
}

#[derive(Default)]
pub(super) struct Table {
    /// Looked up for every delivery: hashed with aHash (randomly keyed per process, so client
    /// ids cannot be chosen to collide), several times faster than SipHash on short keys.
    pub(super) sessions: HashMap<Arc<str>, Session, ahash::RandomState>,
    pub(super) subscriptions: SubTree<Subscriber>,
    /// Next member of each share group to get a message (round robin).
    pub(super) share_turn: HashMap<String, usize>,
}

impl Table {
    pub(super) fn persistent(&self, client: &str) -> Option<PersistentSession> {
        let s = self.sessions.get(client)?;
        if s.expiry == 0 {
            return None;
        }
        Some(PersistentSession {
            client_id: client.to_string(),
            subscriptions: s
                .subs
                .iter()
                .map(|(filter, o)| SessionSubscription {
                    filter: filter.clone(),
                    qos: o.qos as u8,
                    no_local: o.no_local,
                    retain_as_published: o.retain_as_published,
                    id: o.id,
                })
                .collect(),
            expiry_secs: s.expiry,
            disconnected_at: s.disconnected_at,
        })
    }
}

pub(super) fn qos_of(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The filter a subscription is matched with: a shared subscription's inner filter.
pub(super) fn split_share(raw: &str) -> (Option<String>, &str) {
    match shoal_mqtt::shared_subscription(raw) {
        Some((g, f)) => (Some(g.to_string()), f),
        None => (None, raw),
    }
}

/// Adds (or updates) a subscription of an existing session; `true` when it is new.
pub(super) fn add_subscription(
    acc: &mut Table,
    client: &Arc<str>,
    raw: &str,
    opts: SubOptions,
) -> bool {
    // Subscriptions carry the session's own key, so that within an account one client is one
    // pointer: routing compares clients by address.
    let Some(client) = acc.sessions.get_key_value(client).map(|(k, _)| k.clone()) else {
        return false;
    };
    let client = &client;
    let Some(session) = acc.sessions.get_mut(client) else {
        return false;
    };
    let new = match session.subs.iter_mut().find(|(f, _)| f == raw) {
        Some(s) => {
            s.1 = opts;
            false
        }
        None => {
            session.subs.push((raw.to_string(), opts));
            true
        }
    };
    let (group, filter) = split_share(raw);
    let entry = acc.subscriptions.upsert(
        filter,
        Subscriber {
            raw: raw.to_string(),
            group,
            client: client.clone(),
            opts,
        },
        |s| &s.client == client && s.raw == raw,
    );
    entry.opts = opts;
    new
}

pub(super) fn remove_subscription(acc: &mut Table, client: &Arc<str>, raw: &str) {
    if let Some(session) = acc.sessions.get_mut(client) {
        session.subs.retain(|(f, _)| f != raw);
    }
    let (_, filter) = split_share(raw);
    acc.subscriptions
        .remove(filter, |s| &s.client == client && s.raw == raw);
}

/// Takes a session's subscriptions out of the account's tree.
pub(super) fn drop_subscriptions(
    tree: &mut SubTree<Subscriber>,
    client: &Arc<str>,
    subs: &[(String, SubOptions)],
) {
    for (raw, _) in subs {
        let (_, filter) = split_share(raw);
        tree.remove(filter, |s| &s.client == client && s.raw == *raw);
    }
}
