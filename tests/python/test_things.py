"""Thing registry (CreateThing / DescribeThing / UpdateThing / DeleteThing /
ListThings) through unmodified boto3, checked against AWS IoT's documented
behaviour."""

import re

import pytest
from botocore.exceptions import ClientError


def _all_things(client, **filters):
    """Every thing ListThings returns for these filters, following nextToken."""
    out, token = [], None
    while True:
        kw = dict(filters)
        if token:
            kw["nextToken"] = token
        page = client.list_things(**kw)
        out.extend(page.get("things", []))
        token = page.get("nextToken")
        if not token:
            return out


def _names(things):
    return sorted(t["thingName"] for t in things)


# ---------------------------------------------------------------- create/describe


def test_create_and_describe_thing(iot, unique, account_id):
    name = unique("thing")
    created = iot.create_thing(
        thingName=name, attributePayload={"attributes": {"model": "x1", "fw": "1.0"}}
    )
    # ARN format is arn:aws:iot:REGION:ACCOUNT:thing/NAME.
    assert created["thingName"] == name
    assert created["thingArn"] == "arn:aws:iot:us-east-1:%s:thing/%s" % (account_id, name)
    assert re.fullmatch(r"\d{12}", account_id)
    assert created["thingId"]

    d = iot.describe_thing(thingName=name)
    assert d["thingName"] == name
    assert d["thingId"] == created["thingId"]
    assert d["thingArn"] == created["thingArn"]
    assert d["attributes"] == {"model": "x1", "fw": "1.0"}
    # A new thing record starts at version 1 and has no type.
    assert d["version"] == 1
    assert "thingTypeName" not in d
    # AWS uses the thing name as the default MQTT client id.
    assert d.get("defaultClientId", name) == name
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_create_thing_without_attributes(iot, unique):
    name = unique("bare")
    iot.create_thing(thingName=name)
    d = iot.describe_thing(thingName=name)
    assert d.get("attributes", {}) == {}
    assert d["version"] == 1


def test_create_is_idempotent_for_same_configuration(iot, unique):
    # CreateThing with the same name and configuration succeeds again and
    # returns the same thing; it does not bump the version.
    name = unique("idem")
    attrs = {"attributes": {"k": "v"}}
    first = iot.create_thing(thingName=name, attributePayload=attrs)
    second = iot.create_thing(thingName=name, attributePayload=attrs)
    assert second["thingId"] == first["thingId"]
    assert second["thingArn"] == first["thingArn"]
    assert iot.describe_thing(thingName=name)["version"] == 1


def test_create_with_different_configuration_conflicts(iot, unique, aws_error):
    # Same name, different configuration -> ResourceAlreadyExistsException (409)
    # carrying the modeled resourceId / resourceArn members.
    name = unique("conflict")
    created = iot.create_thing(thingName=name, attributePayload={"attributes": {"k": "v1"}})
    with aws_error("ResourceAlreadyExistsException", 409) as ei:
        iot.create_thing(thingName=name, attributePayload={"attributes": {"k": "v2"}})
    resp = ei.value.response
    assert resp["Error"].get("Message")
    assert resp.get("resourceArn") == created["thingArn"]
    assert resp.get("resourceId") in (name, created["thingId"])
    # The original thing is untouched.
    assert iot.describe_thing(thingName=name)["attributes"] == {"k": "v1"}


def test_create_with_missing_thing_type_fails(iot, unique):
    # The type must exist. AWS documents ResourceNotFoundException for CreateThing;
    # InvalidRequestException is also accepted here (not pinned down by the docs).
    name = unique("typeless")
    with pytest.raises(ClientError) as ei:
        iot.create_thing(thingName=name, thingTypeName=unique("no-such-type"))
    assert ei.value.response["Error"]["Code"] in (
        "ResourceNotFoundException", "InvalidRequestException")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=name)


# ---------------------------------------------------------------- not found


def test_missing_thing_is_resource_not_found(iot, unique, aws_error):
    name = unique("ghost")
    with aws_error("ResourceNotFoundException", 404) as ei:
        iot.describe_thing(thingName=name)
    assert ei.value.response["Error"]["Message"]
    with aws_error("ResourceNotFoundException", 404):
        iot.update_thing(thingName=name, attributePayload={"attributes": {"a": "b"}})


def test_delete_missing_thing_succeeds(iot, unique):
    # DeleteThing "returns successfully with no error" for a thing that does not exist.
    resp = iot.delete_thing(thingName=unique("never-existed"))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


# ---------------------------------------------------------------- update


def test_update_merge_and_replace_attributes(iot, unique):
    name = unique("merge")
    iot.create_thing(thingName=name, attributePayload={"attributes": {"a": "1", "b": "2"}})

    # merge=true: new keys are added, existing keys overwritten, others kept.
    iot.update_thing(thingName=name,
                     attributePayload={"attributes": {"b": "20", "c": "3"}, "merge": True})
    d = iot.describe_thing(thingName=name)
    assert d["attributes"] == {"a": "1", "b": "20", "c": "3"}
    assert d["version"] == 2

    # merge=true with an empty value removes that attribute.
    iot.update_thing(thingName=name, attributePayload={"attributes": {"a": ""}, "merge": True})
    d = iot.describe_thing(thingName=name)
    assert d["attributes"] == {"b": "20", "c": "3"}
    assert d["version"] == 3

    # Without merge the attribute set is replaced as a whole.
    iot.update_thing(thingName=name, attributePayload={"attributes": {"z": "9"}})
    d = iot.describe_thing(thingName=name)
    assert d["attributes"] == {"z": "9"}
    assert d["version"] == 4


def test_update_with_expected_version(iot, unique, aws_error):
    name = unique("ver")
    iot.create_thing(thingName=name)
    iot.update_thing(thingName=name, expectedVersion=1,
                     attributePayload={"attributes": {"k": "a"}})
    assert iot.describe_thing(thingName=name)["version"] == 2

    # A stale expectedVersion is rejected with VersionConflictException (409)
    # and changes nothing.
    with aws_error("VersionConflictException", 409):
        iot.update_thing(thingName=name, expectedVersion=1,
                         attributePayload={"attributes": {"k": "b"}})
    d = iot.describe_thing(thingName=name)
    assert d["version"] == 2
    assert d["attributes"] == {"k": "a"}


def test_delete_with_expected_version(iot, unique, aws_error):
    name = unique("del")
    iot.create_thing(thingName=name)
    iot.update_thing(thingName=name, attributePayload={"attributes": {"k": "v"}})  # -> v2

    with aws_error("VersionConflictException", 409):
        iot.delete_thing(thingName=name, expectedVersion=1)
    assert iot.describe_thing(thingName=name)["version"] == 2

    iot.delete_thing(thingName=name, expectedVersion=2)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing(thingName=name)
    assert name not in _names(_all_things(iot))


def test_thing_type_association_and_removal(iot, unique):
    type_name = unique("tt")
    iot.create_thing_type(thingTypeName=type_name)
    name = unique("typed")
    iot.create_thing(thingName=name, thingTypeName=type_name)
    assert iot.describe_thing(thingName=name)["thingTypeName"] == type_name

    # removeThingType=true drops the association (a change: version bumps).
    iot.update_thing(thingName=name, removeThingType=True)
    d = iot.describe_thing(thingName=name)
    assert "thingTypeName" not in d
    assert d["version"] == 2

    iot.update_thing(thingName=name, thingTypeName=type_name)
    d = iot.describe_thing(thingName=name)
    assert d["thingTypeName"] == type_name
    assert d["version"] == 3


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("bad_name", ["bad name!", "x" * 129, "semi;colon", "dollar$"])
def test_invalid_thing_name_rejected_by_server(iot_raw, bad_name, aws_error):
    # ThingName is [a-zA-Z0-9:_-]+, 1..128 chars. botocore does not check the
    # pattern or the max length, so these reach the server.
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_thing(thingName=bad_name)


def test_longest_valid_names_accepted(iot, unique):
    name = unique("n")
    name = name + "x" * (128 - len(name))
    iot.create_thing(thingName=name, attributePayload={"attributes": {"k": "v" * 800}})
    d = iot.describe_thing(thingName=name)
    assert d["thingName"] == name and len(d["attributes"]["k"]) == 800


@pytest.mark.parametrize(
    "attributes",
    [
        {"k": "v" * 801},            # value longer than 800
        {"k": "has space"},          # space is not in the value pattern
        {"k": "quote\"d"},           # nor is a double quote
        {"bad key": "v"},            # space is not in the key pattern
        {"k" * 129: "v"},            # key longer than 128
    ],
)
def test_invalid_attributes_rejected(iot_raw, unique, attributes, aws_error):
    name = unique("badattr")
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_thing(thingName=name, attributePayload={"attributes": attributes})
    # And the same through UpdateThing on an existing thing.
    iot_raw.create_thing(thingName=name)
    with aws_error("InvalidRequestException", 400):
        iot_raw.update_thing(thingName=name, attributePayload={"attributes": attributes})


def test_untyped_thing_limited_to_three_attributes(iot, unique, aws_error):
    # A thing without a thing type may carry at most 3 attributes.
    four = {"a": "1", "b": "2", "c": "3", "d": "4"}
    with aws_error("InvalidRequestException", 400):
        iot.create_thing(thingName=unique("four"), attributePayload={"attributes": four})

    name = unique("three")
    iot.create_thing(thingName=name, attributePayload={"attributes": {"a": "1", "b": "2", "c": "3"}})
    with aws_error("InvalidRequestException", 400):
        iot.update_thing(thingName=name,
                         attributePayload={"attributes": {"d": "4"}, "merge": True})
    assert len(iot.describe_thing(thingName=name)["attributes"]) == 3


def test_typed_thing_may_have_more_than_three_attributes(iot, unique):
    # With a thing type, up to 50 attributes are allowed.
    type_name = unique("tt")
    iot.create_thing_type(thingTypeName=type_name)
    name = unique("many")
    attrs = {"attr%d" % i: str(i) for i in range(10)}
    iot.create_thing(thingName=name, thingTypeName=type_name,
                     attributePayload={"attributes": attrs})
    assert iot.describe_thing(thingName=name)["attributes"] == attrs


# ---------------------------------------------------------------- ListThings


def test_list_things_filters(iot, unique):
    type_name = unique("ltt")
    iot.create_thing_type(thingTypeName=type_name)
    attr = unique("color")  # attribute name unique to this test
    red, reddish, blue = unique("red"), unique("reddish"), unique("blue")
    iot.create_thing(thingName=red, thingTypeName=type_name,
                     attributePayload={"attributes": {attr: "red"}})
    iot.create_thing(thingName=reddish, attributePayload={"attributes": {attr: "reddish"}})
    iot.create_thing(thingName=blue, thingTypeName=type_name,
                     attributePayload={"attributes": {attr: "blue"}})

    # attributeName/attributeValue: exact value match.
    assert _names(_all_things(iot, attributeName=attr, attributeValue="red")) == [red]
    # usePrefixAttributeValue: value is matched as a prefix.
    assert _names(_all_things(iot, attributeName=attr, attributeValue="red",
                              usePrefixAttributeValue=True)) == sorted([red, reddish])
    # thingTypeName filter.
    typed = _all_things(iot, thingTypeName=type_name)
    assert _names(typed) == sorted([red, blue])
    for t in typed:
        assert t["thingTypeName"] == type_name
        assert t["thingArn"].endswith(":thing/" + t["thingName"])
        assert t["version"] == 1
        assert attr in t["attributes"]
    # Filters combine.
    assert _names(_all_things(iot, thingTypeName=type_name, attributeName=attr,
                              attributeValue="blue")) == [blue]


def test_list_things_pagination_yields_each_thing_once(iot, unique):
    attr = unique("batch")
    expected = sorted(unique("page") for _ in range(30))
    for n in expected:
        iot.create_thing(thingName=n, attributePayload={"attributes": {attr: "1"}})

    # Filtered listing, 7 per page: every thing exactly once, pages <= 7.
    seen, token, pages = [], None, 0
    while True:
        kw = {"maxResults": 7, "attributeName": attr, "attributeValue": "1"}
        if token:
            kw["nextToken"] = token
        page = iot.list_things(**kw)
        pages += 1
        assert len(page["things"]) <= 7
        seen.extend(t["thingName"] for t in page["things"])
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 100, "pagination does not terminate"
    assert sorted(seen) == expected
    assert pages >= 5

    # Unfiltered listing through the boto3 paginator: no duplicates, all present.
    all_names = []
    for page in iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 7}):
        assert len(page["things"]) <= 7
        all_names.extend(t["thingName"] for t in page["things"])
    assert len(all_names) == len(set(all_names))
    assert set(expected) <= set(all_names)


@pytest.mark.parametrize("max_results", [0, 251, -1])
def test_list_things_max_results_out_of_range(iot_raw, max_results, aws_error):
    # RegistryMaxResults is 1..250.
    with aws_error("InvalidRequestException", 400):
        iot_raw.list_things(maxResults=max_results)


def test_list_things_max_results_bounds_accepted(iot):
    assert len(iot.list_things(maxResults=1)["things"]) <= 1
    assert len(iot.list_things(maxResults=250)["things"]) <= 250


# ---------------------------------------------------------------- DescribeEndpoint


def test_describe_endpoint_data_ats(iot):
    # Device SDKs call DescribeEndpoint(iot:Data-ATS) to find the data plane.
    address = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert isinstance(address, str) and address
    assert "://" not in address
    # The account's own name, shaped as AWS's <prefix>-ats.iot.<region>.amazonaws.com.
    assert re.fullmatch(r"[a-z][a-z0-9]{13}-ats\.iot\.us-east-1\.localhost", address), address


def test_describe_endpoint_rejects_unknown_type(iot, aws_error):
    with aws_error("InvalidRequestException", 400):
        iot.describe_endpoint(endpointType="iot:NoSuchEndpoint")
