//! Shoal's services (L3): the registry (things, thing types, thing groups, tags), identity
//! (certificates, CA certificates, policies, principals) and accounts (access keys). Each service owns its records in the store and applies the domain's rules;
//! it talks only to the `Store` trait and a `Clock`, never to a concrete backend, HTTP or MQTT.

pub mod accounts;
pub mod identity;
mod records;
pub mod registry;

pub use accounts::{AccessKey, Accounts};
pub use identity::Identity;
pub use registry::Registry;
