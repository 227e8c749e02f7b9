//! Publishing: a message handed to every matching subscription of its partition, queued for
//! offline persistent sessions, retained when asked, with backpressure from full outboxes.

use super::table::Table;
use super::{send_control, Delivery, Out, State, SubOptions, MAX_QUEUED, STALL};
use crate::message::Msg;
use crate::persister::Then;
use shoal_mqtt::QoS;
use shoal_services::messaging::Write;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A subscription matching a message: its client id and options.
type Member<'a> = (&'a Arc<str>, SubOptions);

/// A copy of `m` at `qos` for an offline session's stored queue, numbered after the last one.
pub(super) fn enqueue(
    seq: &mut u64,
    part: &str,
    client: &str,
    m: &Msg,
    qos: QoS,
    now: i64,
) -> (String, Write) {
    *seq += 1;
    let mut message = m.stored();
    message.qos = qos as u8;
    if message.published_at == 0 {
        message.published_at = now;
    }
    (
        part.to_string(),
        Write::Enqueue {
            client_id: client.to_string(),
            seq: *seq,
            message,
        },
    )
}

impl State {
    /// Hands a message to every client with a matching subscription — once per client at the
    /// highest matching QoS (MQTT 3.1.1 §3.3.5), capped by the publish QoS — and to one member
    /// of each matching share group (MQTT 5 §4.8.2), with the identifiers of every
    /// subscription it matched (§3.3.4). Live deliveries carry RETAIN 0 (§3.3.1.3) unless the
    /// subscription asked for Retain As Published. QoS 1 and 2 messages for offline persistent
    /// sessions are queued in the store, up to `MAX_QUEUED` per session.
    pub(super) async fn publish(
        &mut self,
        msg: Msg,
        retain: bool,
        ack: Option<oneshot::Sender<bool>>,
    ) {
        let now = self.clock.now().millis();
        let Table {
            sessions,
            subscriptions,
            share_turn,
        } = &mut self.table;
        let part = &self.part;
        let mut writes = Vec::new();
        if retain {
            let mut stored = msg.stored();
            if stored.published_at == 0 {
                stored.published_at = now;
            }
            writes.push((part.clone(), Write::Retain(stored)));
        }
        // Every matching subscription, then one entry per client at its highest QoS (MQTT
        // 3.1.1 §3.3.5). A client is one pointer within a partition (subscriptions hold their
        // session's key), so sorting by address finds duplicates without comparing strings.
        let mut best: Vec<(&Arc<str>, SubOptions, Vec<u32>)> = Vec::new();
        // Keyed by the filter as sent, `$share/<group>/<filter>`: one entry per share group.
        let mut groups: HashMap<&str, Vec<Member<'_>>> = HashMap::new();
        subscriptions.matches(&msg.topic, |s| {
            if s.opts.no_local && msg.from.as_deref() == Some(&*s.client) {
                return;
            }
            match &s.group {
                None => best.push((&s.client, s.opts, s.opts.id.into_iter().collect())),
                Some(_) => groups
                    .entry(s.raw.as_str())
                    .or_default()
                    .push((&s.client, s.opts)),
            }
        });
        if best.len() > 1 {
            let addr = |c: &Arc<str>| Arc::as_ptr(c) as *const u8 as usize;
            best.sort_unstable_by(|a, b| addr(a.0).cmp(&addr(b.0)).then(b.1.qos.cmp(&a.1.qos)));
            // One copy per client: the highest QoS, RETAIN as published if any subscription
            // asked, and every subscription's identifier (§3.3.4).
            best.dedup_by(|later, first| {
                if !Arc::ptr_eq(later.0, first.0) {
                    return false;
                }
                first.1.retain_as_published |= later.1.retain_as_published;
                first.2.append(&mut later.2);
                true
            });
        }
        for (share, members) in groups {
            let turn = share_turn.entry(share.to_string()).or_insert(0);
            // The next member that is connected; an offline persistent one only if none is.
            let n = members.len();
            let pick = (0..n)
                .map(|i| members[(*turn + i) % n])
                .find(|(c, _)| sessions.get(*c).is_some_and(|s| s.online.is_some()))
                .unwrap_or(members[*turn % n]);
            *turn = (*turn + 1) % n;
            best.push((pick.0, pick.1, pick.1.id.into_iter().collect()));
        }
        let shared = Arc::new(msg);
        for (client, opts, ids) in best {
            let Some(session) = sessions.get_mut(client) else {
                continue;
            };
            let qos = shared.qos.min(opts.qos);
            let delivery = Delivery {
                msg: shared.clone(),
                qos,
                retain: retain && opts.retain_as_published,
                ids: (!ids.is_empty()).then(|| Box::new(ids)),
            };
            let keep = match &mut session.online {
                Some(o) if o.stuck => None,
                Some(o) => match o.outbox.try_send(delivery) {
                    Ok(()) => None,
                    Err(mpsc::error::TrySendError::Full(d)) if d.qos == QoS::AtMostOnce => {
                        tracing::debug!(client = %client, "subscriber outbox full; QoS 0 delivery dropped");
                        None
                    }
                    Err(mpsc::error::TrySendError::Full(out)) => {
                        if tokio::time::timeout(STALL, o.outbox.send(out))
                            .await
                            .is_err()
                        {
                            tracing::info!(client = %client, "subscriber not reading; disconnected");
                            o.stuck = true;
                            send_control(&o.control, Out::Overflowed);
                        }
                        None
                    }
                    // The connection is ending and the shard has not heard yet: a persistent
                    // session keeps the message for its next connection.
                    Err(mpsc::error::TrySendError::Closed(d))
                        if session.expiry > 0 && d.qos != QoS::AtMostOnce =>
                    {
                        Some(d.msg)
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => None,
                },
                // AWS stores QoS 1 messages for offline persistent sessions; QoS 0 ones are lost.
                None if session.expiry > 0 && qos != QoS::AtMostOnce => Some(shared.clone()),
                None => None,
            };
            if let Some(m) = keep {
                if session.queued >= MAX_QUEUED {
                    tracing::debug!(client = %client, "persistent session queue full; message dropped");
                } else {
                    session.queued += 1;
                    writes.push(enqueue(&mut self.seq, part, client, &m, qos, now));
                }
            }
        }
        match (writes.is_empty(), ack) {
            (true, Some(ack)) => {
                let _ = ack.send(true);
            }
            (true, None) => {}
            (false, ack) => {
                let then: Option<Then> = ack.map(|ack| {
                    Box::new(move |ok| {
                        let _ = ack.send(ok);
                    }) as Then
                });
                self.persister.submit(writes, then).await;
            }
        }
    }
}
