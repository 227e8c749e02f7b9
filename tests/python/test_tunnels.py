"""AWS IoT secure tunneling's control plane (`iotsecuretunneling`), driven by unmodified boto3,
the AWS CLI and a paho-mqtt device.

What AWS documents, and what is checked here
(https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Secure_Tunneling.html,
https://docs.aws.amazon.com/iot/latest/developerguide/secure-tunneling.html,
https://docs.aws.amazon.com/iot/latest/developerguide/agent-snippet.html):
  * OpenTunnel gives a tunnel id (a UUID), its ARN (arn:aws:iot:REGION:ACCOUNT:tunnel/ID) and
    the two client access tokens; DescribeTunnel shows its settings, OPEN, both connection
    states DISCONNECTED; CloseTunnel makes it CLOSED (still describable) or, with `delete`,
    removes it; ListTunnels lists newest first, pages with maxResults/nextToken and filters by
    thing; tags by tunnel ARN, and an ARN of another account is not found;
  * the model's and AWS's rules: 1 to 3 services, each once, named [a-zA-Z0-9:_-]+; a lifetime
    of 1 to 720 minutes; no destinationConfig when rotating the source's token alone;
  * RotateTunnelAccessToken gives the rotated side's (or both sides') new token only;
  * a tunnel opened for a thing, and a new destination token, are published to the thing on
    `$aws/things/{thing}/tunnels/notify` as {clientAccessToken, clientMode, region, services};
    devices cannot publish there;
  * 300 tunnels may be open at once per account; a closed one frees its place.

The session server is shared with every other module: tests that count an account's tunnels
work in an account of their own (`shoal account create`), and every tunnel a test opens is
deleted at its end. No test sleeps to synchronise: devices wait on Queues with a timeout.
"""

import datetime
import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import DEFAULT_REGION, AwsCliError
from test_mqtt_gateway import (  # noqa: F401  (make_device and paho are fixtures)
    NOT_AUTHORIZED, THING, V311, V5, WAIT, arn, make_device, paho)
from test_mqtt_sessions import collect_until

DEFAULT_MAX_OPEN = 300  # AWS's default quota of open tunnels per account and region
RECENT = 60  # seconds: a timestamp the server just made is this close to now


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def tunnels_client(srv, access_key=None, secret_key=None, region=DEFAULT_REGION,
                   validate=True):
    """boto3 `iotsecuretunneling`; only the endpoint is non-standard (SigV4 signing name
    IoTSecuredTunneling, as botocore's model has it)."""
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                 parameter_validation=validate, connect_timeout=10, read_timeout=30)
    session = boto3.session.Session(aws_access_key_id=access_key or srv.access_key,
                                    aws_secret_access_key=secret_key or srv.secret_key,
                                    region_name=region)
    return session.client("iotsecuretunneling", endpoint_url=srv.endpoint, config=cfg)


@pytest.fixture(scope="module")
def tunnels(server):
    return tunnels_client(server)


@pytest.fixture(scope="module")
def tunnels_raw(server):
    """Client-side validation off, so that invalid input reaches the server."""
    return tunnels_client(server, validate=False)


class Tenant:
    """An account of its own on the session server (`shoal account create`)."""

    def __init__(self, srv):
        self.account_id, key, secret = srv.create_account()
        self.client = tunnels_client(srv, key, secret)
        self.raw = tunnels_client(srv, key, secret, validate=False)


@pytest.fixture
def tenant(server):
    """tenant() -> a Tenant; its tunnels are deleted at teardown by `opened`."""
    return lambda: Tenant(server)


@pytest.fixture
def opened():
    """opened(client, **OpenTunnel args) -> the response; every tunnel is deleted at teardown,
    so the shared server's accounts keep no open tunnels of this module."""
    made = []

    def open_tunnel(client, **kw):
        resp = client.open_tunnel(**kw)
        made.append((client, resp["tunnelId"]))
        return resp

    yield open_tunnel
    for client, tunnel_id in made:
        try:
            client.close_tunnel(tunnelId=tunnel_id, delete=True)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise


def fields(resp):
    """A response without botocore's ResponseMetadata."""
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def assert_recent(dt):
    """A datetime botocore made from the server's epoch seconds: aware, and about now."""
    assert isinstance(dt, datetime.datetime), dt
    assert dt.tzinfo is not None, dt
    assert abs(dt.timestamp() - time.time()) < RECENT, dt


def assert_open_response(resp, account_id, region=DEFAULT_REGION):
    tunnel_id = resp["tunnelId"]
    assert str(uuid.UUID(tunnel_id)) == tunnel_id, "not a UUID: %r" % tunnel_id
    assert resp["tunnelArn"] == "arn:aws:iot:%s:%s:tunnel/%s" % (region, account_id,
                                                                 tunnel_id)
    assert set(fields(resp)) == {"tunnelId", "tunnelArn", "sourceAccessToken",
                                 "destinationAccessToken"}, resp
    assert resp["sourceAccessToken"] and resp["destinationAccessToken"]
    assert resp["sourceAccessToken"] != resp["destinationAccessToken"]


def error_of(exc_info):
    e = exc_info.value
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def all_pages(client, **kw):
    """ListTunnels page by page -> (every summary in order, number of pages)."""
    seen, token, pages = [], None, 0
    while True:
        page = client.list_tunnels(**kw, **({"nextToken": token} if token else {}))
        pages += 1
        assert pages <= 50, "pagination does not end"
        seen += page["tunnelSummaries"]
        token = page.get("nextToken")
        if not token:
            return seen, pages


# --------------------------------------------------------------------------
# 1. A tunnel's life with boto3
# --------------------------------------------------------------------------


def test_open_describe_list_tag_close_delete(tunnels, opened, account_id, unique, aws_error):
    """Open with every setting; DescribeTunnel, ListTunnels and ListTagsForResource show it;
    tags are added and removed; CloseTunnel leaves it CLOSED and describable; CloseTunnel
    with delete removes it."""
    thing = unique("tun-thing")
    tags = [{"key": "env", "value": "test"}, {"key": "owner", "value": "ops"}]
    resp = opened(tunnels, description="ssh to the gateway", tags=tags,
                  destinationConfig={"thingName": thing, "services": ["SSH"]},
                  timeoutConfig={"maxLifetimeTimeoutMinutes": 30})
    assert_open_response(resp, account_id)
    tunnel_id, tunnel_arn = resp["tunnelId"], resp["tunnelArn"]

    t = tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]
    assert t["tunnelId"] == tunnel_id and t["tunnelArn"] == tunnel_arn
    assert t["status"] == "OPEN"
    assert t["description"] == "ssh to the gateway"
    assert t["destinationConfig"] == {"thingName": thing, "services": ["SSH"]}
    assert t["timeoutConfig"] == {"maxLifetimeTimeoutMinutes": 30}
    assert sorted(t["tags"], key=lambda x: x["key"]) == tags
    for side in ("sourceConnectionState", "destinationConnectionState"):
        assert t[side]["status"] == "DISCONNECTED", (side, t[side])
        assert_recent(t[side]["lastUpdatedAt"])
    assert_recent(t["createdAt"])
    assert_recent(t["lastUpdatedAt"])
    assert t["lastUpdatedAt"] >= t["createdAt"]

    # Newest first: the tunnel just opened heads the account's list; a summary has no
    # connection states, settings or tags.
    first = tunnels.list_tunnels()["tunnelSummaries"][0]
    assert first == {"tunnelId": tunnel_id, "tunnelArn": tunnel_arn, "status": "OPEN",
                     "description": "ssh to the gateway", "createdAt": t["createdAt"],
                     "lastUpdatedAt": t["lastUpdatedAt"]}, first
    by_thing = tunnels.list_tunnels(thingName=thing)["tunnelSummaries"]
    assert [s["tunnelId"] for s in by_thing] == [tunnel_id]

    def tag_map():
        got = tunnels.list_tags_for_resource(resourceArn=tunnel_arn)["tags"]
        return {x["key"]: x["value"] for x in got}

    assert tag_map() == {"env": "test", "owner": "ops"}
    tunnels.tag_resource(resourceArn=tunnel_arn, tags=[{"key": "env", "value": "prod"},
                                                       {"key": "team", "value": "iot"}])
    assert tag_map() == {"env": "prod", "owner": "ops", "team": "iot"}
    tunnels.untag_resource(resourceArn=tunnel_arn, tagKeys=["owner", "absent"])
    assert tag_map() == {"env": "prod", "team": "iot"}
    described = tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]
    assert {x["key"]: x["value"] for x in described["tags"]} == {"env": "prod", "team": "iot"}

    assert fields(tunnels.close_tunnel(tunnelId=tunnel_id)) == {}
    closed = tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]
    assert closed["status"] == "CLOSED"
    assert closed["tunnelArn"] == tunnel_arn
    assert closed["destinationConfig"] == {"thingName": thing, "services": ["SSH"]}
    assert closed["sourceConnectionState"]["status"] == "DISCONNECTED"
    assert closed["destinationConnectionState"]["status"] == "DISCONNECTED"
    assert closed["createdAt"] == t["createdAt"]
    assert closed["lastUpdatedAt"] >= t["lastUpdatedAt"]
    listed = tunnels.list_tunnels(thingName=thing)["tunnelSummaries"]
    assert [(s["tunnelId"], s["status"]) for s in listed] == [(tunnel_id, "CLOSED")]

    tunnels.close_tunnel(tunnelId=tunnel_id, delete=True)
    with aws_error("ResourceNotFoundException", 400):
        tunnels.describe_tunnel(tunnelId=tunnel_id)
    assert tunnels.list_tunnels(thingName=thing)["tunnelSummaries"] == []
    with aws_error("ResourceNotFoundException", 400):
        tunnels.list_tags_for_resource(resourceArn=tunnel_arn)
    with aws_error("ResourceNotFoundException", 400):
        tunnels.describe_tunnel(tunnelId=str(uuid.uuid4()))
    with aws_error("ResourceNotFoundException", 400):
        tunnels.close_tunnel(tunnelId=str(uuid.uuid4()))


def test_defaults_without_any_setting(tunnels, opened, account_id):
    """OpenTunnel with no input: a 720-minute lifetime, no description, destination or tags."""
    resp = opened(tunnels)
    assert_open_response(resp, account_id)
    t = tunnels.describe_tunnel(tunnelId=resp["tunnelId"])["tunnel"]
    assert t["timeoutConfig"] == {"maxLifetimeTimeoutMinutes": 720}
    assert t["status"] == "OPEN"
    for absent in ("description", "destinationConfig"):
        assert absent not in t, (absent, t)
    assert t.get("tags", []) == []


def test_arn_of_another_account_is_not_found(tunnels, tenant, opened, aws_error):
    """Tags are reached by the tunnel's ARN within the caller's account only."""
    other = tenant()
    resp = opened(other.client, tags=[{"key": "k", "value": "v"}])
    foreign = resp["tunnelArn"]
    assert foreign.split(":")[4] == other.account_id
    assert other.client.list_tags_for_resource(resourceArn=foreign)["tags"] == [
        {"key": "k", "value": "v"}]
    with aws_error("ResourceNotFoundException", 400):
        tunnels.list_tags_for_resource(resourceArn=foreign)
    with aws_error("ResourceNotFoundException", 400):
        tunnels.tag_resource(resourceArn=foreign, tags=[{"key": "x", "value": "y"}])
    with aws_error("ResourceNotFoundException", 400):
        tunnels.untag_resource(resourceArn=foreign, tagKeys=["k"])
    with aws_error("ResourceNotFoundException", 400):
        tunnels.describe_tunnel(tunnelId=resp["tunnelId"])
    # Nothing changed in the owner's account.
    assert other.client.list_tags_for_resource(resourceArn=foreign)["tags"] == [
        {"key": "k", "value": "v"}]


# --------------------------------------------------------------------------
# 2. Validation
# --------------------------------------------------------------------------

BAD_OPEN = [
    pytest.param({"destinationConfig": {"services": ["A", "B", "C", "D"]}}, id="4-services"),
    pytest.param({"destinationConfig": {"services": ["SSH", "SSH"]}}, id="duplicate-service"),
    pytest.param({"destinationConfig": {"services": ["bad name"]}}, id="bad-service-name"),
    pytest.param({"destinationConfig": {"services": ["ssh/22"]}}, id="service-with-slash"),
    pytest.param({"destinationConfig": {"services": []}}, id="no-service"),
    pytest.param({"destinationConfig": {"thingName": "bad/thing", "services": ["SSH"]}},
                 id="bad-thing-name"),
    pytest.param({"timeoutConfig": {"maxLifetimeTimeoutMinutes": 0}}, id="timeout-0"),
    pytest.param({"timeoutConfig": {"maxLifetimeTimeoutMinutes": 721}}, id="timeout-721"),
]


@pytest.fixture(scope="module")
def validation_tenant(server):
    """One account for the validation cases: nothing may ever be opened in it."""
    return Tenant(server)


@pytest.mark.parametrize("request_args", BAD_OPEN)
def test_open_tunnel_validation(validation_tenant, request_args, aws_error):
    with aws_error("ValidationException", 400):
        validation_tenant.raw.open_tunnel(**request_args)
    assert validation_tenant.client.list_tunnels()["tunnelSummaries"] == [], (
        "a refused OpenTunnel opened a tunnel")


def test_rotate_and_list_validation(tunnels, tunnels_raw, opened, aws_error):
    """destinationConfig with clientMode SOURCE, an unknown client mode, maxResults out of
    1..100, and a CLOSED tunnel's rotation are refused; the tunnel is left as it was."""
    resp = opened(tunnels, destinationConfig={"services": ["SSH"]})
    tunnel_id = resp["tunnelId"]
    before = tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]
    with aws_error("ValidationException", 400):
        tunnels_raw.rotate_tunnel_access_token(
            tunnelId=tunnel_id, clientMode="SOURCE",
            destinationConfig={"thingName": "dev", "services": ["SSH"]})
    with aws_error("ValidationException", 400):
        tunnels_raw.rotate_tunnel_access_token(tunnelId=tunnel_id, clientMode="BOTH")
    with aws_error("ValidationException", 400):
        tunnels_raw.rotate_tunnel_access_token(
            tunnelId=tunnel_id, clientMode="DESTINATION",
            destinationConfig={"services": ["A", "B", "C", "D"]})
    # The refused rotation did not take the destinationConfig nor touch the tunnel.
    assert tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"] == before
    for bad in (0, 101):
        with aws_error("ValidationException", 400):
            tunnels_raw.list_tunnels(maxResults=bad)

    tunnels.close_tunnel(tunnelId=tunnel_id)
    with pytest.raises(ClientError) as ei:
        tunnels.rotate_tunnel_access_token(tunnelId=tunnel_id, clientMode="ALL")
    code, status = error_of(ei)
    assert status == 400 and code in ("ValidationException", "ResourceNotFoundException"), (
        "rotating a CLOSED tunnel: %s %s" % (status, code))
    assert tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]["status"] == "CLOSED"


# --------------------------------------------------------------------------
# 3. Pagination and the thing filter
# --------------------------------------------------------------------------


def test_list_pages_newest_first_and_filters_by_thing(tenant, opened, unique):
    """Five tunnels (three for thing A, two for B) in an account of their own: pages of two
    walk them newest first, each once; thingName keeps that thing's only."""
    t = tenant()
    thing_a, thing_b = unique("tun-a"), unique("tun-b")
    ids = []
    for i in range(5):
        thing = thing_a if i % 2 == 0 else thing_b
        ids.append(opened(t.client, description="n%d" % i,
                          destinationConfig={"thingName": thing,
                                             "services": ["SSH"]})["tunnelId"])
    newest_first = ids[::-1]

    first = t.client.list_tunnels(maxResults=2)
    assert len(first["tunnelSummaries"]) == 2 and first.get("nextToken"), first
    seen, pages = all_pages(t.client, maxResults=2)
    got = [s["tunnelId"] for s in seen]
    assert got == newest_first, (got, newest_first)
    assert len(set(got)) == len(got)
    assert pages == 3
    assert [s["description"] for s in seen] == ["n4", "n3", "n2", "n1", "n0"]
    created = [s["createdAt"] for s in seen]
    assert created == sorted(created, reverse=True)

    whole = t.client.list_tunnels()
    assert [s["tunnelId"] for s in whole["tunnelSummaries"]] == newest_first
    assert "nextToken" not in whole

    a, pages_a = all_pages(t.client, thingName=thing_a, maxResults=2)
    assert [s["tunnelId"] for s in a] == [ids[4], ids[2], ids[0]] and pages_a == 2
    b, _ = all_pages(t.client, thingName=thing_b, maxResults=2)
    assert [s["tunnelId"] for s in b] == [ids[3], ids[1]]
    one = t.client.list_tunnels(thingName=thing_b, maxResults=1)
    assert [s["tunnelId"] for s in one["tunnelSummaries"]] == [ids[3]] and one.get("nextToken")
    assert t.client.list_tunnels(thingName=unique("tun-none"))["tunnelSummaries"] == []


# --------------------------------------------------------------------------
# 4. Token rotation
# --------------------------------------------------------------------------


def test_rotation_returns_the_rotated_sides_tokens_only(tunnels, opened):
    resp = opened(tunnels, destinationConfig={"services": ["SSH"]})
    tunnel_id, tunnel_arn = resp["tunnelId"], resp["tunnelArn"]
    source, destination = resp["sourceAccessToken"], resp["destinationAccessToken"]

    r = fields(tunnels.rotate_tunnel_access_token(tunnelId=tunnel_id, clientMode="SOURCE"))
    assert set(r) == {"tunnelArn", "sourceAccessToken"}, r
    assert r["tunnelArn"] == tunnel_arn
    assert r["sourceAccessToken"] not in (source, destination)
    source2 = r["sourceAccessToken"]

    r = fields(tunnels.rotate_tunnel_access_token(tunnelId=tunnel_id,
                                                  clientMode="DESTINATION"))
    assert set(r) == {"tunnelArn", "destinationAccessToken"}, r
    assert r["tunnelArn"] == tunnel_arn
    assert r["destinationAccessToken"] not in (source, destination, source2)
    destination2 = r["destinationAccessToken"]

    r = fields(tunnels.rotate_tunnel_access_token(tunnelId=tunnel_id, clientMode="ALL"))
    assert set(r) == {"tunnelArn", "sourceAccessToken", "destinationAccessToken"}, r
    assert r["tunnelArn"] == tunnel_arn
    old = {source, destination, source2, destination2}
    assert r["sourceAccessToken"] not in old and r["destinationAccessToken"] not in old
    assert r["sourceAccessToken"] != r["destinationAccessToken"]

    t = tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]
    assert t["status"] == "OPEN"
    assert t["destinationConfig"] == {"services": ["SSH"]}


# --------------------------------------------------------------------------
# 5. The destination's notification over MQTT
# --------------------------------------------------------------------------


def notify_topic(thing):
    return "$aws/things/%s/tunnels/notify" % thing


def notify_policy(account_id):
    """AWS's destination-device policy (connect as the thing, subscribe to and receive its
    notify topic), with iot:Publish allowed on every thing's notify topic, so that a refused
    publish there is the service's reserved topic at work and not the policy."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", THING)},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": arn(account_id, "topic", notify_topic(THING))},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": arn(account_id, "topicfilter", notify_topic(THING))},
            {"Effect": "Allow", "Action": "iot:Publish",
             "Resource": arn(account_id, "topic", notify_topic("*"))},
        ],
    }


def next_notification(dev, thing):
    _, (topic, payload, _, _) = collect_until(dev, lambda m: True)
    assert topic == notify_topic(thing), (topic, payload)
    return json.loads(payload)


def test_destination_device_is_notified_on_open_and_rotation(make_device, account_id, paho,
                                                             tunnels, opened, unique):
    creds, (thing,) = make_device(notify_policy(account_id))
    dev = paho(creds, thing, V5)
    dev.connect()
    assert dev.subscribe((notify_topic(thing), 1)) == [1]

    # A tunnel for another thing, then one without a thing: neither is this device's.
    opened(tunnels, destinationConfig={"thingName": unique("tun-other"), "services": ["SSH"]})
    opened(tunnels, destinationConfig={"services": ["SSH"]})

    resp = opened(tunnels, destinationConfig={"thingName": thing, "services": ["SSH"]})
    region = tunnels.meta.region_name
    got = next_notification(dev, thing)
    assert got == {"clientAccessToken": resp["destinationAccessToken"],
                   "clientMode": "destination", "region": region, "services": ["SSH"]}, got

    # A new source token says nothing to the destination; a new destination token does.
    tunnels.rotate_tunnel_access_token(tunnelId=resp["tunnelId"], clientMode="SOURCE")
    rotated = tunnels.rotate_tunnel_access_token(tunnelId=resp["tunnelId"],
                                                 clientMode="DESTINATION")
    got = next_notification(dev, thing)
    assert got == {"clientAccessToken": rotated["destinationAccessToken"],
                   "clientMode": "destination", "region": region, "services": ["SSH"]}, got
    assert got["clientAccessToken"] != resp["destinationAccessToken"]

    both = tunnels.rotate_tunnel_access_token(tunnelId=resp["tunnelId"], clientMode="ALL")
    got = next_notification(dev, thing)
    assert got["clientAccessToken"] == both["destinationAccessToken"], got
    assert dev.no_message_pending()


def test_rotation_with_a_destination_config_notifies_the_new_thing(make_device, account_id,
                                                                    paho, tunnels, opened):
    """RotateTunnelAccessToken's destinationConfig becomes the tunnel's: its thing is told
    the new destination token with the new services."""
    creds, (thing,) = make_device(notify_policy(account_id))
    dev = paho(creds, thing, V311)
    dev.connect()
    assert dev.subscribe((notify_topic(thing), 1)) == [1]
    resp = opened(tunnels, destinationConfig={"services": ["SSH"]})
    rotated = tunnels.rotate_tunnel_access_token(
        tunnelId=resp["tunnelId"], clientMode="DESTINATION",
        destinationConfig={"thingName": thing, "services": ["SSH", "RDP"]})
    got = next_notification(dev, thing)
    assert got == {"clientAccessToken": rotated["destinationAccessToken"],
                   "clientMode": "destination", "region": tunnels.meta.region_name,
                   "services": ["SSH", "RDP"]}, got
    t = tunnels.describe_tunnel(tunnelId=resp["tunnelId"])["tunnel"]
    assert t["destinationConfig"] == {"thingName": thing, "services": ["SSH", "RDP"]}


@pytest.mark.parametrize("protocol", [pytest.param(V311, id="mqtt311"),
                                      pytest.param(V5, id="mqtt5")])
def test_devices_cannot_publish_on_the_notify_topic(make_device, account_id, paho, tunnels,
                                                    opened, protocol):
    """`$aws/things/{thing}/tunnels/notify` is the service's: even with a policy that allows
    publishing there, a device's publish is refused (MQTT 3.1.1: disconnected; MQTT 5: PUBACK
    0x87, connection kept) and nothing reaches the thing's subscriber."""
    creds, (thing, forger_id) = make_device(notify_policy(account_id), things=2)
    watcher = paho(creds, thing, V5)
    watcher.connect()
    assert watcher.subscribe((notify_topic(thing), 1)) == [1]
    forged = json.dumps({"clientAccessToken": "forged", "clientMode": "destination",
                         "region": DEFAULT_REGION, "services": ["SSH"]})

    # Another thing of the same certificate publishes on the watcher's notify topic.
    dev = paho(creds, forger_id, protocol)
    dev.connect()
    if protocol == V311:
        mid = dev.publish(notify_topic(thing), forged, qos=1)
        assert dev.closed.wait(WAIT), "MQTT 3.1.1: the connection stayed after the publish"
        assert dev.pubacks.get(mid) is None, "a refused PUBLISH was acknowledged"
    else:
        # QoS 0 first: the QoS 1 publish's PUBACK then comes after the server handled both.
        dev.publish(notify_topic(thing), forged, qos=0)
        assert dev.publish_acked(notify_topic(thing), forged) == NOT_AUTHORIZED
        assert not dev.closed.is_set()

    # A marker after the refusal: the service's own notification. Had the forged message been
    # routed, the watcher would have received it first.
    resp = opened(tunnels, destinationConfig={"thingName": thing, "services": ["SSH"]})
    got = next_notification(watcher, thing)
    assert got["clientAccessToken"] == resp["destinationAccessToken"], got


def test_the_thing_itself_cannot_publish_its_notification(make_device, account_id, paho,
                                                          tunnels, opened):
    """MQTT 5, the thing's own connection, subscribed to its notify topic: its publish there
    gets PUBACK 0x87 and is not delivered back to it."""
    creds, (thing,) = make_device(notify_policy(account_id))
    dev = paho(creds, thing, V5)
    dev.connect()
    assert dev.subscribe((notify_topic(thing), 1)) == [1]
    assert dev.publish_acked(notify_topic(thing), b'{"clientAccessToken":"forged"}') == \
        NOT_AUTHORIZED
    assert not dev.closed.is_set()
    resp = opened(tunnels, destinationConfig={"thingName": thing, "services": ["SSH"]})
    got = next_notification(dev, thing)
    assert got["clientAccessToken"] == resp["destinationAccessToken"], got


# --------------------------------------------------------------------------
# 6. The AWS CLI
# --------------------------------------------------------------------------


def test_aws_cli_open_describe_list_rotate_close(aws_cli, account_id, unique):
    thing = unique("dev")
    opened = aws_cli("iotsecuretunneling", "open-tunnel",
                     "--destination-config", "thingName=%s,services=SSH" % thing,
                     "--timeout-config", "maxLifetimeTimeoutMinutes=60")
    tunnel_id = opened["tunnelId"]
    try:
        assert_open_response(opened, account_id)

        t = aws_cli("iotsecuretunneling", "describe-tunnel", "--tunnel-id", tunnel_id)["tunnel"]
        assert t["tunnelId"] == tunnel_id and t["tunnelArn"] == opened["tunnelArn"]
        assert t["status"] == "OPEN"
        assert t["destinationConfig"] == {"thingName": thing, "services": ["SSH"]}
        assert t["timeoutConfig"] == {"maxLifetimeTimeoutMinutes": 60}
        assert t["sourceConnectionState"]["status"] == "DISCONNECTED"
        assert t["destinationConnectionState"]["status"] == "DISCONNECTED"
        # The CLI prints epoch-second timestamps as ISO 8601 (or numbers): either is now.
        created = t["createdAt"]
        if isinstance(created, (int, float)):
            ts = float(created)
        else:
            ts = datetime.datetime.fromisoformat(created).timestamp()
        assert abs(ts - time.time()) < RECENT, created

        listed = aws_cli("iotsecuretunneling", "list-tunnels", "--thing-name", thing)
        assert [(s["tunnelId"], s["status"]) for s in listed["tunnelSummaries"]] == [
            (tunnel_id, "OPEN")], listed
        newest = aws_cli("iotsecuretunneling", "list-tunnels", "--max-results", "1")
        assert newest["tunnelSummaries"][0]["tunnelId"] == tunnel_id

        rotated = aws_cli("iotsecuretunneling", "rotate-tunnel-access-token",
                          "--tunnel-id", tunnel_id, "--client-mode", "ALL")
        assert set(rotated) == {"tunnelArn", "sourceAccessToken", "destinationAccessToken"}
        assert rotated["tunnelArn"] == opened["tunnelArn"]
        assert rotated["sourceAccessToken"] != opened["sourceAccessToken"]
        assert rotated["destinationAccessToken"] != opened["destinationAccessToken"]
    finally:
        assert aws_cli("iotsecuretunneling", "close-tunnel", "--tunnel-id", tunnel_id,
                       "--delete") in (None, {})

    with pytest.raises(AwsCliError) as ei:
        aws_cli("iotsecuretunneling", "describe-tunnel", "--tunnel-id", tunnel_id)
    assert "ResourceNotFoundException" in ei.value.stderr, ei.value.stderr
    assert "DescribeTunnel" in ei.value.stderr

    with pytest.raises(AwsCliError) as ei:
        aws_cli("iotsecuretunneling", "open-tunnel",
                "--destination-config", "services=SSH,SSH")
    assert "ValidationException" in ei.value.stderr, ei.value.stderr


# --------------------------------------------------------------------------
# 7. The open-tunnel quota
# --------------------------------------------------------------------------


def test_open_tunnel_quota_per_account(tenant, tunnels, opened, aws_error):
    """An account of its own opens 300 tunnels; the 301st is LimitExceededException; closing
    one frees a place; other accounts are not limited by it."""
    t = tenant()
    ids = [opened(t.client)["tunnelId"] for _ in range(DEFAULT_MAX_OPEN)]
    assert len(set(ids)) == DEFAULT_MAX_OPEN
    with aws_error("LimitExceededException", 400):
        t.client.open_tunnel()
    # The refused open left nothing behind.
    listed, _ = all_pages(t.client, maxResults=100)
    assert len(listed) == DEFAULT_MAX_OPEN
    assert {s["tunnelId"] for s in listed} == set(ids)

    # Another account opens as usual.
    opened(tunnels)

    # A CLOSED tunnel (still listed) does not count.
    t.client.close_tunnel(tunnelId=ids[0])
    assert t.client.describe_tunnel(tunnelId=ids[0])["tunnel"]["status"] == "CLOSED"
    again = opened(t.client)
    assert again["tunnelId"] not in ids
    with aws_error("LimitExceededException", 400):
        t.client.open_tunnel()
    # Deleting one frees a place too.
    t.client.close_tunnel(tunnelId=ids[1], delete=True)
    opened(t.client)
    with aws_error("LimitExceededException", 400):
        t.client.open_tunnel()
