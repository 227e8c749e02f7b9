"""Registry events (https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html):
off by default, enabled per type with UpdateEventConfigurations, published on `$aws/events/...`
with AWS's payloads once each change is durable, and received by a paho client subscribed the
way AWS's page shows."""

import json
import time

import pytest

from conftest import run_aws

from test_mqtt_gateway import make_device, paho  # noqa: F401  (fixtures used by name)
from test_mqtt_sessions import V311, Client, collect_until, make_device_on

REGISTRY_TYPES = ["THING", "THING_TYPE", "THING_TYPE_ASSOCIATION", "THING_GROUP",
                  "THING_GROUP_MEMBERSHIP", "THING_GROUP_HIERARCHY"]


def watcher_policy(account):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "arn:aws:iot:us-east-1:%s:topicfilter/$aws/events/*" % account},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": "arn:aws:iot:us-east-1:%s:topic/$aws/events/*" % account},
        ],
    }


@pytest.fixture
def account(server, tmp_path, paho):  # noqa: F811
    """A fresh account, and a paho client of it subscribed to `$aws/events/#`."""
    account_id, key, secret = server.create_account()
    iot = server.client(access_key=key, secret_key=secret)
    creds, (thing,) = make_device_on(iot, tmp_path, watcher_policy(account_id))
    w = paho(creds, thing, V311, cls=Client)
    w.connect()
    assert w.subscribe(("$aws/events/#", 1)) == [1]
    cli = lambda *args: run_aws(server.endpoint, key, secret, *args)  # noqa: E731
    return account_id, iot, w, cli


def next_event(w, prefix="$aws/events/thing"):
    """The next message whose topic starts with `prefix` -> (topic, payload)."""
    _, got = collect_until(w, lambda m: m[0].startswith(prefix))
    return got[0], json.loads(got[1])


def test_events_are_off_by_default_then_follow_each_change(account):
    account_id, iot, w, aws_cli = account
    assert all(not c["Enabled"] for c in
               iot.describe_event_configurations()["eventConfigurations"].values())
    iot.create_thing(thingName="quiet")  # no event: not enabled yet
    iot.update_event_configurations(eventConfigurations={
        t: {"Enabled": True} for t in REGISTRY_TYPES})
    t0 = time.time() * 1000

    iot.create_thing_type(thingTypeName="lamp",
                          thingTypeProperties={"thingTypeDescription": "a lamp",
                                               "searchableAttributes": ["color"]})
    topic, e = next_event(w)
    assert topic == "$aws/events/thingType/lamp/created"
    assert e["eventType"] == "THING_TYPE_EVENT" and e["operation"] == "CREATED"
    assert e["accountId"] == account_id and e["thingTypeName"] == "lamp"
    assert e["isDeprecated"] is False and e["deprecationDate"] is None
    assert e["searchableAttributes"] == ["color"] and e["description"] == "a lamp"
    assert t0 - 5000 <= e["timestamp"] <= time.time() * 1000 + 5000, "epoch milliseconds"
    assert e["eventId"]

    made = iot.create_thing(thingName="lamp-1", thingTypeName="lamp",
                            attributePayload={"attributes": {"color": "red"}})
    # The first thing event is lamp-1's: `quiet` was created while events were off.
    topic, e = next_event(w)
    assert topic == "$aws/events/thing/lamp-1/created"
    assert e == {**e, "eventType": "THING_EVENT", "operation": "CREATED",
                 "accountId": account_id, "thingId": made["thingId"], "thingName": "lamp-1",
                 "versionNumber": 1, "thingTypeName": "lamp", "attributes": {"color": "red"}}
    topic, e = next_event(w)
    assert topic == "$aws/events/thingTypeAssociation/thing/lamp-1/thingType/lamp/added"
    assert e["eventType"] == "THING_TYPE_ASSOCIATION_EVENT" and e["operation"] == "ADDED"
    assert e["thingId"] == made["thingId"] and e["thingTypeName"] == "lamp"

    iot.update_thing(thingName="lamp-1", attributePayload={"attributes": {"color": "blue"},
                                                           "merge": True})
    topic, e = next_event(w)
    assert topic == "$aws/events/thing/lamp-1/updated"
    assert e["versionNumber"] == 2 and e["attributes"] == {"color": "blue"}

    root = iot.create_thing_group(thingGroupName="site")
    child = iot.create_thing_group(thingGroupName="floor", parentGroupName="site",
                                   thingGroupProperties={"thingGroupDescription": "f1"})
    topic, e = next_event(w)
    assert topic == "$aws/events/thingGroup/site/created"
    assert e["parentGroupName"] is None and e["rootToParentThingGroups"] is None
    topic, e = next_event(w)
    assert topic == "$aws/events/thingGroup/floor/created"
    assert e["eventType"] == "THING_GROUP_EVENT" and e["versionNumber"] == 1
    assert e["parentGroupName"] == "site" and e["parentGroupId"] == root["thingGroupId"]
    assert e["description"] == "f1"
    assert e["rootToParentThingGroups"] == [
        {"groupArn": root["thingGroupArn"], "groupId": root["thingGroupId"]}]
    topic, e = next_event(w)
    assert topic == ("$aws/events/thingGroupHierarchy/thingGroup/site/childThingGroup/floor"
                     "/added")
    assert (e["thingGroupName"], e["childGroupName"]) == ("site", "floor")
    assert e["childGroupId"] == child["thingGroupId"] and e["operation"] == "ADDED"

    aws_cli("iot", "add-thing-to-thing-group", "--thing-group-name", "floor",
            "--thing-name", "lamp-1")
    topic, added = next_event(w)
    assert topic == "$aws/events/thingGroupMembership/thingGroup/floor/thing/lamp-1/added"
    assert added["eventType"] == "THING_GROUP_MEMBERSHIP_EVENT"
    assert added["groupArn"] == child["thingGroupArn"] and added["thingId"] == made["thingId"]
    iot.remove_thing_from_thing_group(thingGroupName="floor", thingName="lamp-1")
    topic, removed = next_event(w)
    assert topic == "$aws/events/thingGroupMembership/thingGroup/floor/thing/lamp-1/removed"
    assert removed["operation"] == "REMOVED"
    assert removed["membershipId"] == added["membershipId"]

    iot.update_thing(thingName="lamp-1", removeThingType=True)
    topic, _ = next_event(w)
    assert topic == "$aws/events/thing/lamp-1/updated"
    topic, e = next_event(w)
    assert topic == "$aws/events/thingTypeAssociation/thing/lamp-1/thingType/lamp/removed"
    assert e["operation"] == "REMOVED"

    iot.deprecate_thing_type(thingTypeName="lamp")
    topic, e = next_event(w)
    assert topic == "$aws/events/thingType/lamp/updated" and e["isDeprecated"] is True
    assert isinstance(e["deprecationDate"], int)

    iot.delete_thing_group(thingGroupName="floor")
    topic, e = next_event(w)
    assert topic == "$aws/events/thingGroup/floor/deleted" and e["operation"] == "DELETED"
    topic, e = next_event(w)
    assert topic.endswith("/thingGroup/site/childThingGroup/floor/removed")

    iot.delete_thing(thingName="lamp-1")
    topic, e = next_event(w)
    assert topic == "$aws/events/thing/lamp-1/deleted" and e["operation"] == "DELETED"


def test_a_disabled_type_publishes_nothing(account):
    _, iot, w, _ = account
    iot.update_event_configurations(eventConfigurations={"THING_GROUP": {"Enabled": True}})
    iot.create_thing(thingName="silent")  # THING is off
    iot.create_thing_group(thingGroupName="marker")
    topic, _ = next_event(w)
    assert topic == "$aws/events/thingGroup/marker/created"
