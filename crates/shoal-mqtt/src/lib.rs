//! Shoal's MQTT wire layer: a sans-io codec for MQTT 3.1.1 (OASIS mqtt-v3.1.1-os) and MQTT 5.0
//! (OASIS mqtt-v5.0-os) control packets, and the rules for topic names and topic filters
//! (validation, matching, shared subscriptions, AWS IoT Core's topic limits). Bytes go in,
//! packets come out, and "need more bytes" is an ordinary value; the caller owns the sockets,
//! the timers and the sessions. This crate is layer L0 of the device gateway: it must stay pure
//! and must never depend on tokio or do any I/O, so that it can be tested and fuzzed in
//! isolation and reused by clients (the load tool) and the broker alike.
//!
//! Entry points: [`decode`] and [`encode`] (see [`codec`]), and the functions of [`topic`].
//!
//! ```
//! use bytes::BytesMut;
//! use shoal_mqtt::{decode, encode, Packet, Protocol, Publish, QoS};
//!
//! let publish = Packet::Publish(Publish {
//!     qos: QoS::AtLeastOnce,
//!     pkid: 7,
//!     topic: "sensors/t1".into(),
//!     payload: bytes::Bytes::from_static(b"21.5"),
//!     ..Publish::default()
//! });
//! let mut wire = BytesMut::new();
//! encode(&publish, Protocol::V311, &mut wire).unwrap();
//!
//! // Bytes arrive in pieces: until the packet is complete, decode asks for more.
//! let mut rx = BytesMut::from(&wire[..3]);
//! assert_eq!(decode(&mut rx, Protocol::V311, 128 * 1024), Ok(None));
//! rx.extend_from_slice(&wire[3..]);
//! assert_eq!(decode(&mut rx, Protocol::V311, 128 * 1024), Ok(Some(publish)));
//! assert!(shoal_mqtt::matches("sensors/+", "sensors/t1"));
//! ```

pub mod codec;
pub mod topic;

pub use codec::{
    decode, encode, encode_publish_header, encoded_len, reason, return_code, AckProperties, Auth,
    AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties, DecodeError,
    Disconnect, DisconnectProperties, EncodeError, LastWill, Packet, Protocol, PubAck, PubComp,
    PubRec, PubRel, Publish, PublishProperties, QoS, SubAck, Subscribe, SubscribeProperties,
    Subscription, UnsubAck, Unsubscribe, UnsubscribeProperties, WillProperties,
};
pub use topic::{matches, shared_subscription, valid_topic_filter, valid_topic_name};
