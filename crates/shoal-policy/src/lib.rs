//! The AWS IoT policy language for Shoal: parsing and validating policy
//! documents (a rejected document becomes `MalformedPolicyException` in the
//! API layer) and evaluating a request — principal context, action, resource —
//! the way AWS IoT Core does, with wildcards, policy variables, `NotAction`,
//! `NotResource` and IAM condition operators. The crate owns only the
//! language; it is pure computation and must not depend on tokio, an HTTP
//! stack or a database, so the MQTT broker, the HTTP API and
//! `TestAuthorization` can all share it.
//!
//! Evaluation runs on every MQTT packet: patterns are compiled at parse time
//! and [`evaluate`] does not allocate.
//!
//! The behaviour follows
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html>
//! and the IAM JSON policy reference it builds on.
//!
//! ```
//! use shoal_policy::{evaluate, parse, Decision, MapContext};
//!
//! let policy = parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Action": "iot:Publish",
//!         "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*"
//!     }]
//! }"#).unwrap();
//! let ctx = MapContext::new().with("iot:Connection.Thing.ThingName", "lamp-1");
//! let topic = "arn:aws:iot:us-east-1:123456789012:topic/lamp-1/state";
//! assert_eq!(evaluate([&policy], "iot:Publish", topic, &ctx), Decision::Allowed);
//! ```

mod actions;
mod api_actions;
mod cidr;
mod condition;
mod context;
mod date;
mod document;
mod error;
mod evaluate;
mod pattern;

pub use actions::{is_known_action, IOT_ACTIONS};
pub use context::{is_iot_key, Context, MapContext};
pub use document::{parse, MAX_DOCUMENT_CHARS};
pub use error::PolicyError;
pub use evaluate::{evaluate, Decision, Effect, Policy};
