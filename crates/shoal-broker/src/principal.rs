//! Who is on the other end of a connection: a device with a registered client certificate
//! (MQTT over mutual TLS), a caller that signed with one of the account's access keys (MQTT
//! over WebSocket with SigV4, or the plain-TCP listener with the key as user name and password),
//! or a device a custom authorizer let in.

use shoal_domain::error::Result;
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_services::identity::{Authorizer, ConnFacts, Device};
use shoal_services::{Accounts, Identity};

pub enum Principal {
    Device(Device),
    Account {
        partition: Partition,
        access_key_id: String,
    },
    /// Let in by a custom authorizer's function (`custom_auth.rs`).
    Custom(Box<crate::custom_auth::Custom>),
}

impl Principal {
    pub fn partition(&self) -> &Partition {
        match self {
            Principal::Device(d) => &d.partition,
            Principal::Account { partition, .. } => partition,
            Principal::Custom(c) => &c.partition,
        }
    }

    /// The certificate a revocation would end this connection for; none for access keys.
    pub fn cert_id(&self) -> &str {
        match self {
            Principal::Device(d) => &d.certificate_id,
            Principal::Account { .. } | Principal::Custom(_) => "",
        }
    }

    /// AWS's `principalIdentifier` in lifecycle events: the certificate id, or the access key.
    pub fn identifier(&self) -> &str {
        match self {
            Principal::Device(d) => &d.certificate_id,
            Principal::Account { access_key_id, .. } => access_key_id,
            Principal::Custom(c) => &c.principal_id,
        }
    }

    pub fn authorizer(
        &self,
        identity: &Identity,
        client_id: &str,
        facts: &ConnFacts<'_>,
    ) -> Result<Authorizer> {
        match self {
            Principal::Device(d) => identity.authorizer(d, client_id, facts),
            Principal::Account { partition, .. } => identity.account_authorizer(partition),
            Principal::Custom(c) => {
                identity.documents_authorizer(&c.partition, &c.policies, client_id, facts)
            }
        }
    }

    /// Whether the principal may still connect: a certificate may have been deactivated, an
    /// access key deactivated or deleted.
    pub fn check(&self, identity: &Identity, accounts: &Accounts) -> Result<()> {
        match self {
            Principal::Device(d) => identity.check_device(d),
            Principal::Account { access_key_id, .. } => match accounts.lookup(access_key_id)? {
                Some(_) => Ok(()),
                None => Err(ServiceError::new(
                    ErrorKind::Unauthorized,
                    format!("access key {access_key_id} may no longer connect"),
                )),
            },
            // Its function's answer holds until the session's refresh or end (`custom_auth.rs`).
            Principal::Custom(_) => Ok(()),
        }
    }
}
