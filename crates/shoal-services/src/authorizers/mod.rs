//! Custom authorizers: CreateAuthorizer and its siblings, the account's default authorizer,
//! and authenticating a device with one (`invoke.rs`): AWS invokes a Lambda function; Shoal
//! posts the same event to the HTTP endpoint the configuration maps the function's ARN to
//! (`FunctionPort`, installed by the binary)
//! (https://docs.aws.amazon.com/iot/latest/developerguide/custom-authentication.html).

mod invoke;

pub use invoke::{AuthRequest, Authenticated, FunctionPort, HttpAuth, MqttAuth};

use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::authorizer::{
    check_function_arn, check_name, check_signing_keys, check_token_key_name, Authorizer,
};
use shoal_domain::error::Result;
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::tags::Tags;
use shoal_domain::{Clock, ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const KIND_AUTHORIZER: &str = "authorizer";
const KIND_DEFAULT: &str = "default-authorizer";
const DEFAULT_KEY: &str = "default";
/// AWS's quota of custom authorizers per account.
pub const MAX_AUTHORIZERS: usize = 100;

pub struct Authorizers {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    functions: OnceLock<Arc<dyn FunctionPort>>,
    cache: invoke::Cache,
}

/// What CreateAuthorizer and UpdateAuthorizer give; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AuthorizerInput {
    pub function_arn: Option<String>,
    pub token_key_name: Option<String>,
    pub token_signing_public_keys: Option<BTreeMap<String, String>>,
    pub active: Option<bool>,
    pub signing_disabled: Option<bool>,
    pub enable_caching_for_http: Option<bool>,
}

fn missing(name: &str) -> ServiceError {
    ServiceError::not_found(format!("Authorizer {name} cannot be found."))
}

fn check_input(input: &AuthorizerInput) -> Result<()> {
    if let Some(a) = &input.function_arn {
        check_function_arn(a)?;
    }
    if let Some(t) = &input.token_key_name {
        check_token_key_name(t)?;
    }
    if let Some(keys) = &input.token_signing_public_keys {
        check_signing_keys(keys)?;
        for (name, pem) in keys {
            // "Its minimum length is 2,048 bits" (custom-auth.html, token signing).
            match shoal_pki::rsa_public_key_bits(pem) {
                Some(bits) if bits >= 2048 => {}
                Some(bits) => {
                    return Err(ServiceError::invalid(format!(
                        "tokenSigningPublicKeys {name} has {bits} bits; at least 2048 are needed"
                    )))
                }
                None => {
                    return Err(ServiceError::invalid(format!(
                        "tokenSigningPublicKeys {name} is not an RSA public key in PEM"
                    )))
                }
            }
        }
    }
    Ok(())
}

impl Authorizers {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Authorizers {
        Authorizers {
            store,
            clock,
            functions: OnceLock::new(),
            cache: Default::default(),
        }
    }

    /// Installs what calls the functions (once, at start-up).
    pub fn set_functions(&self, functions: Arc<dyn FunctionPort>) {
        let _ = self.functions.set(functions);
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub async fn create(
        &self,
        part: &Partition,
        name: &str,
        input: AuthorizerInput,
        tags: &[(String, String)],
    ) -> Result<Authorizer> {
        check_name(name)?;
        check_input(&input)?;
        let function_arn = input
            .function_arn
            .clone()
            .ok_or_else(|| ServiceError::invalid("authorizerFunctionArn is required"))?;
        let mut tag_set = Tags::default();
        tag_set.merge(tags)?;
        let key = part.key();
        let exists = || {
            ServiceError::already_exists(
                format!("Authorizer {name} already exists"),
                name,
                &part.arn("authorizer", name),
            )
        };
        if load::<Authorizer>(self.store(), &key, KIND_AUTHORIZER, name)?.is_some() {
            return Err(exists());
        }
        if self
            .store()
            .count(&key, KIND_AUTHORIZER, "", MAX_AUTHORIZERS)
            .map_err(store_error)?
            >= MAX_AUTHORIZERS
        {
            return Err(ServiceError::limit(format!(
                "An account can have at most {MAX_AUTHORIZERS} authorizers"
            )));
        }
        let now = self.clock.now();
        let a = Authorizer {
            name: name.to_string(),
            function_arn,
            token_key_name: input.token_key_name,
            token_signing_public_keys: input.token_signing_public_keys.unwrap_or_default(),
            active: input.active.unwrap_or(true),
            signing_disabled: input.signing_disabled.unwrap_or(false),
            enable_caching_for_http: input.enable_caching_for_http.unwrap_or(false),
            created: now,
            modified: now,
            tags: tag_set,
        };
        a.check_signing()?;
        let batch = Batch::new(&key).put(
            KIND_AUTHORIZER,
            name,
            SCHEMA,
            encode(&a)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store(), batch).await? {
            return Err(exists());
        }
        Ok(a)
    }

    pub fn describe(&self, part: &Partition, name: &str) -> Result<Authorizer> {
        check_name(name)?;
        load::<Authorizer>(self.store(), &part.key(), KIND_AUTHORIZER, name)?
            .map(|l| l.value)
            .ok_or_else(|| missing(name))
    }

    /// UpdateAuthorizer: what is given changes (signing itself cannot be turned on or off).
    pub async fn update(
        &self,
        part: &Partition,
        name: &str,
        input: AuthorizerInput,
    ) -> Result<Authorizer> {
        check_name(name)?;
        check_input(&input)?;
        let now = self.clock.now();
        let (a, ()) = crate::records::modify(
            self.store(),
            &part.key(),
            KIND_AUTHORIZER,
            name,
            || missing(name),
            |_| vec![],
            |a: &mut Authorizer| {
                if let Some(f) = &input.function_arn {
                    a.function_arn = f.clone();
                }
                if let Some(t) = &input.token_key_name {
                    a.token_key_name = Some(t.clone());
                }
                if let Some(k) = &input.token_signing_public_keys {
                    a.token_signing_public_keys = k.clone();
                }
                if let Some(s) = input.active {
                    a.active = s;
                }
                if let Some(c) = input.enable_caching_for_http {
                    a.enable_caching_for_http = c;
                }
                a.modified = now;
                a.check_signing()
            },
        )
        .await?;
        Ok(a)
    }

    /// DeleteAuthorizer: an ACTIVE authorizer, or the account's default, cannot be deleted.
    pub async fn delete(&self, part: &Partition, name: &str) -> Result<()> {
        check_name(name)?;
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<Authorizer>(self.store(), &key, KIND_AUTHORIZER, name)?
                .ok_or_else(|| missing(name))?;
            if cur.value.active {
                return Err(ServiceError::new(
                    ErrorKind::DeleteConflict,
                    format!("Authorizer {name} is ACTIVE; set it INACTIVE before deleting it"),
                ));
            }
            let default = load::<String>(self.store(), &key, KIND_DEFAULT, DEFAULT_KEY)?;
            if default.as_ref().is_some_and(|d| d.value == name) {
                return Err(ServiceError::new(
                    ErrorKind::DeleteConflict,
                    format!("Authorizer {name} is the default authorizer; clear it first"),
                ));
            }
            let batch = Batch::new(&key)
                .check(
                    KIND_DEFAULT,
                    DEFAULT_KEY,
                    match &default {
                        Some(d) => Expect::Rev(d.rev),
                        None => Expect::Absent,
                    },
                )
                .delete(KIND_AUTHORIZER, name, Expect::Rev(cur.rev));
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    /// ListAuthorizers: names in alphabetical order (descending unless `ascending`), of one
    /// status when asked; the marker is the last name of the page. An account has at most
    /// `MAX_AUTHORIZERS`, so the whole list is read.
    pub fn list(
        &self,
        part: &Partition,
        page_size: usize,
        marker: Option<&str>,
        ascending: bool,
        active: Option<bool>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let after = marker.map(decode_token).transpose()?;
        let mut names = Vec::new();
        for rec in self
            .store()
            .list(&part.key(), KIND_AUTHORIZER, "", None, MAX_AUTHORIZERS * 2)
            .map_err(store_error)?
        {
            let a: Authorizer = decode(&rec)?;
            if active.is_none_or(|s| s == a.active) {
                names.push(a.name);
            }
        }
        if !ascending {
            names.reverse();
        }
        let rest: Vec<String> = names
            .into_iter()
            .filter(|n| match &after {
                None => true,
                Some(a) if ascending => n > a,
                Some(a) => n < a,
            })
            .collect();
        let more = rest.len() > page_size;
        let page: Vec<String> = rest.into_iter().take(page_size).collect();
        let next = if more {
            page.last().map(|n| encode_token(n))
        } else {
            None
        };
        Ok((page, next))
    }

    /// SetDefaultAuthorizer: the authorizer devices get when they name none. Setting one while
    /// another is the default is ResourceAlreadyExistsException, as the model lists.
    pub async fn set_default(&self, part: &Partition, name: &str) -> Result<Authorizer> {
        let a = self.describe(part, name)?;
        let key = part.key();
        let cur = load::<String>(self.store(), &key, KIND_DEFAULT, DEFAULT_KEY)?;
        if let Some(c) = &cur {
            if c.value == name {
                return Ok(a);
            }
            return Err(ServiceError::already_exists(
                format!(
                    "Default authorizer {} is already set; clear it first",
                    c.value
                ),
                &c.value,
                &part.arn("authorizer", &c.value),
            ));
        }
        let batch = Batch::new(&key)
            .check(KIND_AUTHORIZER, name, Expect::Present)
            .put(
                KIND_DEFAULT,
                DEFAULT_KEY,
                SCHEMA,
                encode(&name.to_string())?,
                vec![],
                Expect::Absent,
            );
        if !try_commit(self.store(), batch).await? {
            return Err(contention());
        }
        Ok(a)
    }

    /// The default authorizer's name, if one is set.
    pub fn default_name(&self, part: &Partition) -> Result<Option<String>> {
        Ok(load::<String>(self.store(), &part.key(), KIND_DEFAULT, DEFAULT_KEY)?.map(|l| l.value))
    }

    pub fn describe_default(&self, part: &Partition) -> Result<Authorizer> {
        let name = self
            .default_name(part)?
            .ok_or_else(|| ServiceError::not_found("No default authorizer is set"))?;
        self.describe(part, &name)
    }

    pub async fn clear_default(&self, part: &Partition) -> Result<()> {
        if self.default_name(part)?.is_none() {
            return Err(ServiceError::not_found("No default authorizer is set"));
        }
        let batch = Batch::new(part.key()).delete(KIND_DEFAULT, DEFAULT_KEY, Expect::Any);
        self.store().commit(batch).await.map_err(store_error)?;
        Ok(())
    }

    pub async fn modify_tags(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        check_name(name)?;
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_AUTHORIZER,
            name,
            || missing(name),
            |_| vec![],
            |a: &mut Authorizer| change(&mut a.tags),
        )
        .await?;
        Ok(())
    }
}
