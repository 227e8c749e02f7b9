//! Billing groups: flat groups for cost allocation, one per thing at most
//! (https://docs.aws.amazon.com/iot/latest/developerguide/tagging-iot-billing-groups.html).

use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use crate::ids::check_description;
use crate::tags::Tags;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingGroup {
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub version: i64,
    pub creation_date: Timestamp,
    #[serde(default)]
    pub tags: Tags,
}

impl BillingGroup {
    pub fn new(
        name: &str,
        id: String,
        description: Option<String>,
        now: Timestamp,
    ) -> Result<BillingGroup> {
        if let Some(d) = &description {
            check_description("billingGroupProperties.billingGroupDescription", d)?;
        }
        Ok(BillingGroup {
            name: name.to_string(),
            id,
            description,
            version: 1,
            creation_date: now,
            tags: Tags::default(),
        })
    }

    /// UpdateBillingGroup: a new description (none removes it), guarded by `expectedVersion`.
    pub fn updated(&self, description: Option<String>, expected: Option<i64>) -> Result<Self> {
        if let Some(v) = expected {
            if v != self.version {
                return Err(ServiceError::version_conflict(format!(
                    "The version for billing group {} does not match the expected version.",
                    self.name
                )));
            }
        }
        if let Some(d) = &description {
            check_description("billingGroupProperties.billingGroupDescription", d)?;
        }
        let mut next = self.clone();
        next.description = description;
        next.version += 1;
        Ok(next)
    }

    pub fn check_expected_version(&self, expected: Option<i64>) -> Result<()> {
        match expected {
            Some(v) if v != self.version => Err(ServiceError::version_conflict(format!(
                "The version for billing group {} does not match the expected version.",
                self.name
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_bump_the_version_and_check_the_expected_one() {
        let g = BillingGroup::new("b", "id".into(), Some("d".into()), Timestamp(0)).unwrap();
        let u = g.updated(Some("e".into()), Some(1)).unwrap();
        assert_eq!((u.version, u.description.as_deref()), (2, Some("e")));
        let e = u.updated(None, Some(1)).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::VersionConflict);
        assert!(BillingGroup::new("b", "i".into(), Some("x".repeat(2029)), Timestamp(0)).is_err());
    }
}
