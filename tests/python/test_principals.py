"""Thing principals: AttachThingPrincipal / DetachThingPrincipal and the
listings both ways (ListThingPrincipals, ListPrincipalThings), bad
principals, and how attachments hold things and certificates in place."""

import hashlib

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

