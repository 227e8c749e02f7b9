//! CloudWatch's two wire protocols Shoal speaks, both with awsQueryCompatible errors:
//! Smithy RPC v2 CBOR (what botocore and the AWS CLI use: `POST
//! /service/GraniteServiceVersion20100801/operation/OP`, `smithy-protocol: rpc-v2-cbor`,
//! <https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html>) and awsJson 1.0
//! (`X-Amz-Target: GraniteServiceVersion20100801.OP`). Handlers read and write JSON values;
//! this file turns CBOR into them and them into CBOR, where timestamps are tag 1 (epoch
//! seconds) and the members holding one are known by name.

use bytes::Bytes;
use ciborium::Value as Cbor;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Number, Value};

/// The members of CloudWatch's outputs (of the operations served) that are timestamps.
const TIMESTAMPS: &[&str] = &[
    "Timestamp",
    "Timestamps",
    "AlarmConfigurationUpdatedTimestamp",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
];

/// Nesting a request may have (CloudWatch's inputs are a few levels deep).
const MAX_DEPTH: usize = 32;

/// A CBOR request body as JSON: tag 1 (a timestamp) becomes its epoch seconds, a byte string
/// its base64 text. An empty body is an empty input.
pub fn cbor_to_json(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let v: Cbor = ciborium::de::from_reader(body).map_err(|e| format!("not CBOR: {e}"))?;
    to_json(v, 0)
}

fn to_json(v: Cbor, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("the input is nested too deeply".into());
    }
    Ok(match v {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            if let Ok(n) = i64::try_from(i) {
                Value::from(n)
            } else if let Ok(n) = u64::try_from(i) {
                Value::from(n)
            } else {
                return Err("an integer out of range".into());
            }
        }
        Cbor::Float(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or("a number that is not finite")?,
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Cbor::Array(a) => Value::Array(
            a.into_iter()
                .map(|x| to_json(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Cbor::Map(m) => {
            let mut o = serde_json::Map::with_capacity(m.len());
            for (k, v) in m {
                let Cbor::Text(k) = k else {
                    return Err("a map key that is not text".into());
                };
                o.insert(k, to_json(v, depth + 1)?);
            }
            Value::Object(o)
        }
        Cbor::Tag(_, inner) => to_json(*inner, depth + 1)?,
        _ => return Err("an unsupported CBOR item".into()),
    })
}

/// A JSON output as CBOR, timestamps tagged.
fn to_cbor(v: &Value, timestamp: bool) -> Cbor {
    match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => {
            let c = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Cbor::Integer(i.into()),
                (None, Some(u)) => Cbor::Integer(u.into()),
                _ => Cbor::Float(n.as_f64().unwrap_or(0.0)),
            };
            if timestamp {
                Cbor::Tag(1, Box::new(c))
            } else {
                c
            }
        }
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(a) => Cbor::Array(a.iter().map(|x| to_cbor(x, timestamp)).collect()),
        Value::Object(o) => Cbor::Map(
            o.iter()
                .map(|(k, v)| {
                    (
                        Cbor::Text(k.clone()),
                        to_cbor(v, TIMESTAMPS.contains(&k.as_str())),
                    )
                })
                .collect(),
        ),
    }
}

pub fn cbor_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&to_cbor(v, false), &mut out);
    out
}

/// A successful answer in the request's protocol.
pub fn ok(v: &Value, cbor: bool, request_id: &str) -> Response<Full<Bytes>> {
    let mut r = if cbor {
        Response::new(Full::new(Bytes::from(cbor_bytes(v))))
    } else {
        Response::new(Full::new(Bytes::from(v.to_string())))
    };
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    if cbor {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/cbor"),
        );
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    } else {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_tagged_and_read_back() {
        let v = json!({"Datapoints": [{"Timestamp": 1_800_000_000, "Sum": 2.5, "Unit": "Count"}], "Label": "m"});
        let bytes = cbor_bytes(&v);
        let c: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();
        let dp = &c.as_map().unwrap()[0].1.as_array().unwrap()[0];
        let ts = dp
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some("Timestamp"))
            .unwrap();
        assert!(matches!(&ts.1, Cbor::Tag(1, _)));
        assert_eq!(cbor_to_json(&bytes).unwrap(), v);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(cbor_to_json(&[0xff, 0x00]).is_err());
        assert!(cbor_to_json(&[0xa1, 0x01, 0x02]).is_err(), "integer key");
        assert_eq!(cbor_to_json(&[]).unwrap(), json!({}));
        let mut deep = vec![0x81u8; 100];
        deep.push(0x01);
        assert!(cbor_to_json(&deep).is_err());
    }
}
