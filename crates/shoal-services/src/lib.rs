//! Shoal's services (L3): the registry (things, thing types, thing groups, tags) and accounts
//! (access keys). Each service owns its records in the store and applies the domain's rules;
//! it talks only to the `Store` trait and a `Clock`, never to a concrete backend, HTTP or MQTT.

pub mod accounts;
mod records;
pub mod registry;

pub use accounts::{AccessKey, Accounts};
pub use registry::Registry;
