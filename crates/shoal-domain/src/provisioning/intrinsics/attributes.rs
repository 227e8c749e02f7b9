//! `Fn::GetAtt`, and the resources it reads, each evaluated once and in whatever order the
//! references need.
//!
//! The developer guide documents no attributes for provisioning resources: it says only that
//! "a logical name allows you to refer to a resource elsewhere in the template"
//! (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html#resources-section).
//! Shoal gives CloudFormation's attributes for the same types, `Arn` and `Id`
//! (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iot-thing.html,
//! aws-resource-iot-certificate.html, aws-resource-iot-policy.html), where their values are known
//! before anything is registered, and each type's naming property, so that a policy document can
//! name its thing:
//!
//! - a thing: `ThingName`, `Arn`; not `Id`, which AWS assigns when it creates the thing;
//! - a certificate: `CertificateId` or `Id`, and `Arn`, when the template gives `CertificateId`
//!   (fleet provisioning and JITP do, with `AWS::IoT::Certificate::Id`); a certificate from a CSR
//!   or a PEM has no id until it is registered;
//! - a policy: `PolicyName` or `Id` (CloudFormation's `Id` is the name), and `Arn`, when the
//!   template gives `PolicyName`; a policy given by its document is named when it is provisioned.

use super::{cycle, invalid, Scope};
use crate::error::Result;
use serde_json::{Map, Value};

const THING: &str = "AWS::IoT::Thing";
const CERTIFICATE: &str = "AWS::IoT::Certificate";
const POLICY: &str = "AWS::IoT::Policy";

/// A type's naming property and its ARN's resource type.
fn identity(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        THING => Some(("ThingName", "thing")),
        CERTIFICATE => Some(("CertificateId", "cert")),
        POLICY => Some(("PolicyName", "policy")),
        _ => None,
    }
}

impl Scope<'_> {
    /// A resource's evaluated `Properties`, or `None` when its `Condition` is false and it is
    /// not provisioned.
    pub fn properties(&self, logical_id: &str) -> Result<Option<Map<String, Value>>> {
        self.evaluate_resource(logical_id, 0)?;
        Ok(self.evaluated.borrow().get(logical_id).cloned().flatten())
    }

    fn evaluate_resource(&self, logical_id: &str, depth: usize) -> Result<()> {
        if self.evaluated.borrow().contains_key(logical_id) {
            return Ok(());
        }
        if let Some(chain) = cycle(&self.evaluating.borrow(), logical_id) {
            return Err(invalid(format!(
                "Fn::GetAtt makes the resources refer to each other: {chain}"
            )));
        }
        let resource = self
            .sections
            .resources
            .get(logical_id)
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(format!("Resource {logical_id} must be a JSON object")))?;
        let provisioned = match resource.get("Condition") {
            None => true,
            Some(Value::String(name)) => self.condition(name, depth + 1)?,
            Some(other) => {
                return Err(invalid(format!(
                    "{logical_id}.Condition takes a condition's name, not {other}"
                )))
            }
        };
        let properties = if provisioned {
            self.evaluating.borrow_mut().push(logical_id.to_string());
            let properties = match resource.get("Properties") {
                Some(p) => self.eval_opt(p, depth + 1),
                None => Ok(None),
            };
            self.evaluating.borrow_mut().pop();
            match properties? {
                None => Some(Map::new()),
                Some(Value::Object(m)) => Some(m),
                Some(_) => {
                    return Err(invalid(format!(
                        "{logical_id}.Properties must be a JSON object"
                    )))
                }
            }
        } else {
            None
        };
        self.evaluated
            .borrow_mut()
            .insert(logical_id.to_string(), properties);
        Ok(())
    }

    /// `{"Fn::GetAtt": [logical name, attribute]}`.
    pub(super) fn get_att(&self, arg: &Value, depth: usize) -> Result<Value> {
        let a = self.args("Fn::GetAtt", arg, 2)?;
        let Value::String(id) = &a[0] else {
            return Err(invalid(format!(
                "Fn::GetAtt takes a resource's logical name first, not {}",
                a[0]
            )));
        };
        let attribute = self.string(&a[1], depth)?;
        self.attribute(id, &attribute, depth).map(Value::String)
    }

    /// A resource's attribute: `Fn::GetAtt`, and `${LogicalName.Attribute}` in `Fn::Sub`.
    pub(super) fn attribute(&self, id: &str, attribute: &str, depth: usize) -> Result<String> {
        // "You can only reference other conditions and values from the Parameters and Mappings
        // sections" (the condition functions' page).
        if let Some(condition) = self.deciding.borrow().last() {
            return Err(invalid(format!(
                "Condition {condition} reads {id}.{attribute}; conditions refer only to parameters, mappings and other conditions"
            )));
        }
        let Some(resource) = self.sections.resources.get(id) else {
            return Err(invalid(format!(
                "Fn::GetAtt names {id}, which is not a resource of the template"
            )));
        };
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let Some((naming, arn_type)) = identity(kind) else {
            return Err(invalid(format!(
                "{id} has no attribute {attribute}: its type is {kind:?}"
            )));
        };
        let arn = match attribute {
            "Arn" => true,
            a if a == naming => false,
            "Id" if kind != THING => false,
            "Id" => {
                return Err(invalid(format!(
                    "{id}.Id is the id AWS assigns when it creates the thing, unknown while the template is evaluated; ThingName and Arn are known"
                )))
            }
            _ => {
                let id_too = if kind == THING { "" } else { ", Id" };
                return Err(invalid(format!(
                    "{id} has no attribute {attribute}; a {kind} has {naming}{id_too} and Arn"
                )));
            }
        };
        self.evaluate_resource(id, depth + 1)?;
        let evaluated = self.evaluated.borrow();
        let properties = evaluated.get(id).and_then(Option::as_ref).ok_or_else(|| {
            invalid(format!(
                "Fn::GetAtt reads {id}, which is not provisioned: its condition is false"
            ))
        })?;
        let Some(Value::String(name)) = properties.get(naming) else {
            return Err(invalid(format!(
                "{id}.{attribute} is known only when {id} gives {naming}{}",
                match kind {
                    CERTIFICATE =>
                        "; a certificate from a CSR or a PEM has no id until it is registered",
                    POLICY => "; a policy given by its document is named when it is provisioned",
                    _ => "",
                }
            )));
        };
        if !arn {
            return Ok(name.clone());
        }
        let partition = self.partition.ok_or_else(|| {
            invalid(format!(
                "{id}.Arn needs the account and region the template is provisioned in"
            ))
        })?;
        Ok(partition.arn(arn_type, name))
    }
}
