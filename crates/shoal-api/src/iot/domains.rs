//! The domain-configuration operations: their routes and handlers
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateDomainConfiguration.html and
//! siblings).

use super::shapes::{epoch, tag_pairs, TagIn};
use crate::error::ApiError;
use crate::json;
use crate::request::{decode, Query};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::domains::{AuthorizerConfig, DomainConfiguration, DomainInput, Domains};

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    CreateDomainConfiguration { name: String },
    DescribeDomainConfiguration { name: String },
    UpdateDomainConfiguration { name: String },
    DeleteDomainConfiguration { name: String },
    ListDomainConfigurations { query: Query },
}

impl Route {
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as D;
        Some(match (method, segs) {
            ("GET", ["domainConfigurations"]) => {
                Query::parse(raw_query).map(|query| D::ListDomainConfigurations { query })
            }
            ("POST", ["domainConfigurations", n]) => {
                decode(n).map(|name| D::CreateDomainConfiguration { name })
            }
            ("GET", ["domainConfigurations", n]) => {
                decode(n).map(|name| D::DescribeDomainConfiguration { name })
            }
            ("PUT", ["domainConfigurations", n]) => {
                decode(n).map(|name| D::UpdateDomainConfiguration { name })
            }
            ("DELETE", ["domainConfigurations", n]) => {
                decode(n).map(|name| D::DeleteDomainConfiguration { name })
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizerConfigIn {
    default_authorizer_name: Option<String>,
    allow_authorizer_override: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsConfigIn {
    security_policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DomainIn {
    domain_name: Option<String>,
    server_certificate_arns: Option<Vec<String>>,
    validation_certificate_arn: Option<String>,
    authorizer_config: Option<AuthorizerConfigIn>,
    service_type: Option<String>,
    tags: Option<Vec<TagIn>>,
    tls_config: Option<TlsConfigIn>,
    authentication_type: Option<String>,
    application_protocol: Option<String>,
    domain_configuration_status: Option<String>,
    remove_authorizer_config: Option<bool>,
    server_certificate_config: Option<Value>,
    client_certificate_config: Option<Value>,
}

impl DomainIn {
    fn input(&self) -> Result<DomainInput, ApiError> {
        // What Shoal has no way to do is refused rather than stored and ignored.
        if self.server_certificate_config.is_some() || self.client_certificate_config.is_some() {
            return Err(ApiError::invalid(
                "serverCertificateConfig (OCSP) and clientCertificateConfig are not yet supported by Shoal",
            ));
        }
        let enabled = match self.domain_configuration_status.as_deref() {
            None => None,
            Some("ENABLED") => Some(true),
            Some("DISABLED") => Some(false),
            Some(other) => {
                return Err(shoal_domain::ids::validation_error(
                    "domainConfigurationStatus",
                    other,
                    "Member must satisfy enum value set: [ENABLED, DISABLED]",
                )
                .into())
            }
        };
        Ok(DomainInput {
            domain_name: self.domain_name.clone(),
            server_certificate_arns: self.server_certificate_arns.clone(),
            service_type: self.service_type.clone(),
            authorizer_config: self.authorizer_config.as_ref().map(|a| AuthorizerConfig {
                default_authorizer_name: a.default_authorizer_name.clone(),
                allow_authorizer_override: a.allow_authorizer_override,
            }),
            remove_authorizer_config: self.remove_authorizer_config.unwrap_or(false),
            security_policy: self
                .tls_config
                .as_ref()
                .and_then(|t| t.security_policy.clone()),
            enabled,
            authentication_type: self.authentication_type.clone(),
            application_protocol: self.application_protocol.clone(),
        })
    }
}

fn arn(part: &Partition, c: &DomainConfiguration) -> String {
    part.arn("domainconfiguration", &c.arn_resource)
}

fn name_and_arn(part: &Partition, c: &DomainConfiguration) -> Value {
    json!({ "domainConfigurationName": c.name, "domainConfigurationArn": arn(part, c) })
}

fn description(part: &Partition, c: &DomainConfiguration) -> Value {
    let certs: Vec<Value> = c
        .server_certificate_arns
        .iter()
        .map(|a| json!({ "serverCertificateArn": a, "serverCertificateStatus": "VALID" }))
        .collect();
    let mut d = json!({
        "domainConfigurationName": c.name,
        "domainConfigurationArn": arn(part, c),
        "domainName": c.domain_name,
        "serverCertificates": certs,
        "domainConfigurationStatus": if c.enabled { "ENABLED" } else { "DISABLED" },
        "serviceType": c.service_type,
        "domainType": c.domain_type,
        "tlsConfig": { "securityPolicy": c.security_policy },
        "authenticationType": c.authentication_type,
        "applicationProtocol": c.application_protocol,
    });
    if c.last_status_change.millis() > 0 {
        d["lastStatusChangeDate"] = epoch(c.last_status_change);
    }
    if let Some(a) = &c.authorizer_config {
        let mut cfg = json!({});
        if let Some(n) = &a.default_authorizer_name {
            cfg["defaultAuthorizerName"] = n.as_str().into();
        }
        if let Some(o) = a.allow_authorizer_override {
            cfg["allowAuthorizerOverride"] = o.into();
        }
        d["authorizerConfig"] = cfg;
    }
    d
}

pub async fn handle(domains: &Domains, part: &Partition, route: Route, body: &[u8]) -> R {
    use Route as D;
    match route {
        D::CreateDomainConfiguration { name } => {
            let mut input: DomainIn = json::parse(body)?;
            if input.validation_certificate_arn.is_some() {
                return Err(ApiError::invalid(
                    "validationCertificateArn is not yet supported by Shoal",
                ));
            }
            let tags = tag_pairs(input.tags.take());
            let c = domains.create(part, &name, input.input()?, &tags).await?;
            Ok(name_and_arn(part, &c))
        }
        D::DescribeDomainConfiguration { name } => {
            Ok(description(part, &domains.describe(part, &name)?))
        }
        D::UpdateDomainConfiguration { name } => {
            let input: DomainIn = json::parse(body)?;
            if input.domain_name.is_some() || input.server_certificate_arns.is_some() {
                return Err(ApiError::invalid(
                    "The domain name and server certificates cannot be updated",
                ));
            }
            let c = domains.update(part, &name, input.input()?).await?;
            Ok(name_and_arn(part, &c))
        }
        D::DeleteDomainConfiguration { name } => {
            domains.delete(part, &name).await?;
            Ok(json!({}))
        }
        D::ListDomainConfigurations { query } => {
            let (page, next) = domains.list(
                part,
                max_results("pageSize", query.int("pageSize")?, 250)?,
                query.get("marker"),
                query.get("serviceType"),
            )?;
            let list: Vec<Value> = page
                .iter()
                .map(|c| {
                    json!({
                        "domainConfigurationName": c.name,
                        "domainConfigurationArn": arn(part, c),
                        "serviceType": c.service_type,
                    })
                })
                .collect();
            let mut v = json!({ "domainConfigurations": list });
            if let Some(m) = next {
                v["nextMarker"] = m.into();
            }
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_parses_and_others_pass() {
        for (m, path, op) in [
            (
                "POST",
                "/domainConfigurations/d1",
                "CreateDomainConfiguration",
            ),
            (
                "GET",
                "/domainConfigurations/iot:Data-ATS",
                "DescribeDomainConfiguration",
            ),
            (
                "PUT",
                "/domainConfigurations/d1",
                "UpdateDomainConfiguration",
            ),
            (
                "DELETE",
                "/domainConfigurations/d1",
                "DeleteDomainConfiguration",
            ),
            ("GET", "/domainConfigurations", "ListDomainConfigurations"),
        ] {
            let segs = crate::request::segments(path);
            let r = Route::parse(m, &segs, "").unwrap().unwrap();
            assert!(format!("{r:?}").starts_with(op), "{m} {path}: {r:?}");
        }
        assert!(Route::parse("GET", &["things"], "").is_none());
    }
}
