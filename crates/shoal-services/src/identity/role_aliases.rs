//! Role aliases: Create/Describe/Update/Delete/ListRoleAlias(es), stored and validated as the
//! API reference describes them
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateRoleAlias.html). The
//! credentials provider that exchanges a certificate for the role's credentials is not served
//! yet (docs/compatibility.md says so).

use super::Identity;
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::ids::{check, validation_error};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::tags::Tags;
use shoal_domain::{Partition, ServiceError, Timestamp};
use shoal_store::{Batch, Expect};

const KIND_ROLE_ALIAS: &str = "role-alias";
/// AWS's quota of role aliases per account and region.
pub const MAX_ROLE_ALIASES: usize = 100;
/// CreateRoleAlias: "The default value is 3,600 seconds."
pub const DEFAULT_DURATION: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAlias {
    pub name: String,
    pub role_arn: String,
    pub credential_duration_seconds: i64,
    pub created: Timestamp,
    pub modified: Timestamp,
    #[serde(default)]
    pub tags: Tags,
}

/// The model's `RoleAlias`: 1..=128 of `[\w=,@-]`.
pub fn check_alias(name: &str) -> Result<()> {
    check("roleAlias", name, 1, 128, "[\\w=,@-]+", |c| {
        c.is_alphanumeric() || matches!(c, '_' | '=' | ',' | '@' | '-')
    })
}

fn check_role_arn(arn: &str) -> Result<()> {
    if !(20..=2048).contains(&arn.chars().count()) {
        return Err(validation_error(
            "roleArn",
            arn,
            "Member must have length between 20 and 2048",
        ));
    }
    Ok(())
}

fn check_duration(seconds: i64) -> Result<()> {
    if !(900..=43200).contains(&seconds) {
        return Err(validation_error(
            "credentialDurationSeconds",
            &seconds.to_string(),
            "Member must have value between 900 and 43200",
        ));
    }
    Ok(())
}

fn missing(name: &str) -> ServiceError {
    ServiceError::not_found(format!("Role alias {name} cannot be found."))
}

impl Identity {
    pub async fn create_role_alias(
        &self,
        part: &Partition,
        name: &str,
        role_arn: &str,
        duration: Option<i64>,
        tags: &[(String, String)],
    ) -> Result<RoleAlias> {
        check_alias(name)?;
        check_role_arn(role_arn)?;
        let duration = duration.unwrap_or(DEFAULT_DURATION);
        check_duration(duration)?;
        let mut tag_set = Tags::default();
        tag_set.merge(tags)?;
        let key = part.key();
        if load::<RoleAlias>(self.store(), &key, KIND_ROLE_ALIAS, name)?.is_some() {
            return Err(ServiceError::already_exists(
                format!("Role alias {name} already exists"),
                name,
                &part.arn("rolealias", name),
            ));
        }
        let count = self
            .store()
            .count(&key, KIND_ROLE_ALIAS, "", MAX_ROLE_ALIASES)
            .map_err(store_error)?;
        if count >= MAX_ROLE_ALIASES {
            return Err(ServiceError::limit(format!(
                "An account can have at most {MAX_ROLE_ALIASES} role aliases"
            )));
        }
        let now = self.clock.now();
        let alias = RoleAlias {
            name: name.to_string(),
            role_arn: role_arn.to_string(),
            credential_duration_seconds: duration,
            created: now,
            modified: now,
            tags: tag_set,
        };
        let batch = Batch::new(&key).put(
            KIND_ROLE_ALIAS,
            name,
            SCHEMA,
            encode(&alias)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store(), batch).await? {
            return Err(ServiceError::already_exists(
                format!("Role alias {name} already exists"),
                name,
                &part.arn("rolealias", name),
            ));
        }
        Ok(alias)
    }

    pub fn describe_role_alias(&self, part: &Partition, name: &str) -> Result<RoleAlias> {
        check_alias(name)?;
        load::<RoleAlias>(self.store(), &part.key(), KIND_ROLE_ALIAS, name)?
            .map(|l| l.value)
            .ok_or_else(|| missing(name))
    }

    /// UpdateRoleAlias: what is given changes, the rest stays.
    pub async fn update_role_alias(
        &self,
        part: &Partition,
        name: &str,
        role_arn: Option<&str>,
        duration: Option<i64>,
    ) -> Result<RoleAlias> {
        check_alias(name)?;
        if let Some(a) = role_arn {
            check_role_arn(a)?;
        }
        if let Some(d) = duration {
            check_duration(d)?;
        }
        let now = self.clock.now();
        let (alias, ()) = crate::records::modify(
            self.store(),
            &part.key(),
            KIND_ROLE_ALIAS,
            name,
            || missing(name),
            |_| vec![],
            |a: &mut RoleAlias| {
                if let Some(arn) = role_arn {
                    a.role_arn = arn.to_string();
                }
                if let Some(d) = duration {
                    a.credential_duration_seconds = d;
                }
                a.modified = now;
                Ok(())
            },
        )
        .await?;
        Ok(alias)
    }

    pub async fn delete_role_alias(&self, part: &Partition, name: &str) -> Result<()> {
        check_alias(name)?;
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<RoleAlias>(self.store(), &key, KIND_ROLE_ALIAS, name)?
                .ok_or_else(|| missing(name))?;
            let batch = Batch::new(&key).delete(KIND_ROLE_ALIAS, name, Expect::Rev(cur.rev));
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    /// ListRoleAliases in alphabetical order, descending when `ascending` is false; the marker
    /// is the last name of the page. An account has at most `MAX_ROLE_ALIASES`, so the whole
    /// list is read.
    pub fn list_role_aliases(
        &self,
        part: &Partition,
        page_size: usize,
        marker: Option<&str>,
        ascending: bool,
    ) -> Result<(Vec<String>, Option<String>)> {
        let after = marker.map(decode_token).transpose()?;
        let mut names: Vec<String> = self
            .store()
            .list(&part.key(), KIND_ROLE_ALIAS, "", None, MAX_ROLE_ALIASES * 2)
            .map_err(store_error)?
            .iter()
            .map(|r| decode::<RoleAlias>(r).map(|a| a.name))
            .collect::<Result<_>>()?;
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
        let next = more.then(|| page.last().map(|n| encode_token(n))).flatten();
        Ok((page, next))
    }

    pub async fn modify_role_alias_tags(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        check_alias(name)?;
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_ROLE_ALIAS,
            name,
            || missing(name),
            |_| vec![],
            |a: &mut RoleAlias| change(&mut a.tags),
        )
        .await?;
        Ok(())
    }
}
