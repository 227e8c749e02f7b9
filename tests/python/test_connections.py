"""iot-data's connection operations against live paho clients: GetConnection,
ListSubscriptions, SendDirectMessage and DeleteConnection (cleanSession, preventWillMessage),
as the iot-data model and https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html
("Managing MQTT connections") and direct-messaging.html describe them."""

import time

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from test_mqtt_gateway import (  # noqa: F401  (fixtures used by name)
    V5, V311, allow_all_policy, make_device, paho, raw5)
from test_mqtt_sessions import Client, collect_until, event, mk, presence_topic  # noqa: F401
from fleet_support import until
from test_mqtt_transports import make_data_client


@pytest.fixture(scope="module")
def data(server):
    return make_data_client(server)


def test_get_connection_and_list_subscriptions(make_device, mk, data, aws_error):  # noqa: F811
    creds, (dev,) = make_device(allow_all_policy())
    c = mk(creds, dev, V311, clean_session=False)
    t0 = int(time.time() * 1000)
    c.connect(keepalive=45)
    assert c.subscribe(("lamps/%s/+" % dev, 1), ("alerts/#", 0)) == [1, 0]

    got = data.get_connection(clientId=dev, includeSocketInformation=True)
    assert got["connected"] is True and got["clientId"] == dev
    assert got["thingName"] == dev
    assert got["cleanSession"] is False and got["keepAliveDuration"] == 45, got
    assert t0 - 5000 <= got["connectedSince"] <= int(time.time() * 1000) + 5000
    assert got["sourceIp"] == "127.0.0.1" and isinstance(got["sourcePort"], int)
    assert "disconnectedSince" not in got

    subs = data.list_subscriptions(clientId=dev)["subscriptions"]
    assert sorted((s["topicFilter"], s["qos"]) for s in subs) == [
        ("alerts/#", 0), ("lamps/%s/+" % dev, 1)]
    first = data.list_subscriptions(clientId=dev, maxResults=1)
    rest = data.list_subscriptions(clientId=dev, maxResults=1, nextToken=first["nextToken"])
    assert len(first["subscriptions"]) == len(rest["subscriptions"]) == 1
    assert "nextToken" not in rest

    c.stop()
    # The disconnection is recorded as the connection ends, after the client's DISCONNECT.
    got = until(lambda: (lambda g: g if not g["connected"] else None)(
        data.get_connection(clientId=dev)), what="GetConnection sees the disconnection")
    # The persistent session keeps its subscriptions while offline.
    assert got["connected"] is False and got["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert "disconnectedSince" in got and "connectedSince" not in got
    assert len(data.list_subscriptions(clientId=dev)["subscriptions"]) == 2

    with aws_error("ResourceNotFoundException", 404):
        data.get_connection(clientId="never-connected-%s" % dev)
    with aws_error("ResourceNotFoundException", 404):
        data.list_subscriptions(clientId="never-connected-%s" % dev)


def test_delete_connection_ends_it_with_the_will_and_keeps_or_cleans_the_session(
        make_device, mk, data, aws_error, aws_cli):  # noqa: F811
    creds, (dev, watcher) = make_device(allow_all_policy(), things=2)
    w = mk(creds, watcher, V311)
    w.connect()
    assert w.subscribe(("wills/#", 1), (presence_topic("disconnected", dev), 1)) == [1, 1]

    c = mk(creds, dev, V5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    c.connect(properties=props, will=("wills/%s" % dev, b"gone", 1, False))
    assert c.subscribe(("x/#", 1)) == [1]
    data.delete_connection(clientId=dev)
    assert c.closed.wait(10)
    will = collect_until(w, lambda m: m[0] == "wills/%s" % dev)[1]
    assert will[1] == b"gone"
    gone = event(w, presence_topic("disconnected", dev))
    assert gone["disconnectReason"] == "API_INITIATED_DISCONNECT"
    # The session stays (cleanSession=false by default).
    assert data.list_subscriptions(clientId=dev)["subscriptions"] == [
        {"topicFilter": "x/#", "qos": 1}]
    # An offline persistent session: cleanSession removes it.
    data.delete_connection(clientId=dev, cleanSession=True)
    with aws_error("ResourceNotFoundException", 404):
        data.list_subscriptions(clientId=dev)

    # preventWillMessage: no will this time; and cleanSession ends the live session too.
    c2 = mk(creds, dev, V5)
    c2.connect(properties=props, will=("wills/%s" % dev, b"second", 1, False))
    assert c2.subscribe(("y/#", 1)) == [1]
    aws_cli("iot-data", "delete-connection", "--client-id", dev, "--prevent-will-message",
            "--clean-session")
    assert c2.closed.wait(10)
    event(w, presence_topic("disconnected", dev))
    with aws_error("ResourceNotFoundException", 404):
        data.list_subscriptions(clientId=dev)
    assert w.no_message_pending(), "no will after preventWillMessage"
    with aws_error("ResourceNotFoundException", 404):
        data.delete_connection(clientId="nobody-%s" % dev)
    with aws_error("InvalidRequestException", 400):
        data.delete_connection(clientId="$bad")


def test_direct_messages_reach_one_client_without_a_subscription(
        make_device, mk, data, aws_error, account_id):  # noqa: F811
    creds, (dev,) = make_device(allow_all_policy())
    c = mk(creds, dev, V5)
    c.connect()
    # No subscription needed; QoS 0 without confirmation.
    out = data.send_direct_message(clientId=dev, topic="commands/reboot", payload=b"now",
                                   contentType="text/plain")
    assert out["message"] and out["traceId"]
    got = c.next_message()
    assert (got[0], got[1], got[2]) == ("commands/reboot", b"now", 0)
    # With confirmation: QoS 1, answered once the client's PUBACK is in.
    data.send_direct_message(clientId=dev, topic="commands/update", payload=b"v2",
                             confirmation=True, timeout=5)
    got = c.next_message()
    assert (got[0], got[1], got[2]) == ("commands/update", b"v2", 1)

    with aws_error("ResourceNotFoundException", 404):
        data.send_direct_message(clientId="offline-%s" % dev, topic="commands/x", payload=b"")
    with aws_error("InvalidRequestException", 400):
        data.send_direct_message(clientId=dev, topic="$aws/things/x", payload=b"")

    # A client whose policy does not allow receiving the topic: 403 with confirmation.
    creds2, (dev2,) = make_device({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Receive",
         "Resource": "arn:aws:iot:us-east-1:%s:topic/commands/*" % account_id}]})
    c2 = mk(creds2, dev2, V311)
    c2.connect()
    data.send_direct_message(clientId=dev2, topic="commands/ok", payload=b"1",
                             confirmation=True)
    assert c2.next_message()[0] == "commands/ok"
    with aws_error("ForbiddenException", 403):
        data.send_direct_message(clientId=dev2, topic="other/topic", payload=b"2",
                                 confirmation=True)


def test_an_mqtt5_client_hears_administrative_action(make_device, raw5, data):  # noqa: F811
    # MQTT 5 §3.14.2.1: DISCONNECT 0x98 "Administrative action" (paho 2.1 drops a one-byte
    # reason code, so a bare client reads it).
    creds, (dev,) = make_device(allow_all_policy())
    c = raw5(creds, dev)
    assert c.connack_code() == 0
    data.delete_connection(clientId=dev)
    ptype, _, body = c.read_packet()
    assert (ptype, body[0]) == (14, 0x98)


def test_connection_operations_with_the_cli(make_device, mk, aws_cli):  # noqa: F811
    creds, (dev,) = make_device(allow_all_policy())
    c = mk(creds, dev, V5)
    c.connect()
    assert c.subscribe(("cli/#", 1)) == [1]
    got = aws_cli("iot-data", "get-connection", "--client-id", dev)
    assert got["connected"] is True and got["clientId"] == dev
    subs = aws_cli("iot-data", "list-subscriptions", "--client-id", dev)["subscriptions"]
    assert subs == [{"topicFilter": "cli/#", "qos": 1}]
    # The payload is a blob: the CLI v1 sends the argument's bytes as they are.
    sent = aws_cli("iot-data", "send-direct-message", "--client-id", dev, "--topic", "cli/x",
                   "--payload", "hello", "--confirmation")
    assert sent["message"]
    assert c.next_message()[:2] == ("cli/x", b"hello")
