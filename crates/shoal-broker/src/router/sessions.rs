//! The router's commands other than publishing: connections taking and leaving client ids,
//! subscriptions, revocations, and the sweep of expired offline sessions.

use super::fanout::enqueue;
use super::table::{
    add_subscription, drop_subscriptions, remove_subscription, Account, Online, Session,
};
use super::{send_control, Cmd, ConnId, Connected, Disconnect, Out, State};
use crate::persister::Then;
use shoal_domain::Partition;
use shoal_mqtt::QoS;
use shoal_services::messaging::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::oneshot;

impl State {
    pub(super) fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    pub(super) async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect {
                account,
                partition,
                client_id,
                conn,
                cert,
                outbox,
                clean_start,
                expiry,
                done,
            } => self.connect(
                account,
                &partition,
                client_id,
                Online {
                    conn,
                    cert,
                    outbox,
                    stuck: false,
                },
                clean_start,
                expiry,
                done,
            ),
            Cmd::Revoke { account, cert } => {
                if let Some(acc) = self.accounts.get(&account) {
                    for s in acc.sessions.values() {
                        if let Some(o) = s.online.as_ref().filter(|o| o.cert == cert) {
                            send_control(&o.outbox, Out::Revoked);
                        }
                    }
                }
            }
            Cmd::Disconnect(d) => self.disconnect(d).await,
            Cmd::Subscribe {
                account,
                client_id,
                conn,
                filter,
                qos,
                no_local,
                done,
            } => {
                let Some(acc) = self.live(&account, &client_id, conn) else {
                    return;
                };
                add_subscription(acc, &client_id, &filter, qos, no_local);
                let saved = acc
                    .persistent(&client_id)
                    .map(|session| (acc.part.clone(), Write::SaveSession(session)));
                match saved {
                    Some(write) => {
                        let then: Then = Box::new(move |_| {
                            let _ = done.send(());
                        });
                        self.persister.try_submit(vec![write], Some(then));
                    }
                    None => {
                        let _ = done.send(());
                    }
                }
            }
            Cmd::Unsubscribe {
                account,
                client_id,
                conn,
                filter,
            } => {
                let Some(acc) = self.live(&account, &client_id, conn) else {
                    return;
                };
                remove_subscription(acc, &client_id, &filter);
                self.save_session(&account, &client_id);
            }
            Cmd::Publish {
                partition,
                msg,
                retain,
                ack,
            } => {
                self.publish(
                    partition.account.as_str(),
                    Some(&partition),
                    msg,
                    retain,
                    ack,
                )
                .await
            }
        }
    }

    /// The account of a client id whose session is held by connection `conn` right now.
    pub(super) fn live(
        &mut self,
        account: &str,
        client: &str,
        conn: ConnId,
    ) -> Option<&mut Account> {
        let acc = self.accounts.get_mut(account)?;
        let s = acc.sessions.get(client)?;
        (s.online.as_ref()?.conn == conn).then_some(acc)
    }

    pub(super) fn save_session(&self, account: &str, client: &str) {
        let Some(acc) = self.accounts.get(account) else {
            return;
        };
        if let Some(s) = acc.persistent(client) {
            self.persister
                .try_submit(vec![(acc.part.clone(), Write::SaveSession(s))], None);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn connect(
        &mut self,
        account: String,
        partition: &Partition,
        client: Arc<str>,
        online: Online,
        clean_start: bool,
        expiry: u32,
        done: oneshot::Sender<Connected>,
    ) {
        let now = self.now();
        let acc = self
            .accounts
            .entry(account.clone())
            .or_insert_with(|| Account::new(partition.key()));
        let mut writes = Vec::new();
        let previous = acc.sessions.remove_entry(&client);
        let mut session_present = false;
        let mut subs = Vec::new();
        let mut client = client;
        if let Some((old_key, old)) = previous {
            if let Some(o) = &old.online {
                send_control(&o.outbox, Out::TakenOver);
            } else if old.expiry > 0 {
                self.offline.fetch_sub(1, Ordering::Relaxed);
            }
            let expired = old
                .disconnected_at
                .is_some_and(|at| now >= at + i64::from(old.expiry) * 1000);
            // MQTT 3.1.1 §3.1.2.4: a clean session discards the previous one; so does the end
            // of the previous session's expiry interval.
            if clean_start || old.expiry == 0 || expired {
                drop_subscriptions(&mut acc.subscriptions, &client, &old.subs);
                if old.expiry > 0 {
                    writes.push((
                        acc.part.clone(),
                        Write::DeleteSession {
                            client_id: client.to_string(),
                        },
                    ));
                }
            } else {
                session_present = true;
                subs = old.subs;
                // The subscriptions in the tree hold the session's key: keep it.
                client = old_key;
            }
        }
        acc.sessions.insert(
            client.clone(),
            Session {
                online: Some(online),
                subs,
                expiry,
                disconnected_at: None,
            },
        );
        if let Some(s) = acc.persistent(&client) {
            writes.push((acc.part.clone(), Write::SaveSession(s)));
        }
        // The queue in the store is complete once everything submitted before is durable.
        let then: Then = Box::new(move |_| {
            let _ = done.send(Connected { session_present });
        });
        self.persister.try_submit(writes, Some(then));
    }

    pub(super) async fn disconnect(&mut self, d: Disconnect) {
        let now = self.now();
        let Some(acc) = self.accounts.get_mut(&d.account) else {
            return;
        };
        let part = acc.part.clone();
        let mut writes = Vec::new();
        if let Some(s) = acc.sessions.get_mut(&d.client_id) {
            let ours = s.online.as_ref().is_some_and(|o| o.conn == d.conn);
            if ours {
                s.online = None;
                if let Some(e) = d.expiry {
                    s.expiry = e;
                }
                if s.expiry > 0 {
                    s.disconnected_at = Some(now);
                    self.offline.fetch_add(1, Ordering::Relaxed);
                    for m in d.leftovers {
                        writes.push(enqueue(&mut self.seq, &part, &d.client_id, &m, now));
                    }
                } else if let Some(gone) = acc.sessions.remove(&d.client_id) {
                    drop_subscriptions(&mut acc.subscriptions, &d.client_id, &gone.subs);
                }
            } else if let (Some(o), true) = (&s.online, s.expiry > 0) {
                // Taken over by a connection that continues the session: it gets what the old
                // one had not had acknowledged.
                for m in d.leftovers {
                    let _ = o.outbox.try_send(Out::Deliver(m, QoS::AtLeastOnce));
                }
            }
        }
        if let Some(session) = acc.persistent(&d.client_id) {
            writes.push((part, Write::SaveSession(session)));
        }
        if !writes.is_empty() {
            self.persister.try_submit(writes, None);
        }
        if let Some(w) = d.will {
            self.publish(&d.account, None, w.msg, w.retain, None).await;
        }
    }

    /// Removes offline sessions past their expiry interval, and what was queued for them.
    pub(super) fn sweep(&mut self) {
        let now = self.now();
        let mut writes = Vec::new();
        for acc in self.accounts.values_mut() {
            let expired: Vec<Arc<str>> = acc
                .sessions
                .iter()
                .filter(|(_, s)| {
                    s.online.is_none()
                        && s.disconnected_at
                            .is_some_and(|at| now >= at + i64::from(s.expiry) * 1000)
                })
                .map(|(c, _)| c.clone())
                .collect();
            for c in expired {
                if let Some(gone) = acc.sessions.remove(&c) {
                    drop_subscriptions(&mut acc.subscriptions, &c, &gone.subs);
                }
                self.offline.fetch_sub(1, Ordering::Relaxed);
                writes.push((
                    acc.part.clone(),
                    Write::DeleteSession {
                        client_id: c.to_string(),
                    },
                ));
            }
        }
        self.accounts
            .retain(|_, a| !a.sessions.is_empty() || a.subscriptions.len() > 0);
        if !writes.is_empty() {
            self.persister.try_submit(writes, None);
        }
    }
}
