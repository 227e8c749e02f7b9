//! Create/Update/DeleteDynamicThingGroup: a dynamic group is a registry group with a query;
//! fleet indexing must be on, and the query must parse against AWS_Things. The membership is
//! kept by the updater (`membership.rs`).
//! <https://docs.aws.amazon.com/iot/latest/developerguide/dynamic-thing-groups.html>

use super::queries::prepare;
use super::FleetIndexing;
use crate::registry::{CreateThingGroup, DynamicUpdate};
use shoal_domain::error::Result;
use shoal_domain::fleet::fields::THINGS_INDEX;
use shoal_domain::thing_group::{DynamicQuery, ThingGroup, QUERY_VERSION};
use shoal_domain::{Partition, ServiceError, ThingGroupName};

/// CreateDynamicThingGroup's query part.
pub struct DynamicSpec {
    pub query_string: String,
    pub index_name: Option<String>,
    pub query_version: Option<String>,
}

impl FleetIndexing {
    fn check_dynamic_query(&self, part: &Partition, index: &str, query: &str) -> Result<()> {
        if !self.config(part).things_on() {
            return Err(ServiceError::not_found(
                "AWS IoT Fleet Indexing is not enabled. Please enable index by calling UpdateIndexingConfiguration.",
            ));
        }
        if index != THINGS_INDEX {
            return Err(ServiceError::invalid(format!(
                "Index {index} cannot be used for dynamic thing groups; use {THINGS_INDEX}"
            )));
        }
        prepare(index, query).map(|_| ())
    }

    pub async fn create_dynamic_group(
        &self,
        part: &Partition,
        mut req: CreateThingGroup,
        spec: DynamicSpec,
    ) -> Result<ThingGroup> {
        let index = spec.index_name.unwrap_or_else(|| THINGS_INDEX.to_string());
        self.check_dynamic_query(part, &index, &spec.query_string)?;
        req.dynamic = Some(DynamicQuery {
            query_string: spec.query_string,
            index_name: index,
            query_version: spec
                .query_version
                .unwrap_or_else(|| QUERY_VERSION.to_string()),
            status: "BUILDING".into(),
        });
        self.inner.registry.create_thing_group(part, req).await
    }

    pub async fn update_dynamic_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
        index_name: Option<&str>,
        upd: DynamicUpdate,
    ) -> Result<i64> {
        if let Some(q) = &upd.query_string {
            self.check_dynamic_query(part, index_name.unwrap_or(THINGS_INDEX), q)?;
        }
        self.inner
            .registry
            .update_dynamic_thing_group(part, name, upd)
            .await
    }

    pub async fn delete_dynamic_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.inner
            .registry
            .delete_dynamic_thing_group(part, name, expected_version)
            .await
    }
}
