//! The billing-group operations: their routes and handlers
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateBillingGroup.html and siblings).

use super::shapes::{epoch, tag_pairs, with_token, TagIn};
use crate::error::ApiError;
use crate::json;
use crate::request::{decode, Query};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::{Arn, BillingGroupName, Partition, ThingName};
use shoal_services::Registry;

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    CreateBillingGroup { name: String },
    DescribeBillingGroup { name: String },
    UpdateBillingGroup { name: String },
    DeleteBillingGroup { name: String, query: Query },
    ListBillingGroups { query: Query },
    AddThingToBillingGroup,
    RemoveThingFromBillingGroup,
    ListThingsInBillingGroup { name: String, query: Query },
}

impl Route {
    /// The route of `method` and `segs` if it is a billing-group operation.
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as B;
        let q = || Query::parse(raw_query);
        let route = |r: Result<Route, ApiError>| Some(r);
        match (method, segs) {
            ("GET", ["billing-groups"]) => route(q().map(|query| B::ListBillingGroups { query })),
            ("PUT", ["billing-groups", "addThingToBillingGroup"]) => {
                route(Ok(B::AddThingToBillingGroup))
            }
            ("PUT", ["billing-groups", "removeThingFromBillingGroup"]) => {
                route(Ok(B::RemoveThingFromBillingGroup))
            }
            ("POST", ["billing-groups", n]) => {
                route(decode(n).map(|name| B::CreateBillingGroup { name }))
            }
            ("GET", ["billing-groups", n]) => {
                route(decode(n).map(|name| B::DescribeBillingGroup { name }))
            }
            ("PATCH", ["billing-groups", n]) => {
                route(decode(n).map(|name| B::UpdateBillingGroup { name }))
            }
            ("DELETE", ["billing-groups", n]) => route((|| {
                Ok(B::DeleteBillingGroup {
                    name: decode(n)?,
                    query: q()?,
                })
            })()),
            ("GET", ["billing-groups", n, "things"]) => route((|| {
                Ok(B::ListThingsInBillingGroup {
                    name: decode(n)?,
                    query: q()?,
                })
            })()),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertiesIn {
    billing_group_description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIn {
    billing_group_properties: Option<PropertiesIn>,
    tags: Option<Vec<TagIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateIn {
    billing_group_properties: Option<PropertiesIn>,
    expected_version: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MembershipIn {
    billing_group_name: Option<String>,
    billing_group_arn: Option<String>,
    thing_name: Option<String>,
    thing_arn: Option<String>,
}

/// A name given directly or as the last part of an ARN of the caller's partition.
fn named(
    part: &Partition,
    name: Option<String>,
    arn: Option<String>,
    kind: &str,
    field: &str,
) -> Result<String, ApiError> {
    if let Some(n) = name {
        return Ok(n);
    }
    let arn = arn.ok_or_else(|| ApiError::invalid(format!("{field} or its ARN is required")))?;
    let a = Arn::parse(&arn)?;
    if a.resource_type != kind
        || a.account != part.account.as_str()
        || a.region != part.region.as_str()
    {
        return Err(ApiError::invalid(format!(
            "{arn} is not a {kind} ARN of this account"
        )));
    }
    Ok(a.resource)
}

pub async fn handle(reg: &Registry, part: &Partition, route: Route, body: &[u8]) -> R {
    use Route as B;
    match route {
        B::CreateBillingGroup { name } => {
            let name = BillingGroupName::parse(&name)?;
            let input: CreateIn = json::parse(body)?;
            let description = input
                .billing_group_properties
                .and_then(|p| p.billing_group_description);
            let g = reg
                .create_billing_group(part, &name, description, &tag_pairs(input.tags))
                .await?;
            Ok(json!({
                "billingGroupName": g.name,
                "billingGroupArn": part.arn("billinggroup", &g.name),
                "billingGroupId": g.id,
            }))
        }
        B::DescribeBillingGroup { name } => {
            let g = reg.describe_billing_group(part, &BillingGroupName::parse(&name)?)?;
            let mut props = json!({});
            if let Some(d) = &g.description {
                props["billingGroupDescription"] = d.as_str().into();
            }
            Ok(json!({
                "billingGroupName": g.name,
                "billingGroupId": g.id,
                "billingGroupArn": part.arn("billinggroup", &g.name),
                "version": g.version,
                "billingGroupProperties": props,
                "billingGroupMetadata": { "creationDate": epoch(g.creation_date) },
            }))
        }
        B::UpdateBillingGroup { name } => {
            let name = BillingGroupName::parse(&name)?;
            let input: UpdateIn = json::parse(body)?;
            // The model requires the properties; an empty one clears the description.
            let props = input
                .billing_group_properties
                .ok_or_else(|| ApiError::invalid("billingGroupProperties is required"))?;
            let version = reg
                .update_billing_group(
                    part,
                    &name,
                    props.billing_group_description,
                    input.expected_version,
                )
                .await?;
            Ok(json!({ "version": version }))
        }
        B::DeleteBillingGroup { name, query } => {
            let name = BillingGroupName::parse(&name)?;
            reg.delete_billing_group(part, &name, query.int("expectedVersion")?)
                .await?;
            Ok(json!({}))
        }
        B::ListBillingGroups { query } => {
            let prefix = query.get("namePrefixFilter");
            if let Some(p) = prefix {
                BillingGroupName::parse(p)?;
            }
            let page = reg.list_billing_groups(
                part,
                prefix,
                max_results("maxResults", query.int("maxResults")?, 250)?,
                query.get("nextToken"),
            )?;
            let groups: Vec<Value> = page
                .items
                .iter()
                .map(|n| json!({ "groupName": n, "groupArn": part.arn("billinggroup", n) }))
                .collect();
            Ok(with_token(
                json!({ "billingGroups": groups }),
                page.next_token,
            ))
        }
        B::AddThingToBillingGroup | B::RemoveThingFromBillingGroup => {
            let join = matches!(route, B::AddThingToBillingGroup);
            let input: MembershipIn = json::parse(body)?;
            let group = named(
                part,
                input.billing_group_name,
                input.billing_group_arn,
                "billinggroup",
                "billingGroupName",
            )?;
            let thing = named(
                part,
                input.thing_name,
                input.thing_arn,
                "thing",
                "thingName",
            )?;
            reg.set_thing_billing_group(
                part,
                &ThingName::parse(&thing)?,
                &BillingGroupName::parse(&group)?,
                join,
            )
            .await?;
            Ok(json!({}))
        }
        B::ListThingsInBillingGroup { name, query } => {
            let page = reg.list_things_in_billing_group(
                part,
                &BillingGroupName::parse(&name)?,
                max_results("maxResults", query.int("maxResults")?, 250)?,
                query.get("nextToken"),
            )?;
            Ok(with_token(json!({ "things": page.items }), page.next_token))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_parses_and_others_pass() {
        for (m, path, op) in [
            ("POST", "/billing-groups/b1", "CreateBillingGroup"),
            ("GET", "/billing-groups/b1", "DescribeBillingGroup"),
            ("PATCH", "/billing-groups/b1", "UpdateBillingGroup"),
            ("DELETE", "/billing-groups/b1", "DeleteBillingGroup"),
            ("GET", "/billing-groups", "ListBillingGroups"),
            (
                "PUT",
                "/billing-groups/addThingToBillingGroup",
                "AddThingToBillingGroup",
            ),
            (
                "PUT",
                "/billing-groups/removeThingFromBillingGroup",
                "RemoveThingFromBillingGroup",
            ),
            (
                "GET",
                "/billing-groups/b1/things",
                "ListThingsInBillingGroup",
            ),
        ] {
            let segs = crate::request::segments(path);
            let r = Route::parse(m, &segs, "").unwrap().unwrap();
            assert!(format!("{r:?}").starts_with(op), "{m} {path}: {r:?}");
        }
        assert!(Route::parse("GET", &["things"], "").is_none());
    }
}
