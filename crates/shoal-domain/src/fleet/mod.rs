//! Fleet indexing's rules: the indexing configuration with its managed fields and validation,
//! which query fields exist, and the aggregation arithmetic (statistics, percentiles).
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-indexing.html>

pub mod aggregate;
pub mod config;
pub mod fields;
pub mod metric;

#[cfg(test)]
mod tests;
