//! Fleet provisioning's RegisterThing: a device that holds a certificate from the
//! fleet-provisioning MQTT API proves it with the `certificateOwnershipToken`, the template's
//! pre-provisioning hook may refuse or add parameters, and the template's default version is
//! provisioned with the certificate's id as `AWS::IoT::Certificate::Id`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/provision-wo-cert.html,
//! https://docs.aws.amazon.com/iot/latest/developerguide/pre-provisioning-hook.html).

use super::{Provisioned, Provisioning, ProvisioningTemplate};
use crate::authorizers::FunctionPort;
use crate::reserved::Requester;
use serde::Deserialize;
use serde_json::json;
use shoal_domain::error::Result;
use shoal_domain::provisioning::{CertificateSource, Template};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// "The Lambda function must return a response within 5 seconds" (pre-provisioning hooks).
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// The system parameter a fleet template refers to the device's certificate by.
pub const CERTIFICATE_ID_PARAMETER: &str = "AWS::IoT::Certificate::Id";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookAnswer {
    allow_provisioning: bool,
    #[serde(default)]
    parameter_overrides: BTreeMap<String, String>,
}

fn denied(why: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Unauthorized, why)
}

impl Provisioning {
    /// Installs what calls the hooks' functions (once, at start-up; the same port as the
    /// custom authorizers').
    pub fn set_functions(&self, functions: Arc<dyn FunctionPort>) {
        let _ = self.functions.set(functions);
    }

    /// CreateProvisioningClaim: a temporary claim certificate for a fleet provisioning
    /// template, and when it stops working.
    pub async fn create_provisioning_claim(
        &self,
        part: &Partition,
        template_name: &str,
    ) -> Result<(crate::identity::NewCertificate, shoal_domain::Timestamp)> {
        let t = self.describe_template(part, template_name)?;
        if t.kind != "FLEET_PROVISIONING" {
            return Err(ServiceError::invalid(format!(
                "The provisioning template {template_name} is not a fleet provisioning template"
            )));
        }
        let made = self
            .identity
            .create_provisioning_claim(part, template_name)
            .await?;
        let expires = made
            .certificate
            .claim
            .as_ref()
            .map(|c| c.expires)
            .unwrap_or_default();
        Ok((made, expires))
    }

    /// RegisterThing over MQTT with a certificate ownership token.
    pub(crate) async fn provision_by_claim(
        &self,
        part: &Partition,
        template_name: &str,
        token: &str,
        mut parameters: BTreeMap<String, String>,
        requester: &Requester,
    ) -> Result<Provisioned> {
        let t = self.describe_template(part, template_name)?;
        if t.kind != "FLEET_PROVISIONING" {
            return Err(ServiceError::invalid(format!(
                "The provisioning template {template_name} is not a fleet provisioning template"
            )));
        }
        if !t.enabled {
            return Err(ServiceError::invalid(format!(
                "The provisioning template {template_name} is disabled"
            )));
        }
        let cert_id = self.identity.certificate_of_token(part, token)?;
        if let Some((arn, _)) = &t.hook {
            let overrides = self
                .call_hook(part, &t, arn, &cert_id, requester, &parameters)
                .await?;
            parameters.extend(overrides);
        }
        let template = Template::parse(t.default_body())?;
        let system = BTreeMap::from([(CERTIFICATE_ID_PARAMETER.to_string(), cert_id.clone())]);
        let plan = template.evaluate_in(part, &parameters, &system)?;
        // The certificate a template provisions is the one the token proves.
        if let Some(c) = &plan.certificate {
            if c.source != CertificateSource::Id(cert_id.clone()) {
                return Err(ServiceError::invalid(
                    "A fleet provisioning template's certificate is the device's: CertificateId {\"Ref\": \"AWS::IoT::Certificate::Id\"}",
                ));
            }
        }
        self.provision(part, &plan).await
    }

    /// Calls the template's pre-provisioning hook with AWS's event and reads
    /// `allowProvisioning` and `parameterOverrides`; no answer within 5 s, an unreadable one or
    /// a refusal denies the provisioning.
    async fn call_hook(
        &self,
        part: &Partition,
        t: &ProvisioningTemplate,
        arn: &str,
        cert_id: &str,
        requester: &Requester,
        parameters: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let Some(functions) = self.functions.get() else {
            return Err(denied(
                "No function endpoint is configured for the pre-provisioning hook",
            ));
        };
        let (client_id, claim) = match requester {
            Requester::Connection {
                client_id,
                certificate_id,
            } => (client_id.as_str(), certificate_id.as_deref().unwrap_or("")),
            Requester::Http | Requester::Rule { .. } => ("", ""),
        };
        let pem = self.identity.describe_certificate(part, cert_id)?.pem;
        let event = json!({
            "claimCertificateId": claim,
            "certificateId": cert_id,
            "certificatePem": pem,
            "templateArn": part.arn("provisioningtemplate", &t.name),
            "clientId": client_id,
            "parameters": parameters,
        });
        let call = functions.invoke(arn, event.to_string().into_bytes());
        let answer = match tokio::time::timeout(HOOK_TIMEOUT, call).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(why)) => return Err(denied(format!("The pre-provisioning hook failed: {why}"))),
            Err(_) => {
                return Err(denied(
                    "The pre-provisioning hook did not answer within 5 s",
                ))
            }
        };
        let answer: HookAnswer = serde_json::from_slice(&answer).map_err(|e| {
            denied(format!(
                "The pre-provisioning hook's answer is not valid: {e}"
            ))
        })?;
        if !answer.allow_provisioning {
            return Err(denied("The pre-provisioning hook refused the provisioning"));
        }
        Ok(answer.parameter_overrides)
    }
}
