//! TagResource, UntagResource and ListTagsForResource for thing types, thing groups and billing
//! groups, addressed by ARN as on AWS.

use super::Registry;
use shoal_domain::error::Result;
use shoal_domain::{Arn, Partition, ServiceError};

/// A taggable resource named by an ARN of the caller's own account and region.
enum Taggable {
    ThingType(String),
    ThingGroup(String),
    BillingGroup(String),
}

fn resolve(part: &Partition, arn: &str) -> Result<Taggable> {
    let a = Arn::parse(arn)?;
    if a.region != part.region.as_str() || a.account != part.account.as_str() {
        return Err(ServiceError::not_found(format!(
            "Resource {arn} cannot be found."
        )));
    }
    match a.resource_type.as_str() {
        "thingtype" => Ok(Taggable::ThingType(a.resource)),
        "thinggroup" => Ok(Taggable::ThingGroup(a.resource)),
        "billinggroup" => Ok(Taggable::BillingGroup(a.resource)),
        other => Err(ServiceError::invalid(format!(
            "Tagging resources of type {other} is not yet supported by Shoal"
        ))),
    }
}

impl Registry {
    pub async fn tag_resource(
        &self,
        part: &Partition,
        arn: &str,
        tags: &[(String, String)],
    ) -> Result<()> {
        match resolve(part, arn)? {
            Taggable::ThingType(n) => self.modify_type_tags(part, &n, |t| t.merge(tags)).await,
            Taggable::ThingGroup(n) => self.modify_group_tags(part, &n, |t| t.merge(tags)).await,
            Taggable::BillingGroup(n) => {
                self.modify_billing_tags(part, &n, |t| t.merge(tags)).await
            }
        }
    }

    pub async fn untag_resource(&self, part: &Partition, arn: &str, keys: &[String]) -> Result<()> {
        let remove = |t: &mut shoal_domain::tags::Tags| {
            t.remove(keys);
            Ok(())
        };
        match resolve(part, arn)? {
            Taggable::ThingType(n) => self.modify_type_tags(part, &n, remove).await,
            Taggable::ThingGroup(n) => self.modify_group_tags(part, &n, remove).await,
            Taggable::BillingGroup(n) => self.modify_billing_tags(part, &n, remove).await,
        }
    }

    pub fn list_tags_for_resource(
        &self,
        part: &Partition,
        arn: &str,
    ) -> Result<Vec<(String, String)>> {
        let tags = match resolve(part, arn)? {
            Taggable::ThingType(n) => {
                self.describe_thing_type(part, &shoal_domain::ThingTypeName::parse(&n)?)?
                    .tags
            }
            Taggable::ThingGroup(n) => {
                self.describe_thing_group(part, &shoal_domain::ThingGroupName::parse(&n)?)?
                    .tags
            }
            Taggable::BillingGroup(n) => {
                self.describe_billing_group(part, &shoal_domain::BillingGroupName::parse(&n)?)?
                    .tags
            }
        };
        Ok(tags.0.into_iter().collect())
    }
}
