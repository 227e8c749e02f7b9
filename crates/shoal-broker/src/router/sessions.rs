//! A shard's commands other than publishing: connections taking and leaving client ids,
//! subscriptions, revocations, and the sweep of expired offline sessions.

use super::fanout::enqueue;
use super::table::{add_subscription, drop_subscriptions, remove_subscription, Online, Session};
use super::{
    send_control, Cmd, Connected, Delivery, Disconnect, Out, State, SubOptions, Subscribed,
    MAX_QUEUED, MAX_SUBSCRIPTIONS,
};
use crate::persister::Then;
use shoal_services::messaging::{Deleted, Direct, LiveSession, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::oneshot;

impl State {
    pub(super) fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Notes whether any subscription could take a lifecycle event, after a change to them.
    pub(super) fn note_event_subscribers(&self) {
        let any = self.table.subscriptions.has_under(&["$aws", "events"]);
        self.events.store(any, Ordering::Relaxed);
    }

    pub(super) async fn handle(&mut self, cmd: Cmd) {
        let changes_subscriptions = matches!(
            cmd,
            Cmd::Connect { .. }
                | Cmd::Disconnect(_)
                | Cmd::Subscribe { .. }
                | Cmd::Unsubscribe { .. }
        );
        self.dispatch(cmd).await;
        if changes_subscriptions {
            self.note_event_subscribers();
        }
    }

    async fn dispatch(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect {
                client_id,
                conn,
                cert,
                outbox,
                control,
                clean_start,
                expiry,
                done,
            } => {
                if self.closing {
                    send_control(&control, Out::ServerShutdown);
                }
                let online = Online {
                    conn,
                    cert,
                    outbox,
                    control,
                    stuck: false,
                };
                self.connect(client_id, online, clean_start, expiry, done)
                    .await
            }
            Cmd::Revoke { cert } => self.control_where(|o| o.cert == cert, Out::Revoked),
            Cmd::Recheck => self.control_where(|_| true, Out::Recheck),
            Cmd::Disconnect(d) => self.disconnect(*d).await,
            Cmd::Subscribe {
                client_id,
                conn,
                filter,
                opts,
                done,
            } => self.subscribe(client_id, conn, filter, opts, done).await,
            Cmd::Unsubscribe {
                client_id,
                conn,
                filter,
            } => {
                if self.live(&client_id, conn) {
                    remove_subscription(&mut self.table, &client_id, &filter);
                    self.save_session(&client_id).await;
                }
            }
            Cmd::Publish { msg, retain, ack } => self.publish(msg, retain, ack).await,
            Cmd::Flush { done } => {
                self.persister.flush().await;
                let _ = done.send(());
            }
            Cmd::Shutdown => {
                self.closing = true;
                self.control_where(|_| true, Out::ServerShutdown);
            }
            Cmd::Reset { done } => {
                self.control_where(|_| true, Out::Reset);
                self.table = super::table::Table::default();
                self.wills = super::wills::Pending::default();
                self.offline.store(0, Ordering::Relaxed);
                self.persister.flush().await;
                let _ = done.send(());
            }
            Cmd::Inspect { client_id, done } => {
                let _ = done.send(self.inspect(&client_id));
            }
            Cmd::Kick {
                client_id,
                clean_session,
                prevent_will,
                done,
            } => {
                let _ = done.send(self.kick(&client_id, clean_session, prevent_will).await);
            }
            Cmd::Direct {
                client_id,
                delivery,
                done,
            } => {
                let _ = done.send(self.direct(&client_id, delivery));
            }
        }
    }

    fn inspect(&self, client: &str) -> Option<LiveSession> {
        let s = self.table.sessions.get(client)?;
        Some(LiveSession {
            online: s.online.is_some(),
            subscriptions: s
                .subs
                .iter()
                .map(|(f, o)| (f.clone(), o.qos as u8))
                .collect(),
            expiry_secs: s.expiry,
        })
    }

    /// DeleteConnection: a live connection is told to end (it applies `clean_session` and
    /// `prevent_will` itself as it goes); an offline persistent session is removed when
    /// `clean_session` asks for it.
    async fn kick(&mut self, client: &str, clean_session: bool, prevent_will: bool) -> Deleted {
        let Some(s) = self.table.sessions.get(client) else {
            return Deleted::NotFound;
        };
        if let Some(o) = &s.online {
            send_control(
                &o.control,
                Out::Deleted {
                    clean_session,
                    prevent_will,
                },
            );
            return Deleted::Connected;
        }
        if clean_session {
            if let Some((key, gone)) = self.table.sessions.remove_entry(client) {
                drop_subscriptions(&mut self.table.subscriptions, &key, &gone.subs);
                self.offline.fetch_sub(1, Ordering::Relaxed);
                let write = Write::DeleteSession {
                    client_id: client.to_string(),
                };
                self.persister
                    .submit(vec![(self.part.clone(), write)], None)
                    .await;
                self.note_event_subscribers();
            }
        }
        Deleted::Offline
    }

    /// SendDirectMessage: the delivery goes to the client's connection without waiting.
    fn direct(&self, client: &str, d: Delivery) -> Direct {
        match self.table.sessions.get(client) {
            Some(Session {
                online: Some(o), ..
            }) if !o.stuck => match o.outbox.try_send(d) {
                Ok(()) => Direct::Sent,
                Err(_) => Direct::Busy,
            },
            Some(s) => Direct::NotConnected {
                persistent: s.online.is_none() && s.expiry > 0,
            },
            None => Direct::NotConnected { persistent: false },
        }
    }

    fn control_where(&self, pick: impl Fn(&Online) -> bool, out: Out) {
        for s in self.table.sessions.values() {
            if let Some(o) = s.online.as_ref().filter(|o| pick(o)) {
                send_control(&o.control, out.clone());
            }
        }
    }

    /// Whether connection `conn` holds the client id's session right now.
    pub(super) fn live(&self, client: &str, conn: ConnId) -> bool {
        self.table
            .sessions
            .get(client)
            .and_then(|s| s.online.as_ref())
            .is_some_and(|o| o.conn == conn)
    }

    async fn subscribe(
        &mut self,
        client: Arc<str>,
        conn: ConnId,
        filter: String,
        opts: SubOptions,
        done: oneshot::Sender<Subscribed>,
    ) {
        if !self.live(&client, conn) {
            let _ = done.send(Subscribed::Refused);
            return;
        }
        let full = self.table.sessions.get(&client).is_some_and(|s| {
            s.subs.len() >= MAX_SUBSCRIPTIONS && !s.subs.iter().any(|(f, _)| *f == filter)
        });
        if full {
            let _ = done.send(Subscribed::Refused);
            return;
        }
        let outcome = match add_subscription(&mut self.table, &client, &filter, opts) {
            true => Subscribed::New,
            false => Subscribed::Replaced,
        };
        match self.table.persistent(&client) {
            Some(session) => {
                let then: Then = Box::new(move |_| {
                    let _ = done.send(outcome);
                });
                let write = (self.part.clone(), Write::SaveSession(session));
                self.persister.submit(vec![write], Some(then)).await;
            }
            None => {
                let _ = done.send(outcome);
            }
        }
    }

    pub(super) async fn save_session(&self, client: &str) {
        if let Some(s) = self.table.persistent(client) {
            self.persister
                .submit(vec![(self.part.clone(), Write::SaveSession(s))], None)
                .await;
        }
    }

    async fn connect(
        &mut self,
        client: Arc<str>,
        online: Online,
        clean_start: bool,
        expiry: u32,
        done: oneshot::Sender<Connected>,
    ) {
        let now = self.now();
        let part = self.part.clone();
        // §3.1.3.2.2: a client back before its will's delay has passed cancels the will.
        self.wills.cancel(&client);
        let table = &mut self.table;
        let mut writes = Vec::new();
        let previous = table.sessions.remove_entry(&client);
        let mut session_present = false;
        let mut subs = Vec::new();
        let mut queued = 0;
        let mut client = client;
        if let Some((old_key, old)) = previous {
            if let Some(o) = &old.online {
                send_control(&o.control, Out::TakenOver);
            } else if old.expiry > 0 {
                self.offline.fetch_sub(1, Ordering::Relaxed);
            }
            let expired = old
                .disconnected_at
                .is_some_and(|at| now >= at + i64::from(old.expiry) * 1000);
            // MQTT 3.1.1 §3.1.2.4: a clean session discards the previous one; so does the end
            // of the previous session's expiry interval.
            if clean_start || old.expiry == 0 || expired {
                drop_subscriptions(&mut table.subscriptions, &client, &old.subs);
                if old.expiry > 0 {
                    writes.push((
                        part.clone(),
                        Write::DeleteSession {
                            client_id: client.to_string(),
                        },
                    ));
                }
            } else {
                session_present = true;
                subs = old.subs;
                queued = old.queued;
                // The subscriptions in the tree hold the session's key: keep it.
                client = old_key;
            }
        }
        table.sessions.insert(
            client.clone(),
            Session {
                online: Some(online),
                subs,
                expiry,
                disconnected_at: None,
                queued: 0,
            },
        );
        if let Some(s) = table.persistent(&client) {
            writes.push((part, Write::SaveSession(s)));
        }
        let connected = Connected {
            session_present,
            queued,
        };
        if writes.is_empty() && !session_present {
            // Nothing to make durable and no stored queue to read: a clean session of a new
            // client (most connections) is answered at once, not after the next group commit.
            let _ = done.send(connected);
            return;
        }
        // The queue in the store is complete once everything submitted before is durable.
        let then: Then = Box::new(move |_| {
            let _ = done.send(connected);
        });
        self.persister.submit(writes, Some(then)).await;
    }

    pub(super) async fn disconnect(&mut self, d: Disconnect) {
        let now = self.now();
        let part = self.part.clone();
        let mut writes = Vec::new();
        let mut expiry = 0;
        let mut taken_over = false;
        if let Some(s) = self.table.sessions.get_mut(&d.client_id) {
            let ours = s.online.as_ref().is_some_and(|o| o.conn == d.conn);
            if ours {
                s.online = None;
                if let Some(e) = d.expiry {
                    s.expiry = e;
                }
                if s.expiry > 0 {
                    s.disconnected_at = Some(now);
                    // Copies queued while the connection was ending, and what it left unread.
                    s.queued = s.queued.saturating_add(d.stored);
                    self.offline.fetch_add(1, Ordering::Relaxed);
                    expiry = s.expiry;
                    for (m, qos) in d.leftovers {
                        if s.queued < MAX_QUEUED {
                            s.queued += 1;
                            let seq = &mut self.seq;
                            writes.push(enqueue(seq, &part, &d.client_id, &m, qos, now));
                        }
                    }
                } else if let Some(gone) = self.table.sessions.remove(&d.client_id) {
                    drop_subscriptions(&mut self.table.subscriptions, &d.client_id, &gone.subs);
                }
            } else if let (Some(o), true) = (&s.online, s.expiry > 0) {
                taken_over = true;
                // Taken over by a connection that continues the session: it gets what the old
                // one had not had acknowledged.
                for (m, qos) in d.leftovers {
                    let _ = o.outbox.try_send(Delivery::new(m, qos));
                }
            }
        }
        if let Some(session) = self.table.persistent(&d.client_id) {
            writes.push((part, Write::SaveSession(session)));
        }
        if !writes.is_empty() {
            self.persister.submit(writes, None).await;
        }
        match d.will {
            // The session lives on in the connection that took it over: a delayed will is
            // one it reconnected before (§3.1.3.2.2).
            Some(w) if taken_over && w.delay > 0 => {}
            Some(w) => self.will(&d.client_id, w, expiry).await,
            None => {}
        }
    }

    /// Removes offline sessions past their expiry interval, and what was queued for them.
    pub(super) async fn sweep(&mut self) {
        let now = self.now();
        let mut writes = Vec::new();
        let expired: Vec<Arc<str>> = self
            .table
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
            if let Some(gone) = self.table.sessions.remove(&c) {
                drop_subscriptions(&mut self.table.subscriptions, &c, &gone.subs);
            }
            self.offline.fetch_sub(1, Ordering::Relaxed);
            writes.push((
                self.part.clone(),
                Write::DeleteSession {
                    client_id: c.to_string(),
                },
            ));
        }
        self.note_event_subscribers();
        if !writes.is_empty() {
            self.persister.submit(writes, None).await;
        }
    }
}

use super::ConnId;
