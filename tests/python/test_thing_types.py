"""Thing types: create/describe/list/update, deprecation, deletion rules and
tags, as AWS IoT documents them."""

import datetime

import pytest


def _tags(client, arn):
    tags, token = {}, None
    while True:
        kw = {"resourceArn": arn}
        if token:
            kw["nextToken"] = token
        page = client.list_tags_for_resource(**kw)
        tags.update({t["Key"]: t.get("Value", "") for t in page.get("tags", [])})
        token = page.get("nextToken")
        if not token:
            return tags


def _recent(ts):
    """botocore parses epoch-seconds timestamps into aware datetimes."""
    assert isinstance(ts, datetime.datetime), ts
    now = datetime.datetime.now(datetime.timezone.utc)
    return abs((now - ts).total_seconds()) < 600


def test_create_and_describe_thing_type(iot, unique, account_id):
    name = unique("type")
    props = {"thingTypeDescription": "Temperature sensors, rev 2",
             "searchableAttributes": ["model", "fw"]}
    created = iot.create_thing_type(thingTypeName=name, thingTypeProperties=props)
    assert created["thingTypeName"] == name
    assert created["thingTypeArn"] == "arn:aws:iot:us-east-1:%s:thingtype/%s" % (account_id, name)
    assert created["thingTypeId"]

    d = iot.describe_thing_type(thingTypeName=name)
    assert d["thingTypeName"] == name
    assert d["thingTypeId"] == created["thingTypeId"]
    assert d["thingTypeArn"] == created["thingTypeArn"]
    assert d["thingTypeProperties"]["thingTypeDescription"] == props["thingTypeDescription"]
    assert sorted(d["thingTypeProperties"]["searchableAttributes"]) == ["fw", "model"]
    meta = d["thingTypeMetadata"]
    assert meta["deprecated"] is False
    assert "deprecationDate" not in meta
    assert _recent(meta["creationDate"])


def test_describe_missing_thing_type(iot, unique, aws_error):
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_type(thingTypeName=unique("nope"))


def test_create_existing_type_with_other_config_conflicts(iot, unique, aws_error):
    name = unique("dup")
    iot.create_thing_type(thingTypeName=name,
                          thingTypeProperties={"thingTypeDescription": "one"})
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_thing_type(thingTypeName=name,
                              thingTypeProperties={"thingTypeDescription": "two"})
    d = iot.describe_thing_type(thingTypeName=name)
    assert d["thingTypeProperties"]["thingTypeDescription"] == "one"


@pytest.mark.parametrize("bad_name", ["bad name!", "t" * 129, "dot.ted"])
def test_invalid_thing_type_name(iot_raw, bad_name, aws_error):
    # ThingTypeName pattern [a-zA-Z0-9:_-]+, 1..128 chars; botocore checks
    # neither the pattern nor the max length, the server must.
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_thing_type(thingTypeName=bad_name)


def test_list_thing_types_with_name_filter(iot, unique):
    a, b = unique("lta"), unique("ltb")
    iot.create_thing_type(thingTypeName=a, thingTypeProperties={"thingTypeDescription": "A"})
    iot.create_thing_type(thingTypeName=b)

    only_a = iot.list_thing_types(thingTypeName=a)["thingTypes"]
    assert [t["thingTypeName"] for t in only_a] == [a]
    item = only_a[0]
    assert item["thingTypeArn"].endswith(":thingtype/" + a)
    assert item["thingTypeProperties"]["thingTypeDescription"] == "A"
    assert item["thingTypeMetadata"]["deprecated"] is False
    assert _recent(item["thingTypeMetadata"]["creationDate"])

    names = []
    for page in iot.get_paginator("list_thing_types").paginate(PaginationConfig={"PageSize": 1}):
        assert len(page["thingTypes"]) <= 1
        names.extend(t["thingTypeName"] for t in page["thingTypes"])
    assert {a, b} <= set(names)
    assert len(names) == len(set(names))


def test_deprecate_and_undeprecate(iot, unique, aws_error):
    name = unique("dep")
    iot.create_thing_type(thingTypeName=name)
    existing = unique("before")
    iot.create_thing(thingName=existing, thingTypeName=name)
    other = unique("other")
    iot.create_thing(thingName=other)

    iot.deprecate_thing_type(thingTypeName=name)
    meta = iot.describe_thing_type(thingTypeName=name)["thingTypeMetadata"]
    assert meta["deprecated"] is True
    assert _recent(meta["deprecationDate"])
    listed = iot.list_thing_types(thingTypeName=name)["thingTypes"][0]
    assert listed["thingTypeMetadata"]["deprecated"] is True

    # No new association with a deprecated type, neither at creation nor by
    # update; things already of that type keep it.
    with aws_error("InvalidRequestException", 400):
        iot.create_thing(thingName=unique("after"), thingTypeName=name)
    with aws_error("InvalidRequestException", 400):
        iot.update_thing(thingName=other, thingTypeName=name)
    assert iot.describe_thing(thingName=existing)["thingTypeName"] == name

    # undoDeprecate restores it.
    iot.deprecate_thing_type(thingTypeName=name, undoDeprecate=True)
    meta = iot.describe_thing_type(thingTypeName=name)["thingTypeMetadata"]
    assert meta["deprecated"] is False
    fresh = unique("fresh")
    iot.create_thing(thingName=fresh, thingTypeName=name)
    assert iot.describe_thing(thingName=fresh)["thingTypeName"] == name


def test_deprecate_missing_type(iot, unique, aws_error):
    with aws_error("ResourceNotFoundException", 404):
        iot.deprecate_thing_type(thingTypeName=unique("nope"))


def test_delete_requires_deprecation_for_five_minutes(iot, unique, aws_error):
    # A thing type can only be deleted once it has been deprecated for 5 minutes.
    name = unique("deltype")
    iot.create_thing_type(thingTypeName=name)
    with aws_error("InvalidRequestException", 400):
        iot.delete_thing_type(thingTypeName=name)

    iot.deprecate_thing_type(thingTypeName=name)
    with aws_error("InvalidRequestException", 400):
        iot.delete_thing_type(thingTypeName=name)

    # Still there, still deprecated.
    assert iot.describe_thing_type(thingTypeName=name)["thingTypeMetadata"]["deprecated"] is True


def test_delete_missing_type(iot, unique, aws_error):
    with aws_error("ResourceNotFoundException", 404):
        iot.delete_thing_type(thingTypeName=unique("nope"))


def test_update_thing_type_mqtt5_configuration(iot, unique, aws_error):
    # UpdateThingType changes mqtt5Configuration; the rest of the type is kept.
    name = unique("upd")
    iot.create_thing_type(thingTypeName=name,
                          thingTypeProperties={"thingTypeDescription": "keep me",
                                               "searchableAttributes": ["model"]})
    mqtt5 = {"propagatingAttributes": [{"userPropertyKey": "model", "thingAttribute": "model"}]}
    iot.update_thing_type(thingTypeName=name, thingTypeProperties={"mqtt5Configuration": mqtt5})
    props = iot.describe_thing_type(thingTypeName=name)["thingTypeProperties"]
    assert props["mqtt5Configuration"] == mqtt5
    assert props["thingTypeDescription"] == "keep me"
    assert props["searchableAttributes"] == ["model"]

    with aws_error("ResourceNotFoundException", 404):
        iot.update_thing_type(thingTypeName=unique("nope"),
                              thingTypeProperties={"mqtt5Configuration": mqtt5})


def test_thing_type_tags(iot, unique, aws_error):
    name = unique("tagged")
    arn = iot.create_thing_type(
        thingTypeName=name, tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "a"}]
    )["thingTypeArn"]
    assert _tags(iot, arn) == {"env": "test", "team": "a"}

    # TagResource adds new keys and overwrites existing ones.
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"},
                                            {"Key": "owner", "Value": "me"}])
    assert _tags(iot, arn) == {"env": "prod", "team": "a", "owner": "me"}

    iot.untag_resource(resourceArn=arn, tagKeys=["env", "team"])
    assert _tags(iot, arn) == {"owner": "me"}

    # Removing a key that is not there is not an error.
    iot.untag_resource(resourceArn=arn, tagKeys=["not-there"])
    assert _tags(iot, arn) == {"owner": "me"}


def test_tags_on_missing_resource(iot, unique, account_id, aws_error):
    arn = "arn:aws:iot:us-east-1:%s:thingtype/%s" % (account_id, unique("nope"))
    with aws_error("ResourceNotFoundException", 404):
        iot.list_tags_for_resource(resourceArn=arn)
    with aws_error("ResourceNotFoundException", 404):
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "v"}])
