//! A secure-tunneling local proxy written from AWS's published protocol guides
//! (aws-iot-securetunneling-localproxy's V1/V2/V3 WebSocket protocol guides), independent of
//! Shoal's relay: its own encoding of the messages (`message.rs`), the handshake
//! (`client.rs`) and TCP forwarding for one service in source or destination mode, with
//! several simultaneous connections per stream (V3, `forward.rs`), and one stream as an
//! in-process pipe for a program that is itself the source (`stream.rs`, the console's terminal). Tests drive its pieces to
//! probe the endpoint's edge cases; the binary forwards SSH through a tunnel.

pub mod client;
pub mod forward;
pub mod message;
pub mod stream;
