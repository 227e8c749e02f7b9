"""Provisioning templates and RegisterThing with boto3 and the AWS CLI, as the developer
guide's "Provisioning templates" page and the API reference describe them."""

import datetime
import json

ROLE = "arn:aws:iam::123456789012:role/provisioning-role"

# The bulk-registration template of the developer guide, shortened: a thing with attributes, a
# certificate from a CSR, and a policy from a document.
BULK_TEMPLATE = {
    "Parameters": {
        "ThingName": {"Type": "String"},
        "SerialNumber": {"Type": "String"},
        "Location": {"Type": "String", "Default": "WA"},
        "CSR": {"Type": "String"},
    },
    "Resources": {
        "thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {
                "ThingName": {"Ref": "ThingName"},
                "AttributePayload": {"version": "v1", "serialNumber": {"Ref": "SerialNumber"}},
            },
            "OverrideSettings": {"AttributePayload": "MERGE"},
        },
        "certificate": {
            "Type": "AWS::IoT::Certificate",
            "Properties": {
                "CertificateSigningRequest": {"Ref": "CSR"},
                "Status": "ACTIVE",
            },
        },
        "policy": {
            "Type": "AWS::IoT::Policy",
            "Properties": {
                "PolicyDocument": json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
                                   "Resource": "*"}],
                }),
            },
        },
    },
}


def fleet_template(version="v1"):
    return json.dumps({
        "Parameters": {"SerialNumber": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing",
                      "Properties": {"ThingName": {"Fn::Join": ["", ["dev-", {"Ref": "SerialNumber"}]]},
                                     "AttributePayload": {"fw": version}}},
            "certificate": {"Type": "AWS::IoT::Certificate",
                            "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                                           "Status": "Active"}},
        },
        "DeviceConfiguration": {"FallbackUrl": "https://example.com/fw"},
    })


def test_provisioning_template_lifecycle(iot, iot_raw, unique, account_id, aws_error):
    name = unique("tmpl")
    arn = "arn:aws:iot:us-east-1:%s:provisioningtemplate/%s" % (account_id, name)
    made = iot.create_provisioning_template(
        templateName=name, description="fleet", templateBody=fleet_template(),
        provisioningRoleArn=ROLE, enabled=True,
        preProvisioningHook={"targetArn": "arn:aws:lambda:us-east-1:%s:function:hook" % account_id},
        tags=[{"Key": "team", "Value": "fw"}])
    assert made["templateArn"] == arn and made["templateName"] == name
    assert made["defaultVersionId"] == 1
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_provisioning_template(templateName=name, templateBody=fleet_template(),
                                         provisioningRoleArn=ROLE)

    d = iot.describe_provisioning_template(templateName=name)
    assert d["templateArn"] == arn and d["description"] == "fleet" and d["enabled"] is True
    assert d["type"] == "FLEET_PROVISIONING" and d["provisioningRoleArn"] == ROLE
    assert d["defaultVersionId"] == 1 and json.loads(d["templateBody"])["Resources"]["thing"]
    assert d["preProvisioningHook"]["payloadVersion"] == "2020-04-01"
    assert isinstance(d["creationDate"], datetime.datetime)
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "fw"}]
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "site", "Value": "osaka"}])
    assert len(iot.list_tags_for_resource(resourceArn=arn)["tags"]) == 2

    # Versions: at most five; the default one cannot be deleted.
    v2 = iot.create_provisioning_template_version(templateName=name,
                                                  templateBody=fleet_template("v2"))
    assert v2["versionId"] == 2 and v2["isDefaultVersion"] is False
    v3 = iot.create_provisioning_template_version(templateName=name,
                                                  templateBody=fleet_template("v3"),
                                                  setAsDefault=True)
    assert v3["versionId"] == 3 and v3["isDefaultVersion"] is True
    d = iot.describe_provisioning_template(templateName=name)
    assert d["defaultVersionId"] == 3 and '"v3"' in d["templateBody"]
    for _ in range(2):
        iot.create_provisioning_template_version(templateName=name, templateBody=fleet_template())
    with aws_error("VersionsLimitExceededException", 409):
        iot.create_provisioning_template_version(templateName=name, templateBody=fleet_template())
    versions = iot.list_provisioning_template_versions(templateName=name)["versions"]
    assert [v["versionId"] for v in versions] == [1, 2, 3, 4, 5]
    assert [v["isDefaultVersion"] for v in versions] == [False, False, True, False, False]
    page = iot.list_provisioning_template_versions(templateName=name, maxResults=2)
    assert len(page["versions"]) == 2 and page["nextToken"]
    v = iot.describe_provisioning_template_version(templateName=name, versionId=2)
    assert v["versionId"] == 2 and '"v2"' in v["templateBody"] and v["isDefaultVersion"] is False
    with aws_error("DeleteConflictException", 409):
        iot.delete_provisioning_template_version(templateName=name, versionId=3)
    iot.delete_provisioning_template_version(templateName=name, versionId=2)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_provisioning_template_version(templateName=name, versionId=2)

    iot.update_provisioning_template(templateName=name, enabled=False, defaultVersionId=1,
                                     description="off", removePreProvisioningHook=True)
    d = iot.describe_provisioning_template(templateName=name)
    assert d["enabled"] is False and d["defaultVersionId"] == 1 and d["description"] == "off"
    assert "preProvisioningHook" not in d
    with aws_error("ResourceNotFoundException", 404):
        iot.update_provisioning_template(templateName=name, defaultVersionId=2)

    # Bad input: AWS's validation errors.
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_provisioning_template(templateName="bad name", templateBody="{}",
                                             provisioningRoleArn=ROLE)
    with aws_error("InvalidRequestException", 400):
        iot.create_provisioning_template(templateName=unique("t"), templateBody="not json",
                                         provisioningRoleArn=ROLE)
    with aws_error("InvalidRequestException", 400):
        iot.create_provisioning_template(templateName=unique("t"), templateBody=fleet_template(),
                                         provisioningRoleArn=ROLE, type="JITP",
                                         preProvisioningHook={"targetArn": "arn:x"})

    iot.delete_provisioning_template(templateName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_provisioning_template(templateName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_provisioning_template(templateName=name)


def test_list_provisioning_templates_pages_with_the_cli(server, aws_cli_for, tmp_path):
    _, key, secret = server.create_account()
    iot = server.client(access_key=key, secret_key=secret)
    body = tmp_path / "template.json"
    body.write_text(fleet_template())
    for i in range(3):
        aws_cli_for(server, "iot", "create-provisioning-template", "--template-name", "t-%d" % i,
                    "--template-body", "file://%s" % body, "--provisioning-role-arn", ROLE,
                    "--type", "JITP" if i == 2 else "FLEET_PROVISIONING",
                    access_key=key, secret_key=secret)
    listed = aws_cli_for(server, "iot", "list-provisioning-templates",
                         access_key=key, secret_key=secret)["templates"]
    assert [t["templateName"] for t in listed] == ["t-0", "t-1", "t-2"]
    assert [t["type"] for t in listed] == ["FLEET_PROVISIONING"] * 2 + ["JITP"]
    assert all(t["enabled"] is False for t in listed)
    page = iot.list_provisioning_templates(maxResults=2)
    assert len(page["templates"]) == 2
    rest = iot.list_provisioning_templates(nextToken=page["nextToken"])
    assert [t["templateName"] for t in rest["templates"]] == ["t-2"]
    assert "nextToken" not in rest


def test_register_thing_registers_thing_certificate_and_policy(iot, unique, pki, account_id):
    name = unique("reg")
    key = pki.key()
    csr = pki.csr(key, name)
    out = iot.register_thing(templateBody=json.dumps(BULK_TEMPLATE),
                             parameters={"ThingName": name, "SerialNumber": "123", "CSR": csr})
    arns = out["resourceArns"]
    assert arns["thing"] == "arn:aws:iot:us-east-1:%s:thing/%s" % (account_id, name)
    assert arns["certificate"].startswith("arn:aws:iot:us-east-1:%s:cert/" % account_id)
    assert arns["policy"].startswith("arn:aws:iot:us-east-1:%s:policy/" % account_id)
    cert_id = arns["certificate"].rsplit("/", 1)[1]
    assert pki.cert_id(out["certificatePem"]) == cert_id
    assert pki.spki(pki.load(out["certificatePem"]).public_key()) == pki.spki(key.public_key())

    thing = iot.describe_thing(thingName=name)
    assert thing["attributes"] == {"version": "v1", "serialNumber": "123"}
    cert = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    assert iot.list_thing_principals(thingName=name)["principals"] == [arns["certificate"]]
    policy = arns["policy"].rsplit("/", 1)[1]
    attached = iot.list_attached_policies(target=arns["certificate"])["policies"]
    assert [p["policyName"] for p in attached] == [policy]

    # Again for the same thing: MERGE adds the new attribute, the policy of the same document
    # is reused, a second certificate joins the thing.
    again = iot.register_thing(
        templateBody=json.dumps(BULK_TEMPLATE),
        parameters={"ThingName": name, "SerialNumber": "456", "CSR": pki.csr(pki.key(), name)})
    assert again["resourceArns"]["policy"] == arns["policy"]
    assert iot.describe_thing(thingName=name)["attributes"] == {"version": "v1",
                                                                "serialNumber": "456"}
    assert len(iot.list_thing_principals(thingName=name)["principals"]) == 2


def test_register_thing_is_all_or_nothing(iot, unique, pki, aws_error):
    """A resource that cannot be registered leaves nothing behind: no thing, no certificate,
    no policy."""
    name = unique("atomic")
    template = json.loads(json.dumps(BULK_TEMPLATE))
    template["Resources"]["thing"]["Properties"]["ThingGroups"] = [unique("no-such-group")]
    template["Resources"]["policy"]["Properties"]["PolicyName"] = name
    certs_before = len(iot.list_certificates(pageSize=250)["certificates"])
    with aws_error("ResourceRegistrationFailureException", 400):
        iot.register_thing(templateBody=json.dumps(template),
                           parameters={"ThingName": name, "SerialNumber": "1",
                                       "CSR": pki.csr(pki.key(), name)})
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing(thingName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy(policyName=name)
    assert len(iot.list_certificates(pageSize=250)["certificates"]) == certs_before

    # A policy named but not there fails the same way.
    template = json.loads(json.dumps(BULK_TEMPLATE))
    template["Resources"]["policy"]["Properties"] = {"PolicyName": unique("missing")}
    with aws_error("ResourceRegistrationFailureException", 400):
        iot.register_thing(templateBody=json.dumps(template),
                           parameters={"ThingName": name, "SerialNumber": "1",
                                       "CSR": pki.csr(pki.key(), name)})
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing(thingName=name)


def test_register_thing_override_settings(iot, unique, aws_error):
    name = unique("ovr")
    iot.create_thing(thingName=name, attributePayload={"attributes": {"a": "1", "b": "2"}})

    def register(setting, attrs):
        body = {"Resources": {"thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {"ThingName": name, "AttributePayload": attrs},
            "OverrideSettings": {"AttributePayload": setting}}}}
        return iot.register_thing(templateBody=json.dumps(body))

    register("DO_NOTHING", {"c": "3"})
    assert iot.describe_thing(thingName=name)["attributes"] == {"a": "1", "b": "2"}
    register("MERGE", {"c": "3"})
    assert iot.describe_thing(thingName=name)["attributes"] == {"a": "1", "b": "2", "c": "3"}
    register("REPLACE", {"d": "4"})
    assert iot.describe_thing(thingName=name)["attributes"] == {"d": "4"}
    with aws_error("ResourceRegistrationFailureException", 400):
        register("FAIL", {"e": "5"})
    assert iot.describe_thing(thingName=name)["attributes"] == {"d": "4"}


def test_register_thing_refuses_bad_templates(iot, aws_error):
    for body in ("not json", json.dumps({"Resources": {"x": {"Type": "AWS::S3::Bucket"}}}),
                 json.dumps({"Resources": {"p": {"Type": "AWS::IoT::Policy",
                                                 "Properties": {}}}})):
        with aws_error("InvalidRequestException", 400):
            iot.register_thing(templateBody=body)


def test_register_thing_with_the_cli(server, aws_cli, unique, tmp_path):
    name = unique("cli")
    body = tmp_path / "t.json"
    body.write_text(json.dumps({
        "Parameters": {"ThingName": {"Type": "String"}},
        "Resources": {"thing": {"Type": "AWS::IoT::Thing",
                                "Properties": {"ThingName": {"Ref": "ThingName"}}}}}))
    out = aws_cli("iot", "register-thing", "--template-body", "file://%s" % body,
                  "--parameters", json.dumps({"ThingName": name}))
    assert out["resourceArns"]["thing"].endswith(":thing/" + name)
    assert aws_cli("iot", "describe-thing", "--thing-name", name)["thingName"] == name
