//! The provisioning-template operations and RegisterThing: their routes and handlers
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningTemplate.html and
//! siblings, https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterThing.html).

use super::shapes::{epoch, tag_pairs, with_token, TagIn};
use crate::error::ApiError;
use crate::json;
use crate::request::{decode, Query};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::provisioning::{
    Provisioning, ProvisioningTemplate, StartTask, TaskStatus, TemplateInput,
};
use std::collections::BTreeMap;

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    CreateProvisioningTemplate,
    DescribeProvisioningTemplate { name: String },
    UpdateProvisioningTemplate { name: String },
    DeleteProvisioningTemplate { name: String },
    ListProvisioningTemplates { query: Query },
    CreateProvisioningTemplateVersion { name: String, query: Query },
    DescribeProvisioningTemplateVersion { name: String, version: String },
    DeleteProvisioningTemplateVersion { name: String, version: String },
    ListProvisioningTemplateVersions { name: String, query: Query },
    RegisterThing,
    CreateProvisioningClaim { name: String },
    StartThingRegistrationTask,
    DescribeThingRegistrationTask { id: String },
    ListThingRegistrationTasks { query: Query },
    StopThingRegistrationTask { id: String },
    ListThingRegistrationTaskReports { id: String, query: Query },
}

impl Route {
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as P;
        let q = || Query::parse(raw_query);
        Some(match (method, segs) {
            ("POST", ["things"]) => Ok(P::RegisterThing),
            ("POST", ["provisioning-templates"]) => Ok(P::CreateProvisioningTemplate),
            ("GET", ["provisioning-templates"]) => {
                q().map(|query| P::ListProvisioningTemplates { query })
            }
            ("GET", ["provisioning-templates", n]) => {
                decode(n).map(|name| P::DescribeProvisioningTemplate { name })
            }
            ("PATCH", ["provisioning-templates", n]) => {
                decode(n).map(|name| P::UpdateProvisioningTemplate { name })
            }
            ("DELETE", ["provisioning-templates", n]) => {
                decode(n).map(|name| P::DeleteProvisioningTemplate { name })
            }
            ("POST", ["provisioning-templates", n, "versions"]) => decode(n).and_then(|name| {
                q().map(|query| P::CreateProvisioningTemplateVersion { name, query })
            }),
            ("POST", ["thing-registration-tasks"]) => Ok(P::StartThingRegistrationTask),
            ("GET", ["thing-registration-tasks"]) => {
                q().map(|query| P::ListThingRegistrationTasks { query })
            }
            ("GET", ["thing-registration-tasks", t]) => {
                decode(t).map(|id| P::DescribeThingRegistrationTask { id })
            }
            ("PUT", ["thing-registration-tasks", t, "cancel"]) => {
                decode(t).map(|id| P::StopThingRegistrationTask { id })
            }
            ("GET", ["thing-registration-tasks", t, "reports"]) => decode(t)
                .and_then(|id| q().map(|query| P::ListThingRegistrationTaskReports { id, query })),
            ("POST", ["provisioning-templates", n, "provisioning-claim"]) => {
                decode(n).map(|name| P::CreateProvisioningClaim { name })
            }
            ("GET", ["provisioning-templates", n, "versions"]) => decode(n).and_then(|name| {
                q().map(|query| P::ListProvisioningTemplateVersions { name, query })
            }),
            ("GET", ["provisioning-templates", n, "versions", v]) => decode(n).and_then(|name| {
                decode(v).map(|version| P::DescribeProvisioningTemplateVersion { name, version })
            }),
            ("DELETE", ["provisioning-templates", n, "versions", v]) => {
                decode(n).and_then(|name| {
                    decode(v).map(|version| P::DeleteProvisioningTemplateVersion { name, version })
                })
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookIn {
    target_arn: Option<String>,
    payload_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TemplateIn {
    template_name: Option<String>,
    description: Option<String>,
    template_body: Option<String>,
    enabled: Option<bool>,
    provisioning_role_arn: Option<String>,
    pre_provisioning_hook: Option<HookIn>,
    remove_pre_provisioning_hook: Option<bool>,
    default_version_id: Option<i64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    tags: Option<Vec<TagIn>>,
}

impl TemplateIn {
    fn into_input(self) -> Result<(TemplateInput, Vec<(String, String)>), ApiError> {
        let hook = match self.pre_provisioning_hook {
            Some(h) => Some((
                h.target_arn.ok_or_else(|| {
                    ApiError::invalid("preProvisioningHook.targetArn is required")
                })?,
                h.payload_version,
            )),
            None => None,
        };
        Ok((
            TemplateInput {
                description: self.description,
                body: self.template_body,
                enabled: self.enabled,
                role_arn: self.provisioning_role_arn,
                kind: self.kind,
                hook,
                remove_hook: self.remove_pre_provisioning_hook.unwrap_or(false),
                default_version: self.default_version_id,
            },
            tag_pairs(self.tags),
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionIn {
    template_body: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartTaskIn {
    template_body: Option<String>,
    input_file_bucket: Option<String>,
    input_file_key: Option<String>,
    role_arn: Option<String>,
}

fn required(v: Option<String>, name: &str) -> Result<String, ApiError> {
    v.ok_or_else(|| ApiError::invalid(format!("{name} is required")))
}

/// A list page whose token is an offset into `items`.
fn offset_page<T: Clone>(items: &[T], query: &Query) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let start: usize = match query.get("nextToken") {
        Some(tok) => tok
            .parse()
            .map_err(|_| ApiError::invalid("The nextToken is not valid"))?,
        None => 0,
    };
    let page = items.iter().skip(start).take(max).cloned().collect();
    let next = (start + max < items.len()).then(|| (start + max).to_string());
    Ok((page, next))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterThingIn {
    template_body: Option<String>,
    parameters: Option<BTreeMap<String, String>>,
}

fn version_id(v: &str) -> Result<i64, ApiError> {
    v.parse()
        .map_err(|_| ApiError::invalid(format!("versionId {v} is not a number")))
}

fn hook_json(t: &ProvisioningTemplate) -> Option<Value> {
    t.hook
        .as_ref()
        .map(|(arn, v)| json!({ "targetArn": arn, "payloadVersion": v }))
}

fn summary(part: &Partition, t: &ProvisioningTemplate) -> Value {
    let mut v = json!({
        "templateArn": part.arn("provisioningtemplate", &t.name),
        "templateName": t.name,
        "creationDate": epoch(t.created),
        "lastModifiedDate": epoch(t.modified),
        "enabled": t.enabled,
        "type": t.kind,
    });
    if let Some(d) = &t.description {
        v["description"] = d.clone().into();
    }
    v
}

pub async fn handle(p: &Provisioning, part: &Partition, route: Route, body: &[u8]) -> R {
    use Route as P;
    match route {
        P::CreateProvisioningTemplate => {
            let input: TemplateIn = json::parse(body)?;
            let name = input
                .template_name
                .clone()
                .ok_or_else(|| ApiError::invalid("templateName is required"))?;
            let (input, tags) = input.into_input()?;
            let t = p.create_template(part, &name, input, &tags).await?;
            Ok(json!({
                "templateArn": part.arn("provisioningtemplate", &t.name),
                "templateName": t.name,
                "defaultVersionId": t.default_version,
            }))
        }
        P::DescribeProvisioningTemplate { name } => {
            let t = p.describe_template(part, &name)?;
            let mut v = summary(part, &t);
            v["defaultVersionId"] = t.default_version.into();
            v["templateBody"] = t.default_body().into();
            v["provisioningRoleArn"] = t.role_arn.clone().into();
            if let Some(h) = hook_json(&t) {
                v["preProvisioningHook"] = h;
            }
            Ok(v)
        }
        P::UpdateProvisioningTemplate { name } => {
            let input: TemplateIn = json::parse(body)?;
            let (input, _) = input.into_input()?;
            p.update_template(part, &name, input).await?;
            Ok(json!({}))
        }
        P::DeleteProvisioningTemplate { name } => {
            p.delete_template(part, &name).await?;
            Ok(json!({}))
        }
        P::ListProvisioningTemplates { query } => {
            let page = p.list_templates(
                part,
                max_results("maxResults", query.int("maxResults")?, 250)?,
                query.get("nextToken"),
            )?;
            let templates: Vec<Value> = page.items.iter().map(|t| summary(part, t)).collect();
            Ok(with_token(
                json!({ "templates": templates }),
                page.next_token,
            ))
        }
        P::CreateProvisioningTemplateVersion { name, query } => {
            let input: VersionIn = json::parse(body)?;
            let body = input
                .template_body
                .ok_or_else(|| ApiError::invalid("templateBody is required"))?;
            let set_default = query.bool("setAsDefault")?.unwrap_or(false);
            let (t, id) = p
                .create_template_version(part, &name, &body, set_default)
                .await?;
            Ok(json!({
                "templateArn": part.arn("provisioningtemplate", &t.name),
                "templateName": t.name,
                "versionId": id,
                "isDefaultVersion": t.default_version == id,
            }))
        }
        P::DescribeProvisioningTemplateVersion { name, version } => {
            let (t, v) = p.describe_template_version(part, &name, version_id(&version)?)?;
            Ok(json!({
                "versionId": v.id,
                "creationDate": epoch(v.created),
                "templateBody": v.body,
                "isDefaultVersion": t.default_version == v.id,
            }))
        }
        P::DeleteProvisioningTemplateVersion { name, version } => {
            p.delete_template_version(part, &name, version_id(&version)?)
                .await?;
            Ok(json!({}))
        }
        P::ListProvisioningTemplateVersions { name, query } => {
            let t = p.describe_template(part, &name)?;
            // At most five versions: in version order, the token an offset.
            let (page, next) = offset_page(&t.versions, &query)?;
            let versions: Vec<Value> = page
                .iter()
                .map(|v| {
                    json!({
                        "versionId": v.id,
                        "creationDate": epoch(v.created),
                        "isDefaultVersion": t.default_version == v.id,
                    })
                })
                .collect();
            Ok(with_token(json!({ "versions": versions }), next))
        }
        P::StartThingRegistrationTask => {
            let input: StartTaskIn = json::parse(body)?;
            let task = p
                .start_registration_task(
                    part,
                    StartTask {
                        template_body: required(input.template_body, "templateBody")?,
                        bucket: required(input.input_file_bucket, "inputFileBucket")?,
                        key: required(input.input_file_key, "inputFileKey")?,
                        role_arn: required(input.role_arn, "roleArn")?,
                    },
                )
                .await?;
            Ok(json!({ "taskId": task.id }))
        }
        P::DescribeThingRegistrationTask { id } => {
            let t = p.describe_registration_task(part, &id)?;
            let mut v = json!({
                "taskId": t.id,
                "creationDate": epoch(t.created),
                "lastModifiedDate": epoch(t.modified),
                "templateBody": t.template_body,
                "inputFileBucket": t.bucket,
                "inputFileKey": t.key,
                "roleArn": t.role_arn,
                "status": t.status.as_str(),
                "successCount": t.success,
                "failureCount": t.failure,
                "percentageProgress": t.percentage(),
            });
            if let Some(m) = &t.message {
                v["message"] = m.clone().into();
            }
            Ok(v)
        }
        P::ListThingRegistrationTasks { query } => {
            let status = query.get("status").map(TaskStatus::parse).transpose()?;
            let page = p.list_registration_tasks(
                part,
                status,
                max_results("maxResults", query.int("maxResults")?, 250)?,
                query.get("nextToken"),
            )?;
            Ok(with_token(
                json!({ "taskIds": page.items }),
                page.next_token,
            ))
        }
        P::StopThingRegistrationTask { id } => {
            p.stop_registration_task(part, &id).await?;
            Ok(json!({}))
        }
        P::ListThingRegistrationTaskReports { id, query } => {
            let kind = query
                .get("reportType")
                .ok_or_else(|| ApiError::invalid("reportType is required"))?;
            let errors = match kind {
                "ERRORS" => true,
                "RESULTS" => false,
                other => {
                    return Err(ApiError::invalid(format!(
                        "reportType {other} is not ERRORS or RESULTS"
                    )))
                }
            };
            let links = p.registration_task_reports(part, &id, errors)?;
            let (page, next) = offset_page(&links, &query)?;
            Ok(with_token(
                json!({ "resourceLinks": page, "reportType": kind }),
                next,
            ))
        }
        P::CreateProvisioningClaim { name } => {
            let (made, expires) = p.create_provisioning_claim(part, &name).await?;
            let keys = made.keys.ok_or_else(|| {
                ApiError::from(shoal_domain::ServiceError::internal(
                    "no key pair was generated",
                ))
            })?;
            Ok(json!({
                "certificateId": made.certificate.id,
                "certificatePem": made.certificate.pem,
                "keyPair": { "PublicKey": keys.public_key_pem, "PrivateKey": keys.private_key_pem },
                "expiration": epoch(expires),
            }))
        }
        P::RegisterThing => {
            let input: RegisterThingIn = json::parse(body)?;
            let template = input
                .template_body
                .ok_or_else(|| ApiError::invalid("templateBody is required"))?;
            let out = p
                .register_thing(part, &template, &input.parameters.unwrap_or_default())
                .await?;
            let mut v = json!({ "resourceArns": out.resource_arns });
            if let Some(pem) = out.certificate_pem() {
                v["certificatePem"] = pem.into();
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
            ("POST", "/things", "RegisterThing"),
            (
                "POST",
                "/provisioning-templates/t1/provisioning-claim",
                "CreateProvisioningClaim",
            ),
            (
                "POST",
                "/thing-registration-tasks",
                "StartThingRegistrationTask",
            ),
            (
                "GET",
                "/thing-registration-tasks",
                "ListThingRegistrationTasks",
            ),
            (
                "GET",
                "/thing-registration-tasks/t1",
                "DescribeThingRegistrationTask",
            ),
            (
                "PUT",
                "/thing-registration-tasks/t1/cancel",
                "StopThingRegistrationTask",
            ),
            (
                "GET",
                "/thing-registration-tasks/t1/reports",
                "ListThingRegistrationTaskReports",
            ),
            (
                "POST",
                "/provisioning-templates",
                "CreateProvisioningTemplate",
            ),
            (
                "GET",
                "/provisioning-templates",
                "ListProvisioningTemplates",
            ),
            (
                "GET",
                "/provisioning-templates/t1",
                "DescribeProvisioningTemplate",
            ),
            (
                "PATCH",
                "/provisioning-templates/t1",
                "UpdateProvisioningTemplate",
            ),
            (
                "DELETE",
                "/provisioning-templates/t1",
                "DeleteProvisioningTemplate",
            ),
            (
                "POST",
                "/provisioning-templates/t1/versions",
                "CreateProvisioningTemplateVersion",
            ),
            (
                "GET",
                "/provisioning-templates/t1/versions",
                "ListProvisioningTemplateVersions",
            ),
            (
                "GET",
                "/provisioning-templates/t1/versions/2",
                "DescribeProvisioningTemplateVersion",
            ),
            (
                "DELETE",
                "/provisioning-templates/t1/versions/2",
                "DeleteProvisioningTemplateVersion",
            ),
        ] {
            let segs = crate::request::segments(path);
            let r = Route::parse(m, &segs, "").unwrap().unwrap();
            assert!(format!("{r:?}").starts_with(op), "{m} {path}: {r:?}");
        }
        assert!(Route::parse("GET", &["things"], "").is_none());
        assert!(Route::parse("PUT", &["provisioning-templates", "t"], "").is_none());
    }
}
