//! The `iot` control-plane API (restJson1): routing from method and raw path to a typed
//! `Endpoint`, then one handler per operation. URIs follow the botocore model
//! (reference/ops_detailed.tsv); operations not listed here answer UnknownOperationException.

mod groups;
mod shapes;
mod tags;
mod things;
mod types;

use crate::error::ApiError;
use crate::request::{decode, segments, Query};
use crate::ApiState;
use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use shoal_domain::Partition;

/// Every `iot` operation Shoal serves, with its URI labels and query decoded. Variants carry
/// AWS's operation names, so one of them ends with "Endpoint".
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
pub enum Endpoint {
    CreateThing { name: String },
    DescribeThing { name: String },
    UpdateThing { name: String },
    DeleteThing { name: String, query: Query },
    ListThings { query: Query },
    ListThingGroupsForThing { name: String, query: Query },
    CreateThingType { name: String },
    DescribeThingType { name: String },
    UpdateThingType { name: String },
    DeprecateThingType { name: String },
    DeleteThingType { name: String },
    ListThingTypes { query: Query },
    CreateThingGroup { name: String },
    DescribeThingGroup { name: String },
    UpdateThingGroup { name: String },
    DeleteThingGroup { name: String, query: Query },
    ListThingGroups { query: Query },
    ListThingsInThingGroup { name: String, query: Query },
    AddThingToThingGroup,
    RemoveThingFromThingGroup,
    UpdateThingGroupsForThing,
    TagResource,
    UntagResource,
    ListTagsForResource { query: Query },
    DescribeEndpoint { query: Query },
}

impl Endpoint {
    pub fn parse(method: &Method, path: &str, raw_query: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        let segs = segments(path);
        let q = || Query::parse(raw_query);
        let m = method.as_str();
        let ep = match (m, segs.as_slice()) {
            ("GET", ["things"]) => E::ListThings { query: q()? },
            ("POST", ["things", n]) => E::CreateThing { name: decode(n)? },
            ("GET", ["things", n]) => E::DescribeThing { name: decode(n)? },
            ("PATCH", ["things", n]) => E::UpdateThing { name: decode(n)? },
            ("DELETE", ["things", n]) => E::DeleteThing {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["things", n, "thing-groups"]) => E::ListThingGroupsForThing {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["thing-types"]) => E::ListThingTypes { query: q()? },
            ("POST", ["thing-types", n]) => E::CreateThingType { name: decode(n)? },
            ("GET", ["thing-types", n]) => E::DescribeThingType { name: decode(n)? },
            ("PATCH", ["thing-types", n]) => E::UpdateThingType { name: decode(n)? },
            ("DELETE", ["thing-types", n]) => E::DeleteThingType { name: decode(n)? },
            ("POST", ["thing-types", n, "deprecate"]) => E::DeprecateThingType { name: decode(n)? },
            ("GET", ["thing-groups"]) => E::ListThingGroups { query: q()? },
            ("PUT", ["thing-groups", "addThingToThingGroup"]) => E::AddThingToThingGroup,
            ("PUT", ["thing-groups", "removeThingFromThingGroup"]) => E::RemoveThingFromThingGroup,
            ("PUT", ["thing-groups", "updateThingGroupsForThing"]) => E::UpdateThingGroupsForThing,
            ("POST", ["thing-groups", n]) => E::CreateThingGroup { name: decode(n)? },
            ("GET", ["thing-groups", n]) => E::DescribeThingGroup { name: decode(n)? },
            ("PATCH", ["thing-groups", n]) => E::UpdateThingGroup { name: decode(n)? },
            ("DELETE", ["thing-groups", n]) => E::DeleteThingGroup {
                name: decode(n)?,
                query: q()?,
            },
            ("GET", ["thing-groups", n, "things"]) => E::ListThingsInThingGroup {
                name: decode(n)?,
                query: q()?,
            },
            ("POST", ["tags"]) => E::TagResource,
            ("POST", ["untag"]) => E::UntagResource,
            ("GET", ["tags"]) => E::ListTagsForResource { query: q()? },
            ("GET", ["endpoint"]) => E::DescribeEndpoint { query: q()? },
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{m} {path} is not an operation Shoal supports yet (see docs/compatibility.md)"
                )))
            }
        };
        Ok(ep)
    }
}

pub async fn handle(
    state: &ApiState,
    part: &Partition,
    endpoint: Endpoint,
    body: &Bytes,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    use Endpoint as E;
    let reg = state.registry.as_ref();
    let value = match endpoint {
        E::CreateThing { name } => things::create(reg, part, &name, body).await?,
        E::DescribeThing { name } => things::describe(reg, part, &name)?,
        E::UpdateThing { name } => things::update(reg, part, &name, body).await?,
        E::DeleteThing { name, query } => things::delete(reg, part, &name, &query).await?,
        E::ListThings { query } => things::list(reg, part, &query)?,
        E::ListThingGroupsForThing { name, query } => {
            groups::list_for_thing(reg, part, &name, &query)?
        }
        E::CreateThingType { name } => types::create(reg, part, &name, body).await?,
        E::DescribeThingType { name } => types::describe(reg, part, &name)?,
        E::UpdateThingType { name } => types::update(reg, part, &name, body).await?,
        E::DeprecateThingType { name } => types::deprecate(reg, part, &name, body).await?,
        E::DeleteThingType { name } => types::delete(reg, part, &name).await?,
        E::ListThingTypes { query } => types::list(reg, part, &query)?,
        E::CreateThingGroup { name } => groups::create(reg, part, &name, body).await?,
        E::DescribeThingGroup { name } => groups::describe(reg, part, &name)?,
        E::UpdateThingGroup { name } => groups::update(reg, part, &name, body).await?,
        E::DeleteThingGroup { name, query } => groups::delete(reg, part, &name, &query).await?,
        E::ListThingGroups { query } => groups::list(reg, part, &query)?,
        E::ListThingsInThingGroup { name, query } => groups::list_things(reg, part, &name, &query)?,
        E::AddThingToThingGroup => groups::add_thing(reg, part, body).await?,
        E::RemoveThingFromThingGroup => groups::remove_thing(reg, part, body).await?,
        E::UpdateThingGroupsForThing => groups::update_for_thing(reg, part, body).await?,
        E::TagResource => tags::tag(reg, part, body).await?,
        E::UntagResource => tags::untag(reg, part, body).await?,
        E::ListTagsForResource { query } => tags::list(reg, part, &query)?,
        E::DescribeEndpoint { query } => describe_endpoint(state, &query)?,
    };
    Ok(crate::json::ok(&value, request_id))
}

/// DescribeEndpoint answers Shoal's own host for every endpoint type, so that Device SDK samples
/// and scripts that look the endpoint up find this server.
fn describe_endpoint(state: &ApiState, query: &Query) -> Result<serde_json::Value, ApiError> {
    match query.get("endpointType") {
        None | Some("iot:Data" | "iot:Data-ATS" | "iot:CredentialProvider" | "iot:Jobs") => {
            Ok(serde_json::json!({ "endpointAddress": state.endpoint_host }))
        }
        Some(other) => Err(ApiError::invalid(format!(
            "Endpoint type {other} is not valid"
        ))),
    }
}
