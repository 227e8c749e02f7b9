//! Thing types: Create/Describe/List/Update/Deprecate/DeleteThingType.

use super::events::{self, Change};
use super::{not_found, page_of, Page, Registry, KIND_THING, KIND_TYPE};
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::tags::Tags;
use shoal_domain::thing_type::{ThingType, ThingTypeProperties};
use shoal_domain::{Partition, ServiceError, ThingTypeName};
use shoal_store::{Batch, Expect, TermMatch};

impl Registry {
    pub async fn create_thing_type(
        &self,
        part: &Partition,
        name: &ThingTypeName,
        properties: ThingTypeProperties,
        tags: Vec<(String, String)>,
    ) -> Result<ThingType> {
        properties.validate()?;
        let key = part.key();
        let mut tag_set = Tags::default();
        tag_set.merge(&tags)?;
        for _ in 0..RETRIES {
            if let Some(existing) = load::<ThingType>(self.store(), &key, KIND_TYPE, name.as_str())?
            {
                // Same name and same properties: AWS answers with the existing type.
                if existing.value.properties == properties {
                    return Ok(existing.value);
                }
                return Err(ServiceError::already_exists(
                    format!("Thing Type {name} already exists with different properties"),
                    &existing.value.id,
                    &part.arn("thingtype", name.as_str()),
                ));
            }
            let ty = ThingType {
                name: name.as_str().to_string(),
                id: uuid::Uuid::new_v4().to_string(),
                properties: properties.clone(),
                deprecated: false,
                deprecation_date: None,
                creation_date: self.clock.now(),
                tags: tag_set.clone(),
            };
            let batch = Batch::new(&key).put(
                KIND_TYPE,
                name.as_str(),
                SCHEMA,
                encode(&ty)?,
                vec![],
                Expect::Absent,
            );
            let created = events::thing_type(part, &ty, Change::Created);
            let batch = self.stage(part, batch, vec![created]).await?;
            if try_commit(self.store(), batch).await? {
                return Ok(ty);
            }
        }
        Err(contention())
    }

    pub fn describe_thing_type(&self, part: &Partition, name: &ThingTypeName) -> Result<ThingType> {
        load::<ThingType>(self.store(), &part.key(), KIND_TYPE, name.as_str())?
            .map(|l| l.value)
            .ok_or_else(|| not_found("Thing Type", name.as_str()))
    }

    /// ListThingTypes; `thingTypeName` filters to that one type.
    pub fn list_thing_types(
        &self,
        part: &Partition,
        only: Option<&ThingTypeName>,
        max_results: usize,
        token: Option<&str>,
    ) -> Result<Page<ThingType>> {
        let key = part.key();
        let store = self.store();
        page_of(
            token,
            max_results,
            |after, n| {
                store
                    .list(&key, KIND_TYPE, "", after, n)
                    .map_err(store_error)
            },
            |rec| {
                if only.is_some_and(|o| o.as_str() != rec.key) {
                    return Ok(None);
                }
                decode(rec).map(Some)
            },
        )
    }

    /// Read-modify-write of one thing type under its revision; `emit` stages its `updated`
    /// event (tags are not part of the event, so tagging emits none).
    async fn modify_type(
        &self,
        part: &Partition,
        name: &ThingTypeName,
        emit: bool,
        mut change: impl FnMut(&mut ThingType) -> Result<()>,
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<ThingType>(self.store(), &key, KIND_TYPE, name.as_str())?
                .ok_or_else(|| not_found("Thing Type", name.as_str()))?;
            let mut next = cur.value.clone();
            change(&mut next)?;
            let mut batch = Batch::new(&key).put(
                KIND_TYPE,
                name.as_str(),
                SCHEMA,
                encode(&next)?,
                vec![],
                Expect::Rev(cur.rev),
            );
            if emit {
                let event = events::thing_type(part, &next, Change::Updated);
                batch = self.stage(part, batch, vec![event]).await?;
            }
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    /// UpdateThingType: AWS lets only `mqtt5Configuration` change; the description and the
    /// searchable attributes are fixed at creation (a request that changes them is refused).
    pub async fn update_thing_type(
        &self,
        part: &Partition,
        name: &ThingTypeName,
        props: ThingTypeProperties,
    ) -> Result<()> {
        props.validate()?;
        self.modify_type(part, name, true, |t| {
            let changes_fixed = (props.description.is_some()
                && props.description != t.properties.description)
                || (props.searchable_attributes.is_some()
                    && props.searchable_attributes != t.properties.searchable_attributes);
            if changes_fixed {
                return Err(ServiceError::invalid(
                    "Can only update mqtt5Configuration of a thing type",
                ));
            }
            if props.mqtt5_configuration.is_some() {
                t.properties.mqtt5_configuration = props.mqtt5_configuration.clone();
            }
            Ok(())
        })
        .await
    }

    pub async fn deprecate_thing_type(
        &self,
        part: &Partition,
        name: &ThingTypeName,
        undo: bool,
    ) -> Result<()> {
        let now = self.clock.now();
        self.modify_type(part, name, true, |t| {
            t.deprecate(undo, now);
            Ok(())
        })
        .await
    }

    /// DeleteThingType: only a type deprecated for five minutes and with no things using it
    /// (API reference: "You cannot delete a thing type if it has things associated with it").
    pub async fn delete_thing_type(&self, part: &Partition, name: &ThingTypeName) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<ThingType>(self.store(), &key, KIND_TYPE, name.as_str())?
                .ok_or_else(|| not_found("Thing Type", name.as_str()))?;
            cur.value.check_deletable(self.clock.now())?;
            let users = self
                .store()
                .list_by_term(
                    &key,
                    KIND_THING,
                    "type",
                    TermMatch::Exact(name.as_str()),
                    None,
                    1,
                )
                .map_err(store_error)?;
            if !users.is_empty() {
                return Err(ServiceError::invalid(format!(
                    "Can not delete thing type {name}: things are still associated with it"
                )));
            }
            let batch = Batch::new(&key).delete(KIND_TYPE, name.as_str(), Expect::Rev(cur.rev));
            let deleted = events::thing_type(part, &cur.value, Change::Deleted);
            let batch = self.stage(part, batch, vec![deleted]).await?;
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    pub(crate) async fn modify_type_tags(
        &self,
        part: &Partition,
        name: &str,
        change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        let name = ThingTypeName::parse(name)?;
        let mut change = change;
        self.modify_type(part, &name, false, |t| change(&mut t.tags))
            .await
    }
}
