//! Shoal's services (L3): the registry (things, thing types, thing groups, tags), identity
//! (certificates, CA certificates, policies, principals), messaging (retained messages,
//! persistent MQTT sessions, connectivity), shadows and accounts (access keys). Each service owns its records in the store and applies the domain's rules;
//! it talks only to the `Store` trait and a `Clock`, never to a concrete backend, HTTP or MQTT.

pub mod accounts;
pub mod authorizers;
pub mod cloudwatch;
pub mod console;
pub mod domains;
mod epoch;
pub mod events;
pub mod fleet;
pub mod identity;
pub mod jobs;
pub mod logging;
pub mod messaging;
pub mod objects;
pub mod provisioning;
mod records;
pub mod registry;
pub mod reserved;
pub mod reset;
pub mod rules;
pub mod scheduler;
pub mod shadows;
pub mod tunnels;

pub use accounts::{AccessKey, Accounts};
pub use cloudwatch::CloudWatch;
pub use epoch::{AuthorizationEpoch, EpochCounter};
pub use events::Events;
pub use fleet::FleetIndexing;
pub use identity::Identity;
pub use jobs::Jobs;
pub use logging::DeviceLogs;
pub use messaging::Messaging;
pub use objects::Objects;
pub use registry::Registry;
pub use reserved::ReservedTopics;
pub use rules::Rules;
pub use scheduler::Scheduler;
pub use shadows::Shadows;
pub use tunnels::Tunnels;
