"""IoT policies: documents and their validation, versions (at most five),
attachment to certificates and thing groups, effective policies, and
TestAuthorization with the policy examples of the AWS IoT developer guide
(only the account id and the names are changed)."""

import datetime
import json

import pytest


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _collect(call, key, **kw):
    out, marker = [], None
    while True:
        args = dict(kw)
        if marker:
            args["marker"] = marker
        page = call(**args)
        out.extend(page.get(key, []))
        marker = page.get("nextMarker")
        if not marker:
            return out


def _doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def _deny(actions, resources):
    return {"Effect": "Deny", "Action": actions, "Resource": resources}


ALLOW_ALL = _doc(_allow("iot:*", "*"))


def _policy_names(client):
    return {p["policyName"] for p in _collect(client.list_policies, "policies", pageSize=250)}


def _versions(client, policy):
    return {v["versionId"]: v["isDefaultVersion"]
            for v in client.list_policy_versions(policyName=policy)["policyVersions"]}


def _names(policies):
    return sorted(p["policyName"] for p in policies)


class Arns:
    def __init__(self, account_id, region="us-east-1"):
        self.prefix = "arn:aws:iot:%s:%s:" % (region, account_id)

    def __call__(self, rest):
        return self.prefix + rest

    def policy(self, name):
        return self.prefix + "policy/" + name


@pytest.fixture
def arn(account_id):
    return Arns(account_id)


@pytest.fixture
def device(iot, unique):
    """A thing with an ACTIVE certificate attached to it (clientId = thing name)."""
    thing = unique("dev")
    iot.create_thing(thingName=thing)
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_thing_principal(thingName=thing, principal=cert["certificateArn"])
    return {"thing": thing, "cert_arn": cert["certificateArn"], "cert_id": cert["certificateId"]}


def _auth(client, principal, client_id, action, resource, **kw):
    """One TestAuthorization call with one authInfo -> that authResult."""
    args = dict(principal=principal, authInfos=[{"actionType": action, "resources": [resource]}])
    if client_id is not None:
        args["clientId"] = client_id
    args.update(kw)
    results = client.test_authorization(**args)["authResults"]
    assert len(results) == 1
    r = results[0]
    assert r["authInfo"] == {"actionType": action, "resources": [resource]}
    return r


def _decision(*a, **kw):
    return _auth(*a, **kw)["authDecision"]


def _new_policy(client, unique, document, prefix="pol"):
    name = unique(prefix)
    client.create_policy(policyName=name, policyDocument=document)
    return name


# --------------------------------------------------------------------------
# CreatePolicy / GetPolicy / ListPolicies / DeletePolicy
# --------------------------------------------------------------------------


def test_create_and_get_policy(iot, unique, arn):
    name = unique("getpol")
    document = _doc(_allow(["iot:Connect"], ["*"]))
    created = iot.create_policy(policyName=name, policyDocument=document)
    assert created["policyName"] == name
    assert created["policyArn"] == arn.policy(name)
    assert created["policyVersionId"] == "1"
    assert json.loads(created["policyDocument"]) == json.loads(document)

    got = iot.get_policy(policyName=name)
    assert got["policyName"] == name
    assert got["policyArn"] == arn.policy(name)
    assert got["defaultVersionId"] == "1"
    assert json.loads(got["policyDocument"]) == json.loads(document)
    assert isinstance(got["creationDate"], datetime.datetime)
    assert isinstance(got["lastModifiedDate"], datetime.datetime)
    assert got["generationId"]

    v1 = iot.get_policy_version(policyName=name, policyVersionId="1")
    assert v1["policyName"] == name
    assert v1["policyArn"] == arn.policy(name)
    assert v1["policyVersionId"] == "1"
    assert v1["isDefaultVersion"] is True
    assert json.loads(v1["policyDocument"]) == json.loads(document)
    assert _versions(iot, name) == {"1": True}

    listed = {p["policyName"]: p for p in _collect(iot.list_policies, "policies", pageSize=250)}
    assert listed[name]["policyArn"] == arn.policy(name)


def test_create_policy_twice_already_exists(iot, unique, aws_error):
    name = _new_policy(iot, unique, ALLOW_ALL)
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_policy(policyName=name, policyDocument=_doc(_allow("iot:Connect", "*")))
    assert json.loads(iot.get_policy(policyName=name)["policyDocument"]) == json.loads(ALLOW_ALL)
    assert _versions(iot, name) == {"1": True}


def test_list_policies_pages(iot, unique):
    made = {_new_policy(iot, unique, ALLOW_ALL, "page") for _ in range(3)}
    first = iot.list_policies(pageSize=1)
    assert len(first["policies"]) == 1
    assert first.get("nextMarker")
    names = [p["policyName"] for p in _collect(iot.list_policies, "policies", pageSize=2)]
    assert len(names) == len(set(names))
    assert made <= set(names)


def test_unknown_policy_not_found(iot, unique, aws_error):
    name = unique("nopol")
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy(policyName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_policy(policyName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.create_policy_version(policyName=name, policyDocument=ALLOW_ALL)
    with aws_error("ResourceNotFoundException", 404):
        iot.list_policy_versions(policyName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy_version(policyName=name, policyVersionId="1")


def test_accepts_documented_policy_documents(iot, unique, arn):
    # Documents taken from the developer guide and the AWS CLI examples.
    documents = [
        # "Connect and publish policy examples" (registered devices)
        _doc(_allow(["iot:Publish"], [arn("topic/${iot:Connection.Thing.ThingName}")]),
             _allow(["iot:Connect"], [arn("client/${iot:Connection.Thing.ThingName}")])),
        # "Thing policy examples": a Bool condition on a thing policy variable
        json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["*"],
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}}}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["iot:Publish"],
            "Resource": arn("topic/device/stats"),
            "Condition": {
                "StringEquals": {"iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
                                 "iot:Connection.Thing.ThingTypeName": "Thing_Type_Name"},
                "Bool": {"iot:Connection.Thing.IsAttached": "true"}}}]}),
        # Shadow, retained-message and jobs actions, topic filters
        _doc(_allow(["iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow",
                     "iot:RetainPublish", "iot:GetRetainedMessage", "iot:ListRetainedMessages"],
                    ["*"]),
             _allow(["iot:Subscribe"], [arn("topicfilter/$aws/things/*/shadow/#")]),
             _allow(["iot:Receive"], [arn("topic/$aws/things/*/shadow/*")])),
    ]
    for document in documents:
        name = _new_policy(iot, unique, document, "docpol")
        assert json.loads(iot.get_policy(policyName=name)["policyDocument"]) == json.loads(document)


# IoT policies may name the IoT API's own actions, as the AWS CLI example does.
def test_accepts_cli_example_control_plane_action(iot, unique):
    # The AWS CLI's own create-policy-version example, whose output shows AWS
    # accepting it.
    document = _doc(_allow("iot:UpdateCertificate", "*"))
    name = _new_policy(iot, unique, document, "ctlpol")
    created = iot.create_policy_version(policyName=name, policyDocument=document,
                                        setAsDefault=True)
    assert created["policyVersionId"] == "2"


# --------------------------------------------------------------------------
# Malformed documents (CreatePolicy and CreatePolicyVersion)
# --------------------------------------------------------------------------


MALFORMED = {
    "bad-json": '{"Version": "2012-10-17", "Statement": [',
    "not-an-object": '["iot:Connect"]',
    "service-prefix-with-a-space": _doc(_allow(" iot:Connect", "*")),
    "action-without-a-service": _doc(_allow(["iot:Connect", "Publish"], "*")),
    "resource-not-an-arn": _doc(_allow("iot:Publish", "topic/foo")),
    "unknown-condition-operator": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
        "Condition": {"StringEqualz": {"iot:ClientId": "a"}}}]}),
    "bad-effect": _doc({"Effect": "Maybe", "Action": "iot:Connect", "Resource": "*"}),
    "no-statement": json.dumps({"Version": "2012-10-17"}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_create_policy_malformed(iot, unique, aws_error, case):
    name = unique("bad")
    with aws_error("MalformedPolicyException", 400):
        iot.create_policy(policyName=name, policyDocument=MALFORMED[case])
    # Nothing was stored.
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy(policyName=name)
    assert name not in _policy_names(iot)
    # The name is still free.
    iot.create_policy(policyName=name, policyDocument=ALLOW_ALL)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_create_policy_version_malformed(iot, unique, aws_error, case):
    name = _new_policy(iot, unique, ALLOW_ALL)
    with aws_error("MalformedPolicyException", 400):
        iot.create_policy_version(policyName=name, policyDocument=MALFORMED[case],
                                  setAsDefault=True)
    assert _versions(iot, name) == {"1": True}
    got = iot.get_policy(policyName=name)
    assert got["defaultVersionId"] == "1"
    assert json.loads(got["policyDocument"]) == json.loads(ALLOW_ALL)


# --------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------


def _version_doc(i):
    return _doc(_allow("iot:Publish", "arn:aws:iot:us-east-1:123456789012:topic/v%d" % i))


def test_policy_versions_limit_default_and_delete(iot, unique, aws_error):
    name = unique("vers")
    iot.create_policy(policyName=name, policyDocument=_version_doc(1))
    for i in range(2, 6):
        created = iot.create_policy_version(policyName=name, policyDocument=_version_doc(i))
        assert created["policyVersionId"] == str(i)
        assert created["isDefaultVersion"] is False
        assert json.loads(created["policyDocument"]) == json.loads(_version_doc(i))
    assert _versions(iot, name) == {"1": True, "2": False, "3": False, "4": False, "5": False}

    # A sixth version is refused; nothing is half-stored.
    with aws_error("VersionsLimitExceededException", 409):
        iot.create_policy_version(policyName=name, policyDocument=_version_doc(6),
                                  setAsDefault=True)
    assert _versions(iot, name) == {"1": True, "2": False, "3": False, "4": False, "5": False}
    assert iot.get_policy(policyName=name)["defaultVersionId"] == "1"

    # GetPolicy answers the default version's document.
    iot.set_default_policy_version(policyName=name, policyVersionId="3")
    got = iot.get_policy(policyName=name)
    assert got["defaultVersionId"] == "3"
    assert json.loads(got["policyDocument"]) == json.loads(_version_doc(3))
    assert _versions(iot, name) == {"1": False, "2": False, "3": True, "4": False, "5": False}
    assert iot.get_policy_version(policyName=name, policyVersionId="3")["isDefaultVersion"]
    assert not iot.get_policy_version(policyName=name, policyVersionId="1")["isDefaultVersion"]

    # The default version cannot be deleted.
    with aws_error("DeleteConflictException", 409):
        iot.delete_policy_version(policyName=name, policyVersionId="3")
    assert "3" in _versions(iot, name)

    # Deleting another one makes room; version ids are not reused.
    iot.delete_policy_version(policyName=name, policyVersionId="2")
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy_version(policyName=name, policyVersionId="2")
    created = iot.create_policy_version(policyName=name, policyDocument=_version_doc(6),
                                        setAsDefault=True)
    assert created["policyVersionId"] == "6"
    assert created["isDefaultVersion"] is True
    got = iot.get_policy(policyName=name)
    assert got["defaultVersionId"] == "6"
    assert json.loads(got["policyDocument"]) == json.loads(_version_doc(6))
    assert _versions(iot, name) == {"1": False, "3": False, "4": False, "5": False, "6": True}


def test_set_default_and_delete_unknown_version(iot, unique, aws_error):
    name = _new_policy(iot, unique, ALLOW_ALL)
    with aws_error("ResourceNotFoundException", 404):
        iot.set_default_policy_version(policyName=name, policyVersionId="7")
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy_version(policyName=name, policyVersionId="7")
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_policy_version(policyName=name, policyVersionId="7")
    assert _versions(iot, name) == {"1": True}


def test_delete_policy_with_versions_conflicts(iot, unique, aws_error):
    name = _new_policy(iot, unique, _version_doc(1))
    iot.create_policy_version(policyName=name, policyDocument=_version_doc(2))
    iot.create_policy_version(policyName=name, policyDocument=_version_doc(3), setAsDefault=True)
    with aws_error("DeleteConflictException", 409):
        iot.delete_policy(policyName=name)
    assert _versions(iot, name) == {"1": False, "2": False, "3": True}

    iot.delete_policy_version(policyName=name, policyVersionId="1")
    with aws_error("DeleteConflictException", 409):
        iot.delete_policy(policyName=name)
    iot.delete_policy_version(policyName=name, policyVersionId="2")
    # Only the default version is left: it goes with the policy.
    iot.delete_policy(policyName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy(policyName=name)
    with aws_error("ResourceNotFoundException", 404):
        iot.get_policy_version(policyName=name, policyVersionId="3")
    assert name not in _policy_names(iot)
    # The name can be used again, starting at version 1.
    assert iot.create_policy(policyName=name, policyDocument=ALLOW_ALL)["policyVersionId"] == "1"


def test_policy_versions_with_cli(aws_cli, unique, tmp_path):
    name = unique("clivers")
    (tmp_path / "v1.json").write_text(_version_doc(1))
    (tmp_path / "policy.json").write_text(_doc(_allow("iot:Connect", "*")))
    aws_cli("iot", "create-policy", "--policy-name", name,
            "--policy-document", "file://" + str(tmp_path / "v1.json"))
    created = aws_cli("iot", "create-policy-version", "--policy-name", name,
                      "--policy-document", "file://" + str(tmp_path / "policy.json"),
                      "--set-as-default")
    assert created["policyVersionId"] == "2"
    assert created["isDefaultVersion"] is True
    listed = aws_cli("iot", "list-policy-versions", "--policy-name", name)["policyVersions"]
    assert {v["versionId"]: v["isDefaultVersion"] for v in listed} == {"1": False, "2": True}
    assert aws_cli("iot", "set-default-policy-version", "--policy-name", name,
                   "--policy-version-id", "1") is None
    assert aws_cli("iot", "get-policy", "--policy-name", name)["defaultVersionId"] == "1"
    assert aws_cli("iot", "delete-policy-version", "--policy-name", name,
                   "--policy-version-id", "2") is None
    assert aws_cli("iot", "delete-policy", "--policy-name", name) is None


# --------------------------------------------------------------------------
# AttachPolicy / DetachPolicy / ListAttachedPolicies / ListTargetsForPolicy
# --------------------------------------------------------------------------


def test_attach_detach_policy_to_certificate(iot, unique, arn, aws_error):
    p1, p2 = _new_policy(iot, unique, ALLOW_ALL), _new_policy(iot, unique, ALLOW_ALL)
    cert_arn = iot.create_keys_and_certificate()["certificateArn"]
    iot.attach_policy(policyName=p1, target=cert_arn)
    iot.attach_policy(policyName=p1, target=cert_arn)  # idempotent
    iot.attach_policy(policyName=p2, target=cert_arn)

    attached = iot.list_attached_policies(target=cert_arn)["policies"]
    assert _names(attached) == sorted([p1, p2])
    assert {p["policyName"]: p["policyArn"] for p in attached} == {
        p1: arn.policy(p1), p2: arn.policy(p2)}
    assert iot.list_targets_for_policy(policyName=p1)["targets"] == [cert_arn]

    # A policy with targets cannot be deleted.
    with aws_error("DeleteConflictException", 409):
        iot.delete_policy(policyName=p1)
    assert iot.get_policy(policyName=p1)["policyName"] == p1

    iot.detach_policy(policyName=p1, target=cert_arn)
    assert _names(iot.list_attached_policies(target=cert_arn)["policies"]) == [p2]
    assert iot.list_targets_for_policy(policyName=p1)["targets"] == []
    iot.delete_policy(policyName=p1)


def test_attach_policy_to_thing_group_and_recursive_listing(iot, unique, arn, aws_error):
    parent, child = unique("pgrp"), unique("cgrp")
    parent_arn = iot.create_thing_group(thingGroupName=parent)["thingGroupArn"]
    child_arn = iot.create_thing_group(thingGroupName=child,
                                       parentGroupName=parent)["thingGroupArn"]
    p_parent = _new_policy(iot, unique, ALLOW_ALL, "pp")
    p_child = _new_policy(iot, unique, ALLOW_ALL, "pc")
    iot.attach_policy(policyName=p_parent, target=parent_arn)
    iot.attach_policy(policyName=p_child, target=child_arn)

    assert _names(iot.list_attached_policies(target=child_arn)["policies"]) == [p_child]
    assert _names(iot.list_attached_policies(target=child_arn, recursive=False)["policies"]) \
        == [p_child]
    assert _names(iot.list_attached_policies(target=child_arn, recursive=True)["policies"]) \
        == sorted([p_child, p_parent])
    assert _names(iot.list_attached_policies(target=parent_arn, recursive=True)["policies"]) \
        == [p_parent]
    assert iot.list_targets_for_policy(policyName=p_parent)["targets"] == [parent_arn]

    with aws_error("DeleteConflictException", 409):
        iot.delete_policy(policyName=p_parent)
    iot.detach_policy(policyName=p_parent, target=parent_arn)
    assert iot.list_attached_policies(target=parent_arn)["policies"] == []
    iot.delete_policy(policyName=p_parent)


def test_list_targets_for_policy_pages(iot, unique):
    name = _new_policy(iot, unique, ALLOW_ALL)
    arns = set()
    for _ in range(3):
        cert_arn = iot.create_keys_and_certificate()["certificateArn"]
        iot.attach_policy(policyName=name, target=cert_arn)
        arns.add(cert_arn)
    first = iot.list_targets_for_policy(policyName=name, pageSize=2)
    assert len(first["targets"]) == 2
    assert first.get("nextMarker")
    targets = _collect(iot.list_targets_for_policy, "targets", policyName=name, pageSize=2)
    assert sorted(targets) == sorted(arns)


def test_list_attached_policies_bad_targets(iot, account_id, aws_error):
    with aws_error("InvalidRequestException", 400):
        iot.list_attached_policies(target="not-an-arn")
    with aws_error("ResourceNotFoundException", 404):
        iot.list_attached_policies(
            target="arn:aws:iot:us-east-1:%s:cert/%s" % (account_id, "ef" * 32))


# DetachPolicy validates its target as AttachPolicy does (same PolicyTarget shape).
def test_detach_policy_non_arn_target(iot, unique, aws_error):
    name = _new_policy(iot, unique, ALLOW_ALL)
    with aws_error("InvalidRequestException", 400):
        iot.detach_policy(policyName=name, target="not-an-arn")


def test_attach_unknown_policy(iot, unique, aws_error):
    cert_arn = iot.create_keys_and_certificate()["certificateArn"]
    with aws_error("ResourceNotFoundException", 404):
        iot.attach_policy(policyName=unique("ghost"), target=cert_arn)
    assert iot.list_attached_policies(target=cert_arn)["policies"] == []


def test_attach_policy_bad_targets(iot, server, unique, account_id, aws_error):
    name = _new_policy(iot, unique, ALLOW_ALL)
    west_cert = server.client(region="eu-west-1").create_keys_and_certificate()["certificateArn"]
    cases = [
        ("not-an-arn", "InvalidRequestException", 400),
        ("arn:aws:iot:us-east-1:%s:cert/%s" % (account_id, "cd" * 32),
         "ResourceNotFoundException", 404),
        ("arn:aws:iot:us-east-1:%s:thinggroup/%s" % (account_id, unique("nogroup")),
         "ResourceNotFoundException", 404),
        # A certificate that exists, but in another region.
        (west_cert, "ResourceNotFoundException", 404),
    ]
    for target, code, status in cases:
        with aws_error(code, status):
            iot.attach_policy(policyName=name, target=target)
    assert iot.list_targets_for_policy(policyName=name)["targets"] == []
    # Nothing blocks the delete: nothing was attached.
    iot.delete_policy(policyName=name)


# --------------------------------------------------------------------------
# GetEffectivePolicies
# --------------------------------------------------------------------------


def test_effective_policies_of_certificate_and_thing_groups(iot, unique, device, arn):
    root, mid, leaf, other = (unique(p) for p in ("eroot", "emid", "eleaf", "eother"))
    iot.create_thing_group(thingGroupName=root)
    iot.create_thing_group(thingGroupName=mid, parentGroupName=root)
    iot.create_thing_group(thingGroupName=leaf, parentGroupName=mid)
    iot.create_thing_group(thingGroupName=other)
    iot.add_thing_to_thing_group(thingGroupName=leaf, thingName=device["thing"])

    docs = {}
    for target in ("cert", root, mid, leaf, other):
        docs[target] = _doc(_allow("iot:Publish", arn("topic/%s" % unique("t"))))
    names = {t: _new_policy(iot, unique, docs[t], "eff") for t in docs}
    iot.attach_policy(policyName=names["cert"], target=device["cert_arn"])
    for g in (root, mid, leaf, other):
        iot.attach_policy(policyName=names[g], target=arn("thinggroup/" + g))

    both = iot.get_effective_policies(principal=device["cert_arn"],
                                      thingName=device["thing"])["effectivePolicies"]
    assert _names(both) == sorted(names[t] for t in ("cert", root, mid, leaf))
    for p in both:
        target = next(t for t, n in names.items() if n == p["policyName"])
        assert p["policyArn"] == arn.policy(p["policyName"])
        assert json.loads(p["policyDocument"]) == json.loads(docs[target])

    only_cert = iot.get_effective_policies(principal=device["cert_arn"])["effectivePolicies"]
    assert _names(only_cert) == [names["cert"]]
    only_thing = iot.get_effective_policies(thingName=device["thing"])["effectivePolicies"]
    assert _names(only_thing) == sorted(names[g] for g in (root, mid, leaf))


def test_effective_policies_with_cli(aws_cli, iot, unique, device, arn):
    name = _new_policy(iot, unique, ALLOW_ALL, "clieff")
    iot.attach_policy(policyName=name, target=device["cert_arn"])
    out = aws_cli("iot", "get-effective-policies", "--thing-name", device["thing"],
                  "--principal", device["cert_arn"])
    assert _names(out["effectivePolicies"]) == [name]
    assert out["effectivePolicies"][0]["policyArn"] == arn.policy(name)


# --------------------------------------------------------------------------
# TestAuthorization
# --------------------------------------------------------------------------


def test_authorization_connect_and_publish_example(iot, unique, device, arn):
    # Developer guide, "Connect and publish policy examples", for devices
    # registered as things (plus the thing's sub-topics).
    policy = _new_policy(iot, unique, _doc(
        _allow(["iot:Publish"], [arn("topic/${iot:Connection.Thing.ThingName}"),
                                 arn("topic/${iot:Connection.Thing.ThingName}/*")]),
        _allow(["iot:Connect"], [arn("client/${iot:Connection.Thing.ThingName}")])), "cp")
    iot.attach_policy(policyName=policy, target=device["cert_arn"])
    cert, thing = device["cert_arn"], device["thing"]
    expected_policy = {"policyName": policy, "policyArn": arn.policy(policy)}

    r = _auth(iot, cert, thing, "CONNECT", arn("client/" + thing))
    assert r["authDecision"] == "ALLOWED"
    assert r["allowed"]["policies"] == [expected_policy]

    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/" + thing)) == "ALLOWED"
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/%s/telemetry" % thing)) == "ALLOWED"

    # Another thing's topic: no statement matches.
    r = _auth(iot, cert, thing, "PUBLISH", arn("topic/someone-else/telemetry"))
    assert r["authDecision"] == "IMPLICIT_DENY"
    # "Policies that don't contain a matching allow or deny statement."
    assert r["denied"]["implicitDeny"]["policies"] == [expected_policy]
    assert not r.get("allowed", {}).get("policies")

    # No subscribe statement at all.
    assert _decision(iot, cert, thing, "SUBSCRIBE",
                     arn("topicfilter/%s/#" % thing)) == "IMPLICIT_DENY"

    # A client id that names a thing this certificate is not attached to:
    # the thing-name variable does not resolve.
    stranger = unique("stranger")
    iot.create_thing(thingName=stranger)
    assert _decision(iot, cert, stranger, "CONNECT", arn("client/" + stranger)) == "IMPLICIT_DENY"
    assert _decision(iot, cert, stranger, "PUBLISH",
                     arn("topic/%s/telemetry" % stranger)) == "IMPLICIT_DENY"
    # Nor for a client id that is no thing at all.
    ghost = unique("ghost")
    assert _decision(iot, cert, ghost, "CONNECT", arn("client/" + ghost)) == "IMPLICIT_DENY"

    # The same policy on a certificate not attached to the thing.
    lone = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    iot.attach_policy(policyName=policy, target=lone)
    assert _decision(iot, lone, thing, "CONNECT", arn("client/" + thing)) == "IMPLICIT_DENY"
    # Once attached, it resolves.
    iot.attach_thing_principal(thingName=thing, principal=lone)
    assert _decision(iot, lone, thing, "CONNECT", arn("client/" + thing)) == "ALLOWED"


def test_authorization_client_id_variable_example(iot, unique, arn):
    # Developer guide, "Connect and publish policy examples", for devices not
    # registered as things: connect as client1, publish on topic/${iot:ClientId}.
    client1 = unique("client1")
    policy = _new_policy(iot, unique, _doc(
        _allow(["iot:Publish"], [arn("topic/${iot:ClientId}")]),
        _allow(["iot:Connect"], [arn("client/" + client1)])), "cid")
    cert = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    iot.attach_policy(policyName=policy, target=cert)

    assert _decision(iot, cert, client1, "CONNECT", arn("client/" + client1)) == "ALLOWED"
    assert _decision(iot, cert, client1, "PUBLISH", arn("topic/" + client1)) == "ALLOWED"
    assert _decision(iot, cert, client1, "PUBLISH", arn("topic/" + client1 + "x")) \
        == "IMPLICIT_DENY"
    client2 = unique("client2")
    assert _decision(iot, cert, client2, "CONNECT", arn("client/" + client2)) == "IMPLICIT_DENY"
    assert _decision(iot, cert, client2, "PUBLISH", arn("topic/" + client2)) == "ALLOWED"
    assert _decision(iot, cert, client2, "PUBLISH", arn("topic/" + client1)) == "IMPLICIT_DENY"


def test_authorization_explicit_deny_examples(iot, unique, device, arn):
    # Developer guide, "Connect policy examples": deny client1 and client2,
    # allow the client id that is the attached thing's name.
    cert, thing = device["cert_arn"], device["thing"]
    c1, c2 = unique("client1"), unique("client2")
    connect_policy = _new_policy(iot, unique, _doc(
        _deny(["iot:Connect"], [arn("client/" + c1), arn("client/" + c2)]),
        _allow(["iot:Connect"], [arn("client/${iot:Connection.Thing.ThingName}")])), "deny")
    # "Policies to deny publishing messages to subtopics of a topic name".
    publish_policy = _new_policy(iot, unique, _doc(
        _allow(["iot:Publish"], [arn("topic/department/*")]),
        _deny(["iot:Publish"], [arn("topic/department/admins/*")])), "pubdeny")
    iot.attach_policy(policyName=connect_policy, target=cert)
    iot.attach_policy(policyName=publish_policy, target=cert)

    assert _decision(iot, cert, thing, "CONNECT", arn("client/" + thing)) == "ALLOWED"
    r = _auth(iot, cert, c1, "CONNECT", arn("client/" + c1))
    assert r["authDecision"] == "EXPLICIT_DENY"
    assert r["denied"]["explicitDeny"]["policies"] == [
        {"policyName": connect_policy, "policyArn": arn.policy(connect_policy)}]
    assert _decision(iot, cert, c2, "CONNECT", arn("client/" + c2)) == "EXPLICIT_DENY"

    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/department/sales")) == "ALLOWED"
    r = _auth(iot, cert, thing, "PUBLISH", arn("topic/department/admins/salaries"))
    assert r["authDecision"] == "EXPLICIT_DENY"
    assert _names(r["denied"]["explicitDeny"]["policies"]) == [publish_policy]

    # An explicit deny in one policy beats an allow-everything in another.
    everything = _new_policy(iot, unique, ALLOW_ALL, "all")
    iot.attach_policy(policyName=everything, target=cert)
    r = _auth(iot, cert, c1, "CONNECT", arn("client/" + c1))
    assert r["authDecision"] == "EXPLICIT_DENY"
    assert _names(r["denied"]["explicitDeny"]["policies"]) == [connect_policy]
    assert _decision(iot, cert, thing, "PUBLISH",
                     arn("topic/department/admins/salaries")) == "EXPLICIT_DENY"
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/anything")) == "ALLOWED"


def test_authorization_policy_names_to_skip_and_add(iot, unique, device, arn):
    cert, thing = device["cert_arn"], device["thing"]
    everything = _new_policy(iot, unique, ALLOW_ALL, "all")
    secret = _new_policy(iot, unique, _doc(_deny("iot:Publish", arn("topic/secret/*"))), "sec")
    extra = _new_policy(iot, unique, _doc(_allow("iot:Subscribe", arn("topicfilter/extra/*"))),
                        "extra")
    iot.attach_policy(policyName=everything, target=cert)
    iot.attach_policy(policyName=secret, target=cert)
    topic = arn("topic/secret/plans")

    assert _decision(iot, cert, thing, "PUBLISH", topic) == "EXPLICIT_DENY"
    # Skipping the deny policy leaves the allow.
    r = _auth(iot, cert, thing, "PUBLISH", topic, policyNamesToSkip=[secret])
    assert r["authDecision"] == "ALLOWED"
    assert _names(r["allowed"]["policies"]) == [everything]
    # Skipping both leaves nothing.
    assert _decision(iot, cert, thing, "PUBLISH", topic,
                     policyNamesToSkip=[secret, everything]) == "IMPLICIT_DENY"

    # A policy that is not attached counts once added.
    sub = arn("topicfilter/extra/feed")
    assert _decision(iot, cert, thing, "SUBSCRIBE", sub,
                     policyNamesToSkip=[everything]) == "IMPLICIT_DENY"
    r = _auth(iot, cert, thing, "SUBSCRIBE", sub, policyNamesToSkip=[everything],
              policyNamesToAdd=[extra])
    assert r["authDecision"] == "ALLOWED"
    assert _names(r["allowed"]["policies"]) == [extra]
    # Only a simulation: nothing was attached or detached.
    assert _names(iot.list_attached_policies(target=cert)["policies"]) == sorted([everything,
                                                                                  secret])


def test_authorization_several_auth_infos(iot, unique, device, arn):
    cert, thing = device["cert_arn"], device["thing"]
    policy = _new_policy(iot, unique, _doc(
        _allow("iot:Connect", arn("client/${iot:Connection.Thing.ThingName}")),
        _allow(["iot:Subscribe"], [arn("topicfilter/${iot:Connection.Thing.ThingName}/*")]),
        _allow(["iot:Receive"], [arn("topic/${iot:Connection.Thing.ThingName}/*")]),
        _deny(["iot:Receive"], [arn("topic/${iot:Connection.Thing.ThingName}/private")])), "multi")
    iot.attach_policy(policyName=policy, target=cert)
    infos = [
        {"actionType": "CONNECT", "resources": [arn("client/" + thing)]},
        {"actionType": "SUBSCRIBE", "resources": [arn("topicfilter/%s/cmd" % thing)]},
        {"actionType": "RECEIVE", "resources": [arn("topic/%s/cmd" % thing)]},
        {"actionType": "RECEIVE", "resources": [arn("topic/%s/private" % thing)]},
        {"actionType": "PUBLISH", "resources": [arn("topic/%s/cmd" % thing)]},
    ]
    results = iot.test_authorization(principal=cert, clientId=thing,
                                     authInfos=infos)["authResults"]
    assert [r["authInfo"] for r in results] == infos
    assert [r["authDecision"] for r in results] == [
        "ALLOWED", "ALLOWED", "ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY"]


def test_authorization_through_thing_group_policy(iot, unique, device, arn):
    # A policy attached to a thing group applies to a principal attached to a
    # thing of the group (and of its sub-groups), when it connects as that thing.
    cert, thing = device["cert_arn"], device["thing"]
    parent, child = unique("agrp"), unique("achild")
    parent_arn = iot.create_thing_group(thingGroupName=parent)["thingGroupArn"]
    child_arn = iot.create_thing_group(thingGroupName=child,
                                       parentGroupName=parent)["thingGroupArn"]
    iot.add_thing_to_thing_group(thingGroupName=child, thingName=thing)
    fleet = _new_policy(iot, unique, _doc(
        _allow("iot:Connect", arn("client/${iot:Connection.Thing.ThingName}")),
        _allow("iot:Publish", arn("topic/fleet/${iot:Connection.Thing.ThingName}"))), "fleet")
    iot.attach_policy(policyName=fleet, target=parent_arn)
    local = _new_policy(iot, unique, _doc(_allow("iot:Subscribe", arn("topicfilter/local/*"))),
                        "local")
    iot.attach_policy(policyName=local, target=child_arn)

    # The certificate itself has no policy.
    assert iot.list_attached_policies(target=cert)["policies"] == []
    r = _auth(iot, cert, thing, "CONNECT", arn("client/" + thing))
    assert r["authDecision"] == "ALLOWED"
    assert _names(r["allowed"]["policies"]) == [fleet]
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/fleet/" + thing)) == "ALLOWED"
    assert _decision(iot, cert, thing, "SUBSCRIBE", arn("topicfilter/local/x")) == "ALLOWED"

    # Connecting under another client id is not connecting as the thing.
    other = unique("other")
    assert _decision(iot, cert, other, "SUBSCRIBE", arn("topicfilter/local/x")) \
        == "IMPLICIT_DENY"
    assert _decision(iot, cert, other, "CONNECT", arn("client/" + other)) == "IMPLICIT_DENY"

    # Leaving the group takes the group's policies away.
    iot.remove_thing_from_thing_group(thingGroupName=child, thingName=thing)
    assert _decision(iot, cert, thing, "CONNECT", arn("client/" + thing)) == "IMPLICIT_DENY"


def test_authorization_with_cli(aws_cli, iot, unique, device, arn):
    cert, thing = device["cert_arn"], device["thing"]
    everything = _new_policy(iot, unique, ALLOW_ALL, "all")
    deny = _new_policy(iot, unique, _doc(_deny("iot:Connect", arn("client/blocked-*"))), "blk")
    extra = _new_policy(iot, unique, _doc(_allow("iot:Receive", arn("topic/extra"))), "extra")
    iot.attach_policy(policyName=everything, target=cert)
    iot.attach_policy(policyName=deny, target=cert)
    blocked = "blocked-" + thing

    def run(*extra_args, client_id=thing, info):
        out = aws_cli("iot", "test-authorization", "--principal", cert,
                      "--client-id", client_id, "--auth-infos", info, *extra_args)
        (result,) = out["authResults"]
        return result

    r = run(info="actionType=CONNECT,resources=" + arn("client/" + thing))
    assert r["authDecision"] == "ALLOWED"
    r = run(client_id=blocked, info="actionType=CONNECT,resources=" + arn("client/" + blocked))
    assert r["authDecision"] == "EXPLICIT_DENY"
    assert _names(r["denied"]["explicitDeny"]["policies"]) == [deny]
    r = run("--policy-names-to-skip", deny, client_id=blocked,
            info="actionType=CONNECT,resources=" + arn("client/" + blocked))
    assert r["authDecision"] == "ALLOWED"
    r = run("--policy-names-to-skip", everything, deny,
            info="actionType=RECEIVE,resources=" + arn("topic/extra"))
    assert r["authDecision"] == "IMPLICIT_DENY"
    r = run("--policy-names-to-skip", everything, deny, "--policy-names-to-add", extra,
            info="actionType=RECEIVE,resources=" + arn("topic/extra"))
    assert r["authDecision"] == "ALLOWED"
    assert _names(r["allowed"]["policies"]) == [extra]



def test_authorization_policy_wildcards(iot, unique, arn):
    # Developer guide, "Publish/Subscribe policy examples": in a policy `*` is
    # any run of characters, `?` any single character, and the MQTT wildcards
    # `+` and `#` are plain characters.
    cert = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    policy = _new_policy(iot, unique, _doc(
        _allow("iot:Publish", [arn("topic/sensor/???"), arn("topic/logs/*")]),
        _allow("iot:Subscribe", arn("topicfilter/foo/+/bar"))), "wild")
    iot.attach_policy(policyName=policy, target=cert)
    cid = unique("c")
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/sensor/abc")) == "ALLOWED"
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/sensor/ab")) == "IMPLICIT_DENY"
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/sensor/abcd")) == "IMPLICIT_DENY"
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/logs/a/b/c")) == "ALLOWED"
    assert _decision(iot, cert, cid, "SUBSCRIBE", arn("topicfilter/foo/+/bar")) == "ALLOWED"
    assert _decision(iot, cert, cid, "SUBSCRIBE", arn("topicfilter/foo/baz/bar")) \
        == "IMPLICIT_DENY"
    # Topics are case sensitive.
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/Logs/a")) == "IMPLICIT_DENY"


def test_authorization_no_policies_is_implicit_deny(iot, unique, arn):
    cert = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    r = _auth(iot, cert, unique("c"), "CONNECT", arn("client/x"))
    assert r["authDecision"] == "IMPLICIT_DENY"
    assert not r.get("allowed", {}).get("policies")
    assert not r.get("denied", {}).get("explicitDeny", {}).get("policies")


def test_authorization_thing_policy_examples(iot, unique, arn):
    # Developer guide, "Thing policy examples": IsAttached condition, thing
    # type and attribute conditions, and an attribute in the topic.
    ttype = unique("Thing_Type_Name")
    iot.create_thing_type(thingTypeName=ttype)
    thing = unique("sensor")
    iot.create_thing(thingName=thing, thingTypeName=ttype,
                     attributePayload={"attributes": {"attributeName": "attributeValue",
                                                      "floor": "3"}})
    cert = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    iot.attach_thing_principal(thingName=thing, principal=cert)
    policy = _new_policy(iot, unique, json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["*"],
         "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}}},
        {"Effect": "Allow", "Action": ["iot:Publish"], "Resource": arn("topic/device/stats"),
         "Condition": {
             "StringEquals": {"iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
                              "iot:Connection.Thing.ThingTypeName": ttype},
             "Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
        {"Effect": "Allow", "Action": ["iot:Publish"],
         "Resource": arn("topic/floor/${iot:Connection.Thing.Attributes[floor]}/*")},
    ]}), "thingpol")
    iot.attach_policy(policyName=policy, target=cert)

    assert _decision(iot, cert, thing, "CONNECT", arn("client/" + thing)) == "ALLOWED"
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/device/stats")) == "ALLOWED"
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/floor/3/temp")) == "ALLOWED"
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/floor/4/temp")) == "IMPLICIT_DENY"

    # Not connecting as an attached thing: the conditions and variables fail.
    other = unique("other")
    assert _decision(iot, cert, other, "CONNECT", arn("client/" + other)) == "IMPLICIT_DENY"
    assert _decision(iot, cert, other, "PUBLISH", arn("topic/device/stats")) == "IMPLICIT_DENY"

    # Another attribute value fails the StringEquals condition.
    iot.update_thing(thingName=thing,
                     attributePayload={"attributes": {"attributeName": "other"}, "merge": True})
    assert _decision(iot, cert, thing, "PUBLISH", arn("topic/device/stats")) == "IMPLICIT_DENY"
    assert _decision(iot, cert, thing, "CONNECT", arn("client/" + thing)) == "ALLOWED"


def test_authorization_certificate_policy_variables(iot, pki, unique, arn):
    # Developer guide, "X.509 Certificate AWS IoT Core policy variables".
    cn = unique("cn")
    created = iot.create_certificate_from_csr(
        certificateSigningRequest=pki.csr(pki.key("p256"), cn), setAsActive=True)
    cert = created["certificateArn"]
    policy = _new_policy(iot, unique, _doc(
        _allow("iot:Publish", [arn("topic/${iot:Certificate.Subject.CommonName}/*")])),
        "certvar")
    iot.attach_policy(policyName=policy, target=cert)
    cid = unique("c")
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/%s/x" % cn)) == "ALLOWED"
    assert _decision(iot, cert, cid, "PUBLISH", arn("topic/not-%s/x" % cn)) == "IMPLICIT_DENY"


@pytest.mark.parametrize("name", ["bad name!", "x" * 129, "semi;colon"])
def test_create_policy_invalid_name(iot_raw, aws_error, name):
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_policy(policyName=name, policyDocument=ALLOW_ALL)
    assert name not in _policy_names(iot_raw)


def test_authorization_bad_input(iot_raw, arn, aws_error):
    info = [{"actionType": "CONNECT", "resources": [arn("client/x")]}]
    with aws_error("InvalidRequestException", 400):
        iot_raw.test_authorization(principal="not-an-arn", authInfos=info)
    with aws_error("InvalidRequestException", 400):
        iot_raw.test_authorization(principal=arn("cert/" + "ab" * 32), authInfos=[])
    with aws_error("ResourceNotFoundException", 404):
        iot_raw.test_authorization(principal=arn("cert/" + "ab" * 32), authInfos=info)


def test_error_messages_read_as_aws_s(iot, unique, aws_error):
    name = unique("msgpol")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]})
    iot.create_policy(policyName=name, policyDocument=doc)
    with aws_error("ResourceAlreadyExistsException", 409) as e:
        iot.create_policy(policyName=name, policyDocument=doc)
    assert e.value.response["Error"]["Message"] == (
        "Policy cannot be created - name already exists (name=%s)" % name)
    missing = unique("nopol")
    for call in (lambda: iot.get_policy(policyName=missing),
                 lambda: iot.delete_policy(policyName=missing)):
        with aws_error("ResourceNotFoundException", 404) as e:
            call()
        assert e.value.response["Error"]["Message"] == "Policy not found"
