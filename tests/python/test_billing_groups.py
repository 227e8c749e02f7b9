"""Billing groups: create (idempotent), describe, update with expectedVersion, delete,
list with a name prefix, membership (one billing group per thing), tags, CreateThing's and
DescribeThing's billingGroupName, and the fleet index's thingGroupNames, which the model
documents as "Thing group and billing group names"."""

import datetime

from fleet_support import Fleet


def _all(call, key, **kw):
    out, token = [], None
    while True:
        page = call(**kw, **({"nextToken": token} if token else {}))
        out.extend(page.get(key, []))
        token = page.get("nextToken")
        if not token:
            return out


def test_billing_group_lifecycle(iot, unique, account_id, aws_error):
    name = unique("bill")
    created = iot.create_billing_group(
        billingGroupName=name,
        billingGroupProperties={"billingGroupDescription": "floor one"},
        tags=[{"Key": "cost", "Value": "c1"}])
    arn = "arn:aws:iot:us-east-1:%s:billinggroup/%s" % (account_id, name)
    assert created["billingGroupArn"] == arn
    # Same name and properties: the same group; other properties: a conflict (409).
    again = iot.create_billing_group(
        billingGroupName=name, billingGroupProperties={"billingGroupDescription": "floor one"})
    assert again["billingGroupId"] == created["billingGroupId"]
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_billing_group(
            billingGroupName=name, billingGroupProperties={"billingGroupDescription": "other"})

    d = iot.describe_billing_group(billingGroupName=name)
    assert d["version"] == 1
    assert d["billingGroupProperties"] == {"billingGroupDescription": "floor one"}
    assert isinstance(d["billingGroupMetadata"]["creationDate"], datetime.datetime)
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "cost", "Value": "c1"}]

    v = iot.update_billing_group(billingGroupName=name, expectedVersion=1,
                                 billingGroupProperties={"billingGroupDescription": "two"})
    assert v["version"] == 2
    with aws_error("VersionConflictException", 409):
        iot.update_billing_group(billingGroupName=name, expectedVersion=1,
                                 billingGroupProperties={"billingGroupDescription": "three"})
    with aws_error("VersionConflictException", 409):
        iot.delete_billing_group(billingGroupName=name, expectedVersion=1)

    prefix = name[:-4]
    listed = _all(iot.list_billing_groups, "billingGroups", namePrefixFilter=prefix, maxResults=1)
    assert {"groupName": name, "groupArn": arn} in listed

    iot.delete_billing_group(billingGroupName=name, expectedVersion=2)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_billing_group(billingGroupName=name)
    # The model gives DeleteBillingGroup no ResourceNotFoundException: deleting again succeeds.
    iot.delete_billing_group(billingGroupName=name)


def test_a_thing_is_in_one_billing_group(iot, unique, aws_error):
    a, b = unique("ba"), unique("bb")
    for g in (a, b):
        iot.create_billing_group(billingGroupName=g)
    t1, t2 = unique("bt"), unique("bt")
    iot.create_thing(thingName=t1, billingGroupName=a)
    iot.create_thing(thingName=t2)
    assert iot.describe_thing(thingName=t1)["billingGroupName"] == a
    assert "billingGroupName" not in iot.describe_thing(thingName=t2)
    with aws_error("ResourceNotFoundException", 404):
        iot.create_thing(thingName=unique("bt"), billingGroupName=unique("nobill"))

    iot.add_thing_to_billing_group(billingGroupName=a, thingName=t2)
    assert sorted(_all(iot.list_things_in_billing_group, "things",
                       billingGroupName=a, maxResults=1)) == sorted([t1, t2])
    # Joining another billing group moves the thing.
    arn_b = iot.describe_billing_group(billingGroupName=b)["billingGroupArn"]
    thing_arn = iot.describe_thing(thingName=t1)["thingArn"]
    iot.add_thing_to_billing_group(billingGroupArn=arn_b, thingArn=thing_arn)
    assert iot.describe_thing(thingName=t1)["billingGroupName"] == b
    assert iot.list_things_in_billing_group(billingGroupName=a)["things"] == [t2]
    assert iot.list_things_in_billing_group(billingGroupName=b)["things"] == [t1]

    iot.remove_thing_from_billing_group(billingGroupName=a, thingName=t2)
    assert "billingGroupName" not in iot.describe_thing(thingName=t2)
    with aws_error("ResourceNotFoundException", 404):
        iot.add_thing_to_billing_group(billingGroupName=a, thingName=unique("nothing"))

    # Deleting a billing group takes its things out of it.
    iot.delete_billing_group(billingGroupName=b)
    assert "billingGroupName" not in iot.describe_thing(thingName=t1)
    with aws_error("ResourceNotFoundException", 404):
        iot.list_things_in_billing_group(billingGroupName=b)


def test_billing_groups_with_the_cli(aws_cli, unique):
    name = unique("clibill")
    out = aws_cli("iot", "create-billing-group", "--billing-group-name", name,
                  "--billing-group-properties", "billingGroupDescription=cli")
    assert out["billingGroupName"] == name
    thing = unique("clithing")
    aws_cli("iot", "create-thing", "--thing-name", thing)
    aws_cli("iot", "add-thing-to-billing-group", "--billing-group-name", name,
            "--thing-name", thing)
    listed = aws_cli("iot", "list-things-in-billing-group", "--billing-group-name", name)
    assert listed["things"] == [thing]
    d = aws_cli("iot", "describe-billing-group", "--billing-group-name", name)
    assert d["billingGroupProperties"]["billingGroupDescription"] == "cli"
    aws_cli("iot", "remove-thing-from-billing-group", "--billing-group-name", name,
            "--thing-name", thing)
    aws_cli("iot", "delete-billing-group", "--billing-group-name", name)
    names = [g["groupName"] for g in aws_cli("iot", "list-billing-groups")["billingGroups"]]
    assert name not in names


def test_the_index_lists_the_billing_group_in_thing_group_names(server):
    account, key, secret = server.create_account()
    fleet = Fleet(server, key, secret, account)
    fleet.configure(things="REGISTRY")
    fleet.iot.create_billing_group(billingGroupName="site-a")
    fleet.iot.create_thing_group(thingGroupName="lights")
    fleet.iot.create_thing(thingName="lamp", billingGroupName="site-a")
    fleet.iot.add_thing_to_thing_group(thingGroupName="lights", thingName="lamp")
    docs = fleet.wait_names("thingGroupNames:site-a", ["lamp"])
    assert docs[0]["thingGroupNames"] == ["lights", "site-a"]
    # ListThingGroupsForThing names thing groups only.
    groups = fleet.iot.list_thing_groups_for_thing(thingName="lamp")["thingGroups"]
    assert [g["groupName"] for g in groups] == ["lights"]
