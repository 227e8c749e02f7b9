//! Shoal's domain layer (L1): identifiers validated once at the edge, the registry's entities,
//! and their rules as pure functions (attribute merges, thing-type deprecation, group hierarchy).
//!
//! It owns no state and does no I/O: no tokio, no HTTP, no database. Services (L3) load entities
//! through the store, ask these functions what the new state is, and write it back.

pub mod authorizer;
pub mod billing_group;
pub mod clock;
pub mod cloudwatch;
pub mod error;
pub mod fleet;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod logging;
pub mod objects;
pub mod page;
pub mod provisioning;
pub mod rules;
pub mod shadow;
pub mod tags;
pub mod thing;
pub mod thing_group;
pub mod thing_type;
pub mod tunnels;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock, Timestamp};
pub use error::{ErrorKind, ParameterError, ServiceError};
pub use ids::{
    AccountId, Arn, BillingGroupName, Partition, Region, ThingGroupName, ThingName, ThingTypeName,
};
