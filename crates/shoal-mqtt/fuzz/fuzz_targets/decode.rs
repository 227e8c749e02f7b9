//! Feeds arbitrary bytes to `shoal_mqtt::decode` as a stream, for both protocol versions, and
//! checks what the decoder must guarantee beyond not panicking:
//! - feeding the bytes all at once or one at a time gives the same packets and the same error,
//!   so "need more bytes" never depends on how the input was split;
//! - every packet it accepts encodes again and decodes to the same packet.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use shoal_mqtt::{decode, encode, DecodeError, Packet, Protocol};

const MAX_PACKET: usize = 1 << 16;

fn run(data: &[u8], mut protocol: Protocol, step: usize) -> (Vec<Packet>, Option<DecodeError>) {
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut packets = Vec::new();
    loop {
        match decode(&mut buf, protocol, MAX_PACKET) {
            Ok(Some(p)) => {
                if let Packet::Connect(c) = &p {
                    // CONNECT sets the version of the rest of the connection.
                    protocol = c.protocol;
                }
                packets.push(p);
            }
            Ok(None) => {
                if fed == data.len() {
                    return (packets, None);
                }
                let n = step.min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + n]);
                fed += n;
            }
            Err(e) => return (packets, Some(e)),
        }
    }
}

fn reencode(p: &Packet, protocol: Protocol) {
    let protocol = match p {
        Packet::Connect(c) => c.protocol,
        _ => protocol,
    };
    let mut out = BytesMut::new();
    if let Err(e) = encode(p, protocol, &mut out) {
        panic!("decoded {p:?} but cannot encode it: {e}");
    }
    let again = decode(&mut out, protocol, usize::MAX);
    assert_eq!(again, Ok(Some(p.clone())), "re-decoding {p:?}");
    assert!(out.is_empty());
}

fuzz_target!(|data: &[u8]| {
    for protocol in [Protocol::V311, Protocol::V5] {
        let whole = run(data, protocol, usize::MAX);
        let bytewise = run(data, protocol, 1);
        assert_eq!(whole, bytewise, "result depends on how the input was split");
        let mut proto = protocol;
        for p in &whole.0 {
            reencode(p, proto);
            if let Packet::Connect(c) = p {
                proto = c.protocol;
            }
        }
    }
});
