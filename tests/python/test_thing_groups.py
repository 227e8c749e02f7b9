"""Static thing groups: hierarchy, membership, listing, limits, versions and
tags, as AWS IoT documents them.

AWS also forbids putting one thing into two groups of the same hierarchy, so
every test here adds a given thing to at most one group per tree.
"""

import datetime

import pytest
from botocore.exceptions import ClientError


# AWS documents the group limits (10 groups per thing, hierarchy depth 7) but
# not the error code. The model lists InvalidRequestException for these
# operations; LimitExceededException is the other plausible answer.
LIMIT_CODES = ("InvalidRequestException", "LimitExceededException")


def _collect(call, key, **kw):
    """Follow nextToken for a List* call and return the concatenated `key` lists."""
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


def _group_names(client, **kw):
    return sorted(g["groupName"] for g in _collect(client.list_thing_groups, "thingGroups", **kw))


def _things_in(client, group, **kw):
    return sorted(_collect(client.list_things_in_thing_group, "things", thingGroupName=group, **kw))


def _groups_of(client, thing):
    return sorted(g["groupName"] for g in
                  _collect(client.list_thing_groups_for_thing, "thingGroups", thingName=thing))


def _tags(client, arn):
    return {t["Key"]: t.get("Value", "") for t in
            _collect(client.list_tags_for_resource, "tags", resourceArn=arn)}


def test_create_and_describe_group(iot, unique, account_id):
    name = unique("grp")
    props = {"thingGroupDescription": "Lights on floor 1",
             "attributePayload": {"attributes": {"floor": "1", "building": "b7"}}}
    created = iot.create_thing_group(thingGroupName=name, thingGroupProperties=props)
    assert created["thingGroupName"] == name
    assert created["thingGroupArn"] == "arn:aws:iot:us-east-1:%s:thinggroup/%s" % (account_id, name)
    assert created["thingGroupId"]

    d = iot.describe_thing_group(thingGroupName=name)
    assert d["thingGroupName"] == name
    assert d["thingGroupId"] == created["thingGroupId"]
    assert d["thingGroupArn"] == created["thingGroupArn"]
    assert d["version"] == 1
    assert d["thingGroupProperties"]["thingGroupDescription"] == props["thingGroupDescription"]
    assert d["thingGroupProperties"]["attributePayload"]["attributes"] == {"floor": "1", "building": "b7"}
    meta = d["thingGroupMetadata"]
    assert "parentGroupName" not in meta
    # A group without attributes has no attributePayload, as on AWS.
    bare = unique("bare")
    iot.create_thing_group(thingGroupName=bare)
    assert "attributePayload" not in iot.describe_thing_group(
        thingGroupName=bare)["thingGroupProperties"]
    assert meta.get("rootToParentThingGroups", []) == []
    assert isinstance(meta["creationDate"], datetime.datetime)


def test_create_group_idempotent_and_conflicting(iot, unique, aws_error):
    # Like CreateThing: same name and properties succeeds with the same group,
    # different properties -> ResourceAlreadyExistsException (409).
    name = unique("idemg")
    props = {"thingGroupDescription": "same"}
    first = iot.create_thing_group(thingGroupName=name, thingGroupProperties=props)
    again = iot.create_thing_group(thingGroupName=name, thingGroupProperties=props)
    assert again["thingGroupId"] == first["thingGroupId"]
    assert again["thingGroupArn"] == first["thingGroupArn"]
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_thing_group(thingGroupName=name,
                               thingGroupProperties={"thingGroupDescription": "other"})
    assert iot.describe_thing_group(thingGroupName=name)["version"] == 1


def test_describe_missing_group(iot, unique, aws_error):
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName=unique("nope"))


@pytest.mark.parametrize("bad_name", ["bad name!", "g" * 129])
def test_invalid_group_name(iot_raw, bad_name, aws_error):
    with aws_error("InvalidRequestException", 400):
        iot_raw.create_thing_group(thingGroupName=bad_name)


def test_hierarchy_metadata(iot, unique):
    root, mid, leaf = unique("root"), unique("mid"), unique("leaf")
    root_arn = iot.create_thing_group(thingGroupName=root)["thingGroupArn"]
    mid_arn = iot.create_thing_group(thingGroupName=mid, parentGroupName=root)["thingGroupArn"]
    iot.create_thing_group(thingGroupName=leaf, parentGroupName=mid)

    # rootToParentThingGroups runs from the root down to the direct parent.
    meta = iot.describe_thing_group(thingGroupName=leaf)["thingGroupMetadata"]
    assert meta["parentGroupName"] == mid
    assert meta["rootToParentThingGroups"] == [
        {"groupName": root, "groupArn": root_arn},
        {"groupName": mid, "groupArn": mid_arn},
    ]
    meta = iot.describe_thing_group(thingGroupName=mid)["thingGroupMetadata"]
    assert meta["parentGroupName"] == root
    assert meta["rootToParentThingGroups"] == [{"groupName": root, "groupArn": root_arn}]


def test_create_with_missing_parent_fails(iot, unique):
    name = unique("orphan")
    with pytest.raises(ClientError) as ei:
        iot.create_thing_group(thingGroupName=name, parentGroupName=unique("noparent"))
    # The model lists only InvalidRequestException for CreateThingGroup, but a
    # not-found answer is an acceptable reading too.
    assert ei.value.response["Error"]["Code"] in (
        "InvalidRequestException", "ResourceNotFoundException")
    with pytest.raises(ClientError):
        iot.describe_thing_group(thingGroupName=name)


def test_list_thing_groups_filters(iot, unique, aws_error):
    p = unique("lg")
    root, a, b, ax, other = p + "-root", p + "-root-a", p + "-root-b", p + "-root-a-x", p + "-other"
    iot.create_thing_group(thingGroupName=root)
    iot.create_thing_group(thingGroupName=a, parentGroupName=root)
    iot.create_thing_group(thingGroupName=b, parentGroupName=root)
    iot.create_thing_group(thingGroupName=ax, parentGroupName=a)
    iot.create_thing_group(thingGroupName=other)

    # namePrefixFilter alone: every group (any depth) whose name starts with it.
    assert _group_names(iot, namePrefixFilter=p) == sorted([root, a, b, ax, other])
    # parentGroup without recursion: direct children only.
    assert _group_names(iot, parentGroup=root, recursive=False) == sorted([a, b])
    # recursive: all descendants.
    assert _group_names(iot, parentGroup=root, recursive=True) == sorted([a, b, ax])
    # Filters combine.
    assert _group_names(iot, parentGroup=root, recursive=True,
                        namePrefixFilter=p + "-root-a") == sorted([a, ax])

    listed = _collect(iot.list_thing_groups, "thingGroups", namePrefixFilter=p)
    for g in listed:
        assert g["groupArn"].endswith(":thinggroup/" + g["groupName"])

    # Paging with maxResults=1 still yields each group once.
    paged = _collect(iot.list_thing_groups, "thingGroups", namePrefixFilter=p, maxResults=1)
    assert sorted(g["groupName"] for g in paged) == sorted([root, a, b, ax, other])

    with aws_error("ResourceNotFoundException", 404):
        iot.list_thing_groups(parentGroup=unique("nope"))


def test_add_and_remove_things(iot, unique, aws_error):
    group = unique("members")
    group_arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    t1, t2 = unique("m1"), unique("m2")
    iot.create_thing(thingName=t1)
    t2_arn = iot.create_thing(thingName=t2)["thingArn"]

    # By name and by ARN.
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=t1)
    iot.add_thing_to_thing_group(thingGroupArn=group_arn, thingArn=t2_arn)
    # Adding again is harmless.
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=t1)
    assert _things_in(iot, group) == sorted([t1, t2])
    assert _collect(iot.list_thing_groups_for_thing, "thingGroups", thingName=t1) == [
        {"groupName": group, "groupArn": group_arn}]

    iot.remove_thing_from_thing_group(thingGroupName=group, thingName=t1)
    assert _things_in(iot, group) == [t2]
    assert _groups_of(iot, t1) == []
    iot.remove_thing_from_thing_group(thingGroupArn=group_arn, thingArn=t2_arn)
    assert _things_in(iot, group) == []

    with aws_error("ResourceNotFoundException", 404):
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=unique("nothing"))
    with aws_error("ResourceNotFoundException", 404):
        iot.add_thing_to_thing_group(thingGroupName=unique("nogroup"), thingName=t1)
    with aws_error("ResourceNotFoundException", 404):
        iot.list_things_in_thing_group(thingGroupName=unique("nogroup"))
    with aws_error("ResourceNotFoundException", 404):
        iot.list_thing_groups_for_thing(thingName=unique("nothing"))


def test_update_thing_groups_for_thing(iot, unique):
    g1, g2, g3 = unique("u1"), unique("u2"), unique("u3")
    for g in (g1, g2, g3):
        iot.create_thing_group(thingGroupName=g)
    thing = unique("ut")
    iot.create_thing(thingName=thing)

    iot.update_thing_groups_for_thing(thingName=thing, thingGroupsToAdd=[g1, g2])
    assert _groups_of(iot, thing) == sorted([g1, g2])
    iot.update_thing_groups_for_thing(thingName=thing, thingGroupsToAdd=[g3],
                                      thingGroupsToRemove=[g1])
    assert _groups_of(iot, thing) == sorted([g2, g3])
    assert _things_in(iot, g1) == []
    assert _things_in(iot, g3) == [thing]


def test_list_things_in_group_recursive(iot, unique):
    root, child = unique("rr"), unique("rc")
    iot.create_thing_group(thingGroupName=root)
    iot.create_thing_group(thingGroupName=child, parentGroupName=root)
    in_root, in_child = unique("tr"), unique("tc")
    for t in (in_root, in_child):
        iot.create_thing(thingName=t)
    iot.add_thing_to_thing_group(thingGroupName=root, thingName=in_root)
    iot.add_thing_to_thing_group(thingGroupName=child, thingName=in_child)

    assert _things_in(iot, root) == [in_root]
    assert _things_in(iot, root, recursive=True) == sorted([in_root, in_child])
    assert _things_in(iot, child) == [in_child]
    assert _things_in(iot, root, recursive=True, maxResults=1) == sorted([in_root, in_child])


def test_thing_not_in_two_sibling_groups(iot, unique, aws_error):
    # "You can't add a thing to two groups which share a common parent."
    parent, left, right = unique("sp"), unique("sl"), unique("sr")
    iot.create_thing_group(thingGroupName=parent)
    iot.create_thing_group(thingGroupName=left, parentGroupName=parent)
    iot.create_thing_group(thingGroupName=right, parentGroupName=parent)
    thing = unique("st")
    iot.create_thing(thingName=thing)
    iot.add_thing_to_thing_group(thingGroupName=left, thingName=thing)
    with aws_error("InvalidRequestException", 400):
        iot.add_thing_to_thing_group(thingGroupName=right, thingName=thing)
    assert _groups_of(iot, thing) == [left]


def test_thing_in_at_most_ten_groups(iot, unique):
    groups = [unique("ten%d" % i) for i in range(11)]
    for g in groups:
        iot.create_thing_group(thingGroupName=g)
    thing = unique("busy")
    iot.create_thing(thingName=thing)
    for g in groups[:10]:
        iot.add_thing_to_thing_group(thingGroupName=g, thingName=thing)

    with pytest.raises(ClientError) as ei:
        iot.add_thing_to_thing_group(thingGroupName=groups[10], thingName=thing)
    assert ei.value.response["Error"]["Code"] in LIMIT_CODES
    assert _groups_of(iot, thing) == sorted(groups[:10])

    other = unique("busy2")
    iot.create_thing(thingName=other)
    with pytest.raises(ClientError) as ei:
        iot.update_thing_groups_for_thing(thingName=other, thingGroupsToAdd=groups)
    assert ei.value.response["Error"]["Code"] in LIMIT_CODES


def test_hierarchy_depth_limit(iot, unique, aws_error):
    # A hierarchy may be at most 7 levels deep.
    chain = [unique("d%d" % i) for i in range(8)]
    iot.create_thing_group(thingGroupName=chain[0])
    for parent, child in zip(chain[:6], chain[1:7]):
        iot.create_thing_group(thingGroupName=child, parentGroupName=parent)
    meta = iot.describe_thing_group(thingGroupName=chain[6])["thingGroupMetadata"]
    assert [g["groupName"] for g in meta["rootToParentThingGroups"]] == chain[:6]

    with pytest.raises(ClientError) as ei:
        iot.create_thing_group(thingGroupName=chain[7], parentGroupName=chain[6])
    assert ei.value.response["Error"]["Code"] in LIMIT_CODES
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName=chain[7])


def test_delete_group_with_children_refused(iot, unique, aws_error):
    parent, child = unique("dp"), unique("dc")
    iot.create_thing_group(thingGroupName=parent)
    iot.create_thing_group(thingGroupName=child, parentGroupName=parent)
    with aws_error("InvalidRequestException", 400):
        iot.delete_thing_group(thingGroupName=parent)
    assert iot.describe_thing_group(thingGroupName=parent)["thingGroupName"] == parent

    # Members do not block deletion; they simply leave the group.
    thing = unique("dt")
    iot.create_thing(thingName=thing)
    iot.add_thing_to_thing_group(thingGroupName=child, thingName=thing)
    iot.delete_thing_group(thingGroupName=child)
    iot.delete_thing_group(thingGroupName=parent)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName=parent)
    assert _groups_of(iot, thing) == []
    assert iot.describe_thing(thingName=thing)["thingName"] == thing


def test_update_group_with_expected_version(iot, unique, aws_error):
    name = unique("vg")
    iot.create_thing_group(thingGroupName=name, thingGroupProperties={
        "thingGroupDescription": "v1", "attributePayload": {"attributes": {"a": "1"}}})

    resp = iot.update_thing_group(thingGroupName=name, expectedVersion=1, thingGroupProperties={
        "thingGroupDescription": "v2", "attributePayload": {"attributes": {"b": "2"}, "merge": True}})
    assert resp["version"] == 2
    d = iot.describe_thing_group(thingGroupName=name)
    assert d["version"] == 2
    assert d["thingGroupProperties"]["thingGroupDescription"] == "v2"
    assert d["thingGroupProperties"]["attributePayload"]["attributes"] == {"a": "1", "b": "2"}

    with aws_error("VersionConflictException", 409):
        iot.update_thing_group(thingGroupName=name, expectedVersion=1,
                               thingGroupProperties={"thingGroupDescription": "stale"})
    assert iot.describe_thing_group(thingGroupName=name)["thingGroupProperties"][
        "thingGroupDescription"] == "v2"

    with aws_error("VersionConflictException", 409):
        iot.delete_thing_group(thingGroupName=name, expectedVersion=1)
    iot.delete_thing_group(thingGroupName=name, expectedVersion=2)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName=name)

    with aws_error("ResourceNotFoundException", 404):
        iot.update_thing_group(thingGroupName=unique("nope"),
                               thingGroupProperties={"thingGroupDescription": "x"})


def test_group_tags(iot, unique):
    name = unique("tg")
    arn = iot.create_thing_group(thingGroupName=name,
                                 tags=[{"Key": "site", "Value": "berlin"}])["thingGroupArn"]
    assert _tags(iot, arn) == {"site": "berlin"}
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "tier", "Value": "gold"}])
    assert _tags(iot, arn) == {"site": "berlin", "tier": "gold"}
    iot.untag_resource(resourceArn=arn, tagKeys=["site"])
    assert _tags(iot, arn) == {"tier": "gold"}
