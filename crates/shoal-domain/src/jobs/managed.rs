//! AWS's managed job templates for Linux devices (the ones the AWS IoT Device Client runs):
//! a built-in, read-only catalogue with each template's document parameters, and the
//! substitution of `${aws:iot:parameter:KEY}` placeholders when a job is made from one
//! (https://docs.aws.amazon.com/iot/latest/developerguide/job-templates-managed.html).

use crate::error::{Result, ServiceError};
use std::collections::BTreeMap;

/// One `documentParameters` entry of a managed template.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSpec {
    pub key: &'static str,
    pub description: &'static str,
    pub regex: &'static str,
    /// The most characters the regex allows, when it bounds them.
    pub max_len: Option<usize>,
    pub example: &'static str,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ManagedTemplate {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub parameters: Vec<ParameterSpec>,
    /// The job document, with its placeholders.
    pub document: String,
}

impl ManagedTemplate {
    pub const ENVIRONMENTS: [&'static str; 1] = ["LINUX"];

    /// `arn:aws:iot:REGION::jobtemplate/NAME:VERSION` (no account: AWS owns them).
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:iot:{region}::jobtemplate/{}:{}",
            self.name, self.version
        )
    }

    /// The template's document with `params` put in place of its placeholders. Every
    /// required parameter must be given, no unknown one, each within its length; an optional
    /// one left out becomes empty.
    pub fn substitute(&self, params: &BTreeMap<String, String>) -> Result<String> {
        for k in params.keys() {
            if !self.parameters.iter().any(|p| p.key == k) {
                return Err(ServiceError::invalid(format!(
                    "The document parameter {k} is not a parameter of managed template {}",
                    self.name
                )));
            }
        }
        let mut values = Vec::with_capacity(self.parameters.len());
        for p in &self.parameters {
            let value = match params.get(p.key) {
                Some(v) => v.as_str(),
                None if p.optional => "",
                None => {
                    return Err(ServiceError::invalid(format!(
                        "The required document parameter {} of managed template {} is missing",
                        p.key, self.name
                    )))
                }
            };
            if value.chars().any(char::is_control)
                || p.max_len.is_some_and(|m| value.chars().count() > m)
            {
                return Err(ServiceError::invalid(format!(
                    "The document parameter {} does not match {}",
                    p.key, p.regex
                )));
            }
            // Inside a JSON string: escaped as JSON escapes it.
            let escaped = serde_json::to_string(value).unwrap_or_default();
            values.push((
                format!("${{aws:iot:parameter:{}}}", p.key),
                escaped[1..escaped.len() - 1].to_string(),
            ));
        }
        // One pass over the template's own text: a value that looks like a placeholder is not
        // substituted again.
        let mut doc = String::with_capacity(self.document.len());
        let mut rest = self.document.as_str();
        while let Some(i) = rest.find("${aws:iot:parameter:") {
            doc.push_str(&rest[..i]);
            rest = &rest[i..];
            match values.iter().find(|(p, _)| rest.starts_with(p.as_str())) {
                Some((p, v)) => {
                    doc.push_str(v);
                    rest = &rest[p.len()..];
                }
                None => {
                    doc.push('$');
                    rest = &rest[1..];
                }
            }
        }
        doc.push_str(rest);
        Ok(doc)
    }
}

fn run_as_user() -> ParameterSpec {
    ParameterSpec {
        key: "runAsUser",
        description: "The user the handler runs as; without it, the Device Client's own user.",
        regex: "(.){0,256}",
        max_len: Some(256),
        example: "user1",
        optional: true,
    }
}

fn path_to_handler() -> ParameterSpec {
    ParameterSpec {
        key: "pathToHandler",
        description:
            "Where the handler is on the device; without it, the Device Client's working directory.",
        regex: "(.){0,4096}",
        max_len: Some(4096),
        example: "/path/to/handler/script",
        optional: true,
    }
}

fn required(key: &'static str, description: &'static str, example: &'static str) -> ParameterSpec {
    ParameterSpec {
        key,
        description,
        regex: "(.)+",
        max_len: None,
        example,
        optional: false,
    }
}

/// A Device Client document (schema version 1.0) running `handler` with `args`.
fn handler_document(action: &str, handler: &str, args: &[&str]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|a| format!("${{aws:iot:parameter:{a}}}"))
        .collect();
    let mut input = serde_json::json!({
        "handler": handler,
        "path": "${aws:iot:parameter:pathToHandler}",
    });
    if !args.is_empty() {
        input["args"] = args.into();
    }
    serde_json::json!({
        "version": "1.0",
        "steps": [{
            "action": {
                "name": action,
                "type": "runHandler",
                "input": input,
                "runAsUser": "${aws:iot:parameter:runAsUser}",
            }
        }]
    })
    .to_string()
}

fn template(
    name: &'static str,
    description: &'static str,
    action: &str,
    handler: &str,
    params: Vec<ParameterSpec>,
) -> ManagedTemplate {
    let args: Vec<&str> = params.iter().map(|p| p.key).collect();
    let document = handler_document(action, handler, &args);
    let mut parameters = params;
    parameters.push(run_as_user());
    parameters.push(path_to_handler());
    ManagedTemplate {
        name,
        version: "1.0",
        description,
        parameters,
        document,
    }
}

/// The catalogue, by name.
pub fn managed_templates() -> Vec<ManagedTemplate> {
    let services = || {
        required(
            "services",
            "System services, separated by spaces.",
            "cron httpd bluetooth",
        )
    };
    let packages = || {
        required(
            "packages",
            "Packages, separated by spaces.",
            "mosquitto curl",
        )
    };
    vec![
        template(
            "AWS-Download-File",
            "A managed job template for downloading a file.",
            "Download-File",
            "download-file.sh",
            vec![
                required(
                    "downloadUrl",
                    "The URL to download from.",
                    "http://www.example.com/index.html",
                ),
                required(
                    "filePath",
                    "Where on the device the file goes.",
                    "/path/to/file",
                ),
            ],
        ),
        template(
            "AWS-Install-Application",
            "A managed job template for installing one or more applications.",
            "Install-Application",
            "install-packages.sh",
            vec![packages()],
        ),
        template(
            "AWS-Reboot",
            "A managed job template for rebooting the device.",
            "Reboot",
            "reboot.sh",
            vec![],
        ),
        template(
            "AWS-Remove-Application",
            "A managed job template for uninstalling one or more applications.",
            "Remove-Application",
            "remove-packages.sh",
            vec![packages()],
        ),
        template(
            "AWS-Restart-Application",
            "A managed job template for restarting one or more system services.",
            "Restart-Application",
            "restart-services.sh",
            vec![services()],
        ),
        template(
            "AWS-Start-Application",
            "A managed job template for starting one or more system services.",
            "Start-Application",
            "start-services.sh",
            vec![services()],
        ),
        template(
            "AWS-Stop-Application",
            "A managed job template for stopping one or more system services.",
            "Stop-Application",
            "stop-services.sh",
            vec![services()],
        ),
    ]
}

/// A managed template by name and version (the latest without one).
pub fn managed_template(name: &str, version: Option<&str>) -> Option<ManagedTemplate> {
    managed_templates()
        .into_iter()
        .find(|t| t.name == name && version.is_none_or(|v| v == t.version))
}

/// The (name, version) a managed template's ARN names.
pub fn parse_managed_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:aws:iot:")?;
    let (_region, rest) = rest.split_once("::jobtemplate/")?;
    let (name, version) = rest.split_once(':')?;
    Some((name.to_string(), version.to_string()))
}
