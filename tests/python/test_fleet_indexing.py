"""Fleet indexing: the indexing configuration, the AWS_Things and AWS_ThingGroups indices,
SearchIndex and the aggregations, driven with boto3 and the AWS CLI.

What AWS IoT documents, and what is checked here
(https://docs.aws.amazon.com/iot/latest/developerguide/iot-indexing.html,
https://docs.aws.amazon.com/iot/latest/developerguide/managing-index.html,
https://docs.aws.amazon.com/iot/latest/developerguide/managing-fleet-index.html,
https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html,
https://docs.aws.amazon.com/iot/latest/developerguide/example-queries.html,
https://docs.aws.amazon.com/iot/latest/developerguide/index-aggregate.html):
  * UpdateIndexingConfiguration turns the thing index (REGISTRY, REGISTRY_AND_SHADOW, plus
    connectivity STATUS and named shadows) and the thing-group index on and off, per account
    and region; GetIndexingConfiguration returns it with its managed fields;
  * DescribeIndex names the index's schema and status, ListIndices the enabled indices, and an
    index that is off is a 404 ResourceNotFoundException;
  * SearchIndex pages through matches (at most 100 a page) with nextToken; a thing document
    has thingName, thingId, thingTypeName, thingGroupNames, attributes, `shadow` (a JSON
    string) and `connectivity`;
  * the query language: field:value (case-insensitive, words split on white space only),
    wildcards, ranges and comparisons (numeric for numbers), field:* , AND/OR/NOT/-, grouping,
    field grouping, at most 12 terms and one leading wildcard; errors are
    InvalidQueryException;
  * the index is eventually consistent: registry, shadow and connectivity changes become
    searchable shortly after they happen;
  * GetStatistics, GetPercentiles, GetCardinality and GetBucketsAggregation, with AWS's own
    TempSensor example giving AWS's published figures.

The indexing configuration is per account and region and the session server is shared with
every other module, so each test here works in an account of its own (`shoal account create`)
or on a server of its own (crash and restart tests). No test sleeps to synchronise: anything
eventually consistent is polled with a deadline (`until`). The helpers this module shares with
test_dynamic_groups_and_metrics.py (`until`, `error_of`, the `Fleet` account wrapper and the
index names and deadlines) live in fleet_support.py.
"""

import json
import re
import shutil
import signal
import time

import pytest

from fleet_support import GROUPS, REBUILD, THINGS, Fleet, error_of, until
from test_mqtt_gateway import V311, Paho, write_creds
from test_shadows import cli_with_payload, shadow_policy, shadow_topic

# AWS's fleet-indexing aggregation example (index-aggregate.html): ten sensors.
TEMPERATURES = [70, 71, 72, 73, 74, 75, 47, 97, 98, 99]
RACKS = ["Rack1", "Rack1", "Rack2", "Rack2", "Rack3", "Rack4", "Rack5", "Rack6", "Rack6",
         "Rack6"]
STATE_NORMAL = ["true"] * 6 + ["false"] * 4
SENSORS = ["TempSensor%d" % i for i in range(10)]

# GetIndexingConfiguration's managedFields for REGISTRY_AND_SHADOW + connectivity STATUS.
MANAGED_REGISTRY = [
    {"name": "thingName", "type": "String"},
    {"name": "thingId", "type": "String"},
    {"name": "registry.version", "type": "Number"},
    {"name": "registry.thingTypeName", "type": "String"},
    {"name": "registry.thingGroupNames", "type": "String"},
]
MANAGED_SHADOW = [
    {"name": "shadow.version", "type": "Number"},
    {"name": "shadow.hasDelta", "type": "Boolean"},
]
MANAGED_CONNECTIVITY = [
    {"name": "connectivity.connected", "type": "Boolean"},
    {"name": "connectivity.timestamp", "type": "Number"},
    {"name": "connectivity.disconnectReason", "type": "String"},
    {"name": "connectivity.version", "type": "Number"},
]
MANAGED_GROUPS = [
    {"name": "description", "type": "String"},
    {"name": "parentGroupNames", "type": "String"},
    {"name": "thingGroupId", "type": "String"},
    {"name": "thingGroupName", "type": "String"},
    {"name": "version", "type": "Number"},
]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def shadow_of(doc):
    """The `shadow` member of a thing document: a JSON document in a string."""
    assert isinstance(doc["shadow"], str), doc
    return json.loads(doc["shadow"])


def new_account(srv):
    account, key, secret = srv.create_account()
    return Fleet(srv, key, secret, account)


@pytest.fixture
def fleet(server):
    """A fresh account on the session server: indexing off, no things."""
    return new_account(server)


@pytest.fixture(scope="module")
def sensors(server):
    """An account holding AWS's TempSensor example, indexed (registry, shadow, connectivity),
    every sensor searchable. Tests only read it."""
    f = new_account(server)
    f.configure()
    for name, temp, rack, normal in zip(SENSORS, TEMPERATURES, RACKS, STATE_NORMAL):
        f.iot.create_thing(thingName=name, attributePayload={"attributes": {
            "temperature": str(temp), "rackId": rack, "stateNormal": normal}})
    f.wait_names("thingName:TempSensor*", SENSORS)
    return f


# --------------------------------------------------------------------------
# 1. The seed's AWS CLI commands
# --------------------------------------------------------------------------


def test_cli_seed_configure_and_search(fleet, tmp_path):
    """The seed's walk-through with the AWS CLI: turn on registry+shadow+connectivity and group
    indexing, report firmware 1.1.0 through iot-data, find it with `shadow.reported.firmware`,
    and find 20220202_SSMTest (in its group, never connected) with `thingName: 2022*`."""
    out = fleet.cli("iot", "update-indexing-configuration",
                    "--thing-indexing-configuration",
                    "thingIndexingMode=REGISTRY_AND_SHADOW,thingConnectivityIndexingMode=STATUS",
                    "--thing-group-indexing-configuration", "thingGroupIndexingMode=ON")
    assert out in (None, {}), out
    got = fleet.cli("iot", "get-indexing-configuration")
    things_cfg = got["thingIndexingConfiguration"]
    assert things_cfg["thingIndexingMode"] == "REGISTRY_AND_SHADOW"
    assert things_cfg["thingConnectivityIndexingMode"] == "STATUS"
    assert got["thingGroupIndexingConfiguration"]["thingGroupIndexingMode"] == "ON"
    assert sorted(fleet.cli("iot", "list-indices")["indexNames"]) == sorted([THINGS, GROUPS])
    fleet.wait_active()

    # A device reports its firmware (through iot-data, as the seed's app does).
    sensor = fleet.cli("iot", "create-thing", "--thing-name", "FirmwareSensor")
    fleet.iot.create_thing(thingName="OtherSensor")
    fleet.update_shadow("OtherSensor", {"state": {"reported": {"firmware": "1.0.9"}}})
    cli_with_payload(fleet.cli, "update-thing-shadow", "--thing-name", "FirmwareSensor",
                     "--payload", '{"state": {"reported": {"firmware": "1.1.0"}}}',
                     str(tmp_path / "update.json"))

    def firmware_search():
        res = fleet.cli("iot", "search-index", "--index-name", "AWS_Things",
                        "--query-string", "shadow.reported.firmware:1.1.0")
        return res if [t["thingName"] for t in res["things"]] == ["FirmwareSensor"] else None

    res = until(firmware_search, what="FirmwareSensor found by firmware 1.1.0")
    doc = res["things"][0]
    assert doc["thingId"] == sensor["thingId"]
    assert doc["connectivity"] == {"connected": False}
    shadow = shadow_of(doc)
    assert shadow["reported"] == {"firmware": "1.1.0"}
    assert shadow["version"] == 1 and shadow["hasDelta"] is False
    assert isinstance(shadow["metadata"]["reported"]["firmware"]["timestamp"], int)
    assert "desired" not in shadow and "delta" not in shadow

    # The SSM walk-through's thing, in its group.
    ssm = fleet.cli("iot", "create-thing", "--thing-name", "20220202_SSMTest")
    fleet.cli("iot", "create-thing-group", "--thing-group-name", "20220202_SSMTest_Group")
    fleet.cli("iot", "add-thing-to-thing-group", "--thing-group-name", "20220202_SSMTest_Group",
              "--thing-name", "20220202_SSMTest")
    fleet.iot.create_thing(thingName="2021_Older")  # does not match 2022*

    def ssm_search():
        res = fleet.cli("iot", "search-index", "--index-name", "AWS_Things",
                        "--query-string", "thingName: 2022*")
        things = res["things"]
        return res if things and things[0].get("thingGroupNames") else None

    res = until(ssm_search, what="20220202_SSMTest found in its group")
    assert res["things"] == [{
        "thingName": "20220202_SSMTest",
        "thingId": ssm["thingId"],
        "thingGroupNames": ["20220202_SSMTest_Group"],
        "connectivity": {"connected": False},
    }]
    assert "nextToken" not in res


def test_cli_seed_statistics_and_percentiles(sensors):
    """`aws iot get-statistics` and `get-percentiles` over AWS's TempSensor example give AWS's
    published figures (index-aggregate.html; the 75th percentile is 91.5 by linear
    interpolation, AWS's page shows 91.75)."""
    stats = sensors.cli("iot", "get-statistics", "--aggregation-field", "attributes.temperature",
                        "--query-string", "thingName:TempSensor*")
    assert stats == {"statistics": {
        "count": 10,
        "average": 77.6,
        "sum": 776.0,
        "minimum": 47.0,
        "maximum": 99.0,
        "sumOfSquares": 62578.0,
        "variance": 236.04000000000013,
        "stdDeviation": 15.36359332968691,
    }}

    got = sensors.cli("iot", "get-percentiles", "--aggregation-field", "attributes.temperature",
                      "--query-string", "thingName:TempSensor*",
                      "--percents", "10", "25", "50", "75", "90")
    pairs = [(p["percent"], p["value"]) for p in got["percentiles"]]
    assert [p for p, _ in pairs] == [10.0, 25.0, 50.0, 75.0, 90.0]
    values = dict(pairs)
    for percent, want in [(10.0, 67.7), (25.0, 71.25), (50.0, 73.5), (90.0, 98.1)]:
        assert abs(values[percent] - want) < 1e-9, (percent, values[percent], want)
    assert abs(values[75.0] - 91.75) <= 0.5, values[75.0]


# --------------------------------------------------------------------------
# 2. Configuration, DescribeIndex, ListIndices
# --------------------------------------------------------------------------


def test_configuration_round_trip(fleet):
    """GetIndexingConfiguration returns what UpdateIndexingConfiguration set, with the managed
    fields that follow from it; named shadows, their filter and custom fields round-trip."""
    iot = fleet.iot
    got = iot.get_indexing_configuration()
    got.pop("ResponseMetadata")
    assert got == {
        "thingIndexingConfiguration": {"thingIndexingMode": "OFF",
                                       "thingConnectivityIndexingMode": "OFF"},
        "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "OFF"},
    }

    iot.update_indexing_configuration(
        thingIndexingConfiguration={"thingIndexingMode": "REGISTRY_AND_SHADOW",
                                    "thingConnectivityIndexingMode": "STATUS"},
        thingGroupIndexingConfiguration={"thingGroupIndexingMode": "ON"})
    got = iot.get_indexing_configuration()
    things = got["thingIndexingConfiguration"]
    assert things["thingIndexingMode"] == "REGISTRY_AND_SHADOW"
    assert things["thingConnectivityIndexingMode"] == "STATUS"
    assert things["namedShadowIndexingMode"] == "OFF"
    assert things["managedFields"] == MANAGED_REGISTRY + MANAGED_SHADOW + MANAGED_CONNECTIVITY
    assert len(things["managedFields"]) == 11
    assert "customFields" not in things
    groups = got["thingGroupIndexingConfiguration"]
    assert groups["thingGroupIndexingMode"] == "ON"
    assert groups["managedFields"] == MANAGED_GROUPS

    # REGISTRY only, named shadows with a filter, a custom field: all returned.
    iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY",
        "namedShadowIndexingMode": "ON",
        "filter": {"namedShadowNames": ["config", "ota"]},
        "customFields": [{"name": "attributes.temperature", "type": "Number"}],
    })
    things = iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert things["thingIndexingMode"] == "REGISTRY"
    assert things["thingConnectivityIndexingMode"] == "OFF"
    assert things["namedShadowIndexingMode"] == "ON"
    assert things["filter"] == {"namedShadowNames": ["config", "ota"]}
    assert things["customFields"] == [{"name": "attributes.temperature", "type": "Number"}]
    assert [f["name"] for f in things["managedFields"]] == [
        "thingName", "thingId", "registry.version", "registry.thingTypeName",
        "registry.thingGroupNames", "shadow.name.*.version", "shadow.name.*.hasDelta"]
    assert iot.describe_index(indexName=THINGS)["schema"] == "MULTI_INDEXING_MODE"
    # The thing-group configuration was not part of the update: unchanged.
    assert iot.get_indexing_configuration()["thingGroupIndexingConfiguration"][
        "thingGroupIndexingMode"] == "ON"


def test_configuration_validation(fleet, aws_error):
    """AWS refuses connectivity indexing without thing indexing, and a shadow custom field when
    shadows are not indexed; a refused update changes nothing."""
    iot = fleet.iot
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})

    with aws_error("InvalidRequestException", 400):
        iot.update_indexing_configuration(thingIndexingConfiguration={
            "thingIndexingMode": "OFF", "thingConnectivityIndexingMode": "STATUS"})
    with aws_error("InvalidRequestException", 400) as ei:
        iot.update_indexing_configuration(thingIndexingConfiguration={
            "thingIndexingMode": "REGISTRY",
            "customFields": [{"name": "shadow.reported.x", "type": "Number"}]})
    assert "shadow.reported.x" in error_of(ei)[2]
    with aws_error("InvalidRequestException", 400):
        iot.update_indexing_configuration(thingIndexingConfiguration={
            "thingIndexingMode": "EVERYTHING"})

    things = iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert things["thingIndexingMode"] == "REGISTRY"
    assert things["thingConnectivityIndexingMode"] == "OFF"
    assert "customFields" not in things

    # The same custom field is accepted once shadows are indexed.
    iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW",
        "customFields": [{"name": "shadow.reported.x", "type": "Number"}]})
    assert iot.get_indexing_configuration()["thingIndexingConfiguration"]["customFields"] == [
        {"name": "shadow.reported.x", "type": "Number"}]


def test_describe_index_and_list_indices(fleet, aws_error):
    """DescribeIndex: 404 while an index is off, then its name, status and schema; ListIndices
    names the enabled indices."""
    iot = fleet.iot
    for name in (THINGS, GROUPS):
        with aws_error("ResourceNotFoundException", 404) as ei:
            iot.describe_index(indexName=name)
        assert error_of(ei)[2] == "Index %s does not exist" % name
    assert iot.list_indices()["indexNames"] == []

    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    d = iot.describe_index(indexName=THINGS)
    assert (d["indexName"], d["indexStatus"], d["schema"]) == (THINGS, "ACTIVE", "REGISTRY")
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_index(indexName=GROUPS)
    assert iot.list_indices()["indexNames"] == [THINGS]

    for things, conn, schema in [
        ("REGISTRY", "STATUS", "REGISTRY_AND_CONNECTIVITY_STATUS"),
        ("REGISTRY_AND_SHADOW", "OFF", "REGISTRY_AND_SHADOW"),
        ("REGISTRY_AND_SHADOW", "STATUS", "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS"),
    ]:
        fleet.configure(things=things, connectivity=conn, groups="ON")
        assert iot.describe_index(indexName=THINGS)["schema"] == schema
    d = iot.describe_index(indexName=GROUPS)
    assert (d["indexName"], d["indexStatus"], d["schema"]) == (GROUPS, "ACTIVE", "THING_GROUPS")
    assert sorted(iot.list_indices()["indexNames"]) == sorted([THINGS, GROUPS])

    fleet.configure(things="OFF", connectivity="OFF", groups="OFF")
    assert iot.list_indices()["indexNames"] == []
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_index(indexName=THINGS)


# --------------------------------------------------------------------------
# 3. SearchIndex
# --------------------------------------------------------------------------


def test_search_pages_with_next_token(fleet):
    """25 things, maxResults 10: pages of 10, 10 and 5 in name order, a nextToken on all but
    the last, every thing once."""
    fleet.configure()
    names = ["page-%02d" % i for i in range(25)]
    for n in reversed(names):  # created out of order: the order is the index's
        fleet.iot.create_thing(thingName=n)
    fleet.wait_names("thingName:page-*", names)

    pages, token = [], None
    while True:
        kw = {"indexName": THINGS, "queryString": "thingName:page-*", "maxResults": 10}
        if token:
            kw["nextToken"] = token
        resp = fleet.iot.search_index(**kw)
        pages.append([t["thingName"] for t in resp["things"]])
        token = resp.get("nextToken")
        if not token:
            break
        assert len(pages) < 10, "nextToken never ends"
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [n for p in pages for n in p] == names


def test_search_max_results_is_capped_at_100(fleet):
    """"This maximum number cannot exceed 100": a larger maxResults (or none) gives pages of
    100."""
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    names = ["cap-%03d" % i for i in range(105)]
    for n in names:
        fleet.iot.create_thing(thingName=n)
    fleet.wait_names("thingName:cap-*", names)
    for kw in ({"maxResults": 500}, {}):
        first = fleet.iot.search_index(queryString="thingName:cap-*", **kw)
        assert [t["thingName"] for t in first["things"]] == names[:100]
        rest = fleet.iot.search_index(queryString="thingName:cap-*",
                                      nextToken=first["nextToken"], **kw)
        assert [t["thingName"] for t in rest["things"]] == names[100:]
        assert "nextToken" not in rest


def test_thing_document(fleet):
    """A thing document: thingName, thingId, thingTypeName, thingGroupNames, attributes, the
    shadow as a JSON string (reported, desired, delta, metadata, hasDelta, version) and the
    connectivity."""
    fleet.configure()
    iot = fleet.iot
    iot.create_thing_type(thingTypeName="thermostat")
    created = iot.create_thing(thingName="living-room", thingTypeName="thermostat",
                               attributePayload={"attributes": {"floor": "1", "model": "T-100"}})
    iot.create_thing_group(thingGroupName="downstairs")
    iot.create_thing_group(thingGroupName="heating")
    iot.add_thing_to_thing_group(thingGroupName="heating", thingName="living-room")
    iot.add_thing_to_thing_group(thingGroupName="downstairs", thingName="living-room")
    acc = fleet.update_shadow("living-room", {"state": {"desired": {"temp": 21, "fan": "auto"},
                                                        "reported": {"temp": 19, "fan": "auto"}}})
    ts = acc["timestamp"]

    def full():
        docs = fleet.search("thingName:living-room")
        return docs if docs and "shadow" in docs[0] and docs[0].get("thingGroupNames") == [
            "downstairs", "heating"] else None

    doc = until(full, what="the full document of living-room")[0]
    shadow = shadow_of(doc)
    doc = dict(doc)
    doc.pop("shadow")
    assert doc == {
        "thingName": "living-room",
        "thingId": created["thingId"],
        "thingTypeName": "thermostat",
        "thingGroupNames": ["downstairs", "heating"],
        "attributes": {"floor": "1", "model": "T-100"},
        "connectivity": {"connected": False},
    }
    assert shadow["desired"] == {"temp": 21, "fan": "auto"}
    assert shadow["reported"] == {"temp": 19, "fan": "auto"}
    assert shadow["delta"] == {"temp": 21}
    assert shadow["hasDelta"] is True
    assert shadow["version"] == 1
    assert shadow["metadata"]["desired"] == {"temp": {"timestamp": ts}, "fan": {"timestamp": ts}}
    assert shadow["metadata"]["reported"] == {"temp": {"timestamp": ts},
                                              "fan": {"timestamp": ts}}


# Things of the query-language table: (name, attributes, thing type, reported shadow state).
QL_THINGS = [
    ("alpha", {"color": "Red", "size": "10", "model": "X1"}, "sensor",
     {"temp": 25, "location": "Building 7 floor-2", "on": True}),
    ("beta", {"color": "red", "size": "2.5", "label": "Hello_World"}, "sensor",
     {"temp": 18.5, "location": "Building 9"}),
    ("gamma", {"color": "blue", "size": "100"}, None, {"temp": -3}),
    ("delta", {"color": "green"}, "camera", None),
    ("epsilon", {}, None, None),
]

QUERIES = [
    # field:value, case-insensitive; `=` reads as `:`.
    ("attributes.color:red", ["alpha", "beta"]),
    ("attributes.color:RED", ["alpha", "beta"]),
    ("attributes.color=blue", ["gamma"]),
    ("attributes.model:x1", ["alpha"]),
    # Words are split on white space only: not on `_` or `-`.
    ("attributes.label:hello", []),
    ("attributes.label:hello_world", ["beta"]),
    ("shadow.reported.location:building", ["alpha", "beta"]),
    ("shadow.reported.location:floor-2", ["alpha"]),
    ("shadow.reported.location:floor", []),
    ('shadow.reported.location:"building 9"', ["beta"]),
    # Numbers compare as numbers (attributes are strings that look like numbers): "10" > 5.
    ("attributes.size>5", ["alpha", "gamma"]),
    ("attributes.size>=10", ["alpha", "gamma"]),
    ("attributes.size<10", ["beta"]),
    ("attributes.size<=10", ["alpha", "beta"]),
    ("attributes.size:[2.5 TO 10]", ["alpha", "beta"]),
    ("attributes.size:{2.5 TO 100}", ["alpha"]),
    ("shadow.reported.temp>20", ["alpha"]),
    ("shadow.reported.temp<0", ["gamma"]),
    ("shadow.reported.temp:[18 TO 19]", ["beta"]),
    ("shadow.reported.temp:25", ["alpha"]),
    # Wildcards and existence.
    ("thingName:al*", ["alpha"]),
    ("thingName:?eta", ["beta"]),
    ("thingName:*ta", ["beta", "delta"]),
    ("attributes.size:*", ["alpha", "beta", "gamma"]),
    ("shadow.reported.on:true", ["alpha"]),
    # Boolean operators, exclusion, default AND, grouping and field grouping.
    ("attributes.color:red AND NOT thingName:beta", ["alpha"]),
    ("attributes.color:red -thingName:alpha", ["beta"]),
    ("attributes.color:red attributes.size>5", ["alpha"]),
    ("attributes.color:red OR attributes.color:green", ["alpha", "beta", "delta"]),
    ("attributes.color:(red OR blue)", ["alpha", "beta", "gamma"]),
    ("(attributes.color:red AND shadow.reported.temp>20) OR thingTypeName:camera",
     ["alpha", "delta"]),
    ("NOT attributes.color:*", ["epsilon"]),
    ("thingTypeName:sensor", ["alpha", "beta"]),
    ("thingGroupNames:lab", ["beta", "gamma"]),
    ("thingGroupNames:lab AND -thingTypeName:sensor", ["gamma"]),
    ("thingName:*", ["alpha", "beta", "delta", "epsilon", "gamma"]),
    # A term without a field is looked for in every field.
    ("blue", ["gamma"]),
    ("BUILDING", ["alpha", "beta"]),
    ("camera", ["delta"]),
]


def test_query_language(fleet):
    """The query-syntax page's features over a small fleet: each query finds exactly the
    expected things, in name order."""
    fleet.configure()
    iot = fleet.iot
    for ttype in ("sensor", "camera"):
        iot.create_thing_type(thingTypeName=ttype)
    iot.create_thing_group(thingGroupName="lab")
    for name, attrs, ttype, reported in QL_THINGS:
        kw = {"thingName": name, "attributePayload": {"attributes": attrs}}
        if ttype:
            kw["thingTypeName"] = ttype
        iot.create_thing(**kw)
        if reported:
            fleet.update_shadow(name, {"state": {"reported": reported}})
    for name in ("beta", "gamma"):
        iot.add_thing_to_thing_group(thingGroupName="lab", thingName=name)
    # The last change made: once it is searchable, so is everything before it.
    fleet.wait_names("thingGroupNames:lab", ["beta", "gamma"])
    fleet.wait_names("shadow.reported.temp:*", ["alpha", "beta", "gamma"])

    wrong = []
    for query, expected in QUERIES:
        got = fleet.names(query)
        if got != expected:
            wrong.append("%s: expected %r, got %r" % (query, expected, got))
    assert not wrong, "\n".join(wrong)


def test_group_index_search(fleet, aws_error):
    """AWS_ThingGroups: thingGroupName, description, parentGroupNames and attributes are
    searchable; the document is a ThingGroupDocument; a group change is searchable soon."""
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="ON")
    iot = fleet.iot
    building = iot.create_thing_group(thingGroupName="building-1", thingGroupProperties={
        "thingGroupDescription": "Main building",
        "attributePayload": {"attributes": {"floors": "3"}}})
    floor = iot.create_thing_group(thingGroupName="floor-3", parentGroupName="building-1",
                                   thingGroupProperties={"thingGroupDescription": "Top floor"})
    iot.create_thing_group(thingGroupName="warehouse", thingGroupProperties={
        "thingGroupDescription": "Cold storage"})
    fleet.wait_names("thingGroupName:*", ["building-1", "floor-3", "warehouse"], GROUPS)

    docs = fleet.search("thingGroupName:floor*", GROUPS)
    assert len(docs) == 1
    doc = docs[0]
    assert doc["thingGroupName"] == "floor-3"
    assert doc["thingGroupId"] == floor["thingGroupId"]
    assert doc["thingGroupDescription"] == "Top floor"
    assert doc["parentGroupNames"] == ["building-1"]
    docs = fleet.search("attributes.floors:3", GROUPS)
    assert [d["thingGroupId"] for d in docs] == [building["thingGroupId"]]
    assert docs[0]["attributes"] == {"floors": "3"}

    assert fleet.names("parentGroupNames:building-1", GROUPS) == ["floor-3"]
    assert fleet.names("thingGroupDescription:STORAGE", GROUPS) == ["warehouse"]
    assert fleet.names("attributes.floors>2", GROUPS) == ["building-1"]
    assert fleet.names("thingGroupName:building-1 OR thingGroupName:warehouse", GROUPS) == [
        "building-1", "warehouse"]

    # Changes: a new description, a deleted group.
    iot.update_thing_group(thingGroupName="warehouse",
                           thingGroupProperties={"thingGroupDescription": "Frozen goods"})
    fleet.wait_names("thingGroupDescription:frozen", ["warehouse"], GROUPS)
    assert fleet.names("thingGroupDescription:storage", GROUPS) == []
    iot.delete_thing_group(thingGroupName="warehouse")
    fleet.wait_names("thingGroupName:*", ["building-1", "floor-3"], GROUPS)

    # A thing-index field is not a group-index field.
    with aws_error("InvalidQueryException", 400) as ei:
        iot.search_index(indexName=GROUPS, queryString="thingName:x")
    assert error_of(ei)[2] == ("Unable to parse query, invalid field name, field name: "
                               "thingName, query string: thingName:x")


# --------------------------------------------------------------------------
# 4. Errors
# --------------------------------------------------------------------------


def test_errors_when_indexing_is_off(fleet, aws_error):
    """SearchIndex and the aggregations on an index that is off: 404
    ResourceNotFoundException with AWS's message, in the header and body AWS uses."""
    status, headers, body = fleet.raw("POST", "/indices/search",
                                      {"indexName": THINGS, "queryString": "thingName:*"})
    assert status == 404
    assert headers["x-amzn-ErrorType"].split(":")[0] == "ResourceNotFoundException"
    assert body["message"] == ("Index AWS_Things does not exist. Please enable index by calling "
                               "UpdateIndexingConfiguration")

    with aws_error("ResourceNotFoundException", 404) as ei:
        fleet.iot.search_index(queryString="thingName:*")
    assert error_of(ei)[2] == ("Index AWS_Things does not exist. Please enable index by "
                               "calling UpdateIndexingConfiguration")
    with aws_error("ResourceNotFoundException", 404):
        fleet.iot.get_statistics(queryString="thingName:*")

    # Things on, groups off: only the group index is missing.
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    assert fleet.iot.search_index(queryString="thingName:*")["things"] == []
    with aws_error("ResourceNotFoundException", 404) as ei:
        fleet.iot.search_index(indexName=GROUPS, queryString="thingGroupName:*")
    assert error_of(ei)[2] == ("Index AWS_ThingGroups does not exist. Please enable index by "
                               "calling UpdateIndexingConfiguration")


def test_query_errors(fleet, aws_error):
    """Malformed queries, unknown fields, too many terms and leading wildcards are
    InvalidQueryException (400) naming the query; aggregations refuse non-numeric fields with
    InvalidAggregationException."""
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="ON")
    fleet.iot.create_thing(thingName="probe", attributePayload={"attributes": {"word": "abc"}})
    fleet.wait_names("thingName:probe", ["probe"])

    # Raw: status, header and body.
    status, headers, body = fleet.raw("POST", "/indices/search",
                                      {"indexName": THINGS, "queryString": "thingName:abc)"})
    assert status == 400
    assert headers["x-amzn-ErrorType"].split(":")[0] == "InvalidQueryException"
    m = re.fullmatch(r"Unable to parse query, (.+) at position (\d+), query string: (.*)",
                     body["message"])
    assert m, body
    assert m.group(2) == "14"  # the `)`, counted from 1
    assert m.group(3) == "thingName:abc)"

    for query, position in [("thingName:(a OR", 16), ("attributes.word:[1 TO", None),
                            ("AND thingName:a", 1), ('thingName:"abc', 11)]:
        with aws_error("InvalidQueryException", 400) as ei:
            fleet.iot.search_index(queryString=query)
        msg = error_of(ei)[2]
        m = re.fullmatch(r"Unable to parse query, (.+) at position (\d+), query string: (.*)",
                         msg)
        assert m and m.group(3) == query, msg
        if position is not None:
            assert int(m.group(2)) == position, (query, msg)

    with aws_error("InvalidQueryException", 400) as ei:
        fleet.iot.search_index(queryString="thingGroupName:x")
    assert error_of(ei)[2] == ("Unable to parse query, invalid field name, field name: "
                               "thingGroupName, query string: thingGroupName:x")

    # At most 12 terms.
    twelve = " OR ".join("attributes.a%d:x" % i for i in range(12))
    assert fleet.iot.search_index(queryString=twelve)["things"] == []
    thirteen = twelve + " OR attributes.a12:x"
    with aws_error("InvalidQueryException", 400) as ei:
        fleet.iot.search_index(queryString=thirteen)
    assert error_of(ei)[2].startswith("Unable to parse query, ")
    assert error_of(ei)[2].endswith(", query string: " + thirteen)

    # One leading wildcard per query.
    assert fleet.names("thingName:*obe") == ["probe"]
    with aws_error("InvalidQueryException", 400):
        fleet.iot.search_index(queryString="thingName:*obe OR attributes.word:*bc")

    # Aggregations: a field with text values has no percentiles.
    with aws_error("InvalidAggregationException", 400):
        fleet.iot.get_percentiles(queryString="thingName:*", aggregationField="attributes.word")
    # ... and a malformed query is the same InvalidQueryException there.
    with aws_error("InvalidQueryException", 400):
        fleet.iot.get_statistics(queryString="thingName:(", aggregationField="registry.version")


# --------------------------------------------------------------------------
# 5. Aggregations
# --------------------------------------------------------------------------


def test_statistics_defaults_and_text_fields(sensors):
    """GetStatistics: registry.version by default; a text field gives only the count; a query
    narrows the values."""
    got = sensors.iot.get_statistics(queryString="thingName:TempSensor*")["statistics"]
    assert got == {"count": 10, "average": 1.0, "sum": 10.0, "minimum": 1.0, "maximum": 1.0,
                   "sumOfSquares": 10.0, "variance": 0.0, "stdDeviation": 0.0}

    got = sensors.iot.get_statistics(queryString="thingName:TempSensor*",
                                     aggregationField="attributes.rackId")["statistics"]
    assert got == {"count": 10}

    got = sensors.iot.get_statistics(
        queryString="thingName:TempSensor* AND attributes.stateNormal:false",
        aggregationField="attributes.temperature")["statistics"]
    assert (got["count"], got["sum"], got["minimum"], got["maximum"]) == (4, 341.0, 47.0, 99.0)
    assert got["average"] == 85.25


def test_percentiles_default_percents(sensors):
    """GetPercentiles without percents: AWS's default [1, 5, 25, 50, 75, 95, 99], linearly
    interpolated between the closest ranks."""
    got = sensors.iot.get_percentiles(queryString="thingName:TempSensor*",
                                      aggregationField="attributes.temperature")["percentiles"]
    assert [p["percent"] for p in got] == [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0]
    ranked = sorted(TEMPERATURES)
    for p in got:
        r = p["percent"] / 100 * (len(ranked) - 1)
        lo = int(r)
        hi = min(lo + 1, len(ranked) - 1)
        want = ranked[lo] + (ranked[hi] - ranked[lo]) * (r - lo)
        assert abs(p["value"] - want) < 1e-9, (p, want)


def test_cardinality_and_buckets(sensors):
    """GetCardinality counts distinct values; GetBucketsAggregation ranks values by how many
    things hold them (most first), at most maxBuckets (10 by default), totalCount being the
    matching things."""
    iot = sensors.iot
    assert iot.get_cardinality(queryString="thingName:TempSensor*",
                               aggregationField="attributes.rackId")["cardinality"] == 6
    assert iot.get_cardinality(queryString="attributes.stateNormal:true",
                               aggregationField="attributes.rackId")["cardinality"] == 4

    resp = iot.get_buckets_aggregation(queryString="thingName:TempSensor*",
                                       aggregationField="attributes.rackId",
                                       bucketsAggregationType={"termsAggregation": {}})
    assert resp["totalCount"] == 10
    buckets = [(b["keyValue"], b["count"]) for b in resp["buckets"]]
    assert [c for _, c in buckets] == [3, 2, 2, 1, 1, 1]
    assert buckets[0] == ("Rack6", 3)
    assert {k for k, c in buckets if c == 2} == {"Rack1", "Rack2"}
    assert {k for k, c in buckets if c == 1} == {"Rack3", "Rack4", "Rack5"}

    resp = iot.get_buckets_aggregation(queryString="thingName:TempSensor*",
                                       aggregationField="attributes.rackId",
                                       bucketsAggregationType={"termsAggregation":
                                                               {"maxBuckets": 2}})
    assert resp["totalCount"] == 10
    assert [(b["keyValue"], b["count"]) for b in resp["buckets"]][0] == ("Rack6", 3)
    assert [b["count"] for b in resp["buckets"]] == [3, 2]

    resp = iot.get_buckets_aggregation(queryString="attributes.temperature>90",
                                       aggregationField="attributes.stateNormal",
                                       bucketsAggregationType={"termsAggregation": {}})
    assert resp["totalCount"] == 3
    assert [(b["keyValue"], b["count"]) for b in resp["buckets"]] == [("false", 3)]
    resp = iot.get_buckets_aggregation(queryString="thingName:TempSensor*",
                                       aggregationField="attributes.stateNormal",
                                       bucketsAggregationType={"termsAggregation": {}})
    assert [(b["keyValue"], b["count"]) for b in resp["buckets"]] == [("true", 6), ("false", 4)]


# --------------------------------------------------------------------------
# 6. Eventual consistency: registry, shadow and connectivity changes
# --------------------------------------------------------------------------


def test_registry_and_shadow_changes_become_searchable(fleet):
    """CreateThing, UpdateThing, AddThingToThingGroup, RemoveThingFromThingGroup,
    UpdateThingShadow, DeleteThingShadow and DeleteThing are each searchable within seconds."""
    fleet.configure()
    iot = fleet.iot
    start = time.monotonic()
    iot.create_thing(thingName="pump", attributePayload={"attributes": {"stage": "new"}})
    fleet.wait_names("attributes.stage:new", ["pump"])
    print("create searchable after %.3fs" % (time.monotonic() - start))

    iot.update_thing(thingName="pump", attributePayload={"attributes": {"stage": "ready"},
                                                         "merge": True})
    fleet.wait_names("attributes.stage:ready", ["pump"])
    assert fleet.names("attributes.stage:new") == []

    iot.create_thing_group(thingGroupName="pumps")
    iot.add_thing_to_thing_group(thingGroupName="pumps", thingName="pump")
    docs = fleet.wait_names("thingGroupNames:pumps", ["pump"])
    assert docs[0]["thingGroupNames"] == ["pumps"]

    start = time.monotonic()
    fleet.update_shadow("pump", {"state": {"desired": {"rpm": 1200},
                                           "reported": {"rpm": 900}}})
    docs = fleet.wait_names("shadow.reported.rpm:900", ["pump"])
    print("shadow update searchable after %.3fs" % (time.monotonic() - start))
    shadow = shadow_of(docs[0])
    assert (shadow["reported"], shadow["desired"], shadow["delta"]) == (
        {"rpm": 900}, {"rpm": 1200}, {"rpm": 1200})
    assert shadow["hasDelta"] is True and shadow["version"] == 1
    assert fleet.names("shadow.hasDelta:true") == ["pump"]
    assert fleet.names("shadow.delta.rpm:1200") == ["pump"]

    fleet.update_shadow("pump", {"state": {"reported": {"rpm": 1200}}})
    docs = fleet.wait_names("shadow.hasDelta:false", ["pump"])
    shadow = shadow_of(docs[0])
    assert shadow["version"] == 2 and "delta" not in shadow
    assert fleet.names("shadow.reported.rpm:900") == []

    iot.remove_thing_from_thing_group(thingGroupName="pumps", thingName="pump")
    fleet.wait_names("thingGroupNames:pumps", [])
    assert "thingGroupNames" not in fleet.search("thingName:pump")[0]

    # Deleting a group takes its members out of it; an empty attribute value removes it.
    iot.create_thing_group(thingGroupName="spares")
    iot.add_thing_to_thing_group(thingGroupName="spares", thingName="pump")
    fleet.wait_names("thingGroupNames:spares", ["pump"])
    iot.delete_thing_group(thingGroupName="spares")
    fleet.wait_names("thingGroupNames:spares", [])
    iot.update_thing(thingName="pump", attributePayload={"attributes": {"stage": ""},
                                                         "merge": True})
    fleet.wait_names("attributes.stage:*", [])
    assert "attributes" not in fleet.search("thingName:pump")[0]

    fleet.data.delete_thing_shadow(thingName="pump")
    fleet.wait_names("shadow.reported.rpm:*", [])
    assert "shadow" not in fleet.search("thingName:pump")[0]

    iot.delete_thing(thingName="pump")
    fleet.wait_names("thingName:pump", [])


def test_index_is_per_account_and_region(server, fleet, aws_error):
    """Each account and region has its own configuration and its own index: the same thing
    name in two accounts is two documents, each found only by its own account."""
    other = new_account(server)
    fleet.configure()
    other.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    mine = fleet.iot.create_thing(thingName="shared",
                                  attributePayload={"attributes": {"owner": "first"}})
    theirs = other.iot.create_thing(thingName="shared",
                                    attributePayload={"attributes": {"owner": "second"}})
    other.iot.create_thing(thingName="theirs-only")
    docs = fleet.wait_names("thingName:*", ["shared"])
    assert docs[0]["thingId"] == mine["thingId"]
    assert docs[0]["attributes"] == {"owner": "first"}
    docs = other.wait_names("thingName:*", ["shared", "theirs-only"])
    assert docs[0]["thingId"] == theirs["thingId"]
    assert "connectivity" not in docs[0]  # the other account indexes no connectivity
    assert fleet.names("attributes.owner:second") == []
    assert other.iot.get_statistics(queryString="thingName:*")["statistics"]["count"] == 2

    # Another region of the same account: indexing is off there until turned on.
    west = server.client(region="eu-west-1", access_key=fleet.key, secret_key=fleet.secret)
    with aws_error("ResourceNotFoundException", 404):
        west.search_index(queryString="thingName:*")
    assert west.list_indices()["indexNames"] == []
    west.update_indexing_configuration(
        thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    west.create_thing(thingName="western")

    def west_names():
        names = [t["thingName"] for t in west.search_index(queryString="thingName:*")["things"]]
        return names if names == ["western"] else None

    until(west_names, what="eu-west-1's own index")
    assert fleet.names("thingName:*") == ["shared"]


def test_turning_indexing_off_and_on_again(fleet):
    """Turning thing indexing off drops the index; turning it on again builds it from the
    registry as it is then, with the changes made while it was off."""
    fleet.configure()
    for n in ("kept", "removed"):
        fleet.iot.create_thing(thingName=n)
    fleet.wait_names("thingName:*", ["kept", "removed"])

    fleet.configure(things="OFF", connectivity="OFF", groups="OFF")
    fleet.iot.delete_thing(thingName="removed")
    fleet.iot.create_thing(thingName="added", attributePayload={"attributes": {"late": "yes"}})
    fleet.update_shadow("kept", {"state": {"reported": {"late": "yes"}}})

    fleet.configure()
    fleet.wait_names("thingName:*", ["added", "kept"])
    assert fleet.names("attributes.late:yes OR shadow.reported.late:yes") == ["added", "kept"]
    assert fleet.names("attributes.late:yes") == ["added"]


def test_shadow_of_an_unregistered_thing_is_not_indexed(fleet):
    """The index holds registry things: a shadow without a thing is not a search result."""
    fleet.configure()
    fleet.iot.create_thing(thingName="real")
    fleet.update_shadow("ghost", {"state": {"reported": {"kind": "haunted"}}})
    fleet.update_shadow("real", {"state": {"reported": {"kind": "haunted"}}})
    # Changes are indexed in commit order: once `real` shows, `ghost` would have too.
    fleet.wait_names("shadow.reported.kind:haunted", ["real"])
    assert fleet.names("thingName:*") == ["real"]


def test_indexing_mode_decides_the_document(fleet):
    """REGISTRY indexes neither shadows nor connectivity; switching to REGISTRY_AND_SHADOW with
    STATUS rebuilds the index with both; named shadows are indexed only when listed in the
    filter."""
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    created = fleet.iot.create_thing(thingName="lamp")
    fleet.iot.create_thing(thingName="fan")
    fleet.update_shadow("lamp", {"state": {"reported": {"on": True}}})
    fleet.update_shadow("lamp", {"state": {"reported": {"mode": "eco"}}}, shadow="config")
    fleet.update_shadow("fan", {"state": {"reported": {"mode": "eco"}}}, shadow="other")
    docs = fleet.wait_names("thingName:*", ["fan", "lamp"])
    assert docs[1] == {"thingName": "lamp", "thingId": created["thingId"]}
    assert fleet.names("shadow.reported.on:true") == []

    fleet.configure(things="REGISTRY_AND_SHADOW", connectivity="STATUS", groups="OFF",
                    namedShadowIndexingMode="ON", filter={"namedShadowNames": ["config"]})
    docs = fleet.wait_names("shadow.reported.on:true", ["lamp"])
    assert docs[0]["connectivity"] == {"connected": False}
    shadow = shadow_of(docs[0])
    assert shadow["reported"] == {"on": True}
    assert shadow["name"]["config"]["reported"] == {"mode": "eco"}
    assert "other" not in shadow.get("name", {})
    assert fleet.names("shadow.name.config.reported.mode:eco") == ["lamp"]
    assert fleet.names("shadow.name.other.reported.mode:eco") == []
    assert fleet.names("connectivity.connected:false") == ["fan", "lamp"]


def test_mqtt_shadow_update_and_connectivity(fleet, tmp_path):
    """A device's shadow update over MQTT is searchable within seconds, and so is its
    connectivity: connected while the connection lasts, then disconnected with the reason."""
    fleet.configure()
    iot = fleet.iot
    creds = write_creds(tmp_path, "dev", iot.create_keys_and_certificate(setAsActive=True))
    iot.create_policy(policyName="shadow", policyDocument=json.dumps(
        shadow_policy(fleet.account)))
    iot.attach_policy(policyName="shadow", target=creds.cert_arn)
    thing = "meter-1"
    iot.create_thing(thingName=thing)
    iot.create_thing(thingName="meter-2")  # never connects
    iot.attach_thing_principal(thingName=thing, principal=creds.cert_arn)
    fleet.wait_names("connectivity.connected:false", ["meter-1", "meter-2"])

    dev = Paho(fleet.srv, creds, thing, V311)
    try:
        before = int(time.time() * 1000)
        dev.connect()
        docs = fleet.wait_names("connectivity.connected:true", [thing])
        conn = docs[0]["connectivity"]
        assert conn["connected"] is True
        assert before - 5000 <= conn["timestamp"] <= int(time.time() * 1000) + 5000, conn
        assert "disconnectReason" not in conn

        start = time.monotonic()
        payload = json.dumps({"state": {"reported": {"kwh": 1234.5, "phase": "three"}}})
        assert dev.publish_acked(shadow_topic(thing, "update"), payload.encode()) == 0
        docs = fleet.wait_names("shadow.reported.kwh>1000", [thing])
        print("MQTT shadow update searchable after %.3fs" % (time.monotonic() - start))
        shadow = shadow_of(docs[0])
        assert shadow["reported"] == {"kwh": 1234.5, "phase": "three"}
        assert fleet.names("shadow.reported.phase:THREE AND connectivity.connected:true") == [
            thing]
    finally:
        dev.stop()

    docs = fleet.wait_names("connectivity.connected:false", ["meter-1", "meter-2"])
    conn = docs[0]["connectivity"]
    assert conn["connected"] is False
    assert conn["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert isinstance(conn["timestamp"], int)
    assert docs[1]["connectivity"] == {"connected": False}
    assert fleet.names("connectivity.disconnectReason:CLIENT_INITIATED_DISCONNECT") == [thing]


# --------------------------------------------------------------------------
# 7. The index is derived data: crash and restart
# --------------------------------------------------------------------------


def test_index_rebuilt_after_sigkill(shoal_factory, tmp_path):
    """After SIGKILL and a restart on the same data directory, every thing created before the
    kill is searchable again, including those the index had not yet caught up with."""
    data_dir = tmp_path / "fi-crash"
    srv = shoal_factory(data_dir)
    f = Fleet(srv, srv.access_key, srv.secret_key)
    f.configure()
    settled = ["crash-a-%02d" % i for i in range(20)]
    for i, n in enumerate(settled):
        f.iot.create_thing(thingName=n, attributePayload={"attributes": {"i": str(i)}})
    f.update_shadow("crash-a-00", {"state": {"reported": {"fw": "9.9"}}})
    f.wait_names("thingName:crash-*", settled)
    f.wait_names("shadow.reported.fw:9.9", ["crash-a-00"])
    # Created right before the kill, without waiting for the index.
    late = ["crash-b-%02d" % i for i in range(20)]
    for n in late:
        f.iot.create_thing(thingName=n)
    f.update_shadow("crash-b-19", {"state": {"reported": {"fw": "1.0"}}})

    srv.kill()
    assert srv.proc.returncode == -signal.SIGKILL

    srv2 = shoal_factory(data_dir)
    f2 = Fleet(srv2, srv2.access_key, srv2.secret_key)
    cfg = f2.iot.get_indexing_configuration()
    assert cfg["thingIndexingConfiguration"]["thingIndexingMode"] == "REGISTRY_AND_SHADOW"
    assert cfg["thingGroupIndexingConfiguration"]["thingGroupIndexingMode"] == "ON"
    f2.wait_names("thingName:crash-*", settled + late, timeout=REBUILD)
    f2.wait_names("shadow.reported.fw:*", ["crash-a-00", "crash-b-19"], timeout=REBUILD)
    f2.wait_active(timeout=REBUILD)
    stats = f2.iot.get_statistics(queryString="thingName:crash-a-*",
                                  aggregationField="attributes.i")["statistics"]
    assert (stats["count"], stats["sum"]) == (20, float(sum(range(20))))

    # The updater runs again: new changes are indexed.
    f2.iot.create_thing(thingName="crash-c-00")
    f2.wait_names("thingName:crash-c-*", ["crash-c-00"])


def test_index_folder_deleted_is_rebuilt(shoal_factory, tmp_path):
    """A clean restart keeps the index (searchable at once); with the data directory's `index`
    folder deleted while stopped, the next start rebuilds it from the store."""
    data_dir = tmp_path / "fi-rebuild"
    srv = shoal_factory(data_dir)
    f = Fleet(srv, srv.access_key, srv.secret_key)
    f.configure()
    names = ["keep-%02d" % i for i in range(15)]
    for n in names:
        f.iot.create_thing(thingName=n)
    f.iot.create_thing_group(thingGroupName="kept-group")
    f.iot.add_thing_to_thing_group(thingGroupName="kept-group", thingName="keep-07")
    f.update_shadow("keep-03", {"state": {"reported": {"color": "teal"}}})
    f.wait_names("thingGroupNames:kept-group", ["keep-07"])
    f.wait_names("shadow.reported.color:teal", ["keep-03"])
    f.wait_names("thingName:keep-*", names)
    f.wait_names("thingGroupName:*", ["kept-group"], GROUPS)
    assert srv.stop() == 0

    # Clean restart: the index was closed cleanly and answers at once.
    srv2 = shoal_factory(data_dir)
    f2 = Fleet(srv2, srv2.access_key, srv2.secret_key)
    assert f2.names("thingName:keep-*") == names
    assert f2.names("shadow.reported.color:teal") == ["keep-03"]
    assert srv2.stop() == 0

    index_dir = data_dir / "index"
    assert index_dir.is_dir(), sorted(p.name for p in data_dir.iterdir())
    shutil.rmtree(index_dir)

    srv3 = shoal_factory(data_dir)
    f3 = Fleet(srv3, srv3.access_key, srv3.secret_key)
    f3.wait_names("thingName:keep-*", names, timeout=REBUILD)
    f3.wait_names("thingGroupNames:kept-group", ["keep-07"], timeout=REBUILD)
    f3.wait_names("shadow.reported.color:teal", ["keep-03"], timeout=REBUILD)
    f3.wait_names("thingGroupName:*", ["kept-group"], GROUPS, timeout=REBUILD)
    f3.wait_active(timeout=REBUILD)
    assert index_dir.is_dir()
    d = f3.iot.describe_index(indexName=THINGS)
    assert (d["indexStatus"], d["schema"]) == ("ACTIVE",
                                               "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS")
