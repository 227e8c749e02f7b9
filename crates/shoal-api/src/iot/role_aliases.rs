//! The role-alias operations: their routes and handlers
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateRoleAlias.html and siblings).

use super::shapes::{epoch, tag_pairs, TagIn};
use crate::error::ApiError;
use crate::json;
use crate::request::{decode, Query};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::Identity;

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    CreateRoleAlias { name: String },
    DescribeRoleAlias { name: String },
    UpdateRoleAlias { name: String },
    DeleteRoleAlias { name: String },
    ListRoleAliases { query: Query },
}

impl Route {
    /// The route of `method` and `segs` if it is a role-alias operation.
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as A;
        Some(match (method, segs) {
            ("GET", ["role-aliases"]) => {
                Query::parse(raw_query).map(|query| A::ListRoleAliases { query })
            }
            ("POST", ["role-aliases", n]) => decode(n).map(|name| A::CreateRoleAlias { name }),
            ("GET", ["role-aliases", n]) => decode(n).map(|name| A::DescribeRoleAlias { name }),
            ("PUT", ["role-aliases", n]) => decode(n).map(|name| A::UpdateRoleAlias { name }),
            ("DELETE", ["role-aliases", n]) => decode(n).map(|name| A::DeleteRoleAlias { name }),
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIn {
    role_arn: Option<String>,
    credential_duration_seconds: Option<i64>,
    tags: Option<Vec<TagIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateIn {
    role_arn: Option<String>,
    credential_duration_seconds: Option<i64>,
}

fn name_and_arn(part: &Partition, name: &str) -> Value {
    json!({ "roleAlias": name, "roleAliasArn": part.arn("rolealias", name) })
}

pub async fn handle(id: &Identity, part: &Partition, route: Route, body: &[u8]) -> R {
    use Route as A;
    match route {
        A::CreateRoleAlias { name } => {
            let input: CreateIn = json::parse(body)?;
            let arn = input
                .role_arn
                .ok_or_else(|| ApiError::invalid("roleArn is required"))?;
            let a = id
                .create_role_alias(
                    part,
                    &name,
                    &arn,
                    input.credential_duration_seconds,
                    &tag_pairs(input.tags),
                )
                .await?;
            Ok(name_and_arn(part, &a.name))
        }
        A::DescribeRoleAlias { name } => {
            let a = id.describe_role_alias(part, &name)?;
            Ok(json!({ "roleAliasDescription": {
                "roleAlias": a.name,
                "roleAliasArn": part.arn("rolealias", &a.name),
                "roleArn": a.role_arn,
                "owner": part.account.as_str(),
                "credentialDurationSeconds": a.credential_duration_seconds,
                "creationDate": epoch(a.created),
                "lastModifiedDate": epoch(a.modified),
            }}))
        }
        A::UpdateRoleAlias { name } => {
            let input: UpdateIn = json::parse(body)?;
            let a = id
                .update_role_alias(
                    part,
                    &name,
                    input.role_arn.as_deref(),
                    input.credential_duration_seconds,
                )
                .await?;
            Ok(name_and_arn(part, &a.name))
        }
        A::DeleteRoleAlias { name } => {
            id.delete_role_alias(part, &name).await?;
            Ok(json!({}))
        }
        A::ListRoleAliases { query } => {
            let (names, next) = id.list_role_aliases(
                part,
                max_results("pageSize", query.int("pageSize")?, 250)?,
                query.get("marker"),
                query.bool("isAscendingOrder")?.unwrap_or(true),
            )?;
            let mut v = json!({ "roleAliases": names });
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
            ("POST", "/role-aliases/a1", "CreateRoleAlias"),
            ("GET", "/role-aliases/a1", "DescribeRoleAlias"),
            ("PUT", "/role-aliases/a1", "UpdateRoleAlias"),
            ("DELETE", "/role-aliases/a1", "DeleteRoleAlias"),
            ("GET", "/role-aliases", "ListRoleAliases"),
        ] {
            let segs = crate::request::segments(path);
            let r = Route::parse(m, &segs, "").unwrap().unwrap();
            assert!(format!("{r:?}").starts_with(op), "{m} {path}: {r:?}");
        }
        assert!(Route::parse("GET", &["things"], "").is_none());
    }
}
