"""The AWS CLI (v1), configured only through the environment Shoal prints
(AWS_ENDPOINT_URL + keys + region), runs the everyday registry commands."""

import re

import pytest


def test_cli_create_describe_list_thing(aws_cli, unique, account_id):
    name = unique("cli")
    created = aws_cli("iot", "create-thing", "--thing-name", name)
    assert created["thingName"] == name
    assert created["thingArn"] == "arn:aws:iot:us-east-1:%s:thing/%s" % (account_id, name)
    assert created["thingId"]

    described = aws_cli("iot", "describe-thing", "--thing-name", name)
    assert described["thingName"] == name
    assert described["thingId"] == created["thingId"]
    assert described["version"] == 1

    # The CLI follows nextToken itself; the new thing must be in the result.
    listed = aws_cli("iot", "list-things")
    assert name in [t["thingName"] for t in listed["things"]]


def test_cli_thing_with_attributes(aws_cli, unique):
    name = unique("cliattr")
    aws_cli("iot", "create-thing", "--thing-name", name,
            "--attribute-payload", '{"attributes": {"model": "x1"}}')
    aws_cli("iot", "update-thing", "--thing-name", name,
            "--attribute-payload", '{"attributes": {"fw": "2"}, "merge": true}')
    described = aws_cli("iot", "describe-thing", "--thing-name", name)
    assert described["attributes"] == {"model": "x1", "fw": "2"}
    assert described["version"] == 2


def test_cli_thing_group_commands(aws_cli, unique):
    thing, group = unique("clit"), unique("clig")
    aws_cli("iot", "create-thing", "--thing-name", thing)

    created = aws_cli("iot", "create-thing-group", "--thing-group-name", group)
    assert created["thingGroupName"] == group
    assert created["thingGroupArn"].endswith(":thinggroup/" + group)

    # add-thing-to-thing-group has an empty response body: no output at all.
    assert aws_cli("iot", "add-thing-to-thing-group",
                   "--thing-group-name", group, "--thing-name", thing) is None

    listed = aws_cli("iot", "list-things-in-thing-group", "--thing-group-name", group)
    assert listed["things"] == [thing]

    described = aws_cli("iot", "describe-thing-group", "--thing-group-name", group)
    assert described["thingGroupName"] == group
    assert described["thingGroupArn"] == created["thingGroupArn"]
    assert described["version"] == 1

    aws_cli("iot", "delete-thing-group", "--thing-group-name", group)
    with pytest.raises(Exception) as ei:
        aws_cli("iot", "describe-thing-group", "--thing-group-name", group)
    assert "ResourceNotFoundException" in str(ei.value)


def test_cli_describe_endpoint(aws_cli):
    resp = aws_cli("iot", "describe-endpoint", "--endpoint-type", "iot:Data-ATS")
    address = resp["endpointAddress"]
    assert isinstance(address, str) and address
    # AWS returns a bare host name (no scheme), which SDKs turn into https://HOST: the
    # account's own, <prefix>-ats.iot.<region>.<public host>.
    assert "://" not in address
    assert re.fullmatch(r"[a-z][a-z0-9]{13}-ats\.iot\.us-east-1\.localhost", address), address


def test_cli_reports_aws_errors(aws_cli, unique):
    # A failing call exits non-zero and names the AWS error code on stderr.
    with pytest.raises(Exception) as ei:
        aws_cli("iot", "describe-thing", "--thing-name", unique("missing"))
    assert ei.value.returncode != 0
    assert "ResourceNotFoundException" in ei.value.stderr
    assert "DescribeThing" in ei.value.stderr
