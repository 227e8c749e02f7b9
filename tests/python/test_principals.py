"""Thing principals: AttachThingPrincipal / DetachThingPrincipal and the
listings both ways (ListThingPrincipals, ListPrincipalThings), bad
principals, and how attachments hold things and certificates in place."""

import hashlib
import json

import pytest


def _collect(call, key, **kw):
    """Follow nextToken (ListThingPrincipals / ListPrincipalThings)."""
    out, token = [], None
    while True:
        args = dict(kw)
        if token:
            args["nextToken"] = token
        page = call(**args)
        out.extend(page.get(key, []))
        token = page.get("nextToken")
        if not token:
            return out


def _principals(client, thing, **kw):
    return sorted(_collect(client.list_thing_principals, "principals", thingName=thing, **kw))


def _things(client, principal, **kw):
    return sorted(_collect(client.list_principal_things, "things", principal=principal, **kw))


def _cert(client):
    return client.create_keys_and_certificate()["certificateArn"]


def test_attach_list_detach_both_ways(iot, unique):
    t1, t2 = unique("pt"), unique("pt")
    for t in (t1, t2):
        iot.create_thing(thingName=t)
    c1, c2 = _cert(iot), _cert(iot)

    # A certificate on two things, a thing with two certificates.
    iot.attach_thing_principal(thingName=t1, principal=c1)
    iot.attach_thing_principal(thingName=t2, principal=c1)
    iot.attach_thing_principal(thingName=t1, principal=c2)

    assert _principals(iot, t1) == sorted([c1, c2])
    assert _principals(iot, t2) == [c1]
    assert _things(iot, c1) == sorted([t1, t2])
    assert _things(iot, c2) == [t1]

    # Attaching again changes nothing.
    iot.attach_thing_principal(thingName=t1, principal=c1)
    assert _principals(iot, t1) == sorted([c1, c2])
    assert _things(iot, c1) == sorted([t1, t2])

    iot.detach_thing_principal(thingName=t1, principal=c1)
    assert _principals(iot, t1) == [c2]
    assert _things(iot, c1) == [t2]
    iot.detach_thing_principal(thingName=t2, principal=c1)
    assert _principals(iot, t2) == []
    assert _things(iot, c1) == []


def test_listings_page(iot, unique):
    thing = unique("many")
    iot.create_thing(thingName=thing)
    certs = [_cert(iot) for _ in range(3)]
    for c in certs:
        iot.attach_thing_principal(thingName=thing, principal=c)
    first = iot.list_thing_principals(thingName=thing, maxResults=2)
    assert len(first["principals"]) == 2
    assert first.get("nextToken")
    assert _principals(iot, thing, maxResults=2) == sorted(certs)

    things = [unique("many") for _ in range(3)]
    for t in things:
        iot.create_thing(thingName=t)
        iot.attach_thing_principal(thingName=t, principal=certs[0])
    first = iot.list_principal_things(principal=certs[0], maxResults=2)
    assert len(first["things"]) == 2
    assert first.get("nextToken")
    assert _things(iot, certs[0], maxResults=2) == sorted(things + [thing])


def test_principals_with_cli(aws_cli, iot, unique):
    thing = unique("clip")
    aws_cli("iot", "create-thing", "--thing-name", thing)
    cert = _cert(iot)
    assert aws_cli("iot", "attach-thing-principal", "--thing-name", thing,
                   "--principal", cert) is None
    assert aws_cli("iot", "list-thing-principals", "--thing-name", thing)["principals"] == [cert]
    assert aws_cli("iot", "list-principal-things", "--principal", cert)["things"] == [thing]
    assert aws_cli("iot", "detach-thing-principal", "--thing-name", thing,
                   "--principal", cert) is None
    assert aws_cli("iot", "list-thing-principals", "--thing-name", thing)["principals"] == []


def test_attach_to_unknown_thing(iot, unique, aws_error):
    cert = _cert(iot)
    with aws_error("ResourceNotFoundException", 404):
        iot.attach_thing_principal(thingName=unique("nothing"), principal=cert)
    assert _things(iot, cert) == []


def test_list_principals_of_unknown_thing(iot, unique, aws_error):
    with aws_error("ResourceNotFoundException", 404):
        iot.list_thing_principals(thingName=unique("nothing"))


def test_attach_unknown_certificate(iot, unique, account_id, aws_error):
    thing = unique("lonely")
    iot.create_thing(thingName=thing)
    ghost = "arn:aws:iot:us-east-1:%s:cert/%s" % (
        account_id, hashlib.sha256(unique("ghost").encode()).hexdigest())
    with aws_error("ResourceNotFoundException", 404):
        iot.attach_thing_principal(thingName=thing, principal=ghost)
    assert _principals(iot, thing) == []


def test_attach_certificate_of_another_region(server, iot, unique, aws_error):
    thing = unique("east")
    iot.create_thing(thingName=thing)
    west = server.client(region="eu-west-1")
    west_cert = _cert(west)
    assert ":eu-west-1:" in west_cert
    with aws_error("ResourceNotFoundException", 404):
        iot.attach_thing_principal(thingName=thing, principal=west_cert)
    assert _principals(iot, thing) == []
    # And the other way round: a us-east-1 certificate on a eu-west-1 thing.
    west_thing = unique("west")
    west.create_thing(thingName=west_thing)
    with aws_error("ResourceNotFoundException", 404):
        west.attach_thing_principal(thingName=west_thing, principal=_cert(iot))
    assert _principals(west, west_thing) == []


@pytest.mark.parametrize("principal", ["not-an-arn", "cert/abc", "arn:aws:iot:us-east-1"])
def test_attach_malformed_principal(iot, unique, aws_error, principal):
    thing = unique("badp")
    iot.create_thing(thingName=thing)
    with aws_error("InvalidRequestException", 400):
        iot.attach_thing_principal(thingName=thing, principal=principal)
    assert _principals(iot, thing) == []


def test_delete_thing_with_principal_attached(iot, unique, aws_error):
    # AWS answers "Cannot delete. Thing ... is still attached to one or more
    # principals" (InvalidRequestException) until the principals are detached.
    thing = unique("held")
    iot.create_thing(thingName=thing)
    cert = _cert(iot)
    iot.attach_thing_principal(thingName=thing, principal=cert)
    with aws_error("InvalidRequestException", 400):
        iot.delete_thing(thingName=thing)
    assert iot.describe_thing(thingName=thing)["thingName"] == thing
    assert _things(iot, cert) == [thing]

    iot.detach_thing_principal(thingName=thing, principal=cert)
    iot.delete_thing(thingName=thing)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing(thingName=thing)
    assert _things(iot, cert) == []


def test_deleted_certificate_leaves_no_attachment(iot, unique):
    thing = unique("after")
    iot.create_thing(thingName=thing)
    created = iot.create_keys_and_certificate()
    cert, cert_id = created["certificateArn"], created["certificateId"]
    iot.attach_thing_principal(thingName=thing, principal=cert)
    iot.detach_thing_principal(thingName=thing, principal=cert)
    iot.delete_certificate(certificateId=cert_id)
    assert _principals(iot, thing) == []
    # The thing can go too.
    iot.delete_thing(thingName=thing)



def test_exclusive_attachment_and_the_v2_listings(iot, unique, aws_error, aws_cli):
    # https://docs.aws.amazon.com/iot/latest/developerguide/exclusive-thing.html: an exclusively
    # attached certificate cannot go to another thing until it is detached.
    a, b = unique("xa"), unique("xb")
    for t in (a, b):
        iot.create_thing(thingName=t)
    cert = _cert(iot)
    iot.attach_thing_principal(thingName=a, principal=cert, thingPrincipalType="EXCLUSIVE_THING")
    with aws_error("InvalidRequestException", 400):
        iot.attach_thing_principal(thingName=b, principal=cert)
    with aws_error("InvalidRequestException", 400):
        iot.attach_thing_principal(thingName=b, principal=cert,
                                   thingPrincipalType="EXCLUSIVE_THING")
    # Attaching again to the same thing is allowed.
    iot.attach_thing_principal(thingName=a, principal=cert, thingPrincipalType="EXCLUSIVE_THING")
    v2 = iot.list_thing_principals_v2(thingName=a)
    assert v2["thingPrincipalObjects"] == [
        {"principal": cert, "thingPrincipalType": "EXCLUSIVE_THING"}]
    assert iot.list_thing_principals_v2(
        thingName=a, thingPrincipalType="NON_EXCLUSIVE_THING")["thingPrincipalObjects"] == []
    assert iot.list_principal_things_v2(principal=cert)["principalThingObjects"] == [
        {"thingName": a, "thingPrincipalType": "EXCLUSIVE_THING"}]
    # V1 listings are unchanged.
    assert iot.list_thing_principals(thingName=a)["principals"] == [cert]

    iot.detach_thing_principal(thingName=a, principal=cert)
    iot.attach_thing_principal(thingName=b, principal=cert)
    iot.attach_thing_principal(thingName=a, principal=cert,
                               thingPrincipalType="NON_EXCLUSIVE_THING")
    # Attached to two things: an exclusive attachment is refused.
    with aws_error("InvalidRequestException", 400):
        iot.attach_thing_principal(thingName=a, principal=cert,
                                   thingPrincipalType="EXCLUSIVE_THING")
    objs = aws_cli("iot", "list-principal-things-v2", "--principal", cert)["principalThingObjects"]
    assert sorted(o["thingName"] for o in objs) == sorted([a, b])
    assert {o["thingPrincipalType"] for o in objs} == {"NON_EXCLUSIVE_THING"}
    for t in (a, b):
        iot.detach_thing_principal(thingName=t, principal=cert)


def test_unknown_principal_type_is_refused(iot, iot_raw, unique, aws_error):
    t = unique("xt")
    iot.create_thing(thingName=t)
    cert = _cert(iot)
    with aws_error("InvalidRequestException", 400):
        iot_raw.attach_thing_principal(thingName=t, principal=cert, thingPrincipalType="BOTH")


def test_an_exclusive_thing_names_the_connection_whatever_the_client_id(iot, unique, account_id):
    # AWS: with an exclusive attachment the thing policy variables resolve to that thing even
    # when the client id is not the thing name.
    thing, policy = unique("xv"), unique("xvp")
    iot.create_thing(thingName=thing)
    cert = _cert(iot)
    iot.create_policy(policyName=policy, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Publish",
                       "Resource": "arn:aws:iot:us-east-1:%s:topic/lamps/"
                                   "${iot:Connection.Thing.ThingName}" % account_id}]}))
    iot.attach_policy(policyName=policy, target=cert)
    topic = "arn:aws:iot:us-east-1:%s:topic/lamps/%s" % (account_id, thing)

    def decision():
        out = iot.test_authorization(principal=cert, clientId="not-the-thing", authInfos=[
            {"actionType": "PUBLISH", "resources": [topic]}])
        return out["authResults"][0]["authDecision"]

    iot.attach_thing_principal(thingName=thing, principal=cert)
    assert decision() == "IMPLICIT_DENY"
    iot.attach_thing_principal(thingName=thing, principal=cert,
                               thingPrincipalType="EXCLUSIVE_THING")
    assert decision() == "ALLOWED"
    iot.detach_thing_principal(thingName=thing, principal=cert)
    assert decision() == "IMPLICIT_DENY"
