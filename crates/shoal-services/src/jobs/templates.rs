//! Job templates: the account's own (Create/Describe/Delete/ListJobTemplates) and AWS's managed
//! ones (Describe/ListManagedJobTemplates), and what CreateJob takes from either
//! (https://docs.aws.amazon.com/iot/latest/developerguide/job-templates.html).

use super::*;
use serde::{Deserialize, Serialize};
use shoal_domain::jobs::{managed_template, parse_managed_arn, JobTemplateId};
use shoal_domain::Timestamp;

pub(crate) const KIND_TEMPLATE: &str = "job-template";

/// A template of the account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTemplate {
    pub id: String,
    pub description: String,
    #[serde(default)]
    pub document: Option<String>,
    #[serde(default)]
    pub document_source: Option<String>,
    #[serde(default)]
    pub config: JobConfig,
    /// Kept and echoed as given (the rollout does not run windows yet).
    #[serde(default)]
    pub maintenance_windows: Vec<serde_json::Value>,
    #[serde(default)]
    pub destination_package_versions: Vec<String>,
    pub created_at: Timestamp,
}

/// What CreateJobTemplate asks.
pub struct CreateTemplate {
    pub id: JobTemplateId,
    pub description: Option<String>,
    pub job_arn: Option<String>,
    pub document: Option<String>,
    pub document_source: Option<String>,
    pub config: JobConfig,
    pub maintenance_windows: Vec<serde_json::Value>,
    pub destination_package_versions: Vec<String>,
}

/// What a job takes from its template.
pub(crate) struct FromTemplate {
    pub document: Option<String>,
    pub config: JobConfig,
}

fn template_not_found(id: &str) -> ServiceError {
    ServiceError::not_found(format!("Job template {id} does not exist"))
}

/// Explicit members of CreateJob override the template's.
fn merged(base: &JobConfig, over: &JobConfig) -> JobConfig {
    JobConfig {
        presigned_url_config: over
            .presigned_url_config
            .clone()
            .or_else(|| base.presigned_url_config.clone()),
        job_executions_rollout_config: over
            .job_executions_rollout_config
            .clone()
            .or_else(|| base.job_executions_rollout_config.clone()),
        abort_config: over
            .abort_config
            .clone()
            .or_else(|| base.abort_config.clone()),
        timeout_config: over
            .timeout_config
            .clone()
            .or_else(|| base.timeout_config.clone()),
        job_executions_retry_config: over
            .job_executions_retry_config
            .clone()
            .or_else(|| base.job_executions_retry_config.clone()),
        scheduling_config: over
            .scheduling_config
            .clone()
            .or_else(|| base.scheduling_config.clone()),
    }
}

impl Jobs {
    pub async fn create_template(
        &self,
        part: &Partition,
        req: CreateTemplate,
    ) -> Result<JobTemplate> {
        let description = req
            .description
            .filter(|d| !d.is_empty())
            .ok_or_else(|| ServiceError::invalid("description is required"))?;
        shoal_domain::ids::check("description", &description, 1, 2028, "[^\\p{C}]+", |c| {
            !c.is_control()
        })?;
        let (document, config) = match &req.job_arn {
            Some(arn) => {
                let a = Arn::parse(arn)?;
                if a.resource_type != "job"
                    || a.account != part.account.as_str()
                    || a.region != part.region.as_str()
                {
                    return Err(ServiceError::invalid(format!(
                        "{arn} is not a job of this account"
                    )));
                }
                let job = self.load_job(part, &a.resource)?.value;
                (job.document, merged(&job.config, &req.config))
            }
            None => {
                let doc = match (&req.document, &req.document_source) {
                    (Some(_), Some(_)) => {
                        return Err(ServiceError::invalid(
                            "A job template takes a document or a documentSource, not both",
                        ))
                    }
                    (Some(d), None) => d.clone(),
                    (None, Some(source)) => self.document_from(part, source).await?,
                    (None, None) => {
                        return Err(ServiceError::invalid(
                            "A job template needs a document, a documentSource or a jobArn",
                        ))
                    }
                };
                (doc, req.config.clone())
            }
        };
        check_document(&document)?;
        config.validate()?;
        self.check_abort_queries(part, &config)?;
        let t = JobTemplate {
            id: req.id.to_string(),
            description,
            document: Some(document),
            document_source: req.document_source.clone(),
            config: JobConfig {
                scheduling_config: None,
                ..config
            },
            maintenance_windows: req.maintenance_windows,
            destination_package_versions: req.destination_package_versions,
            created_at: self.clock.now(),
        };
        let batch = Batch::new(part.key()).put(
            KIND_TEMPLATE,
            &t.id,
            SCHEMA,
            encode(&t)?,
            Vec::new(),
            Expect::Absent,
        );
        if !try_commit(self.store(), batch).await? {
            return Err(ServiceError::new(
                ErrorKind::IdConflict,
                format!("Job template {} already exists", t.id),
            ));
        }
        Ok(t)
    }

    pub fn describe_template(&self, part: &Partition, id: &str) -> Result<JobTemplate> {
        load::<JobTemplate>(self.store(), &part.key(), KIND_TEMPLATE, id)?
            .map(|l| l.value)
            .ok_or_else(|| template_not_found(id))
    }

    pub async fn delete_template(&self, part: &Partition, id: &str) -> Result<()> {
        let batch = Batch::new(part.key()).delete(KIND_TEMPLATE, id, Expect::Present);
        if !try_commit(self.store(), batch).await? {
            return Err(template_not_found(id));
        }
        Ok(())
    }

    pub fn list_templates(
        &self,
        part: &Partition,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<JobTemplate>> {
        let key = part.key();
        crate::registry::page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list(&key, KIND_TEMPLATE, "", after, n)
                    .map_err(store_error)
            },
            |r| decode(r).map(Some),
        )
    }

    /// The document and configuration CreateJob gets from `arn`: a managed template's document
    /// with `params` substituted, or an account template's (its configuration under the
    /// request's own).
    pub(crate) fn template_parts(
        &self,
        part: &Partition,
        arn: &str,
        params: &BTreeMap<String, String>,
        own: &JobConfig,
    ) -> Result<FromTemplate> {
        if let Some((name, version)) = parse_managed_arn(arn) {
            let t = managed_template(&name, Some(&version)).ok_or_else(|| {
                ServiceError::not_found(format!(
                    "Managed job template {name}:{version} does not exist"
                ))
            })?;
            return Ok(FromTemplate {
                document: Some(t.substitute(params)?),
                config: own.clone(),
            });
        }
        let a = Arn::parse(arn)?;
        if a.resource_type != "jobtemplate"
            || a.account != part.account.as_str()
            || a.region != part.region.as_str()
        {
            return Err(ServiceError::invalid(format!(
                "{arn} is not a job template of this account"
            )));
        }
        if !params.is_empty() {
            return Err(ServiceError::invalid(
                "Document parameters are only supported for managed job templates.",
            ));
        }
        let t = self.describe_template(part, &a.resource)?;
        Ok(FromTemplate {
            document: t.document,
            config: merged(&t.config, own),
        })
    }
}
