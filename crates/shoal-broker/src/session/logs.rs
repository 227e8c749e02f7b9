//! The session's device log records (AWS IoT's v2 logging): Connect, Disconnect, Publish-In,
//! Publish-Out, Subscribe and Unsubscribe, shaped as AWS writes them
//! (https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html). Every call site
//! asks `logs_want` first: one atomic load and one comparison while the device's level
//! excludes the record, and nothing is built.

use super::*;
use shoal_domain::logging::{EventType, LogLevel, LogRecord, Origin, Transport as LogTransport};
use shoal_services::logging::Op;

thread_local! {
    /// The state of each thread's trace-id generator, seeded once from the OS.
    static TRACE: std::cell::Cell<u64> = std::cell::Cell::new(uuid::Uuid::new_v4().as_u64_pair().0 | 1);
}

/// A record's trace id: 128 bits from a per-thread wyrand generator. Trace ids only tell
/// records apart; an OS random call per record would cost a busy connection more than the
/// record itself.
fn trace_id() -> u128 {
    TRACE.with(|s| {
        let next = || {
            let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
            s.set(x);
            let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
            (t as u64) ^ ((t >> 64) as u64)
        };
        (u128::from(next()) << 64) | u128::from(next())
    })
}

/// AWS's reason for a refused request in a `Failure` record.
pub(super) const AUTHORIZATION_FAILURE: (&str, &str) =
    ("AUTHORIZATION_FAILURE", "Authorization Failure");

impl Session {
    /// What the session's records say of the connection before CONNECT names the client.
    pub(super) fn log_origin(principal: &Principal, transport: &Transport) -> Origin {
        Origin {
            account_id: principal.partition().account.as_str().to_string(),
            client_id: None,
            principal_id: Some(principal.identifier().to_string()),
            source_ip: Some(transport.peer.ip().to_string()),
            source_port: Some(transport.peer.port()),
        }
    }

    /// Names the client in the records (and works its levels out again: a CLIENT_ID or
    /// THING_GROUP level may now apply).
    pub(super) fn log_client(&mut self) {
        let mut origin = Self::log_origin(&self.principal, &self.transport);
        origin.client_id = Some(self.client_id.to_string());
        self.log_gate.set_origin(origin);
    }

    /// Counts one `AWS/IoT` operation of this connection's partition.
    #[inline]
    pub(crate) fn count(&self, op: Op) {
        self.log_gate.counters.add(op);
    }

    #[inline]
    pub(crate) fn logs_want(&mut self, event: EventType, level: LogLevel) -> bool {
        self.log_gate.wants(&self.gw.logs, event, level)
    }

    /// Writes a record `logs_want` allowed.
    pub(crate) fn write_log(
        &self,
        event: EventType,
        level: LogLevel,
        topic: Option<&str>,
        failure: Option<(&str, &str)>,
        extra: Vec<(&'static str, String)>,
    ) {
        let record = LogRecord {
            timestamp: shoal_domain::Timestamp(self.now()),
            level,
            trace_id: trace_id(),
            event,
            transport: Some(LogTransport::Mqtt),
            failure,
            topic,
            extra,
        };
        self.gw.logs.emit(&self.log_gate, &record);
    }

    /// A record of `event` for each filter (Subscribe, Unsubscribe), at INFO when granted
    /// and ERROR when refused.
    pub(super) fn log_filters(&mut self, event: EventType, filters: &[String], refused: bool) {
        let op = match (event, refused) {
            (EventType::Unsubscribe, _) => Op::UnsubscribeSuccess,
            (_, false) => Op::SubscribeSuccess,
            (_, true) => Op::SubscribeAuthError,
        };
        for _ in filters {
            self.count(op);
        }
        let level = if refused {
            LogLevel::Error
        } else {
            LogLevel::Info
        };
        if self.logs_want(event, level) {
            for f in filters {
                let failure = refused.then_some(AUTHORIZATION_FAILURE);
                self.write_log(event, level, Some(f), failure, Vec::new());
            }
        }
    }

    /// The record of a request on a reserved topic (shadows, jobs, fleet provisioning): its
    /// success at the level AWS logs it, a rejection at ERROR with its reason.
    pub(super) fn log_request(&mut self, topic: &str, rejection: Option<(String, String)>) {
        let Some((event, ok_level, extra)) = shoal_domain::logging::reserved_request(topic) else {
            return;
        };
        let level = if rejection.is_some() {
            LogLevel::Error
        } else {
            ok_level
        };
        self.count(match (event, &rejection) {
            (_, Some(_)) => Op::RequestRejected,
            (EventType::GetThingShadow, None) => Op::GetThingShadowAccepted,
            (EventType::UpdateThingShadow, None) => Op::UpdateThingShadowAccepted,
            (EventType::DeleteThingShadow, None) => Op::DeleteThingShadowAccepted,
            (EventType::GetDeviceCredentials | EventType::ProvisionDevice, None) => {
                Op::ProvisioningRequestSuccess
            }
            (_, None) => Op::JobsRequestSuccess,
        });
        if self.logs_want(event, level) {
            let failure = rejection.as_ref().map(|(r, d)| (r.as_str(), d.as_str()));
            self.write_log(event, level, Some(topic), failure, extra);
        }
    }

    /// A CONNECT its policy refused: a `Connect` failure at ERROR, the client named.
    pub(super) fn log_connect_refused(&mut self) {
        self.log_client();
        self.count(Op::ConnectAuthError);
        if self.logs_want(EventType::Connect, LogLevel::Error) {
            let failure = Some(AUTHORIZATION_FAILURE);
            self.write_log(
                EventType::Connect,
                LogLevel::Error,
                None,
                failure,
                Vec::new(),
            );
        }
    }
}
