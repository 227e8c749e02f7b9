//! Handlers of the certificate and CA-certificate operations.

use super::shapes::epoch;
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::identity::{
    check_certificate_id, CaCertificate, CaStatus, Certificate, CertificateStatus,
};
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::identity::RegisterCa;
use shoal_services::Identity;

type R = Result<Value, ApiError>;

/// ListCertificates and ListCACertificates: "The results are paginated with a default page
/// size of 25" (API reference).
const DEFAULT_PAGE_SIZE: usize = 25;

/// `pageSize` for the marker-style listings (1..=250).
fn page_size(q: &Query) -> Result<usize, ApiError> {
    match q.int("pageSize")? {
        None => Ok(DEFAULT_PAGE_SIZE),
        v => Ok(max_results("pageSize", v, 250)?),
    }
}

fn with_marker(mut v: Value, marker: Option<String>) -> Value {
    if let Some(m) = marker {
        v["nextMarker"] = m.into();
    }
    v
}

fn status_of(input: Option<&str>, set_as_active: bool) -> Result<CertificateStatus, ApiError> {
    match input {
        Some(s) => Ok(CertificateStatus::parse(s)?),
        None if set_as_active => Ok(CertificateStatus::Active),
        None => Ok(CertificateStatus::Inactive),
    }
}

fn created(part: &Partition, c: &Certificate) -> Value {
    json!({
        "certificateArn": part.arn("cert", &c.id),
        "certificateId": c.id,
        "certificatePem": c.pem,
    })
}

pub async fn create_keys_and_certificate(id: &Identity, part: &Partition, q: &Query) -> R {
    let made = id
        .create_keys_and_certificate(part, q.bool("setAsActive")?.unwrap_or(false))
        .await?;
    let mut v = created(part, &made.certificate);
    if let Some(k) = made.keys {
        v["keyPair"] = json!({ "PublicKey": k.public_key_pem, "PrivateKey": k.private_key_pem });
    }
    Ok(v)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsrIn {
    certificate_signing_request: String,
}

pub async fn create_from_csr(id: &Identity, part: &Partition, q: &Query, body: &[u8]) -> R {
    let input: CsrIn = json::parse(body)?;
    let made = id
        .create_certificate_from_csr(
            part,
            &input.certificate_signing_request,
            q.bool("setAsActive")?.unwrap_or(false),
        )
        .await?;
    Ok(created(part, &made.certificate))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterIn {
    certificate_pem: String,
    ca_certificate_pem: Option<String>,
    status: Option<String>,
}

pub async fn register(id: &Identity, part: &Partition, q: &Query, body: &[u8], with_ca: bool) -> R {
    let input: RegisterIn = json::parse(body)?;
    let status = status_of(
        input.status.as_deref(),
        q.bool("setAsActive")?.unwrap_or(false),
    )?;
    let cert = if with_ca {
        id.register_certificate(
            part,
            &input.certificate_pem,
            input.ca_certificate_pem.as_deref(),
            status,
        )
        .await?
    } else {
        id.register_certificate_without_ca(part, &input.certificate_pem, status)
            .await?
    };
    Ok(json!({ "certificateArn": part.arn("cert", &cert.id), "certificateId": cert.id }))
}

fn validity(not_before: i64, not_after: i64) -> Value {
    json!({ "notBefore": not_before, "notAfter": not_after })
}

pub fn describe(id: &Identity, part: &Partition, cert_id: &str) -> R {
    check_certificate_id("certificateId", cert_id)?;
    let c = id.describe_certificate(part, cert_id)?;
    let mut d = json!({
        "certificateArn": part.arn("cert", &c.id),
        "certificateId": c.id,
        "status": c.status.as_str(),
        "certificatePem": c.pem,
        "ownedBy": part.account.as_str(),
        "creationDate": epoch(c.created),
        "lastModifiedDate": epoch(c.last_modified),
        "customerVersion": c.customer_version,
        "transferData": {},
        "generationId": c.generation_id,
        "validity": validity(c.not_before, c.not_after),
        "certificateMode": c.mode(),
    });
    if let Some(ca) = &c.ca_id {
        d["caCertificateId"] = ca.as_str().into();
    }
    Ok(json!({ "certificateDescription": d }))
}

pub fn list(id: &Identity, part: &Partition, q: &Query, ca: Option<&str>) -> R {
    if let Some(ca) = ca {
        check_certificate_id("caCertificateId", ca)?;
    }
    let ascending = q.bool("isAscendingOrder")?.unwrap_or(false);
    let page = id.list_certificates(part, ca, ascending, page_size(q)?, q.get("marker"))?;
    let certs: Vec<Value> = page
        .items
        .iter()
        .map(|c| {
            json!({
                "certificateArn": part.arn("cert", &c.id),
                "certificateId": c.id,
                "status": c.status.as_str(),
                "certificateMode": c.mode(),
                "creationDate": epoch(c.created),
            })
        })
        .collect();
    Ok(with_marker(
        json!({ "certificates": certs }),
        page.next_token,
    ))
}

pub async fn update(id: &Identity, part: &Partition, cert_id: &str, q: &Query) -> R {
    check_certificate_id("certificateId", cert_id)?;
    let status = q
        .get("newStatus")
        .ok_or_else(|| ApiError::invalid("newStatus is required"))?;
    id.update_certificate(part, cert_id, CertificateStatus::parse(status)?)
        .await?;
    Ok(json!({}))
}

pub async fn delete(id: &Identity, part: &Partition, cert_id: &str, q: &Query) -> R {
    check_certificate_id("certificateId", cert_id)?;
    id.delete_certificate(part, cert_id, q.bool("forceDelete")?.unwrap_or(false))
        .await?;
    Ok(json!({}))
}

pub async fn registration_code(id: &Identity, part: &Partition) -> R {
    Ok(json!({ "registrationCode": id.registration_code(part).await? }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterCaIn {
    ca_certificate: String,
    verification_certificate: Option<String>,
    registration_config: Option<Value>,
    certificate_mode: Option<String>,
}

pub async fn register_ca(id: &Identity, part: &Partition, q: &Query, body: &[u8]) -> R {
    let input: RegisterCaIn = json::parse(body)?;
    let sni_only = match input.certificate_mode.as_deref() {
        None | Some("DEFAULT") => false,
        Some("SNI_ONLY") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "certificateMode {other} must be DEFAULT or SNI_ONLY"
            )))
        }
    };
    let ca = id
        .register_ca_certificate(
            part,
            RegisterCa {
                ca_pem: &input.ca_certificate,
                verification_pem: input.verification_certificate.as_deref(),
                set_as_active: q.bool("setAsActive")?.unwrap_or(false),
                allow_auto_registration: q.bool("allowAutoRegistration")?.unwrap_or(false),
                registration_config: input.registration_config,
                sni_only,
            },
        )
        .await?;
    Ok(json!({ "certificateArn": part.arn("cacert", &ca.id), "certificateId": ca.id }))
}

fn ca_json(part: &Partition, c: &CaCertificate) -> Value {
    json!({
        "certificateArn": part.arn("cacert", &c.id),
        "certificateId": c.id,
        "status": c.status.as_str(),
        "creationDate": epoch(c.created),
    })
}

pub fn describe_ca(id: &Identity, part: &Partition, ca_id: &str) -> R {
    check_certificate_id("caCertificateId", ca_id)?;
    let c = id.describe_ca_certificate(part, ca_id)?;
    let mut d = ca_json(part, &c);
    d["certificatePem"] = c.pem.as_str().into();
    d["ownedBy"] = part.account.as_str().into();
    d["autoRegistrationStatus"] = if c.auto_registration {
        "ENABLE"
    } else {
        "DISABLE"
    }
    .into();
    d["lastModifiedDate"] = epoch(c.last_modified);
    d["customerVersion"] = c.customer_version.into();
    d["generationId"] = c.generation_id.as_str().into();
    d["validity"] = validity(c.not_before, c.not_after);
    d["certificateMode"] = c.mode().into();
    let mut v = json!({ "certificateDescription": d });
    if let Some(rc) = &c.registration_config {
        v["registrationConfig"] = rc.clone();
    }
    Ok(v)
}

pub fn list_ca(id: &Identity, part: &Partition, q: &Query) -> R {
    let page = id.list_ca_certificates(part, page_size(q)?, q.get("marker"))?;
    let certs: Vec<Value> = page.items.iter().map(|c| ca_json(part, c)).collect();
    Ok(with_marker(
        json!({ "certificates": certs }),
        page.next_token,
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UpdateCaIn {
    registration_config: Option<Value>,
    remove_auto_registration: Option<bool>,
}

pub async fn update_ca(id: &Identity, part: &Partition, ca_id: &str, q: &Query, body: &[u8]) -> R {
    check_certificate_id("caCertificateId", ca_id)?;
    let input: UpdateCaIn = json::parse(body)?;
    let status = q.get("newStatus").map(CaStatus::parse).transpose()?;
    let auto = match q.get("newAutoRegistrationStatus") {
        None => None,
        Some("ENABLE") => Some(true),
        Some("DISABLE") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "newAutoRegistrationStatus {other} must be ENABLE or DISABLE"
            )))
        }
    };
    id.update_ca_certificate(
        part,
        ca_id,
        status,
        auto,
        input.registration_config,
        input.remove_auto_registration.unwrap_or(false),
    )
    .await?;
    Ok(json!({}))
}

pub async fn delete_ca(id: &Identity, part: &Partition, ca_id: &str) -> R {
    check_certificate_id("caCertificateId", ca_id)?;
    id.delete_ca_certificate(part, ca_id).await?;
    Ok(json!({}))
}
