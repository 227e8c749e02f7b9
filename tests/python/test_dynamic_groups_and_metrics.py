"""Dynamic thing groups and fleet metrics, the two features built on fleet indexing, driven
with boto3, the AWS CLI and a plain Prometheus scrape.

What AWS IoT documents, and what is checked here
(https://docs.aws.amazon.com/iot/latest/developerguide/dynamic-thing-groups.html,
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateDynamicThingGroup.html,
https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateDynamicThingGroup.html,
https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteDynamicThingGroup.html,
https://docs.aws.amazon.com/iot/latest/developerguide/iot-fleet-metrics.html,
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateFleetMetric.html):
  * a dynamic thing group is a fleet-indexing query over AWS_Things; it needs thing indexing
    on ("AWS IoT Fleet Indexing is not enabled ..." otherwise), its query must parse
    (InvalidQueryException), and creating it again with the same query returns it while a
    different query is ResourceAlreadyExistsException;
  * things join and leave it "within seconds" as their registry data or shadows change, and
    the membership shows in ListThingsInThingGroup, ListThingGroupsForThing and the index's
    thingGroupNames; DescribeThingGroup adds the query, index, query version and status
    (BUILDING, then ACTIVE);
  * UpdateDynamicThingGroup changes the query (the membership is recomputed) and the version;
    DeleteDynamicThingGroup removes the group and its memberships, and succeeds for a group
    that does not exist;
  * the static-group operations refuse dynamic groups ("This operation does not support
    dynamic thing groups. Thing group arn: ..."), dynamic groups are no hierarchy's parent,
    thing indexing cannot be turned off while dynamic groups exist, and an account has at most
    100 of them (https://docs.aws.amazon.com/general/latest/gr/iot-core.html);
  * a fleet metric is a query, an aggregation (Statistics, Percentiles or Cardinality with its
    values) over a field, and a period (60 to 86400 seconds, a multiple of 60); it is
    evaluated when created or updated and then every period. Shoal exports the values as
    Prometheus gauges on `GET /metrics` (its stand-in for CloudWatch's IoTFleetMetrics).

The indexing configuration is per account and region and the session server is shared with
every other module, so each test works in an account of its own (`shoal account create`) or
on a server of its own (restart tests). No test sleeps to synchronise: anything eventually
consistent is polled with a deadline (`until`). Fleet metrics are evaluated every period in
real time (at least 60 s), so only the values computed at creation and update are checked.
The helpers this module shares with test_fleet_indexing.py (`until`, `error_of`, the `Fleet`
account wrapper and the index names and deadlines) live in fleet_support.py; `DynamicFleet`
below adds what only dynamic groups and fleet metrics need.
"""

import datetime
import re
import signal
import urllib.request

import pytest

from conftest import METRICS_TOKEN
from fleet_support import REBUILD, THINGS, Fleet, error_of, until

QUERY_VERSION = "2017-09-30"
MEMBERSHIP = 10.0  # seconds a membership change may take (AWS: "within seconds")

NOT_ENABLED = ("AWS IoT Fleet Indexing is not enabled. Please enable index by calling "
               "UpdateIndexingConfiguration.")
NOT_FOR_DYNAMIC = "This operation does not support dynamic thing groups. Thing group arn: %s"

PROM_LINE = re.compile(
    r'iot_fleet_metric\{account="([^"]*)",region="([^"]*)",metric_name="([^"]*)",'
    r'aggregation_type="([^"]*)"\} (\S+)')


# --------------------------------------------------------------------------
# Helpers (`until`, `error_of` and the base `Fleet` come from fleet_support.py)
# --------------------------------------------------------------------------


class DynamicFleet(Fleet):
    """fleet_support's `Fleet` (boto3 `iot` and `iot-data` clients and the AWS CLI, all signed
    with the account's key), plus a non-validating `iot_raw` client and the group-membership
    views of dynamic thing groups."""

    def __init__(self, srv, key, secret, account=None):
        super().__init__(srv, key, secret, account)
        self.iot_raw = srv.client(access_key=key, secret_key=secret, validate=False)
        self.account = account or self.arn_account()

    def arn_account(self):
        name = "acct-probe"
        arn = self.iot.create_thing(thingName=name)["thingArn"]
        self.iot.delete_thing(thingName=name)
        return arn.split(":")[4]

    def group_arn(self, name):
        return "arn:aws:iot:us-east-1:%s:thinggroup/%s" % (self.account, name)

    def things_in(self, group):
        out, token = [], None
        for _ in range(100):
            kw = {"thingGroupName": group}
            if token:
                kw["nextToken"] = token
            page = self.iot.list_things_in_thing_group(**kw)
            out.extend(page["things"])
            token = page.get("nextToken")
            if not token:
                return sorted(out)
        raise AssertionError("nextToken never ends for group %r" % group)

    def groups_of(self, thing):
        return sorted(g["groupName"]
                      for g in self.iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"])

    def membership(self, group, others=()):
        """What the three views say about `group`: its things (ListThingsInThingGroup), the
        things found by `thingGroupNames:group`, and which of the things named in `others`
        (plus the members) list the group in ListThingGroupsForThing."""
        members = self.things_in(group)
        searched = self.names("thingGroupNames:%s" % group)
        listing = sorted(t for t in set(members) | set(others)
                         if group in self.groups_of(t))
        return members, searched, listing

    def wait_members(self, group, expected, others=(), timeout=MEMBERSHIP):
        """Until ListThingsInThingGroup, SearchIndex and ListThingGroupsForThing (for the
        members and for `others`) all say the group holds exactly `expected`."""
        expected = sorted(expected)
        seen = {}

        def check():
            seen["views"] = self.membership(group, others)
            return seen["views"] == (expected, expected, expected)

        try:
            until(check, timeout, "membership of %s" % group)
        except AssertionError:
            raise AssertionError(
                "group %s: expected members %r within %ss; last (list, search, for-thing): %r"
                % (group, expected, timeout, seen.get("views")))

    def wait_group_active(self, group, timeout=MEMBERSHIP):
        return until(lambda: (lambda d: d if d["status"] == "ACTIVE" else None)(
            self.iot.describe_thing_group(thingGroupName=group)), timeout,
            "dynamic group %s ACTIVE" % group)

    def create_things(self, things):
        """{name: {attr: value}}."""
        for name, attrs in things.items():
            self.iot.create_thing(thingName=name,
                                  attributePayload={"attributes": dict(attrs)})


def new_account(srv):
    account, key, secret = srv.create_account()
    return DynamicFleet(srv, key, secret, account)


@pytest.fixture
def fleet(server):
    """A fresh account on the session server: indexing off, no things."""
    return new_account(server)


def scrape(srv):
    """GET /metrics with the operator's scrape token, as Prometheus sends it ->
    (content type, text)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(srv.endpoint.rstrip("/") + "/metrics",
                                 headers={"Authorization": "Bearer " + METRICS_TOKEN})
    with opener.open(req, timeout=30) as resp:
        assert resp.status == 200
        return resp.headers.get("Content-Type", ""), resp.read().decode()


def metric_values(srv, account, metric=None):
    """The account's fleet-metric gauges: {(metric, aggregation_type): value}, or
    {aggregation_type: value} for one metric."""
    out = {}
    for line in scrape(srv)[1].splitlines():
        m = PROM_LINE.fullmatch(line)
        if m and m.group(1) == account:
            assert m.group(2) == "us-east-1", line
            out[(m.group(3), m.group(4))] = float(m.group(5))
    if metric is None:
        return out
    return {agg: v for (name, agg), v in out.items() if name == metric}


# --------------------------------------------------------------------------
# 1. Dynamic thing groups: the seed's AWS CLI commands
# --------------------------------------------------------------------------


def test_cli_seed_firmware_group_follows_its_things(fleet):
    """The seed's commands: indexing on, then `create-dynamic-thing-group FirmwareV2` with
    `attributes.fw_version=2.0`. Things on 2.0 are members and others are not; a thing that
    moves to 2.0 joins, one that moves away leaves, a new matching thing joins, a deleted one
    disappears, and a thing recreated under a deleted member's name starts outside."""
    out = fleet.cli("iot", "update-indexing-configuration",
                    "--thing-indexing-configuration",
                    "thingIndexingMode=REGISTRY_AND_SHADOW,thingConnectivityIndexingMode=STATUS",
                    "--thing-group-indexing-configuration", "thingGroupIndexingMode=ON")
    assert out in (None, {}), out
    fleet.create_things({
        "cam-1": {"fw_version": "2.0"},
        "cam-2": {"fw_version": "1.0"},
        "cam-3": {"fw_version": "2.0", "site": "north"},
        "cam-4": {},
        "cam-5": {"fw_version": "2.0.1"},
    })
    # A static group too: a member of both lists both.
    fleet.iot.create_thing_group(thingGroupName="north")
    fleet.iot.add_thing_to_thing_group(thingGroupName="north", thingName="cam-3")

    made = fleet.cli("iot", "create-dynamic-thing-group", "--thing-group-name", "FirmwareV2",
                     "--query-string", "attributes.fw_version=2.0")
    assert made["thingGroupName"] == "FirmwareV2"
    assert made["thingGroupArn"] == fleet.group_arn("FirmwareV2")
    assert re.fullmatch(r"[0-9a-f-]{36}", made["thingGroupId"]), made
    assert made["indexName"] == THINGS
    assert made["queryString"] == "attributes.fw_version=2.0"
    assert made["queryVersion"] == QUERY_VERSION

    others = ["cam-2", "cam-4", "cam-5"]
    fleet.wait_members("FirmwareV2", ["cam-1", "cam-3"], others)
    assert fleet.groups_of("cam-3") == ["FirmwareV2", "north"]
    fleet.wait_names("thingGroupNames:north", ["cam-3"])
    listed = fleet.cli("iot", "list-things-in-thing-group", "--thing-group-name", "FirmwareV2")
    assert sorted(listed["things"]) == ["cam-1", "cam-3"]
    # The group itself is in the thing-group index.
    found = fleet.cli("iot", "search-index", "--index-name", "AWS_ThingGroups",
                      "--query-string", "thingGroupName:FirmwareV2")
    assert [(g["thingGroupName"], g["thingGroupId"]) for g in found["thingGroups"]] == [
        ("FirmwareV2", made["thingGroupId"])]

    # cam-2 is upgraded: it joins.
    fleet.iot.update_thing(thingName="cam-2", attributePayload={
        "attributes": {"fw_version": "2.0"}, "merge": True})
    fleet.wait_members("FirmwareV2", ["cam-1", "cam-2", "cam-3"], ["cam-4", "cam-5"])

    # cam-1 moves on to 2.1: it leaves.
    fleet.iot.update_thing(thingName="cam-1", attributePayload={
        "attributes": {"fw_version": "2.1"}, "merge": True})
    fleet.wait_members("FirmwareV2", ["cam-2", "cam-3"], ["cam-1", "cam-4", "cam-5"])
    assert fleet.groups_of("cam-1") == []

    # A new thing on 2.0 joins; one on another version does not.
    fleet.create_things({"cam-6": {"fw_version": "2.0"}, "cam-7": {"fw_version": "3.0"}})
    fleet.wait_members("FirmwareV2", ["cam-2", "cam-3", "cam-6"],
                       ["cam-1", "cam-4", "cam-5", "cam-7"])

    # A deleted member disappears; a new thing by that name, not on 2.0, is not a member.
    fleet.iot.delete_thing(thingName="cam-2")
    fleet.wait_members("FirmwareV2", ["cam-3", "cam-6"], ["cam-1", "cam-4", "cam-5", "cam-7"])
    fleet.create_things({"cam-2": {"fw_version": "1.0"}})
    # cam-8, created after it, joins: by then cam-2 has been evaluated too (changes are
    # indexed in order), and it stayed out.
    fleet.create_things({"cam-8": {"fw_version": "2.0"}})
    fleet.wait_members("FirmwareV2", ["cam-3", "cam-6", "cam-8"], ["cam-2", "cam-7"])
    assert fleet.groups_of("cam-2") == []
    # The static membership was never touched.
    assert fleet.things_in("north") == ["cam-3"]


# --------------------------------------------------------------------------
# 2. Create and describe
# --------------------------------------------------------------------------


def test_create_needs_fleet_indexing(fleet, aws_error):
    """Without thing indexing, CreateDynamicThingGroup is a 404 ResourceNotFoundException with
    AWS's message, and no group is made; with only group indexing on, still refused."""
    with aws_error("ResourceNotFoundException", 404) as ei:
        fleet.iot.create_dynamic_thing_group(thingGroupName="early",
                                             queryString="attributes.a:b")
    assert error_of(ei)[2] == NOT_ENABLED
    with aws_error("ResourceNotFoundException", 404):
        fleet.iot.describe_thing_group(thingGroupName="early")

    fleet.iot.update_indexing_configuration(
        thingIndexingConfiguration={"thingIndexingMode": "OFF"},
        thingGroupIndexingConfiguration={"thingGroupIndexingMode": "ON"})
    with aws_error("ResourceNotFoundException", 404) as ei:
        fleet.iot.create_dynamic_thing_group(thingGroupName="early",
                                             queryString="attributes.a:b")
    assert error_of(ei)[2] == NOT_ENABLED
    assert fleet.iot.list_thing_groups()["thingGroups"] == []

    # REGISTRY indexing is enough.
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    made = fleet.iot.create_dynamic_thing_group(thingGroupName="early",
                                                queryString="attributes.a:b")
    assert made["thingGroupArn"] == fleet.group_arn("early")


def test_create_validates_the_query_and_is_idempotent(fleet, aws_error):
    """A malformed query is InvalidQueryException and makes nothing; creating the same group
    again returns it unchanged; another query, or a static group, under that name is
    ResourceAlreadyExistsException."""
    fleet.configure()
    iot = fleet.iot
    for bad in ("attributes.a:(b OR", "thingName:abc)", "thingGroupName:x"):
        with aws_error("InvalidQueryException", 400):
            iot.create_dynamic_thing_group(thingGroupName="g", queryString=bad)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName="g")

    first = iot.create_dynamic_thing_group(thingGroupName="g", queryString="attributes.a:b")
    first.pop("ResponseMetadata")
    assert first == {
        "thingGroupName": "g",
        "thingGroupArn": fleet.group_arn("g"),
        "thingGroupId": first["thingGroupId"],
        "indexName": THINGS,
        "queryString": "attributes.a:b",
        "queryVersion": QUERY_VERSION,
    }
    again = iot.create_dynamic_thing_group(thingGroupName="g", queryString="attributes.a:b")
    again.pop("ResponseMetadata")
    assert again == first

    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_dynamic_thing_group(thingGroupName="g", queryString="attributes.a:c")
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_thing_group(thingGroupName="g")
    d = iot.describe_thing_group(thingGroupName="g")
    assert (d["thingGroupId"], d["queryString"], d["version"]) == (
        first["thingGroupId"], "attributes.a:b", 1)
    # ... and a static group's name is not a dynamic group's.
    iot.create_thing_group(thingGroupName="s")
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_dynamic_thing_group(thingGroupName="s", queryString="attributes.a:b")
    assert "queryString" not in iot.describe_thing_group(thingGroupName="s")


def test_describe_dynamic_group(fleet):
    """DescribeThingGroup of a dynamic group: the static fields plus queryString, indexName,
    queryVersion and a status that is BUILDING until the membership is computed, then ACTIVE
    (and once ACTIVE, the members are listed)."""
    fleet.configure()
    fleet.create_things({"hot-%02d" % i: {"zone": "hot"} for i in range(30)})
    fleet.create_things({"cold-1": {"zone": "cold"}})
    fleet.wait_names("attributes.zone:*", ["cold-1"] + ["hot-%02d" % i for i in range(30)])
    made = fleet.iot.create_dynamic_thing_group(
        thingGroupName="hot-zone", queryString="attributes.zone:hot",
        thingGroupProperties={"thingGroupDescription": "the hot zone",
                              "attributePayload": {"attributes": {"owner": "ops"}}})

    d = fleet.iot.describe_thing_group(thingGroupName="hot-zone")
    assert d["status"] in ("BUILDING", "ACTIVE"), d
    d = fleet.wait_group_active("hot-zone")
    # ACTIVE means the membership is computed: the registry lists every member at once.
    assert fleet.things_in("hot-zone") == sorted("hot-%02d" % i for i in range(30))
    d.pop("ResponseMetadata")
    assert isinstance(d["thingGroupMetadata"].pop("creationDate"), datetime.datetime)
    assert d == {
        "thingGroupName": "hot-zone",
        "thingGroupId": made["thingGroupId"],
        "thingGroupArn": made["thingGroupArn"],
        "version": 1,
        "thingGroupProperties": {"thingGroupDescription": "the hot zone",
                                 "attributePayload": {"attributes": {"owner": "ops"}}},
        "thingGroupMetadata": {},
        "indexName": THINGS,
        "queryString": "attributes.zone:hot",
        "queryVersion": QUERY_VERSION,
        "status": "ACTIVE",
    }
    fleet.wait_members("hot-zone", ["hot-%02d" % i for i in range(30)], ["cold-1"])

    # A static group has none of the dynamic members.
    fleet.iot.create_thing_group(thingGroupName="plain")
    plain = fleet.iot.describe_thing_group(thingGroupName="plain")
    for key in ("queryString", "indexName", "queryVersion", "status"):
        assert key not in plain, plain


def test_shadow_query_group_follows_shadow_updates(fleet):
    """A dynamic group over `shadow.reported.temp>30` follows UpdateThingShadow (iot-data):
    hot devices join, cooled ones leave, a deleted shadow leaves."""
    fleet.configure()
    for n in ("probe-a", "probe-b", "probe-c"):
        fleet.iot.create_thing(thingName=n)
    fleet.update_shadow("probe-a", {"state": {"reported": {"temp": 35}}})
    fleet.update_shadow("probe-b", {"state": {"reported": {"temp": 20}}})
    fleet.iot.create_dynamic_thing_group(thingGroupName="overheating",
                                         queryString="shadow.reported.temp>30")
    everyone = ["probe-a", "probe-b", "probe-c"]
    fleet.wait_members("overheating", ["probe-a"], everyone)

    fleet.update_shadow("probe-b", {"state": {"reported": {"temp": 31.5}}})
    fleet.update_shadow("probe-c", {"state": {"reported": {"temp": 99}}})
    fleet.wait_members("overheating", ["probe-a", "probe-b", "probe-c"], everyone)

    fleet.update_shadow("probe-a", {"state": {"reported": {"temp": 30}}})  # not > 30
    fleet.wait_members("overheating", ["probe-b", "probe-c"], everyone)

    fleet.data.delete_thing_shadow(thingName="probe-c")
    fleet.wait_members("overheating", ["probe-b"], everyone)


def test_dynamic_groups_are_per_account(server, fleet):
    """Another account's matching things are not members of this account's group."""
    other = new_account(server)
    fleet.configure()
    other.configure()
    fleet.create_things({"mine": {"batch": "7"}})
    other.create_things({"theirs": {"batch": "7"}, "mine": {"batch": "7"}})
    fleet.iot.create_dynamic_thing_group(thingGroupName="batch7",
                                         queryString="attributes.batch:7")
    fleet.wait_members("batch7", ["mine"])
    fleet.wait_group_active("batch7")
    assert other.groups_of("mine") == []
    assert other.groups_of("theirs") == []
    other.wait_names("attributes.batch:7", ["mine", "theirs"])
    assert other.names("thingGroupNames:batch7") == []


# --------------------------------------------------------------------------
# 3. Update and delete
# --------------------------------------------------------------------------


def test_update_dynamic_group(fleet, aws_error):
    """UpdateDynamicThingGroup: a new query recomputes the membership and bumps the version;
    a properties-only update keeps the query; expectedVersion must match; a malformed query is
    InvalidQueryException and changes nothing."""
    fleet.configure()
    iot = fleet.iot
    fleet.create_things({"v-%d" % i: {"size": str(i)} for i in range(1, 7)})
    everyone = ["v-%d" % i for i in range(1, 7)]
    iot.create_dynamic_thing_group(thingGroupName="big", queryString="attributes.size>4")
    fleet.wait_members("big", ["v-5", "v-6"], everyone)
    fleet.wait_group_active("big")

    out = iot.update_dynamic_thing_group(
        thingGroupName="big", queryString="attributes.size>=2 AND attributes.size<4",
        thingGroupProperties={"thingGroupDescription": "middling"}, expectedVersion=1)
    assert out["version"] == 2
    assert iot.describe_thing_group(thingGroupName="big")["status"] in ("REBUILDING", "ACTIVE")
    fleet.wait_members("big", ["v-2", "v-3"], everyone)
    d = fleet.wait_group_active("big")
    assert d["queryString"] == "attributes.size>=2 AND attributes.size<4"
    assert d["version"] == 2
    assert d["thingGroupProperties"]["thingGroupDescription"] == "middling"

    with aws_error("VersionConflictException", 409):
        iot.update_dynamic_thing_group(thingGroupName="big", queryString="attributes.size:1",
                                       thingGroupProperties={}, expectedVersion=1)
    with aws_error("InvalidQueryException", 400):
        iot.update_dynamic_thing_group(thingGroupName="big", queryString="attributes.size:(1",
                                       thingGroupProperties={})
    d = iot.describe_thing_group(thingGroupName="big")
    assert (d["version"], d["queryString"]) == (2, "attributes.size>=2 AND attributes.size<4")

    # Only the properties: the query and the members stay.
    out = iot.update_dynamic_thing_group(
        thingGroupName="big",
        thingGroupProperties={"attributePayload": {"attributes": {"tier": "gold"}}})
    assert out["version"] == 3
    d = iot.describe_thing_group(thingGroupName="big")
    assert d["queryString"] == "attributes.size>=2 AND attributes.size<4"
    assert d["thingGroupProperties"]["attributePayload"]["attributes"] == {"tier": "gold"}
    assert fleet.things_in("big") == ["v-2", "v-3"]

    # UpdateDynamicThingGroup is for dynamic groups only.
    iot.create_thing_group(thingGroupName="static")
    with aws_error("InvalidRequestException", 400):
        iot.update_dynamic_thing_group(thingGroupName="static", queryString="attributes.size:1",
                                       thingGroupProperties={})
    with aws_error("ResourceNotFoundException", 404):
        iot.update_dynamic_thing_group(thingGroupName="nothing", queryString="attributes.size:1",
                                       thingGroupProperties={})


def test_delete_dynamic_group(fleet, aws_error):
    """DeleteDynamicThingGroup: expectedVersion must match; the members leave (registry and
    index); the group is gone; deleting it again succeeds."""
    fleet.configure()
    iot = fleet.iot
    fleet.create_things({"d-1": {"k": "x"}, "d-2": {"k": "x"}, "d-3": {"k": "y"}})
    iot.create_dynamic_thing_group(thingGroupName="xs", queryString="attributes.k:x")
    fleet.wait_members("xs", ["d-1", "d-2"], ["d-3"])

    with aws_error("VersionConflictException", 409):
        iot.delete_dynamic_thing_group(thingGroupName="xs", expectedVersion=5)
    assert fleet.things_in("xs") == ["d-1", "d-2"]

    iot.delete_dynamic_thing_group(thingGroupName="xs", expectedVersion=1)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName="xs")
    assert fleet.groups_of("d-1") == [] and fleet.groups_of("d-2") == []
    fleet.wait_names("thingGroupNames:xs", [])
    assert all(g["groupName"] != "xs" for g in iot.list_thing_groups()["thingGroups"])

    iot.delete_dynamic_thing_group(thingGroupName="xs")
    iot.delete_dynamic_thing_group(thingGroupName="never-was")

    # The name is free again, for a group with another query.
    iot.create_dynamic_thing_group(thingGroupName="xs", queryString="attributes.k:y")
    fleet.wait_members("xs", ["d-3"], ["d-1", "d-2"])


# --------------------------------------------------------------------------
# 4. What dynamic groups refuse
# --------------------------------------------------------------------------


def test_static_group_operations_refuse_dynamic_groups(fleet, aws_error):
    """DeleteThingGroup, UpdateThingGroup, AddThingToThingGroup, RemoveThingFromThingGroup and
    UpdateThingGroupsForThing refuse a dynamic group with AWS's message naming its ARN; CreateThingGroup with a dynamic
    parent is refused; nothing changes."""
    fleet.configure()
    iot = fleet.iot
    fleet.create_things({"in": {"role": "edge"}, "out": {"role": "core"}})
    iot.create_dynamic_thing_group(thingGroupName="edge", queryString="attributes.role:edge")
    fleet.wait_members("edge", ["in"], ["out"])
    message = NOT_FOR_DYNAMIC % fleet.group_arn("edge")

    refused = [
        lambda: iot.delete_thing_group(thingGroupName="edge"),
        lambda: iot.update_thing_group(thingGroupName="edge", thingGroupProperties={
            "thingGroupDescription": "nope"}),
        lambda: iot.add_thing_to_thing_group(thingGroupName="edge", thingName="out"),
        lambda: iot.remove_thing_from_thing_group(thingGroupName="edge", thingName="in"),
        lambda: iot.update_thing_groups_for_thing(thingName="out", thingGroupsToAdd=["edge"]),
        lambda: iot.update_thing_groups_for_thing(thingName="in", thingGroupsToRemove=["edge"]),
    ]
    for call in refused:
        with aws_error("InvalidRequestException", 400) as ei:
            call()
        assert error_of(ei)[2] == message

    with aws_error("InvalidRequestException", 400):
        iot.create_thing_group(thingGroupName="edge-child", parentGroupName="edge")
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_group(thingGroupName="edge-child")

    d = iot.describe_thing_group(thingGroupName="edge")
    assert d["version"] == 1 and "thingGroupDescription" not in d["thingGroupProperties"]
    assert fleet.membership("edge", ["out"]) == (["in"], ["in"], ["in"])


def test_indexing_stays_on_while_dynamic_groups_exist(fleet, aws_error):
    """Turning thing indexing OFF is refused while a dynamic group exists, and the
    configuration stays; once the group is deleted it is accepted."""
    fleet.configure()
    fleet.iot.create_dynamic_thing_group(thingGroupName="any", queryString="thingName:*")
    with aws_error("InvalidRequestException", 400):
        fleet.iot.update_indexing_configuration(
            thingIndexingConfiguration={"thingIndexingMode": "OFF"})
    cfg = fleet.iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert cfg["thingIndexingMode"] == "REGISTRY_AND_SHADOW"
    assert fleet.iot.list_indices()["indexNames"] != []

    fleet.iot.delete_dynamic_thing_group(thingGroupName="any")
    fleet.iot.update_indexing_configuration(
        thingIndexingConfiguration={"thingIndexingMode": "OFF"},
        thingGroupIndexingConfiguration={"thingGroupIndexingMode": "OFF"})
    cfg = fleet.iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert cfg["thingIndexingMode"] == "OFF"


def test_dynamic_group_limit(fleet, aws_error):
    """At most 100 dynamic thing groups an account (LimitExceededException, 410); static groups
    are not counted, and deleting a dynamic group frees its place."""
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    fleet.create_things({"only": {"x": "1"}})
    for i in range(100):
        fleet.iot.create_dynamic_thing_group(thingGroupName="lim-%03d" % i,
                                             queryString="attributes.x:1")
    with aws_error("LimitExceededException", 410):
        fleet.iot.create_dynamic_thing_group(thingGroupName="lim-over",
                                             queryString="attributes.x:1")
    fleet.iot.create_thing_group(thingGroupName="static-still-fine")
    fleet.iot.delete_dynamic_thing_group(thingGroupName="lim-000")
    fleet.iot.create_dynamic_thing_group(thingGroupName="lim-over", queryString="attributes.x:1")
    expected = sorted(["lim-%03d" % i for i in range(1, 100)] + ["lim-over"])
    until(lambda: fleet.groups_of("only") == expected, MEMBERSHIP,
          "the thing in all 100 dynamic groups")


# --------------------------------------------------------------------------
# 5. Restart
# --------------------------------------------------------------------------


@pytest.mark.parametrize("stop", ["graceful", "sigkill"])
def test_dynamic_membership_survives_restart(shoal_factory, tmp_path, stop):
    """Membership is kept across a clean stop and a SIGKILL: after the restart the members are
    listed at once, the group is ACTIVE, the index finds them, and the group keeps following
    its things; a fleet metric is kept and valued again."""
    data_dir = tmp_path / ("dyn-" + stop)
    srv = shoal_factory(data_dir)
    f = DynamicFleet(srv, srv.access_key, srv.secret_key)
    f.configure()
    f.create_things({"r-1": {"fw": "9"}, "r-2": {"fw": "8"}, "r-3": {"fw": "9"}})
    f.iot.create_dynamic_thing_group(thingGroupName="nines", queryString="attributes.fw:9")
    f.wait_members("nines", ["r-1", "r-3"], ["r-2"])
    f.wait_group_active("nines")
    f.iot.create_fleet_metric(metricName="fw", queryString="thingName:r-*", period=3600,
                              aggregationField="attributes.fw",
                              aggregationType={"name": "Statistics", "values": ["sum"]})
    assert metric_values(srv, f.account, "fw") == {"sum": 26.0}

    if stop == "graceful":
        assert srv.stop() == 0
    else:
        srv.kill()
        assert srv.proc.returncode == -signal.SIGKILL

    srv2 = shoal_factory(data_dir)
    f2 = DynamicFleet(srv2, srv2.access_key, srv2.secret_key)
    assert f2.things_in("nines") == ["r-1", "r-3"]
    assert f2.groups_of("r-1") == ["nines"] and f2.groups_of("r-2") == []
    d = f2.iot.describe_thing_group(thingGroupName="nines")
    assert (d["status"], d["queryString"]) == ("ACTIVE", "attributes.fw:9")
    f2.wait_names("thingGroupNames:nines", ["r-1", "r-3"], timeout=REBUILD)
    # The fleet metric is kept too, and evaluated again at start (its period is an hour).
    assert f2.iot.describe_fleet_metric(metricName="fw")["version"] == 1
    until(lambda: metric_values(srv2, f2.account, "fw") == {"sum": 26.0}, REBUILD,
          "the fleet metric's value after the restart")

    f2.iot.update_thing(thingName="r-2", attributePayload={"attributes": {"fw": "9"},
                                                           "merge": True})
    f2.wait_members("nines", ["r-1", "r-2", "r-3"])


# --------------------------------------------------------------------------
# 6. Fleet metrics
# --------------------------------------------------------------------------


def test_cli_create_fleet_metric(fleet):
    """`aws iot create-fleet-metric` with the seed's arguments: the metric is made, described,
    and its count is on /metrics at once."""
    fleet.configure()
    fleet.create_things({"cli-%d" % i: {} for i in range(4)})
    fleet.wait_names("thingName:cli-*", ["cli-%d" % i for i in range(4)])
    out = fleet.cli("iot", "create-fleet-metric", "--metric-name", "X", "--query-string", "*",
                    "--aggregation-type", "name=Statistics,values=count", "--period", "60",
                    "--aggregation-field", "registry.version")
    assert out == {"metricName": "X",
                   "metricArn": "arn:aws:iot:us-east-1:%s:fleetmetric/X" % fleet.account}
    d = fleet.cli("iot", "describe-fleet-metric", "--metric-name", "X")
    assert d["aggregationType"] == {"name": "Statistics", "values": ["count"]}
    assert (d["queryString"], d["period"], d["aggregationField"]) == (
        "*", 60, "registry.version")
    assert metric_values(fleet.srv, fleet.account, "X") == {"count": 4.0}


def test_fleet_metric_crud(fleet, aws_error):
    """Describe, List (paged), Update (version, expectedVersion), Delete (also of a missing
    metric), and the errors of each."""
    fleet.configure()
    iot = fleet.iot
    made = iot.create_fleet_metric(
        metricName="power", queryString="attributes.watts:*",
        aggregationType={"name": "Statistics", "values": ["sum", "average"]}, period=300,
        aggregationField="attributes.watts", description="total power", unit="Count",
        tags=[{"Key": "team", "Value": "energy"}])
    arn = "arn:aws:iot:us-east-1:%s:fleetmetric/power" % fleet.account
    assert (made["metricName"], made["metricArn"]) == ("power", arn)
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.create_fleet_metric(
            metricName="power", queryString="*", period=60, aggregationField="registry.version",
            aggregationType={"name": "Statistics", "values": ["count"]})

    d = iot.describe_fleet_metric(metricName="power")
    d.pop("ResponseMetadata")
    created, modified = d.pop("creationDate"), d.pop("lastModifiedDate")
    assert created == modified
    assert d == {
        "metricName": "power",
        "queryString": "attributes.watts:*",
        "aggregationType": {"name": "Statistics", "values": ["sum", "average"]},
        "period": 300,
        "aggregationField": "attributes.watts",
        "description": "total power",
        "queryVersion": QUERY_VERSION,
        "indexName": THINGS,
        "unit": "Count",
        "version": 1,
        "metricArn": arn,
    }

    # description and unit only when set.
    for name in ("m-a", "m-b", "m-c"):
        iot.create_fleet_metric(metricName=name, queryString="*", period=60,
                                aggregationField="registry.version",
                                aggregationType={"name": "Cardinality",
                                                 "values": ["cardinality"]})
    bare = iot.describe_fleet_metric(metricName="m-a")
    assert "description" not in bare and "unit" not in bare
    assert bare["aggregationType"] == {"name": "Cardinality", "values": ["cardinality"]}

    seen, token, pages = [], None, 0
    while True:
        kw = {"maxResults": 2}
        if token:
            kw["nextToken"] = token
        page = iot.list_fleet_metrics(**kw)
        pages += 1
        assert len(page["fleetMetrics"]) <= 2
        seen.extend(page["fleetMetrics"])
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 10, "nextToken never ends"
    assert pages == 2
    assert sorted(m["metricName"] for m in seen) == ["m-a", "m-b", "m-c", "power"]
    assert {m["metricName"]: m["metricArn"] for m in seen}["power"] == arn
    assert len(iot.list_fleet_metrics()["fleetMetrics"]) == 4

    iot.update_fleet_metric(metricName="power", indexName=THINGS, period=120,
                            description="all power", expectedVersion=1)
    d = iot.describe_fleet_metric(metricName="power")
    assert (d["version"], d["period"], d["description"]) == (2, 120, "all power")
    assert d["queryString"] == "attributes.watts:*" and d["unit"] == "Count"
    assert d["creationDate"] == created and d["lastModifiedDate"] >= modified
    with aws_error("VersionConflictException", 409):
        iot.update_fleet_metric(metricName="power", indexName=THINGS, period=60,
                                expectedVersion=1)
    with aws_error("VersionConflictException", 409):
        iot.delete_fleet_metric(metricName="power", expectedVersion=1)
    with aws_error("ResourceNotFoundException", 404):
        iot.update_fleet_metric(metricName="absent", indexName=THINGS, period=60)
    assert iot.describe_fleet_metric(metricName="power")["version"] == 2

    iot.delete_fleet_metric(metricName="power", expectedVersion=2)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_fleet_metric(metricName="power")
    iot.delete_fleet_metric(metricName="power")
    iot.delete_fleet_metric(metricName="never-was")
    assert sorted(m["metricName"] for m in iot.list_fleet_metrics()["fleetMetrics"]) == [
        "m-a", "m-b", "m-c"]


def test_fleet_metric_validation(fleet, aws_error):
    """Index off: ResourceNotFoundException. A period outside 60..86400 or not a multiple of
    60, an unknown statistic or aggregation name: InvalidRequestException. A malformed query:
    InvalidQueryException. None of them makes a metric."""
    iot, raw = fleet.iot, fleet.iot_raw

    def create(client=iot, **over):
        kw = {"metricName": "m", "queryString": "*", "period": 60,
              "aggregationField": "registry.version",
              "aggregationType": {"name": "Statistics", "values": ["count"]}}
        kw.update(over)
        return client.create_fleet_metric(**kw)

    with aws_error("ResourceNotFoundException", 404):
        create()
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")

    for period in (61, 90, 86460):
        with aws_error("InvalidRequestException", 400):
            create(period=period)
    for period in (30, 0, -60):
        with aws_error("InvalidRequestException", 400):
            create(client=raw, period=period)
    for agg in ({"name": "Statistics", "values": ["median"]},
                {"name": "Percentiles", "values": ["101"]},
                {"name": "Cardinality", "values": ["count"]},
                {"name": "Histogram", "values": ["count"]}):
        with aws_error("InvalidRequestException", 400):
            create(aggregationType=agg)
    for query in ("thingName:(a OR", "thingGroupName:x"):
        with aws_error("InvalidQueryException", 400):
            create(queryString=query)
    assert iot.list_fleet_metrics()["fleetMetrics"] == []

    # The boundaries are valid.
    create(metricName="daily", period=86400)
    create(metricName="minutely", period=60)
    assert sorted(m["metricName"] for m in iot.list_fleet_metrics()["fleetMetrics"]) == [
        "daily", "minutely"]
    # And an update is validated the same way.
    with aws_error("InvalidRequestException", 400):
        iot.update_fleet_metric(metricName="daily", indexName=THINGS, period=61)
    with aws_error("InvalidQueryException", 400):
        iot.update_fleet_metric(metricName="daily", indexName=THINGS, queryString="a:(")
    assert iot.describe_fleet_metric(metricName="daily")["version"] == 1


def test_fleet_metric_values_on_metrics_endpoint(server, fleet):
    """/metrics (the scrape token, Prometheus text): a Statistics metric gives sum 60 and count
    3 over watts 10, 20, 30 right after creation, Percentiles 50 gives 20, Cardinality the
    distinct count; an update re-evaluates at once; a deleted metric's lines go."""
    fleet.configure()
    iot = fleet.iot
    fleet.create_things({
        "heater-1": {"watts": "10", "kind": "heater"},
        "heater-2": {"watts": "20", "kind": "heater"},
        "fan-1": {"watts": "30", "kind": "fan"},
        "lamp-1": {"kind": "lamp"},
    })
    fleet.wait_names("attributes.kind:*", ["fan-1", "heater-1", "heater-2", "lamp-1"])

    iot.create_fleet_metric(
        metricName="watts", queryString="attributes.watts:*", period=60,
        aggregationField="attributes.watts",
        aggregationType={"name": "Statistics", "values": ["sum", "count"]})
    iot.create_fleet_metric(
        metricName="median-watts", queryString="attributes.watts:*", period=60,
        aggregationField="attributes.watts",
        aggregationType={"name": "Percentiles", "values": ["50"]})
    iot.create_fleet_metric(
        metricName="kinds", queryString="thingName:*", period=60,
        aggregationField="attributes.kind",
        aggregationType={"name": "Cardinality", "values": ["cardinality"]})

    ctype, text = scrape(fleet.srv)
    assert ctype.startswith("text/plain"), ctype
    assert "# TYPE iot_fleet_metric gauge" in text
    assert metric_values(fleet.srv, fleet.account) == {
        ("watts", "sum"): 60.0,
        ("watts", "count"): 3.0,
        ("median-watts", "50"): 20.0,
        ("kinds", "cardinality"): 3.0,
    }

    # An update re-evaluates at once: heaters only.
    iot.update_fleet_metric(metricName="watts", indexName=THINGS,
                            queryString="attributes.kind:heater")
    assert metric_values(fleet.srv, fleet.account, "watts") == {"sum": 30.0, "count": 2.0}
    iot.update_fleet_metric(metricName="kinds", indexName=THINGS,
                            queryString="attributes.watts:*")
    assert metric_values(fleet.srv, fleet.account, "kinds") == {"cardinality": 2.0}

    # The values are per account: another account's metric of the same name is its own.
    other = new_account(server)
    other.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    other.create_things({"heater-1": {"watts": "5", "kind": "heater"}})
    other.wait_names("attributes.watts:*", ["heater-1"])
    other.iot.create_fleet_metric(
        metricName="watts", queryString="attributes.watts:*", period=60,
        aggregationField="attributes.watts",
        aggregationType={"name": "Statistics", "values": ["sum", "count"]})
    assert metric_values(fleet.srv, other.account) == {("watts", "sum"): 5.0,
                                                       ("watts", "count"): 1.0}
    assert metric_values(fleet.srv, fleet.account, "watts") == {"sum": 30.0, "count": 2.0}

    iot.delete_fleet_metric(metricName="median-watts")
    assert metric_values(fleet.srv, fleet.account) == {
        ("watts", "sum"): 30.0,
        ("watts", "count"): 2.0,
        ("kinds", "cardinality"): 2.0,
    }
    iot.delete_fleet_metric(metricName="watts")
    iot.delete_fleet_metric(metricName="kinds")
    assert metric_values(fleet.srv, fleet.account) == {}
    assert metric_values(fleet.srv, other.account) == {("watts", "sum"): 5.0,
                                                       ("watts", "count"): 1.0}
