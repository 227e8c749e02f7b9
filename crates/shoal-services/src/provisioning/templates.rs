//! Provisioning templates: Create/Describe/Update/Delete/ListProvisioningTemplate(s) and their
//! versions (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningTemplate.html).
//! A template and all its versions are one record, so a new default version is one write.

use super::Provisioning;
use crate::records::{contention, decode, encode, load, store_error, try_commit, SCHEMA};
use crate::registry::{page_of, Page};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::ids::{check, validation_error};
use shoal_domain::provisioning::Template;
use shoal_domain::tags::Tags;
use shoal_domain::{ErrorKind, Partition, ServiceError, Timestamp};
use shoal_store::{Batch, Expect};

const KIND_TEMPLATE: &str = "provisioning-template";
/// AWS's quota: five versions per template.
pub const MAX_VERSIONS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub id: i64,
    pub body: String,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningTemplate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    pub role_arn: String,
    /// `FLEET_PROVISIONING` or `JITP`.
    pub kind: String,
    /// The pre-provisioning hook: (target ARN, payload version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<(String, String)>,
    pub versions: Vec<TemplateVersion>,
    pub default_version: i64,
    pub created: Timestamp,
    pub modified: Timestamp,
    #[serde(default)]
    pub tags: Tags,
}

impl ProvisioningTemplate {
    pub fn default_body(&self) -> &str {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.body.as_str())
            .unwrap_or("")
    }
}

/// What Create and Update give; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub description: Option<String>,
    pub body: Option<String>,
    pub enabled: Option<bool>,
    pub role_arn: Option<String>,
    pub kind: Option<String>,
    pub hook: Option<(String, Option<String>)>,
    pub remove_hook: bool,
    pub default_version: Option<i64>,
}

fn check_name(name: &str) -> Result<()> {
    check("templateName", name, 1, 36, "^[0-9A-Za-z_-]+$", |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
    })
}

fn missing(name: &str) -> ServiceError {
    ServiceError::not_found(format!("The provisioning template {name} does not exist"))
}

fn check_input(input: &TemplateInput) -> Result<()> {
    if let Some(d) = &input.description {
        if d.chars().count() > 500 || d.chars().any(char::is_control) {
            return Err(validation_error(
                "description",
                d,
                "Member must have length less than or equal to 500 and no control characters",
            ));
        }
    }
    if let Some(b) = &input.body {
        Template::parse(b)?;
    }
    if let Some(a) = &input.role_arn {
        if !(20..=2048).contains(&a.chars().count()) {
            return Err(validation_error(
                "provisioningRoleArn",
                a,
                "Member must have length between 20 and 2048",
            ));
        }
    }
    if let Some(k) = &input.kind {
        if k != "FLEET_PROVISIONING" && k != "JITP" {
            return Err(validation_error(
                "type",
                k,
                "Member must satisfy enum value set: [FLEET_PROVISIONING, JITP]",
            ));
        }
    }
    if let Some((_, Some(v))) = &input.hook {
        // AWS documents one payload version.
        if v != "2020-04-01" {
            return Err(ServiceError::invalid(format!(
                "The pre-provisioning hook payload version {v} is not valid; it is 2020-04-01"
            )));
        }
    }
    Ok(())
}

impl Provisioning {
    pub async fn create_template(
        &self,
        part: &Partition,
        name: &str,
        input: TemplateInput,
        tags: &[(String, String)],
    ) -> Result<ProvisioningTemplate> {
        check_name(name)?;
        check_input(&input)?;
        let body = input
            .body
            .clone()
            .ok_or_else(|| ServiceError::invalid("templateBody is required"))?;
        let role_arn = input
            .role_arn
            .clone()
            .ok_or_else(|| ServiceError::invalid("provisioningRoleArn is required"))?;
        let kind = input
            .kind
            .clone()
            .unwrap_or_else(|| "FLEET_PROVISIONING".into());
        if kind == "JITP" && input.hook.is_some() {
            return Err(ServiceError::invalid(
                "A pre-provisioning hook is for fleet provisioning templates only",
            ));
        }
        let mut tag_set = Tags::default();
        tag_set.merge(tags)?;
        let now = self.clock.now();
        let t = ProvisioningTemplate {
            name: name.to_string(),
            description: input.description,
            enabled: input.enabled.unwrap_or(false),
            role_arn,
            kind,
            hook: input
                .hook
                .map(|(arn, v)| (arn, v.unwrap_or_else(|| "2020-04-01".into()))),
            versions: vec![TemplateVersion {
                id: 1,
                body,
                created: now,
            }],
            default_version: 1,
            created: now,
            modified: now,
            tags: tag_set,
        };
        let batch = Batch::new(part.key()).put(
            KIND_TEMPLATE,
            name,
            SCHEMA,
            encode(&t)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store(), batch).await? {
            return Err(ServiceError::already_exists(
                format!("The provisioning template {name} already exists"),
                name,
                &part.arn("provisioningtemplate", name),
            ));
        }
        Ok(t)
    }

    pub fn describe_template(&self, part: &Partition, name: &str) -> Result<ProvisioningTemplate> {
        check_name(name)?;
        load::<ProvisioningTemplate>(self.store(), &part.key(), KIND_TEMPLATE, name)?
            .map(|l| l.value)
            .ok_or_else(|| missing(name))
    }

    /// Read-modify-write of one template under its revision.
    async fn modify_template<T>(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut ProvisioningTemplate) -> Result<T>,
    ) -> Result<(ProvisioningTemplate, T)> {
        check_name(name)?;
        let now = self.clock.now();
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_TEMPLATE,
            name,
            || missing(name),
            |_| vec![],
            |t: &mut ProvisioningTemplate| {
                let out = change(t)?;
                t.modified = now;
                Ok(out)
            },
        )
        .await
    }

    pub async fn update_template(
        &self,
        part: &Partition,
        name: &str,
        input: TemplateInput,
    ) -> Result<()> {
        check_input(&input)?;
        self.modify_template(part, name, |t| {
            if let Some(d) = &input.description {
                t.description = Some(d.clone());
            }
            if let Some(e) = input.enabled {
                t.enabled = e;
            }
            if let Some(a) = &input.role_arn {
                t.role_arn = a.clone();
            }
            if let Some(v) = input.default_version {
                if !t.versions.iter().any(|x| x.id == v) {
                    return Err(ServiceError::not_found(format!(
                        "Version {v} of the provisioning template {name} does not exist"
                    )));
                }
                t.default_version = v;
            }
            if input.remove_hook {
                t.hook = None;
            } else if let Some((arn, v)) = &input.hook {
                if t.kind == "JITP" {
                    return Err(ServiceError::invalid(
                        "A pre-provisioning hook is for fleet provisioning templates only",
                    ));
                }
                t.hook = Some((
                    arn.clone(),
                    v.clone().unwrap_or_else(|| "2020-04-01".into()),
                ));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn delete_template(&self, part: &Partition, name: &str) -> Result<()> {
        check_name(name)?;
        let key = part.key();
        let cur = load::<ProvisioningTemplate>(self.store(), &key, KIND_TEMPLATE, name)?
            .ok_or_else(|| missing(name))?;
        let batch = Batch::new(&key).delete(KIND_TEMPLATE, name, Expect::Rev(cur.rev));
        if !try_commit(self.store(), batch).await? {
            return Err(contention());
        }
        Ok(())
    }

    pub fn list_templates(
        &self,
        part: &Partition,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<ProvisioningTemplate>> {
        let key = part.key();
        page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list(&key, KIND_TEMPLATE, "", after, n)
                    .map_err(store_error)
            },
            |rec| decode(rec).map(Some),
        )
    }

    /// CreateProvisioningTemplateVersion: at most five versions
    /// (VersionsLimitExceededException); the new one becomes the default when asked.
    pub async fn create_template_version(
        &self,
        part: &Partition,
        name: &str,
        body: &str,
        set_as_default: bool,
    ) -> Result<(ProvisioningTemplate, i64)> {
        Template::parse(body)?;
        let now = self.clock.now();
        self.modify_template(part, name, |t| {
            if t.versions.len() >= MAX_VERSIONS {
                return Err(ServiceError::new(
                    ErrorKind::VersionsLimitExceeded,
                    format!(
                        "The provisioning template {name} already has the maximum number of versions ({MAX_VERSIONS})"
                    ),
                ));
            }
            let id = t.versions.iter().map(|v| v.id).max().unwrap_or(0) + 1;
            t.versions.push(TemplateVersion {
                id,
                body: body.to_string(),
                created: now,
            });
            if set_as_default {
                t.default_version = id;
            }
            Ok(id)
        })
        .await
    }

    pub fn describe_template_version(
        &self,
        part: &Partition,
        name: &str,
        id: i64,
    ) -> Result<(ProvisioningTemplate, TemplateVersion)> {
        let t = self.describe_template(part, name)?;
        let v = t
            .versions
            .iter()
            .find(|v| v.id == id)
            .cloned()
            .ok_or_else(|| {
                ServiceError::not_found(format!(
                    "Version {id} of the provisioning template {name} does not exist"
                ))
            })?;
        Ok((t, v))
    }

    /// DeleteProvisioningTemplateVersion: the default version cannot be deleted.
    pub async fn delete_template_version(
        &self,
        part: &Partition,
        name: &str,
        id: i64,
    ) -> Result<()> {
        self.modify_template(part, name, |t| {
            if !t.versions.iter().any(|v| v.id == id) {
                return Err(ServiceError::not_found(format!(
                    "Version {id} of the provisioning template {name} does not exist"
                )));
            }
            if t.default_version == id {
                return Err(ServiceError::new(
                    ErrorKind::DeleteConflict,
                    format!("Version {id} is the default version of {name}; it cannot be deleted"),
                ));
            }
            t.versions.retain(|v| v.id != id);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn modify_template_tags(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        self.modify_template(part, name, |t| change(&mut t.tags))
            .await?;
        Ok(())
    }
}
