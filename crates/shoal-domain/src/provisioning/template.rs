//! A provisioning template: `Parameters` (type String, an optional `Default`), `Resources`
//! (`AWS::IoT::Thing`, `AWS::IoT::Certificate`, `AWS::IoT::Policy`, each with `Properties`,
//! for things and certificates `OverrideSettings`, and an optional `Condition`), `Mappings` and
//! `DeviceConfiguration` (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html),
//! and CloudFormation's `Conditions` section (`intrinsics/conditions.rs`).
//! `Template::evaluate` turns it and a device's parameters into a `Plan`.

use super::intrinsics::{invalid, Scope, Sections};
use crate::error::Result;
use crate::ids::Partition;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The model's `TemplateBody`: at most 10,240 characters.
pub const MAX_TEMPLATE_CHARS: usize = 10_240;

/// What to do when a resource the template declares already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    DoNothing,
    Replace,
    Fail,
    /// Only for a thing's attributes and groups.
    Merge,
}

impl Override {
    fn parse(v: &Value) -> Result<Override> {
        match v.as_str() {
            Some("DO_NOTHING") => Ok(Override::DoNothing),
            Some("REPLACE") => Ok(Override::Replace),
            Some("FAIL") => Ok(Override::Fail),
            Some("MERGE") => Ok(Override::Merge),
            _ => Err(invalid(format!(
                "OverrideSettings values are DO_NOTHING, REPLACE, FAIL or MERGE, not {v}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingSpec {
    pub logical_id: String,
    pub name: String,
    pub type_name: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub groups: Option<Vec<String>>,
    pub billing_group: Option<String>,
    pub on_attributes: Override,
    pub on_type: Override,
    pub on_groups: Override,
}

/// How the template gives the certificate: one way only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    Csr(String),
    Id(String),
    Pem { pem: String, ca: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSpec {
    pub logical_id: String,
    pub source: CertificateSource,
    /// ACTIVE unless the template says INACTIVE (any case).
    pub active: bool,
    pub on_status: Override,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySpec {
    /// An existing policy, by name.
    Named { logical_id: String, name: String },
    /// A document; the policy is named after a hash of it unless a name is given ("PolicyName
    /// ... Defaults to a hash of the policy document"), and made unless it exists.
    Document {
        logical_id: String,
        name: Option<String>,
        document: String,
    },
}

/// What one evaluation registers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub thing: Option<ThingSpec>,
    pub certificate: Option<CertificateSpec>,
    pub policies: Vec<PolicySpec>,
    /// `DeviceConfiguration`, flat strings (the guide: no nested objects).
    pub device_configuration: BTreeMap<String, String>,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    parameters: BTreeMap<String, Option<String>>,
    resources: Map<String, Value>,
    mappings: Map<String, Value>,
    conditions: Map<String, Value>,
    device_configuration: Map<String, Value>,
}

fn object<'v>(v: &'v Value, what: &str) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| invalid(format!("{what} must be a JSON object")))
}

impl Template {
    pub fn parse(body: &str) -> Result<Template> {
        if body.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(invalid(format!(
                "The template exceeds {MAX_TEMPLATE_CHARS} characters"
            )));
        }
        let v: Value = serde_json::from_str(body)
            .map_err(|e| invalid(format!("Template format error: JSON not well-formed ({e})")))?;
        let top = object(&v, "The template")?;
        for k in top.keys() {
            if !matches!(
                k.as_str(),
                "Parameters" | "Resources" | "Mappings" | "Conditions" | "DeviceConfiguration"
            ) {
                return Err(invalid(format!("Unknown template section {k}")));
            }
        }
        let mut parameters = BTreeMap::new();
        if let Some(p) = top.get("Parameters") {
            for (name, decl) in object(p, "Parameters")? {
                let decl = object(decl, &format!("Parameter {name}"))?;
                match decl.get("Type").and_then(Value::as_str) {
                    Some("String") => {}
                    other => {
                        return Err(invalid(format!(
                            "Parameter {name} has type {other:?}; only String is supported"
                        )))
                    }
                }
                let default = match decl.get("Default") {
                    None => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                };
                parameters.insert(name.clone(), default);
            }
        }
        let resources = match top.get("Resources") {
            Some(r) => object(r, "Resources")?.clone(),
            None => return Err(invalid("The template has no Resources")),
        };
        let mappings = match top.get("Mappings") {
            Some(m) => object(m, "Mappings")?.clone(),
            None => Map::new(),
        };
        let mut conditions = Map::new();
        if let Some(c) = top.get("Conditions") {
            for (name, declaration) in object(c, "Conditions")? {
                object(declaration, &format!("Condition {name}"))?;
                conditions.insert(name.clone(), declaration.clone());
            }
        }
        let device_configuration = match top.get("DeviceConfiguration") {
            Some(d) => object(d, "DeviceConfiguration")?.clone(),
            None => Map::new(),
        };
        Ok(Template {
            parameters,
            resources,
            mappings,
            conditions,
            device_configuration,
        })
    }

    /// The parameters a template declares, with their defaults.
    pub fn parameters(&self) -> &BTreeMap<String, Option<String>> {
        &self.parameters
    }

    /// Evaluates the template: `given` are the device's parameters, `system` the ones the
    /// service supplies (`AWS::IoT::Certificate::Id`, a certificate's subject fields), which
    /// count whether or not the template declares them. `Fn::GetAtt`'s `Arn` attributes need
    /// `evaluate_in`.
    pub fn evaluate(
        &self,
        given: &BTreeMap<String, String>,
        system: &BTreeMap<String, String>,
    ) -> Result<Plan> {
        self.evaluate_with(None, given, system)
    }

    /// `evaluate`, for resources provisioned in `partition`: the account and region that
    /// `{"Fn::GetAtt": [resource, "Arn"]}` names.
    pub fn evaluate_in(
        &self,
        partition: &Partition,
        given: &BTreeMap<String, String>,
        system: &BTreeMap<String, String>,
    ) -> Result<Plan> {
        self.evaluate_with(Some(partition), given, system)
    }

    fn evaluate_with(
        &self,
        partition: Option<&Partition>,
        given: &BTreeMap<String, String>,
        system: &BTreeMap<String, String>,
    ) -> Result<Plan> {
        let mut values = system.clone();
        for (name, default) in &self.parameters {
            match given.get(name).or(default.as_ref()) {
                Some(v) => {
                    values.insert(name.clone(), v.clone());
                }
                // A declared parameter with no value: provisioning fails when it is used
                // (the JITP page: "the certificate must contain values for all of the
                // parameters in the template body").
                None if name.starts_with("AWS::IoT::Certificate::")
                    && !values.contains_key(name) =>
                {
                    return Err(invalid(format!("No value for the parameter {name}")));
                }
                None => {}
            }
        }
        let sections = Sections {
            mappings: &self.mappings,
            conditions: &self.conditions,
            resources: &self.resources,
        };
        let scope = Scope::new(&values, sections, partition);
        scope.decide_all()?;
        let mut plan = Plan::default();
        for (logical_id, resource) in &self.resources {
            let r = object(resource, &format!("Resource {logical_id}"))?;
            // A resource whose `Condition` is false is not provisioned.
            let Some(props) = scope.properties(logical_id)? else {
                continue;
            };
            let overrides = match r.get("OverrideSettings") {
                Some(o) => object(o, &format!("{logical_id}.OverrideSettings"))?.clone(),
                None => Map::new(),
            };
            match r.get("Type").and_then(Value::as_str) {
                Some("AWS::IoT::Thing") => {
                    if plan.thing.is_some() {
                        return Err(invalid("A template declares at most one thing"));
                    }
                    plan.thing = Some(thing(logical_id, &props, &overrides)?);
                }
                Some("AWS::IoT::Certificate") => {
                    if plan.certificate.is_some() {
                        return Err(invalid("A template declares at most one certificate"));
                    }
                    plan.certificate = Some(certificate(logical_id, &props, &overrides)?);
                }
                Some("AWS::IoT::Policy") => {
                    if !overrides.is_empty() {
                        return Err(invalid("OverrideSettings are not available for policies"));
                    }
                    plan.policies.push(policy(logical_id, &props)?);
                }
                other => {
                    return Err(invalid(format!(
                        "Resource {logical_id} has type {other:?}; the types are AWS::IoT::Thing, AWS::IoT::Certificate and AWS::IoT::Policy"
                    )))
                }
            }
        }
        for (k, v) in &self.device_configuration {
            match scope.eval(v)? {
                // `AWS::NoValue` leaves the key out.
                None => {}
                Some(Value::String(s)) => {
                    plan.device_configuration.insert(k.clone(), s);
                }
                Some(Value::Number(n)) => {
                    plan.device_configuration.insert(k.clone(), n.to_string());
                }
                Some(Value::Bool(b)) => {
                    plan.device_configuration.insert(k.clone(), b.to_string());
                }
                _ => {
                    return Err(invalid(
                        "DeviceConfiguration doesn't support nested JSON objects",
                    ))
                }
            }
        }
        Ok(plan)
    }
}

fn string_prop(props: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!("{key} must be a string, not {other}"))),
    }
}

/// An override setting under its property name (as every example writes it) or the guide's
/// upper-case name; DO_NOTHING when absent.
fn override_of(o: &Map<String, Value>, prop: &str, upper: &str) -> Result<Override> {
    match o.get(prop).or_else(|| o.get(upper)) {
        Some(v) => Override::parse(v),
        None => Ok(Override::DoNothing),
    }
}

fn thing(
    logical_id: &str,
    props: &Map<String, Value>,
    o: &Map<String, Value>,
) -> Result<ThingSpec> {
    let name = string_prop(props, "ThingName")?
        .ok_or_else(|| invalid(format!("{logical_id} has no ThingName")))?;
    let attributes = match props.get("AttributePayload") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Number(n) => Ok((k.clone(), n.to_string())),
                    other => Err(invalid(format!(
                        "Attribute {k} must be a string, not {other}"
                    ))),
                })
                .collect::<Result<BTreeMap<_, _>>>()?,
        ),
        Some(other) => {
            return Err(invalid(format!(
                "AttributePayload must be an object, not {other}"
            )))
        }
    };
    let groups = match props.get("ThingGroups") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|g| {
                    g.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(format!("ThingGroups holds names, not {g}")))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(other) => return Err(invalid(format!("ThingGroups must be a list, not {other}"))),
    };
    let on_type = override_of(o, "ThingTypeName", "THING_TYPE_NAME")?;
    if on_type == Override::Merge {
        return Err(invalid(
            "MERGE is valid only for AttributePayload and ThingGroups",
        ));
    }
    Ok(ThingSpec {
        logical_id: logical_id.to_string(),
        name,
        type_name: string_prop(props, "ThingTypeName")?,
        attributes,
        groups,
        billing_group: string_prop(props, "BillingGroup")?,
        on_attributes: override_of(o, "AttributePayload", "ATTRIBUTE_PAYLOAD")?,
        on_type,
        on_groups: override_of(o, "ThingGroups", "THING_GROUPS")?,
    })
}

fn certificate(
    logical_id: &str,
    props: &Map<String, Value>,
    o: &Map<String, Value>,
) -> Result<CertificateSpec> {
    let csr = string_prop(props, "CertificateSigningRequest")?;
    let id = string_prop(props, "CertificateId")?;
    let pem = string_prop(props, "CertificatePem")?;
    let ca = string_prop(props, "CACertificatePem")?;
    let source = match (csr, id, pem) {
        (Some(c), None, None) if ca.is_none() => CertificateSource::Csr(c),
        (None, Some(i), None) if ca.is_none() => CertificateSource::Id(i),
        (None, None, Some(p)) => CertificateSource::Pem { pem: p, ca },
        _ => {
            return Err(invalid(format!(
                "{logical_id} must give the certificate one way: a CSR, a certificate id, or a certificate PEM"
            )))
        }
    };
    let active = match string_prop(props, "Status")? {
        None => true,
        Some(s) if s.eq_ignore_ascii_case("ACTIVE") => true,
        Some(s) if s.eq_ignore_ascii_case("INACTIVE") => false,
        Some(s) => {
            return Err(invalid(format!(
                "Certificate status {s} is not ACTIVE or INACTIVE"
            )))
        }
    };
    let on_status = override_of(o, "Status", "STATUS")?;
    if on_status == Override::Merge {
        return Err(invalid(
            "MERGE is valid only for a thing's AttributePayload and ThingGroups",
        ));
    }
    Ok(CertificateSpec {
        logical_id: logical_id.to_string(),
        source,
        active,
        on_status,
    })
}

fn policy(logical_id: &str, props: &Map<String, Value>) -> Result<PolicySpec> {
    let name = string_prop(props, "PolicyName")?;
    let document = match props.get("PolicyDocument") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        // The fleet examples give the document as an object.
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(other) => {
            return Err(invalid(format!(
                "PolicyDocument must be a document, not {other}"
            )))
        }
    };
    match (name, document) {
        (Some(name), None) => Ok(PolicySpec::Named {
            logical_id: logical_id.to_string(),
            name,
        }),
        (name, Some(document)) => Ok(PolicySpec::Document {
            logical_id: logical_id.to_string(),
            name,
            document,
        }),
        (None, None) => Err(invalid(
            "Neither policyName nor policyDocument is present in the Template.",
        )),
    }
}
