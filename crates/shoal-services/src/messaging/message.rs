//! A message as the messaging service keeps it: what a retained message or a message queued for
//! an offline persistent session must carry to be delivered later exactly as it was published,
//! MQTT 5 properties included (MQTT 5 §3.3.2.3: the server forwards them unaltered).

use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::ServiceError;

/// The publish properties a message keeps on its way to subscribers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// Hex in the stored header, raw bytes here.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex_bytes")]
    pub correlation_data: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_properties: Vec<(String, String)>,
    /// When the message stops being deliverable (MQTT 5 §3.3.2.3.3), epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl MessageProps {
    pub fn is_empty(&self) -> bool {
        *self == MessageProps::default()
    }
}

/// A message with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub topic: String,
    pub qos: u8,
    pub payload: Vec<u8>,
    pub props: MessageProps,
    /// When it was published, epoch milliseconds.
    pub published_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    topic: String,
    qos: u8,
    published_at: i64,
    #[serde(default, skip_serializing_if = "MessageProps::is_empty")]
    props: MessageProps,
}

impl StoredMessage {
    /// A JSON header and then the payload as it came: `u32` header length (big-endian), header,
    /// payload. Payloads are binary and up to 128 KB; JSON would triple them.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&Header {
            topic: self.topic.clone(),
            qos: self.qos,
            published_at: self.published_at,
            props: self.props.clone(),
        })
        .map_err(|e| ServiceError::internal(format!("encode message: {e}")))?;
        let mut doc = Vec::with_capacity(4 + header.len() + self.payload.len());
        doc.extend_from_slice(&(header.len() as u32).to_be_bytes());
        doc.extend_from_slice(&header);
        doc.extend_from_slice(&self.payload);
        Ok(doc)
    }

    pub fn decode(doc: &[u8]) -> Result<StoredMessage> {
        let bad = || ServiceError::internal("stored message is truncated");
        let len = doc.get(..4).ok_or_else(bad)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let header = doc.get(4..4 + len).ok_or_else(bad)?;
        let h: Header = serde_json::from_slice(header)
            .map_err(|e| ServiceError::internal(format!("decode message: {e}")))?;
        Ok(StoredMessage {
            topic: h.topic,
            qos: h.qos,
            payload: doc[4 + len..].to_vec(),
            props: h.props,
            published_at: h.published_at,
        })
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| hex::decode(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_binary_payloads_and_properties() {
        let m = StoredMessage {
            topic: "a/b".into(),
            qos: 1,
            payload: vec![0, 255, b'{', 10],
            props: MessageProps {
                correlation_data: Some(vec![1, 2, 3]),
                user_properties: vec![("k".into(), "v".into())],
                expires_at: Some(99),
                ..MessageProps::default()
            },
            published_at: 42,
        };
        assert_eq!(StoredMessage::decode(&m.encode().unwrap()).unwrap(), m);
        assert!(StoredMessage::decode(&[0, 0, 0, 9, b'{']).is_err());
    }
}
