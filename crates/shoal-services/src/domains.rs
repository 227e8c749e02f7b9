//! Domain configurations (https://docs.aws.amazon.com/iot/latest/developerguide/iot-custom-endpoints-configurable.html):
//! an account's default endpoints (`iot:Data-ATS`, `iot:CredentialProvider`, `iot:Jobs`, which
//! exist without being created and may be updated) and the ones it creates, an AWS-managed
//! domain (a generated `...-ats.iot.REGION.HOST` name) or a custom domain name. The TLS server
//! name a device sends picks the configuration (`resolve`): its status (a DISABLED one refuses
//! devices) and its default custom authorizer apply to the connection.
//!
//! Domain names are unique across accounts: a claim in the `global` partition (kind
//! `domain-name`) is written before the configuration and trusted only while it exists.

use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::ids::{check, validation_error};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::tags::Tags;
use shoal_domain::{AccountId, Clock, ErrorKind, Partition, ServiceError, Timestamp};
use shoal_store::{Batch, Expect, Store};
use std::sync::Arc;

const KIND_DOMAIN: &str = "domain-configuration";
const KIND_DOMAIN_NAME: &str = "domain-name";
const GLOBAL: &str = "global";
/// AWS's quota of domain configurations per account.
pub const MAX_DOMAIN_CONFIGURATIONS: usize = 10;
/// AWS-managed domains stay DISABLED this long before they can be deleted.
const MANAGED_DELETE_WAIT_MS: i64 = 7 * 24 * 3600 * 1000;

/// The TLS security policies AWS IoT offers (iot-endpoints-tls-config.html); the first is a
/// new configuration's default.
pub const SECURITY_POLICIES: [&str; 6] = [
    "IoTSecurityPolicy_TLS13_1_2_2022_10",
    "IoTSecurityPolicy_TLS13_1_3_2022_10",
    "IoTSecurityPolicy_TLS12_1_2_2022_10",
    "IoTSecurityPolicy_TLS12_1_0_2016_01",
    "IoTSecurityPolicy_TLS12_1_0_2015_01",
    "IoTSecurityPolicy_TLS13_1_2_2022_01",
];
const AUTHENTICATION_TYPES: [&str; 5] = [
    "CUSTOM_AUTH_X509",
    "CUSTOM_AUTH",
    "AWS_X509",
    "AWS_SIGV4",
    "DEFAULT",
];
const APPLICATION_PROTOCOLS: [&str; 4] = ["SECURE_MQTT", "MQTT_WSS", "HTTPS", "DEFAULT"];

/// The default endpoints' configurations: (name, service type, host label suffix).
const DEFAULTS: [(&str, &str); 3] = [
    ("iot:CredentialProvider", "CREDENTIAL_PROVIDER"),
    ("iot:Data-ATS", "DATA"),
    ("iot:Jobs", "JOBS"),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_authorizer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_authorizer_override: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainConfiguration {
    pub name: String,
    /// The ARN's last part: `NAME/SUFFIX` for created ones, `NAME` for the defaults.
    pub arn_resource: String,
    pub domain_name: String,
    /// `ENDPOINT`, `AWS_MANAGED` or `CUSTOMER_MANAGED`.
    pub domain_type: String,
    #[serde(default)]
    pub server_certificate_arns: Vec<String>,
    pub service_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_config: Option<AuthorizerConfig>,
    pub security_policy: String,
    pub enabled: bool,
    pub last_status_change: Timestamp,
    pub authentication_type: String,
    pub application_protocol: String,
    #[serde(default)]
    pub tags: Tags,
}

/// What Create and Update give; `None` leaves a field as it is (or at its default).
#[derive(Debug, Clone, Default)]
pub struct DomainInput {
    pub domain_name: Option<String>,
    pub server_certificate_arns: Option<Vec<String>>,
    pub service_type: Option<String>,
    pub authorizer_config: Option<AuthorizerConfig>,
    pub remove_authorizer_config: bool,
    pub security_policy: Option<String>,
    pub enabled: Option<bool>,
    pub authentication_type: Option<String>,
    pub application_protocol: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    account: String,
    region: String,
    name: String,
}

pub struct Domains {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The public host the account endpoints are under (`[api] public_host`).
    host: String,
}

fn missing(name: &str) -> ServiceError {
    ServiceError::not_found(format!("Domain configuration {name} cannot be found."))
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(validation_error(
        field,
        value,
        &format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    ))
}

fn check_input(input: &DomainInput) -> Result<()> {
    if let Some(p) = &input.security_policy {
        if !SECURITY_POLICIES.contains(&p.as_str()) {
            return Err(ServiceError::invalid(format!(
                "Unknown security policy {p}; AWS IoT Core doesn't support custom security policies"
            )));
        }
    }
    if let Some(t) = &input.authentication_type {
        one_of("authenticationType", t, &AUTHENTICATION_TYPES)?;
    }
    if let Some(p) = &input.application_protocol {
        one_of("applicationProtocol", p, &APPLICATION_PROTOCOLS)?;
    }
    if let Some(a) = &input.authorizer_config {
        // "This value is required if a value for defaultAuthorizerName is specified."
        if a.default_authorizer_name.is_some() && a.allow_authorizer_override.is_none() {
            return Err(ServiceError::invalid(
                "allowAuthorizerOverride is required with defaultAuthorizerName",
            ));
        }
    }
    Ok(())
}

fn random_label(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Domains {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, host: String) -> Domains {
        Domains { store, clock, host }
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// A default endpoint's configuration as it is until updated.
    fn default_config(&self, part: &Partition, name: &str) -> Option<DomainConfiguration> {
        let (_, service) = DEFAULTS.iter().find(|(n, _)| *n == name)?;
        let prefix = crate::accounts::endpoint_prefix(&part.account);
        let label = match *service {
            "DATA" => format!("{prefix}-ats.iot"),
            "JOBS" => format!("{prefix}.jobs.iot"),
            _ => format!("{prefix}.credentials.iot"),
        };
        Some(DomainConfiguration {
            name: name.to_string(),
            arn_resource: name.to_string(),
            domain_name: format!("{label}.{}.{}", part.region, self.host),
            domain_type: "ENDPOINT".into(),
            server_certificate_arns: Vec::new(),
            service_type: service.to_string(),
            authorizer_config: None,
            security_policy: SECURITY_POLICIES[0].into(),
            enabled: true,
            last_status_change: Timestamp(0),
            authentication_type: "DEFAULT".into(),
            application_protocol: "DEFAULT".into(),
            tags: Tags::default(),
        })
    }

    fn check_authorizer(&self, part: &Partition, a: &Option<AuthorizerConfig>) -> Result<()> {
        if let Some(name) = a
            .as_ref()
            .and_then(|a| a.default_authorizer_name.as_deref())
        {
            if load::<shoal_domain::authorizer::Authorizer>(
                self.store(),
                &part.key(),
                "authorizer",
                name,
            )?
            .is_none()
            {
                return Err(ServiceError::invalid(format!(
                    "The authorizer {name} does not exist"
                )));
            }
        }
        Ok(())
    }

    pub async fn create(
        &self,
        part: &Partition,
        name: &str,
        input: DomainInput,
        tags: &[(String, String)],
    ) -> Result<DomainConfiguration> {
        check("domainConfigurationName", name, 1, 128, "[\\w.-]+", |c| {
            c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
        })?;
        if name.to_ascii_lowercase().starts_with("iot") && name.contains(':') {
            return Err(ServiceError::invalid(
                "Domain configuration names that start with IoT: are reserved",
            ));
        }
        check_input(&input)?;
        let service_type = input.service_type.clone().unwrap_or_else(|| "DATA".into());
        one_of(
            "serviceType",
            &service_type,
            &["DATA", "CREDENTIAL_PROVIDER", "JOBS"],
        )?;
        if service_type != "DATA" {
            return Err(ServiceError::invalid(
                "Domain configurations currently support only the DATA service type",
            ));
        }
        self.check_authorizer(part, &input.authorizer_config)?;
        let certs = input.server_certificate_arns.clone().unwrap_or_default();
        if certs.len() > 1 {
            return Err(ServiceError::invalid(
                "A domain configuration takes at most one server certificate",
            ));
        }
        let (domain_name, domain_type) = match &input.domain_name {
            Some(d) => {
                check("domainName", d, 1, 253, "[\\s\\S]*", |_| true)?;
                if certs.is_empty() {
                    return Err(ServiceError::invalid(
                        "A custom domain name needs serverCertificateArns",
                    ));
                }
                (d.to_ascii_lowercase(), "CUSTOMER_MANAGED")
            }
            None => (
                format!(
                    "d{}-ats.iot.{}.{}",
                    random_label(20),
                    part.region,
                    self.host
                ),
                "AWS_MANAGED",
            ),
        };
        let key = part.key();
        if load::<DomainConfiguration>(self.store(), &key, KIND_DOMAIN, name)?.is_some() {
            return Err(ServiceError::already_exists(
                format!("Domain configuration {name} already exists"),
                name,
                &part.arn("domainconfiguration", name),
            ));
        }
        if self
            .store()
            .count(&key, KIND_DOMAIN, "", MAX_DOMAIN_CONFIGURATIONS)
            .map_err(store_error)?
            >= MAX_DOMAIN_CONFIGURATIONS
        {
            return Err(ServiceError::limit(format!(
                "An account can have at most {MAX_DOMAIN_CONFIGURATIONS} domain configurations"
            )));
        }
        // The claim first: a configuration exists only with its domain name held.
        let claim = Claim {
            account: part.account.to_string(),
            region: part.region.to_string(),
            name: name.to_string(),
        };
        let taken = Batch::new(GLOBAL).put(
            KIND_DOMAIN_NAME,
            &domain_name,
            SCHEMA,
            encode(&claim)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store(), taken).await? {
            if self.resolve(&domain_name)?.is_some() {
                return Err(ServiceError::invalid(format!(
                    "The domain name {domain_name} is already used by a domain configuration"
                )));
            }
            // A claim left by a crash: take it over.
            let batch = Batch::new(GLOBAL).put(
                KIND_DOMAIN_NAME,
                &domain_name,
                SCHEMA,
                encode(&claim)?,
                vec![],
                Expect::Any,
            );
            self.store().commit(batch).await.map_err(store_error)?;
        }
        let mut tag_set = Tags::default();
        tag_set.merge(tags)?;
        let now = self.clock.now();
        let config = DomainConfiguration {
            name: name.to_string(),
            arn_resource: format!("{name}/{}", random_label(5)),
            domain_name,
            domain_type: domain_type.into(),
            server_certificate_arns: certs,
            service_type,
            authorizer_config: input.authorizer_config,
            security_policy: input
                .security_policy
                .unwrap_or_else(|| SECURITY_POLICIES[0].into()),
            enabled: true,
            last_status_change: now,
            authentication_type: input
                .authentication_type
                .unwrap_or_else(|| "DEFAULT".into()),
            application_protocol: input
                .application_protocol
                .unwrap_or_else(|| "DEFAULT".into()),
            tags: tag_set,
        };
        let batch = Batch::new(&key).put(
            KIND_DOMAIN,
            name,
            SCHEMA,
            encode(&config)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store(), batch).await? {
            return Err(contention());
        }
        Ok(config)
    }

    pub fn describe(&self, part: &Partition, name: &str) -> Result<DomainConfiguration> {
        check("domainConfigurationName", name, 1, 128, "[\\w.:-]+", |c| {
            c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
        })?;
        if let Some(l) = load::<DomainConfiguration>(self.store(), &part.key(), KIND_DOMAIN, name)?
        {
            return Ok(l.value);
        }
        self.default_config(part, name).ok_or_else(|| missing(name))
    }

    /// UpdateDomainConfiguration, of a created configuration or a default endpoint's.
    pub async fn update(
        &self,
        part: &Partition,
        name: &str,
        input: DomainInput,
    ) -> Result<DomainConfiguration> {
        check_input(&input)?;
        self.check_authorizer(part, &input.authorizer_config)?;
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<DomainConfiguration>(self.store(), &key, KIND_DOMAIN, name)?;
            let (mut next, expect) = match cur {
                Some(l) => (l.value, Expect::Rev(l.rev)),
                None => (
                    self.default_config(part, name)
                        .ok_or_else(|| missing(name))?,
                    Expect::Absent,
                ),
            };
            if input.remove_authorizer_config {
                next.authorizer_config = None;
            } else if let Some(a) = &input.authorizer_config {
                next.authorizer_config = Some(a.clone());
            }
            if let Some(p) = &input.security_policy {
                next.security_policy = p.clone();
            }
            if let Some(t) = &input.authentication_type {
                next.authentication_type = t.clone();
            }
            if let Some(p) = &input.application_protocol {
                next.application_protocol = p.clone();
            }
            if let Some(e) = input.enabled {
                if e != next.enabled {
                    next.enabled = e;
                    next.last_status_change = self.clock.now();
                }
            }
            let batch =
                Batch::new(&key).put(KIND_DOMAIN, name, SCHEMA, encode(&next)?, vec![], expect);
            if try_commit(self.store(), batch).await? {
                return Ok(next);
            }
        }
        Err(contention())
    }

    /// DeleteDomainConfiguration: only a DISABLED one, and an AWS-managed one only after
    /// seven days DISABLED (iot-custom-endpoints-managing.html); its domain name is freed.
    pub async fn delete(&self, part: &Partition, name: &str) -> Result<()> {
        check("domainConfigurationName", name, 1, 128, "[\\w.-]+", |c| {
            c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
        })?;
        let key = part.key();
        let cur = load::<DomainConfiguration>(self.store(), &key, KIND_DOMAIN, name)?
            .ok_or_else(|| missing(name))?;
        if cur.value.enabled {
            return Err(ServiceError::invalid(format!(
                "Domain configuration {name} is ENABLED; set it DISABLED before deleting it"
            )));
        }
        if cur.value.domain_type == "AWS_MANAGED"
            && self.clock.now().millis() - cur.value.last_status_change.millis()
                < MANAGED_DELETE_WAIT_MS
        {
            return Err(ServiceError::invalid(format!(
                "Domain configuration {name} is AWS-managed: it must be DISABLED for 7 days before it can be deleted"
            )));
        }
        let batch = Batch::new(&key).delete(KIND_DOMAIN, name, Expect::Rev(cur.rev));
        if !try_commit(self.store(), batch).await? {
            return Err(contention());
        }
        let free = Batch::new(GLOBAL).delete(KIND_DOMAIN_NAME, &cur.value.domain_name, Expect::Any);
        self.store().commit(free).await.map_err(store_error)?;
        Ok(())
    }

    /// ListDomainConfigurations: the default endpoints' and the account's, alphabetically.
    pub fn list(
        &self,
        part: &Partition,
        page_size: usize,
        marker: Option<&str>,
        service_type: Option<&str>,
    ) -> Result<(Vec<DomainConfiguration>, Option<String>)> {
        let after = marker.map(decode_token).transpose()?;
        let mut all: Vec<DomainConfiguration> = DEFAULTS
            .iter()
            .filter_map(|(n, _)| self.describe(part, n).ok())
            .collect();
        for rec in self
            .store()
            .list(
                &part.key(),
                KIND_DOMAIN,
                "",
                None,
                MAX_DOMAIN_CONFIGURATIONS * 4,
            )
            .map_err(store_error)?
        {
            let c: DomainConfiguration = decode(&rec)?;
            if !all.iter().any(|d| d.name == c.name) {
                all.push(c);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let rest: Vec<DomainConfiguration> = all
            .into_iter()
            .filter(|c| service_type.is_none_or(|t| c.service_type == t))
            .filter(|c| after.as_ref().is_none_or(|a| c.name.as_str() > a.as_str()))
            .collect();
        let more = rest.len() > page_size;
        let page: Vec<DomainConfiguration> = rest.into_iter().take(page_size).collect();
        let next = if more {
            page.last().map(|c| encode_token(&c.name))
        } else {
            None
        };
        Ok((page, next))
    }

    /// The configuration a TLS server name picks, with its partition: a created configuration
    /// whose domain name it is, or the default data endpoint of the account whose endpoint it
    /// names (`accounts` finds that account).
    pub fn resolve(&self, server_name: &str) -> Result<Option<(Partition, DomainConfiguration)>> {
        let host = server_name.to_ascii_lowercase();
        let Some(claim) = load::<Claim>(self.store(), GLOBAL, KIND_DOMAIN_NAME, &host)? else {
            return Ok(None);
        };
        let part = Partition::new(
            AccountId::parse(&claim.value.account)?,
            shoal_domain::Region::parse(&claim.value.region)?,
        );
        // Trusted only while the configuration exists and still holds that name.
        match load::<DomainConfiguration>(
            self.store(),
            &part.key(),
            KIND_DOMAIN,
            &claim.value.name,
        )? {
            Some(c) if c.value.domain_name == host => Ok(Some((part, c.value))),
            _ => Ok(None),
        }
    }

    /// The default data endpoint's configuration of an account (`iot:Data-ATS`).
    pub fn data_endpoint(&self, part: &Partition) -> Result<DomainConfiguration> {
        self.describe(part, "iot:Data-ATS")
    }

    pub async fn modify_tags(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_DOMAIN,
            name,
            || missing(name),
            |_| vec![],
            |c: &mut DomainConfiguration| change(&mut c.tags),
        )
        .await?;
        Ok(())
    }
}

impl DomainConfiguration {
    /// The authorizer a device of this domain gets: the one it names when the configuration
    /// lets it override its default (or has none), else the default.
    pub fn authorizer_for(&self, named: Option<&str>) -> Option<String> {
        match &self.authorizer_config {
            Some(AuthorizerConfig {
                default_authorizer_name: Some(d),
                allow_authorizer_override,
            }) => match named {
                Some(n) if allow_authorizer_override.unwrap_or(false) => Some(n.to_string()),
                _ => Some(d.clone()),
            },
            _ => named.map(str::to_string),
        }
    }

    pub fn refuses(&self) -> Option<ServiceError> {
        (!self.enabled).then(|| {
            ServiceError::new(
                ErrorKind::Unauthorized,
                format!("Domain configuration {} is DISABLED", self.name),
            )
        })
    }
}
