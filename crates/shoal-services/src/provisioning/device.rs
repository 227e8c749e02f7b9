//! The fleet-provisioning MQTT API on the reserved-topic port
//! (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html):
//! CreateKeysAndCertificate (`$aws/certificates/create/json`), CreateCertificateFromCsr
//! (`$aws/certificates/create-from-csr/json`) and RegisterThing
//! (`$aws/provisioning-templates/{templateName}/provision/json`), each in JSON or CBOR as the
//! topic's last level says (the answers in the same format). The answers go back on the
//! requesting connection only ("returns the device provisioning MQTT API results through the
//! same MQTT connection used to publish the API request").

use super::Provisioning;
use crate::reserved::{Answer, Requester, TopicService};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::error::Result;
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_store::BoxFuture;
use std::collections::BTreeMap;

const CREATE: &str = "$aws/certificates/create/";
const CREATE_FROM_CSR: &str = "$aws/certificates/create-from-csr/";
const TEMPLATES: &str = "$aws/provisioning-templates/";

/// A request the topic names.
#[derive(Debug, PartialEq, Eq)]
enum Request<'t> {
    CreateKeysAndCertificate,
    CreateCertificateFromCsr,
    RegisterThing { template: &'t str },
}

/// The topic's payload format, which the answers use too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Cbor,
}

impl Format {
    fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "cbor" => Some(Format::Cbor),
            _ => None,
        }
    }

    /// A request body: JSON or CBOR, into the request's shape (empty: all defaults).
    fn decode<T: Default + for<'de> Deserialize<'de>>(self, payload: &[u8]) -> Result<T> {
        if payload.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        let bad =
            |e: String| ServiceError::invalid(format!("The request payload is not valid: {e}"));
        match self {
            Format::Json => serde_json::from_slice(payload).map_err(|e| bad(e.to_string())),
            Format::Cbor => ciborium::from_reader(payload).map_err(|e| bad(e.to_string())),
        }
    }

    fn encode(self, v: &Value) -> Vec<u8> {
        match self {
            Format::Json => v.to_string().into_bytes(),
            Format::Cbor => {
                let mut out = Vec::new();
                // Writing a JSON value into a Vec cannot fail.
                let _ = ciborium::into_writer(v, &mut out);
                out
            }
        }
    }
}

/// The request a topic names, and its payload format.
fn parse(topic: &str) -> Option<(Request<'_>, Format)> {
    if let Some(f) = topic.strip_prefix(CREATE).and_then(Format::parse) {
        return Some((Request::CreateKeysAndCertificate, f));
    }
    if let Some(f) = topic.strip_prefix(CREATE_FROM_CSR).and_then(Format::parse) {
        return Some((Request::CreateCertificateFromCsr, f));
    }
    let rest = topic.strip_prefix(TEMPLATES)?;
    let (template, tail) = rest.split_once('/')?;
    let format = Format::parse(tail.strip_prefix("provision/")?)?;
    (!template.is_empty()).then_some((Request::RegisterThing { template }, format))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsrIn {
    certificate_signing_request: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterIn {
    certificate_ownership_token: Option<String>,
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

/// The `rejected` document: `statusCode`, `errorCode`, `errorMessage`.
fn rejected(e: &ServiceError) -> Value {
    let (status, code) = match &e.kind {
        ErrorKind::NotFound => (404, "ResourceNotFoundException"),
        ErrorKind::Unauthorized | ErrorKind::Forbidden => (401, "UnauthorizedException"),
        ErrorKind::Throttled | ErrorKind::LimitExceeded => (429, "ThrottlingException"),
        ErrorKind::Internal | ErrorKind::Timeout => (500, "InternalFailureException"),
        ErrorKind::RegistrationFailed => (400, "ResourceRegistrationFailureException"),
        ErrorKind::Conflict | ErrorKind::VersionConflict => {
            (409, "ConflictingResourceUpdateException")
        }
        _ => (400, "InvalidParametersException"),
    };
    json!({ "statusCode": status, "errorCode": code, "errorMessage": e.message })
}

impl Provisioning {
    async fn device_request(
        &self,
        part: &Partition,
        req: &Request<'_>,
        format: Format,
        payload: &[u8],
        requester: &Requester,
    ) -> Result<Value> {
        match req {
            Request::CreateKeysAndCertificate => {
                let (made, token) = self.identity.create_for_provisioning(part, None).await?;
                let keys = made
                    .keys
                    .ok_or_else(|| ServiceError::internal("no key pair was generated"))?;
                Ok(json!({
                    "certificateId": made.certificate.id,
                    "certificatePem": made.certificate.pem,
                    "privateKey": keys.private_key_pem,
                    "certificateOwnershipToken": token,
                }))
            }
            Request::CreateCertificateFromCsr => {
                let input: CsrIn = format.decode(payload)?;
                let csr = input.certificate_signing_request.ok_or_else(|| {
                    ServiceError::invalid("certificateSigningRequest is required")
                })?;
                let (made, token) = self
                    .identity
                    .create_for_provisioning(part, Some(&csr))
                    .await?;
                Ok(json!({
                    "certificateId": made.certificate.id,
                    "certificatePem": made.certificate.pem,
                    "certificateOwnershipToken": token,
                }))
            }
            Request::RegisterThing { template } => {
                let input: RegisterIn = format.decode(payload)?;
                let token = input.certificate_ownership_token.ok_or_else(|| {
                    ServiceError::invalid("certificateOwnershipToken is required")
                })?;
                let done = self
                    .provision_by_claim(part, template, &token, input.parameters, requester)
                    .await?;
                let mut v = json!({ "deviceConfiguration": done.device_configuration });
                if let Some(t) = &done.thing {
                    v["thingName"] = t.name.clone().into();
                }
                Ok(v)
            }
        }
    }
}

impl TopicService for Provisioning {
    fn answers_requester_only(&self) -> bool {
        true
    }

    fn owns(&self, topic: &str) -> bool {
        topic.starts_with(CREATE)
            || topic.starts_with(CREATE_FROM_CSR)
            || topic.starts_with(TEMPLATES)
    }

    fn is_request(&self, topic: &str) -> bool {
        parse(topic).is_some()
    }

    fn request<'a>(
        &'a self,
        part: &'a Partition,
        topic: &'a str,
        payload: &'a [u8],
        requester: &'a Requester,
    ) -> Option<BoxFuture<'a, Vec<Answer>>> {
        let (req, format) = parse(topic)?;
        Some(Box::pin(async move {
            let done = self
                .device_request(part, &req, format, payload, requester)
                .await;
            let (suffix, v) = match done {
                Ok(v) => ("accepted", v),
                Err(e) => ("rejected", rejected(&e)),
            };
            vec![Answer {
                topic: format!("{topic}/{suffix}"),
                payload: format.encode(&v),
            }]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_bodies_decode_and_answers_encode() {
        let mut body = Vec::new();
        ciborium::into_writer(
            &json!({"certificateOwnershipToken": "t", "parameters": {"A": "1"}}),
            &mut body,
        )
        .unwrap();
        let r: RegisterIn = Format::Cbor.decode(&body).unwrap();
        assert_eq!(r.certificate_ownership_token.as_deref(), Some("t"));
        assert_eq!(r.parameters["A"], "1");
        assert!(Format::Cbor.decode::<RegisterIn>(b"\xff\x00").is_err());
        let v = json!({"thingName": "x", "deviceConfiguration": {}});
        let back: Value = ciborium::from_reader(&Format::Cbor.encode(&v)[..]).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn topics_name_their_requests() {
        assert_eq!(
            parse("$aws/certificates/create/json"),
            Some((Request::CreateKeysAndCertificate, Format::Json))
        );
        assert_eq!(
            parse("$aws/certificates/create/cbor"),
            Some((Request::CreateKeysAndCertificate, Format::Cbor))
        );
        assert_eq!(
            parse("$aws/certificates/create-from-csr/json"),
            Some((Request::CreateCertificateFromCsr, Format::Json))
        );
        assert_eq!(
            parse("$aws/provisioning-templates/fleet-1/provision/cbor"),
            Some((
                Request::RegisterThing {
                    template: "fleet-1"
                },
                Format::Cbor
            ))
        );
        for not in [
            "$aws/certificates/create/json/accepted",
            "$aws/certificates/create/xml",
            "$aws/provisioning-templates//provision/json",
            "$aws/provisioning-templates/t/provision/json/rejected",
            "$aws/provisioning-templates/t/provision",
        ] {
            assert_eq!(parse(not), None, "{not}");
        }
    }
}
