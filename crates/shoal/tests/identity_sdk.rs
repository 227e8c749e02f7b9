//! Certificates, CA certificates, policies and principals driven by `aws-sdk-iot` against an
//! in-process server, with keys, CSRs and CA certificates made in the test.

mod common;

use aws_sdk_iot::types::{ActionType, AuthInfo, CertificateStatus};
use common::{code, TestServer};
use rcgen::{CertificateParams, DnType, KeyPair};

fn csr(cn: &str) -> (String, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    (params.serialize_request(&key).unwrap().pem().unwrap(), key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_keys_and_csr_follow_the_status_machine() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let made = c
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let id = made.certificate_id().unwrap().to_string();
    assert_eq!(id.len(), 64);
    assert!(made
        .key_pair()
        .unwrap()
        .private_key()
        .unwrap()
        .contains("RSA PRIVATE KEY"));
    let d = c
        .describe_certificate()
        .certificate_id(&id)
        .send()
        .await
        .unwrap();
    let desc = d.certificate_description().unwrap();
    assert_eq!(desc.status(), Some(&CertificateStatus::Active));
    assert_eq!(desc.certificate_pem(), made.certificate_pem());

    // ACTIVE cannot be deleted; INACTIVE can, unless attached.
    assert_eq!(
        code(c.delete_certificate().certificate_id(&id).send().await),
        "CertificateStateException"
    );
    c.update_certificate()
        .certificate_id(&id)
        .new_status(CertificateStatus::Revoked)
        .send()
        .await
        .unwrap();
    let back = c
        .update_certificate()
        .certificate_id(&id)
        .new_status(CertificateStatus::Active)
        .send()
        .await;
    assert_eq!(code(back), "CertificateStateException");

    let (pem, _) = csr("device-42");
    let from_csr = c
        .create_certificate_from_csr()
        .certificate_signing_request(pem)
        .send()
        .await
        .unwrap();
    let csr_id = from_csr.certificate_id().unwrap();
    let d = c
        .describe_certificate()
        .certificate_id(csr_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.certificate_description().unwrap().status(),
        Some(&CertificateStatus::Inactive)
    );
    let bad = c
        .create_certificate_from_csr()
        .certificate_signing_request("not a csr")
        .send()
        .await;
    assert_eq!(code(bad), "InvalidRequestException");

    let all = c.list_certificates().page_size(1).send().await.unwrap();
    assert_eq!(all.certificates().len(), 1);
    assert!(all.next_marker().is_some());
    let rest = c
        .list_certificates()
        .marker(all.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.certificates().len(), 1);
    assert!(rest.next_marker().is_none());
    c.delete_certificate()
        .certificate_id(csr_id)
        .send()
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_registration_needs_the_registration_code() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let factory = common::device::TestCa::new("Factory CA");
    let code_out = c.get_registration_code().send().await.unwrap();
    let reg_code = code_out.registration_code().unwrap().to_string();
    let sign = |cn: &str| factory.sign(cn).0;
    let wrong = c
        .register_ca_certificate()
        .ca_certificate(factory.pem.clone())
        .verification_certificate(sign("not-the-code"))
        .send()
        .await;
    assert_eq!(code(wrong), "RegistrationCodeValidationException");
    assert!(
        c.list_ca_certificates()
            .send()
            .await
            .unwrap()
            .certificates()
            .is_empty(),
        "nothing half-stored"
    );

    let ca = c
        .register_ca_certificate()
        .ca_certificate(factory.pem.clone())
        .verification_certificate(sign(&reg_code))
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let ca_id = ca.certificate_id().unwrap().to_string();

    // A device certificate from that CA registers, and is listed under it.
    let device = sign("factory-device-1");
    let reg = c
        .register_certificate()
        .certificate_pem(&device)
        .ca_certificate_pem(factory.pem.clone())
        .status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    let by_ca = c
        .list_certificates_by_ca()
        .ca_certificate_id(&ca_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_ca.certificates()[0].certificate_id(),
        reg.certificate_id()
    );
    let dup = c
        .register_certificate()
        .certificate_pem(&device)
        .ca_certificate_pem(factory.pem.clone())
        .send()
        .await;
    assert_eq!(code(dup), "ResourceAlreadyExistsException");

    // An active CA cannot be deleted.
    assert_eq!(
        code(
            c.delete_ca_certificate()
                .certificate_id(&ca_id)
                .send()
                .await
        ),
        "CertificateStateException"
    );
    s.stop().await;
}

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:*:topic/sensors/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:*:topic/sensors/*/admin"}
  ]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_versions_principals_and_test_authorization() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let bad = c
        .create_policy()
        .policy_name("bad")
        .policy_document(r#"{"Statement": [}"#)
        .send()
        .await;
    assert_eq!(code(bad), "MalformedPolicyException");
    let unknown = POLICY.replace("iot:Connect", "io t:Connect");
    assert_eq!(
        code(
            c.create_policy()
                .policy_name("bad")
                .policy_document(unknown)
                .send()
                .await
        ),
        "MalformedPolicyException"
    );
    assert_eq!(
        code(c.get_policy().policy_name("bad").send().await),
        "ResourceNotFoundException"
    );

    c.create_policy()
        .policy_name("sensor")
        .policy_document(POLICY)
        .send()
        .await
        .unwrap();
    for _ in 0..4 {
        c.create_policy_version()
            .policy_name("sensor")
            .policy_document(POLICY)
            .send()
            .await
            .unwrap();
    }
    let sixth = c
        .create_policy_version()
        .policy_name("sensor")
        .policy_document(POLICY)
        .send()
        .await;
    assert_eq!(code(sixth), "VersionsLimitExceededException");
    let del_default = c
        .delete_policy_version()
        .policy_name("sensor")
        .policy_version_id("1")
        .send()
        .await;
    assert_eq!(code(del_default), "DeleteConflictException");

    let made = c
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let arn = made.certificate_arn().unwrap().to_string();
    let account = arn.split(':').nth(4).unwrap().to_string();
    c.create_thing()
        .thing_name("sensor-9")
        .send()
        .await
        .unwrap();
    c.attach_policy()
        .policy_name("sensor")
        .target(&arn)
        .send()
        .await
        .unwrap();
    c.attach_thing_principal()
        .thing_name("sensor-9")
        .principal(&arn)
        .send()
        .await
        .unwrap();
    let principals = c
        .list_thing_principals()
        .thing_name("sensor-9")
        .send()
        .await
        .unwrap();
    assert_eq!(principals.principals(), std::slice::from_ref(&arn));
    let things = c
        .list_principal_things()
        .principal(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(things.things(), ["sensor-9"]);

    let topic = |t: &str| format!("arn:aws:iot:us-east-1:{account}:topic/sensors/{t}");
    let info = |a: ActionType, r: String| {
        AuthInfo::builder()
            .action_type(a)
            .resources(r)
            .build()
            .unwrap()
    };
    let out = c
        .test_authorization()
        .principal(&arn)
        .client_id("sensor-9")
        .auth_infos(info(ActionType::Publish, topic("sensor-9/temp")))
        .auth_infos(info(ActionType::Publish, topic("sensor-8/temp")))
        .auth_infos(info(ActionType::Publish, topic("sensor-9/admin")))
        .auth_infos(info(
            ActionType::Connect,
            format!("arn:aws:iot:us-east-1:{account}:client/sensor-9"),
        ))
        .send()
        .await
        .unwrap();
    let decisions: Vec<_> = out
        .auth_results()
        .iter()
        .map(|r| r.auth_decision().unwrap().as_str().to_string())
        .collect();
    assert_eq!(
        decisions,
        ["ALLOWED", "IMPLICIT_DENY", "EXPLICIT_DENY", "ALLOWED"]
    );

    // Deleting what is attached is refused; detached, it goes.
    assert_eq!(
        code(c.delete_policy().policy_name("sensor").send().await),
        "DeleteConflictException"
    );
    c.update_certificate()
        .certificate_id(made.certificate_id().unwrap())
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let cert_id = made.certificate_id().unwrap();
    assert_eq!(
        code(c.delete_certificate().certificate_id(cert_id).send().await),
        "DeleteConflictException"
    );
    c.detach_thing_principal()
        .thing_name("sensor-9")
        .principal(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(c.delete_certificate().certificate_id(cert_id).send().await),
        "DeleteConflictException"
    );
    c.delete_certificate()
        .certificate_id(cert_id)
        .force_delete(true)
        .send()
        .await
        .unwrap();
    let targets = c
        .list_targets_for_policy()
        .policy_name("sensor")
        .send()
        .await
        .unwrap();
    assert!(
        targets.targets().is_empty(),
        "forceDelete detached the policy"
    );
    s.stop().await;
}
