//! AWS IoT's v2 logging as pure rules: the levels, the targets a level can be set for, the
//! account's options, and which level a device's records are kept at
//! (https://docs.aws.amazon.com/iot/latest/developerguide/configure-logging.html).
//! `records.rs` holds the shapes of the records themselves.

mod levels;
mod records;

pub use levels::*;
pub use records::*;

#[cfg(test)]
mod tests;
