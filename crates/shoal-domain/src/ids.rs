//! Identifiers, validated once at the edge with AWS's patterns and lengths (botocore model
//! `iot/2015-05-28/service-2.json`), and ARNs in AWS's format.

use crate::error::{Result, ServiceError};
use std::fmt;

/// AWS's validation message, so clients see the same text they would from AWS:
/// "1 validation error detected: Value 'x' at 'thingName' failed to satisfy constraint: ...".
pub fn validation_error(field: &str, value: &str, constraint: &str) -> ServiceError {
    ServiceError::invalid(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

/// Checks length bounds and a per-character rule, returning AWS's validation error.
pub fn check(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    pattern: &str,
    ok: fn(char) -> bool,
) -> Result<()> {
    let len = value.chars().count();
    if len < min {
        return Err(validation_error(
            field,
            value,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(validation_error(
            field,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value.chars().all(ok) {
        return Err(validation_error(
            field,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

/// `[a-zA-Z0-9:_-]+`, shared by thing, thing-type, thing-group and billing-group names.
pub fn is_resource_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
}

/// AttributeName: `[a-zA-Z0-9_.,@/:#-]+`, at most 128.
pub fn check_attribute_name(field: &str, v: &str) -> Result<()> {
    check(field, v, 1, 128, "[a-zA-Z0-9_.,@/:#-]+", |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ',' | '@' | '/' | ':' | '#' | '-')
    })
}

/// AttributeValue: `[a-zA-Z0-9_.,@/:#=\[\]-]*`, at most 800.
pub fn check_attribute_value(field: &str, v: &str) -> Result<()> {
    check(field, v, 0, 800, "[a-zA-Z0-9_.,@/:#=\\[\\]-]*", |c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '_' | '.' | ',' | '@' | '/' | ':' | '#' | '=' | '[' | ']' | '-'
            )
    })
}

/// Descriptions: `[\p{Graph}\x20]*`, at most 2028.
pub fn check_description(field: &str, v: &str) -> Result<()> {
    check(field, v, 0, 2028, "[\\p{Graph}\\x20]*", |c| {
        c == ' ' || !(c.is_control() || c.is_whitespace())
    })
}

macro_rules! resource_name {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates against `[a-zA-Z0-9:_-]+`, 1..=128 characters.
            pub fn parse(s: &str) -> Result<Self> {
                check($field, s, 1, 128, "[a-zA-Z0-9:_-]+", is_resource_name_char)?;
                Ok($name(s.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

resource_name!(
    /// A thing's name, unique in its (account, region).
    ThingName,
    "thingName"
);
resource_name!(
    /// A thing type's name.
    ThingTypeName,
    "thingTypeName"
);
resource_name!(
    /// A thing group's name (static or dynamic groups share one namespace).
    ThingGroupName,
    "thingGroupName"
);
resource_name!(
    /// A billing group's name (its own namespace, apart from thing groups).
    BillingGroupName,
    "billingGroupName"
);

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_string()))
        } else {
            Err(ServiceError::invalid(format!(
                "invalid account id '{s}': 12 digits expected"
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region name as found in a SigV4 credential scope (`us-east-1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

impl Region {
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Region(s.to_string()))
        } else {
            Err(ServiceError::invalid(format!("invalid region '{s}'")))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a resource lives: AWS isolates every resource by account and region, and so does Shoal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Partition {
    pub account: AccountId,
    pub region: Region,
}

impl Partition {
    pub fn new(account: AccountId, region: Region) -> Self {
        Partition { account, region }
    }
    /// The store's partition key.
    pub fn key(&self) -> String {
        format!("{}/{}", self.account, self.region)
    }
    /// The partition a store key (`ACCOUNT/REGION`) names, if it names one.
    pub fn from_key(key: &str) -> Option<Partition> {
        let (a, r) = key.split_once('/')?;
        Some(Partition::new(
            AccountId::parse(a).ok()?,
            Region::parse(r).ok()?,
        ))
    }
    /// `arn:aws:iot:REGION:ACCOUNT:KIND/NAME`, as in
    /// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html
    pub fn arn(&self, kind: &str, name: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:{}/{}",
            self.region, self.account, kind, name
        )
    }
}

/// A parsed IoT ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub region: String,
    pub account: String,
    pub resource_type: String,
    pub resource: String,
}

impl Arn {
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || ServiceError::invalid(format!("Invalid ARN: {s}"));
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some("iot"), Some(region), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let (resource_type, resource) = rest.split_once('/').ok_or_else(bad)?;
        if resource.is_empty() {
            return Err(bad());
        }
        Ok(Arn {
            region: region.to_string(),
            account: account.to_string(),
            resource_type: resource_type.to_string(),
            resource: resource.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_patterns() {
        assert!(ThingName::parse("sensor-1:a_b").is_ok());
        assert!(ThingName::parse("").is_err());
        assert!(ThingName::parse("bad name").is_err());
        assert!(ThingName::parse(&"a".repeat(128)).is_ok());
        let e = ThingName::parse(&"a".repeat(129)).unwrap_err();
        assert!(
            e.message.contains("length less than or equal to 128"),
            "{}",
            e.message
        );
        assert!(check_attribute_value("v", "a=[b]").is_ok());
        assert!(check_attribute_value("v", "a b").is_err());
        assert!(check_attribute_name("n", "").is_err());
    }

    #[test]
    fn arns_round_trip() {
        let p = Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("eu-west-1").unwrap(),
        );
        let arn = p.arn("thinggroup", "g1");
        assert_eq!(arn, "arn:aws:iot:eu-west-1:123456789012:thinggroup/g1");
        let a = Arn::parse(&arn).unwrap();
        assert_eq!(
            (a.resource_type.as_str(), a.resource.as_str()),
            ("thinggroup", "g1")
        );
        assert!(Arn::parse("arn:aws:s3:::bucket").is_err());
    }
}
