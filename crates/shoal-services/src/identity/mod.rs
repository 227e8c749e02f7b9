//! The identity service: device certificates, CA certificates, IoT policies with their
//! versions, policy attachments and thing principals, per (account, region).

mod ca;
mod certificates;
mod context;
mod devices;
mod owners;
pub(crate) mod policies;
mod principals;
mod provisioned;
mod role_aliases;
mod test_authorization;

pub use ca::RegisterCa;
pub use certificates::{CertPage, NewCertificate};
pub use context::{ConnFacts, RequestContext};
pub use devices::{Authorizer, Device};
pub(crate) use owners::Owned;
pub use principals::{Attachment, ThingPrincipalType};
pub use provisioned::StagedCertificate;
pub use role_aliases::RoleAlias;
pub use test_authorization::{AuthCheck, AuthResult};

use shoal_domain::error::Result;
use shoal_domain::identity::Certificate;
use shoal_domain::{Arn, Clock, Partition, ServiceError};
use shoal_pki::{Authority, PkiError};
use shoal_store::Store;
use std::sync::Arc;

pub(crate) const KIND_CERT: &str = "certificate";
pub(crate) const KIND_CA: &str = "ca-certificate";
pub(crate) const KIND_POLICY: &str = "policy";
/// One record per (policy, target), key `POLICY|TARGET`, with terms `policy` and `target`.
pub(crate) const KIND_ATTACHMENT: &str = "policy-attachment";
/// One record per (thing, principal), key `THING|PRINCIPAL`, with terms `thing` and `principal`.
pub(crate) const KIND_THING_PRINCIPAL: &str = "thing-principal";
pub(crate) const KIND_SETTING: &str = "setting";

pub struct Identity {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    authority: Arc<Authority>,
    events: tokio::sync::broadcast::Sender<IdentityEvent>,
    /// Bumped (per partition) before a call that changes authorization returns, so a
    /// connection that compares it before each check sees the change on its very next packet.
    epoch: crate::AuthorizationEpoch,
    /// Compiled policy documents by their text (see `devices.rs`).
    compiled: std::sync::Mutex<std::collections::HashMap<String, Arc<shoal_policy::Policy>>>,
    /// RSA key generations running at once (one per core): each takes tens of milliseconds of
    /// a core, and CreateKeysAndCertificate is open to every claim certificate over MQTT, so
    /// a flood of them waits here instead of filling the blocking pool.
    keygen: Arc<tokio::sync::Semaphore>,
}

/// A committed change that live device connections must react to (DESIGN.md §3: revoking a
/// certificate or changing a policy takes effect on live connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEvent {
    /// A certificate's status changed or it was deleted; `active` says whether it may still be
    /// used to connect.
    Certificate {
        partition: Partition,
        id: String,
        active: bool,
    },
    /// Policies, their default versions or their attachments changed in this partition.
    Authorization { partition: Partition },
}

/// Events a slow listener may fall behind by before it is told it lagged.
const EVENTS: usize = 4096;

impl Identity {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        authority: Arc<Authority>,
        epoch: crate::AuthorizationEpoch,
    ) -> Self {
        let (events, _) = tokio::sync::broadcast::channel(EVENTS);
        Identity {
            store,
            clock,
            authority,
            events,
            epoch,
            compiled: Default::default(),
            keygen: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// Changes that matter to live connections, from now on.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<IdentityEvent> {
        self.events.subscribe()
    }

    /// The partition's count of committed changes to certificates, policies, attachments, and
    /// the registry changes that matter to authorization.
    pub fn epoch_of(&self, part: &Partition) -> crate::EpochCounter {
        self.epoch.counter(part)
    }

    /// Sending fails only when nobody listens, which is fine.
    fn emit(&self, e: IdentityEvent) {
        let part = match &e {
            IdentityEvent::Certificate { partition, .. }
            | IdentityEvent::Authorization { partition } => partition,
        };
        self.epoch.bump(&part.key());
        let _ = self.events.send(e);
    }

    fn authorization_changed(&self, part: &Partition) {
        self.emit(IdentityEvent::Authorization {
            partition: part.clone(),
        });
    }

    /// The admin reset emptied the partition: live connections re-check what they may do.
    pub fn reset(&self, part: &Partition) {
        self.authorization_changed(part);
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The root certificate devices trust.
    pub fn root_certificate_pem(&self) -> &str {
        &self.authority.cert_pem
    }

    fn generation_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    /// The id of a certificate ARN of this partition (`arn:aws:iot:R:A:cert/ID`).
    pub(crate) fn certificate_id_of(part: &Partition, principal: &str) -> Result<String> {
        let arn = Arn::parse(principal).map_err(|_| {
            ServiceError::invalid(format!(
                "Invalid principal: {principal} is not a certificate ARN"
            ))
        })?;
        if arn.resource_type != "cert" {
            return Err(ServiceError::invalid(format!(
                "Principal {principal} is not a certificate ARN"
            )));
        }
        if arn.region != part.region.as_str() || arn.account != part.account.as_str() {
            return Err(ServiceError::not_found(format!(
                "Principal {principal} cannot be found."
            )));
        }
        Ok(arn.resource)
    }

    pub(crate) fn require_certificate(
        &self,
        part: &Partition,
        id: &str,
    ) -> Result<crate::records::Loaded<Certificate>> {
        crate::records::load::<Certificate>(self.store(), &part.key(), KIND_CERT, id)?.ok_or_else(
            || ServiceError::not_found(format!("The certificate {id} cannot be found.")),
        )
    }
}

pub(crate) fn pki_error(e: PkiError) -> ServiceError {
    match e {
        PkiError::Invalid(m) => {
            ServiceError::new(shoal_domain::ErrorKind::CertificateValidation, m)
        }
        PkiError::Internal(m) => ServiceError::internal(m),
    }
}

/// Attachment keys join two names with '|', which no policy name, thing name or ARN contains.
pub(crate) fn pair_key(a: &str, b: &str) -> String {
    format!("{a}|{b}")
}
