"""Resources are scoped to (account, region), as in AWS: the access key names
the account and the SigV4 credential scope names the region."""

import re
import threading

import pytest
from botocore.exceptions import ClientError


def _thing_names(client):
    names = []
    for page in client.get_paginator("list_things").paginate():
        names.extend(t["thingName"] for t in page["things"])
    return names


def test_regions_are_isolated(server, unique, aws_error, account_id):
    east = server.client(region="us-east-1")
    west = server.client(region="eu-west-1")
    name = unique("regional")

    created = east.create_thing(thingName=name, attributePayload={"attributes": {"r": "east"}})
    assert created["thingArn"] == "arn:aws:iot:us-east-1:%s:thing/%s" % (account_id, name)

    # eu-west-1 does not see it...
    with aws_error("ResourceNotFoundException", 404):
        west.describe_thing(thingName=name)
    assert name not in _thing_names(west)

    # ...and can create its own thing of the same name with another config.
    west_arn = west.create_thing(thingName=name,
                                 attributePayload={"attributes": {"r": "west"}})["thingArn"]
    assert west_arn == "arn:aws:iot:eu-west-1:%s:thing/%s" % (account_id, name)
    assert west.describe_thing(thingName=name)["attributes"] == {"r": "west"}
    assert east.describe_thing(thingName=name)["attributes"] == {"r": "east"}

    # Deleting in one region leaves the other alone.
    west.delete_thing(thingName=name)
    assert east.describe_thing(thingName=name)["thingArn"] == created["thingArn"]


def test_region_isolation_for_groups_and_types(server, unique, aws_error):
    east = server.client(region="us-east-1")
    west = server.client(region="eu-west-1")
    group, ttype = unique("rg"), unique("rt")
    group_arn = east.create_thing_group(thingGroupName=group)["thingGroupArn"]
    type_arn = east.create_thing_type(thingTypeName=ttype)["thingTypeArn"]
    assert ":us-east-1:" in group_arn and ":us-east-1:" in type_arn

    with aws_error("ResourceNotFoundException", 404):
        west.describe_thing_group(thingGroupName=group)
    with aws_error("ResourceNotFoundException", 404):
        west.describe_thing_type(thingTypeName=ttype)
    assert west.list_thing_types(thingTypeName=ttype)["thingTypes"] == []


def test_account_create_output_and_isolation(shoal_factory, unique, aws_error):
    srv = shoal_factory()
    admin = srv.client()
    name = unique("mine")
    admin_arn = admin.create_thing(thingName=name)["thingArn"]
    admin_account = admin_arn.split(":")[4]

    account, key, secret = srv.create_account()
    assert re.fullmatch(r"\d{12}", account)
    assert account != admin_account
    assert key and secret and key != srv.access_key

    # The new key works at once against the running server and sees an empty,
    # separate registry.
    other = srv.client(access_key=key, secret_key=secret)
    assert name not in _thing_names(other)
    with aws_error("ResourceNotFoundException", 404):
        other.describe_thing(thingName=name)

    # Same name in the other account: no conflict, ARN carries that account.
    other_arn = other.create_thing(thingName=name,
                                   attributePayload={"attributes": {"who": "other"}})["thingArn"]
    assert other_arn == "arn:aws:iot:us-east-1:%s:thing/%s" % (account, name)
    assert admin.describe_thing(thingName=name)["thingArn"] == admin_arn
    assert admin.describe_thing(thingName=name).get("attributes", {}) == {}

    # Groups too.
    group = unique("g")
    other.create_thing_group(thingGroupName=group)
    with aws_error("ResourceNotFoundException", 404):
        admin.describe_thing_group(thingGroupName=group)

    # Tags of another account's resource are not reachable by ARN either.
    type_arn = admin.create_thing_type(thingTypeName=unique("ty"),
                                       tags=[{"Key": "k", "Value": "v"}])["thingTypeArn"]
    # (AWS's exact answer here is not documented; any client error will do.)
    with pytest.raises(ClientError) as ei:
        other.list_tags_for_resource(resourceArn=type_arn)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 401, 403, 404)


def test_two_accounts_get_distinct_ids(shoal_factory):
    srv = shoal_factory()
    a = srv.create_account()
    b = srv.create_account()
    assert a[0] != b[0]
    assert a[1] != b[1]


def test_key_created_while_server_runs(shoal_factory, unique):
    srv = shoal_factory()
    admin = srv.client()
    name = unique("shared")
    admin.create_thing(thingName=name)

    # `shoal key create` (no --account): another key of the default account.
    key, secret = srv.create_key()
    assert key != srv.access_key
    same_account = srv.client(access_key=key, secret_key=secret)
    assert same_account.describe_thing(thingName=name)["thingName"] == name

    # `shoal key create --account N`: a second key of that account.
    account, key1, secret1 = srv.create_account()
    first = srv.client(access_key=key1, secret_key=secret1)
    theirs = unique("theirs")
    first.create_thing(thingName=theirs)
    key2, secret2 = srv.create_key(account=account)
    second = srv.client(access_key=key2, secret_key=secret2)
    assert second.describe_thing(thingName=theirs)["thingArn"].split(":")[4] == account
    assert name not in _thing_names(second)

    # The original admin key keeps working.
    assert admin.describe_thing(thingName=name)["thingName"] == name


def test_cli_with_new_account_key(shoal_factory, aws_cli_for, unique):
    srv = shoal_factory()
    account, key, secret = srv.create_account()
    name = unique("clia")
    created = aws_cli_for(srv, "iot", "create-thing", "--thing-name", name,
                          access_key=key, secret_key=secret, region="ap-southeast-2")
    assert created["thingArn"] == "arn:aws:iot:ap-southeast-2:%s:thing/%s" % (account, name)


def test_accounts_created_beside_a_busy_server_leave_it_running(shoal_factory):
    """`shoal account create` opens the store in a second process while the server writes. It
    must find the server's locks in place: a server that had dropped them (by opening and
    closing one of SQLite's files itself) let the new process reset the shared-memory file
    under the server's mapped pages, and the server died of SIGBUS within a few dozen runs."""
    srv = shoal_factory()
    iot = srv.client()
    stop = threading.Event()
    errors = []

    def write():
        i = 0
        while not stop.is_set():
            try:
                iot.create_thing(thingName="busy-%d" % i,
                                 attributePayload={"attributes": {"pad": "x" * 200}})
            except Exception as e:  # the server is gone: the assertion below says so
                errors.append(e)
                return
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(40):
            srv.create_account()
            assert srv.proc.poll() is None, "the server died: exit %s" % srv.proc.returncode
    finally:
        stop.set()
        writer.join()
    assert not errors, errors[0]
    assert srv.proc.poll() is None
    assert iot.describe_thing(thingName="busy-0")["thingName"] == "busy-0"
