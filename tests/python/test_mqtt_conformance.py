"""MQTT conformance of the broker in both of its profiles, driven by paho-mqtt over mutual TLS.

Shoal's broker speaks AWS IoT Core's MQTT by default (`[mqtt] profile = "aws"`) and full
MQTT 3.1.1 / 5.0 with `profile = "standard"` (or SHOAL_MQTT_PROFILE=standard). Every test runs
against a server of each profile it concerns: the session server (aws) and a second server
started for this module with SHOAL_MQTT_PROFILE=standard. Devices are made as AWS makes them
(CreateKeysAndCertificate and an allow-all policy attached to the certificate).

  * Both profiles: QoS 0/1 round trips, retained messages for exact filters, MQTT 5 Retain As
    Published and Retain Handling (§3.8.3.1), topic aliases from the client (§3.3.2.3.4), the
    client's Maximum Packet Size (§3.1.2.11.4) and Topic Alias Maximum (§3.1.2.11.5), and the
    CONNACK properties (§3.2.2.3).
  * aws profile: what AWS IoT refuses or changes
    (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences,
    https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits): QoS 2
    downgraded to 1, no retained messages for wildcard filters, keep-alive clamped to
    30..1200 s, no `$` topics but AWS's reserved ones, no subscription identifiers, no will
    delay, no topic aliases from the server.
  * standard profile: what MQTT asks for instead: QoS 2 end to end, retained messages for
    wildcard filters, keep-alive as asked, `$` topics, subscription identifiers, will delay
    and topic aliases from the server.

No test sleeps to synchronise: waits are on messages, acknowledgements and events with
timeouts. A message that must NOT arrive is checked with a marker sent after it by the same
publisher (the broker keeps per-publisher order), or with the client's `disconnected`
lifecycle event. Disconnect reason codes are read with a bare MQTT 5 client, because paho 2.1
drops the reason of a server DISCONNECT shorter than 3 bytes.
"""

import struct
import uuid

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from conftest import ShoalServer
from test_mqtt_gateway import (  # noqa: F401  (paho is a fixture used by name)
    DISCONNECT_PACKET,
    NOT_AUTHORIZED,
    PROTOCOLS,
    SUBACK_FAILURE_311,
    V5,
    V311,
    WAIT,
    RawMqtt5,
    _utf8,
    _varint,
    allow_all_policy,
    paho,
)
from test_mqtt_sessions import (
    Client,
    Got,
    collect_until,
    make_device_on,
    presence_topic,
    publish5,
)

PROFILES = ("aws", "standard")

# MQTT 5 reason codes (§2.4).
TOPIC_ALIAS_INVALID = 0x94
SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1

# What both profiles announce in CONNACK: AWS's 100 in-flight messages and its 128 KB payload
# quota plus 1 KB for the topic and properties.
RECEIVE_MAXIMUM = 100
MAXIMUM_PACKET_SIZE = 128 * 1024 + 1024
AWS_TOPIC_ALIAS_MAXIMUM = 8
AWS_MIN_KEEP_ALIVE = 30
AWS_MAX_KEEP_ALIVE = 1200

# MQTT 5 property identifiers (§2.2.2.2), for the bare client.
PROP_SUBSCRIPTION_IDENTIFIER = 0x0B
PROP_TOPIC_ALIAS = 0x23


# --------------------------------------------------------------------------
# Servers, devices and clients
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def standard_server(tmp_path_factory):
    """A second server with the standard MQTT profile."""
    srv = ShoalServer(tmp_path_factory.mktemp("shoal-standard") / "data",
                      env={"SHOAL_MQTT_PROFILE": "standard"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def servers(server, standard_server):
    return {"aws": server, "standard": standard_server}


@pytest.fixture(scope="session")
def device_creds(servers, tmp_path_factory):
    """device_creds(profile) -> one certificate with an allow-all policy on that server (any
    client id may connect with it), made once per session."""
    made = {}

    def get(profile):
        if profile not in made:
            made[profile], _ = make_device_on(
                servers[profile].client(), tmp_path_factory.mktemp("conformance-" + profile),
                allow_all_policy(), things=0)
        return made[profile]

    return get


@pytest.fixture(params=PROFILES)
def broker(request, servers):
    """(server, profile) for each profile; narrow it with `profiles(...)`."""
    return servers[request.param], request.param


def profiles(*names):
    """Runs a test against the brokers of these profiles only."""
    return pytest.mark.parametrize("broker", names, indirect=True)


class ConfClient(Client):
    """test_mqtt_sessions' Client (MQTT 5 properties kept, clean_start, drop()), which also
    resolves the topic aliases the server sets (§3.3.2.3.4): paho 2.1 hands a PUBLISH with an
    alias and no topic to on_message with an empty topic. Each message's `.alias` is the alias
    it carried, `.raw_topic` the topic as sent."""

    def _setup(self, *args, **kw):
        super()._setup(*args, **kw)
        self.server_aliases = {}

    def _on_message(self, client, userdata, msg):
        props = getattr(msg, "properties", None)
        alias = getattr(props, "TopicAlias", None) if props is not None else None
        raw = msg.topic
        topic = raw
        if alias is not None:
            if raw:
                self.server_aliases[alias] = raw
            else:
                topic = self.server_aliases.get(alias, "<unknown topic alias %d>" % alias)
        got = Got((topic, msg.payload, msg.qos, msg.retain))
        got.props, got.alias, got.raw_topic = props, alias, raw
        self.messages.put(got)


@pytest.fixture
def mqtt_client(broker, device_creds, paho):
    """mqtt_client(protocol=V5, client_id=None, **Paho kwargs) -> a ConfClient (not yet
    connected) for the broker under test, stopped at teardown."""
    srv, profile = broker

    def make(protocol=V5, client_id=None, **kw):
        return paho(device_creds(profile), client_id or new_id(), protocol, srv=srv,
                    cls=ConfClient, **kw)

    return make


@pytest.fixture
def connected(mqtt_client):
    """connected(protocol=V5, **connect kwargs) -> a connected ConfClient; its
    `connect_result` is (CONNACK flags, CONNACK properties)."""
    def make(protocol=V5, client_id=None, **kw):
        c = mqtt_client(protocol, client_id)
        c.connect_result = c.connect(**kw)
        return c

    return make


class Raw(RawMqtt5):
    """The bare MQTT 5 client of test_mqtt_gateway, with the few packets these tests send."""

    def publish(self, topic, payload, props=b""):
        """A QoS 0 PUBLISH with raw properties."""
        body = _utf8(topic) + _varint(len(props)) + props + payload
        self.sock.sendall(b"\x30" + _varint(len(body)) + body)

    def subscribe(self, topic_filter, options=1, props=b"", pkid=1):
        body = (struct.pack("!H", pkid) + _varint(len(props)) + props + _utf8(topic_filter)
                + bytes([options]))
        self.sock.sendall(b"\x82" + _varint(len(body)) + body)

    def disconnect_reason(self):
        """The reason code of the server's DISCONNECT (other packets are skipped); fails if
        the server closes without one."""
        while True:
            try:
                ptype, _, body = self.read_packet()
            except EOFError:
                raise AssertionError("the server closed the connection without a DISCONNECT")
            if ptype == DISCONNECT_PACKET:
                return body[0] if body else 0


@pytest.fixture
def raw_client(broker, device_creds):
    """raw_client() -> a Raw MQTT 5 client whose CONNECT was accepted."""
    srv, profile = broker
    opened = []

    def make():
        c = Raw(srv, device_creds(profile), new_id())
        opened.append(c)
        assert c.connack_code() == 0
        return c

    yield make
    for c in opened:
        c.close()


def new_id():
    return "conf-" + uuid.uuid4().hex[:12]


def new_topic(prefix="conf"):
    return "%s/%s" % (prefix, uuid.uuid4().hex[:12])


def props_of(packet_type, **kw):
    p = Properties(packet_type)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def publish_acked(client, topic, payload, qos=1, retain=False):
    """Publish and wait for its acknowledgement (PUBACK, or PUBCOMP for QoS 2) -> reason."""
    mid = client.publish(topic, payload, qos=qos, retain=retain)
    code = client.pubacks.wait(mid)
    assert code is not None, "no acknowledgement for %r" % topic
    return code


def next_is(client, topic, payload):
    """The next message is (topic, payload): with a marker, proves nothing came before it."""
    got = client.next_message()
    assert got[:2] == (topic, payload), "expected %r first, got %r" % ((topic, payload), got)
    return got


# --------------------------------------------------------------------------
# 1. Both profiles
# --------------------------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_publish_subscribe_round_trip(connected, protocol, qos):
    # MQTT 3.1.1 §4.3.1, §4.3.2 / MQTT 5 §4.3.1, §4.3.2: delivered at min(publish, granted).
    topic = new_topic()
    sub = connected(protocol)
    assert sub.subscribe((topic, qos)) == [qos]
    pub = connected(protocol)
    pub.publish(topic, b"hello %d" % qos, qos=qos)
    assert sub.next_message()[:4] == (topic, b"hello %d" % qos, qos, False)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retained_message_for_an_exact_filter(connected, protocol):
    # MQTT 5 §3.3.1.3: a new subscription gets the retained message, RETAIN set
    # (AWS mqtt.html#mqtt-retain: for a filter naming the topic).
    topic = new_topic()
    pub = connected(protocol)
    assert publish_acked(pub, topic, b"kept", retain=True) == 0
    sub = connected(protocol)
    assert sub.subscribe((topic, 1)) == [1]
    assert sub.next_message()[:4] == (topic, b"kept", 1, True)


def test_mqtt5_retain_as_published(connected):
    # MQTT 5 §3.8.3.1 Retain As Published: 1 keeps the RETAIN flag of a live publish, 0 clears
    # it ([MQTT-3.3.1-12], [MQTT-3.3.1-13]).
    topic = new_topic()
    rap = connected(V5)
    assert rap.subscribe((topic, SubscribeOptions(qos=1, retainAsPublished=True))) == [1]
    plain = connected(V5)
    assert plain.subscribe((topic, SubscribeOptions(qos=1))) == [1]
    pub = connected(V5)
    assert publish_acked(pub, topic, b"live and retained", retain=True) == 0
    assert rap.next_message()[:4] == (topic, b"live and retained", 1, True)
    assert plain.next_message()[:4] == (topic, b"live and retained", 1, False)


def test_mqtt5_retain_handling_1_only_on_a_new_subscription(connected):
    # MQTT 5 §3.8.3.1 Retain Handling 1: retained messages are sent if the subscription does
    # not already exist ([MQTT-3.3.1-10]); 0 sends them on every SUBSCRIBE ([MQTT-3.3.1-9]).
    topic = new_topic()
    pub = connected(V5)
    assert publish_acked(pub, topic, b"kept", retain=True) == 0
    sub = connected(V5)
    assert sub.subscribe((topic, SubscribeOptions(qos=1, retainHandling=1))) == [1]
    assert sub.next_message()[:4] == (topic, b"kept", 1, True)
    # The same filter again: not sent.
    assert sub.subscribe((topic, SubscribeOptions(qos=1, retainHandling=1))) == [1]
    assert publish_acked(pub, topic, b"marker") == 0
    assert next_is(sub, topic, b"marker")[3] is False
    # Retain Handling 0 on the existing subscription: sent again.
    assert sub.subscribe((topic, SubscribeOptions(qos=1, retainHandling=0))) == [1]
    assert sub.next_message()[:4] == (topic, b"kept", 1, True)


def test_mqtt5_retain_handling_2_never(connected):
    # MQTT 5 §3.8.3.1 Retain Handling 2: retained messages are not sent ([MQTT-3.3.1-11]).
    topic = new_topic()
    pub = connected(V5)
    assert publish_acked(pub, topic, b"kept", retain=True) == 0
    sub = connected(V5)
    assert sub.subscribe((topic, SubscribeOptions(qos=1, retainHandling=2))) == [1]
    assert publish_acked(pub, topic, b"marker") == 0
    assert next_is(sub, topic, b"marker")[3] is False


def test_mqtt5_connack_properties(broker, connected):
    # MQTT 5 §3.2.2.3: Receive Maximum (§3.2.2.3.3), Topic Alias Maximum (§3.2.2.3.8),
    # Subscription Identifiers Available (§3.2.2.3.12, absent means available), Maximum
    # Packet Size (§3.2.2.3.6). AWS: 100 in-flight messages, 8 topic aliases, no subscription
    # identifiers (mqtt.html#mqtt5).
    _, profile = broker
    _, props = connected(V5).connect_result
    assert getattr(props, "ReceiveMaximum", None) == RECEIVE_MAXIMUM, props
    assert getattr(props, "MaximumPacketSize", None) == MAXIMUM_PACKET_SIZE, props
    if profile == "aws":
        assert getattr(props, "TopicAliasMaximum", None) == AWS_TOPIC_ALIAS_MAXIMUM, props
        assert getattr(props, "SubscriptionIdentifierAvailable", None) == 0, props
    else:
        assert getattr(props, "TopicAliasMaximum", 0) >= 1, props
        assert getattr(props, "SubscriptionIdentifierAvailable", 1) == 1, props


def test_mqtt5_topic_alias_from_the_client(connected):
    # MQTT 5 §3.3.2.3.4: a PUBLISH with a topic and an alias sets the alias; a PUBLISH with an
    # empty topic and that alias is for the same topic. The highest alias the server allows
    # (its Topic Alias Maximum) is valid.
    topic = new_topic()
    sub = connected(V5)
    assert sub.subscribe((topic, 1)) == [1]
    pub = connected(V5)
    _, props = pub.connect_result
    top = props.TopicAliasMaximum
    assert publish5(pub, topic, b"with topic", TopicAlias=top) == 0
    assert publish5(pub, "", b"alias only", TopicAlias=top) == 0
    assert sub.next_message()[:2] == (topic, b"with topic")
    assert sub.next_message()[:2] == (topic, b"alias only")


@pytest.mark.parametrize("alias", ["zero", "above-maximum"])
def test_mqtt5_invalid_topic_alias_disconnects_with_0x94(connected, raw_client, alias):
    # MQTT 5 §3.3.2.3.4 [MQTT-3.3.2-8], [MQTT-3.3.2-9]: alias 0, or one above the server's
    # Topic Alias Maximum, is a Topic Alias Invalid: DISCONNECT 0x94 (§3.14.2.1).
    _, props = connected(V5).connect_result
    value = 0 if alias == "zero" else props.TopicAliasMaximum + 1
    c = raw_client()
    c.publish(new_topic(), b"x", props=bytes([PROP_TOPIC_ALIAS]) + struct.pack("!H", value))
    code = c.disconnect_reason()
    assert code == TOPIC_ALIAS_INVALID, "DISCONNECT 0x%02x" % code


@pytest.mark.parametrize("qos", [0, 1])
def test_mqtt5_client_maximum_packet_size(connected, qos):
    # MQTT 5 §3.1.2.11.4 [MQTT-3.1.2-25]: the server does not send a packet larger than the
    # client's Maximum Packet Size; it discards the message as if it had been delivered.
    topic = new_topic()
    sub = connected(V5, properties=props_of(PacketTypes.CONNECT, MaximumPacketSize=300))
    assert sub.subscribe((topic, qos)) == [qos]
    pub = connected(V5)
    for payload in (b"small before", b"x" * 1000, b"small after"):
        assert publish_acked(pub, topic, payload) == 0
    assert next_is(sub, topic, b"small before")
    assert next_is(sub, topic, b"small after")


def test_mqtt5_topic_aliases_to_the_client(broker, connected):
    # MQTT 5 §3.3.2.3.4: a server may set topic aliases up to the client's Topic Alias
    # Maximum (§3.1.2.11.5 [MQTT-3.1.2-26]), and none to a client that announced none
    # ([MQTT-3.1.2-27]); consecutive messages on one topic arrive with that topic. The standard
    # profile uses them (the first message carries topic and alias, the next ones the alias
    # only); the aws profile sends none, as AWS IoT.
    _, profile = broker
    topic = new_topic()
    aliased = connected(V5, properties=props_of(PacketTypes.CONNECT, TopicAliasMaximum=10))
    plain = connected(V5)
    for c in (aliased, plain):
        assert c.subscribe((topic, 1)) == [1]
    pub = connected(V5)
    payloads = (b"first", b"second", b"third")
    for payload in payloads:
        assert publish_acked(pub, topic, payload) == 0
    got = [aliased.next_message() for _ in payloads]
    assert [g[:2] for g in got] == [(topic, p) for p in payloads], [
        (g.raw_topic, g.alias) for g in got]
    assert all(g.alias is None or 1 <= g.alias <= 10 for g in got), [g.alias for g in got]
    topic_less = [g.raw_topic == "" for g in got]
    assert topic_less == ([False, True, True] if profile == "standard" else [False] * 3), [
        (g.raw_topic, g.alias) for g in got]
    for payload in payloads:
        g = plain.next_message()
        assert g[:2] == (topic, payload)
        assert g.alias is None, "a topic alias sent to a client that allows none"


# --------------------------------------------------------------------------
# 2. aws profile: AWS IoT Core's refusals
# https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_qos2_by_profile(broker, connected, protocol):
    # aws: "AWS IoT Core doesn't support publishing and subscribing with QoS 2": a QoS 2
    # subscription is granted QoS 1 and a QoS 2 publish is delivered at QoS 1, once.
    # standard: MQTT §4.3.3, QoS 2 granted and delivered at QoS 2, exactly once.
    qos = 1 if broker[1] == "aws" else 2
    topic = new_topic()
    sub = connected(protocol)
    assert sub.subscribe((topic, 2)) == [qos]
    pub = connected(protocol)
    assert publish_acked(pub, topic, b"two", qos=2) == 0
    assert sub.next_message()[:4] == (topic, b"two", qos, False)
    assert publish_acked(pub, topic, b"marker") == 0
    next_is(sub, topic, b"marker")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retained_messages_for_wildcard_filters_by_profile(broker, connected, protocol):
    # aws (mqtt.html#mqtt-retain): retained messages go only to a subscription whose filter
    # names the topic, none for wildcard filters. standard (MQTT 5 §3.8.4 [MQTT-3.8.4-4],
    # 3.1.1 §3.3.1.3): every retained message the filter matches, RETAIN set.
    base = new_topic("w")
    pub = connected(protocol)
    assert publish_acked(pub, base + "/a", b"A", retain=True) == 0
    assert publish_acked(pub, base + "/b", b"B", retain=True) == 0
    sub = connected(protocol)
    assert sub.subscribe((base + "/+", 1)) == [1]
    if broker[1] == "standard":
        got = {sub.next_message()[:4] for _ in range(2)}
        assert got == {(base + "/a", b"A", 1, True), (base + "/b", b"B", 1, True)}
    assert publish_acked(pub, base + "/m", b"marker") == 0
    next_is(sub, base + "/m", b"marker")


@profiles("aws")
@pytest.mark.parametrize("asked, given", [(5, AWS_MIN_KEEP_ALIVE),
                                          (5000, AWS_MAX_KEEP_ALIVE)])
def test_aws_keep_alive_is_clamped(connected, asked, given):
    # MQTT 5 §3.2.2.3.14 Server Keep Alive; AWS iot-core quotas: keep-alive 30..1200 s.
    c = connected(V5, keepalive=asked)
    _, props = c.connect_result
    assert getattr(props, "ServerKeepAlive", None) == given, props


@profiles("aws")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_aws_dollar_topics_are_refused(connected, protocol):
    # AWS topics.html#topicnames: topics beginning with $ are reserved. A publish there is not
    # authorized (MQTT 3.1.1: the connection is closed; MQTT 5: PUBACK 0x87 and the connection
    # stays); a subscription there fails.
    c = connected(protocol)
    (code,) = c.subscribe(("$SYS/%s/#" % uuid.uuid4().hex[:8], 1))
    if protocol == V311:
        assert code == SUBACK_FAILURE_311
    else:
        assert code >= 0x80, code
    mid = c.publish("$SYS/x", b"nope", qos=1)
    if protocol == V311:
        assert c.closed.wait(WAIT), "MQTT 3.1.1: the connection stayed"
    else:
        assert c.pubacks.wait(mid) == NOT_AUTHORIZED
        topic = new_topic()
        assert c.subscribe((topic, 1)) == [1]
        assert publish_acked(c, topic, b"still here") == 0
        next_is(c, topic, b"still here")


@profiles("aws")
def test_aws_subscription_identifier_disconnects_with_0xa1(raw_client):
    # MQTT 5 §3.2.2.3.12, §3.8.2.1.2: a server without subscription identifiers ends a
    # connection whose SUBSCRIBE has one with DISCONNECT 0xA1 (§3.14.2.1; AWS mqtt.html#mqtt5).
    c = raw_client()
    c.subscribe(new_topic(), props=bytes([PROP_SUBSCRIPTION_IDENTIFIER]) + _varint(42))
    code = c.disconnect_reason()
    assert code == SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, "DISCONNECT 0x%02x" % code


@profiles("aws")
def test_aws_will_delay_is_ignored(connected, mqtt_client):
    # AWS mqtt.html#mqtt-lwt documents no will delay: the will is published when the
    # connection ends, whatever Will Delay Interval the client asked for.
    will_topic = new_topic("will")
    watcher = connected(V5)
    assert watcher.subscribe((will_topic, 1)) == [1]
    dev = mqtt_client(V5)
    dev.connect(properties=props_of(PacketTypes.CONNECT, SessionExpiryInterval=3600),
                will=(will_topic, b"gone", 1, False,
                      props_of(PacketTypes.WILLMESSAGE, WillDelayInterval=3600)))
    dev.drop()
    assert watcher.next_message()[:2] == (will_topic, b"gone")


# --------------------------------------------------------------------------
# 3. standard profile: MQTT 3.1.1 / 5.0 as specified
# --------------------------------------------------------------------------


@profiles("standard")
def test_standard_keep_alive_as_asked(connected):
    # MQTT 5 §3.2.2.3.14: without Server Keep Alive the client's own keep-alive applies.
    c = connected(V5, keepalive=5)
    _, props = c.connect_result
    assert getattr(props, "ServerKeepAlive", 5) == 5, props


@profiles("standard")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_standard_dollar_topics_outside_aws(connected, protocol):
    # MQTT 5 §4.7.2: topics beginning with $ are for the server's use, but a broker may let
    # clients use them; the standard profile keeps only $aws/... reserved.
    base = "$SYS/%s" % uuid.uuid4().hex[:12]
    c = connected(protocol)
    assert c.subscribe((base + "/#", 1)) == [1]
    assert publish_acked(c, base + "/x", b"dollar") == 0
    assert c.next_message()[:3] == (base + "/x", b"dollar", 1)


@profiles("standard")
def test_standard_subscription_identifiers(connected):
    # MQTT 5 §3.8.2.1.2, §3.3.2.3.8: a message delivered for a subscription with an identifier
    # carries that identifier.
    topic = new_topic()
    sub = connected(V5)
    rc, mid = sub.client.subscribe(
        topic, qos=1, properties=props_of(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42))
    assert rc == 0
    assert sub.subacks.wait(mid) == [1]
    pub = connected(V5)
    assert publish_acked(pub, topic, b"tagged") == 0
    got = sub.next_message()
    assert got[:2] == (topic, b"tagged")
    assert getattr(got.props, "SubscriptionIdentifier", None) == [42], got.props


@profiles("standard")
def test_standard_will_delay_and_reconnect_cancels_the_will(connected, mqtt_client):
    # MQTT 5 §3.1.3.2.2: the will is published when the Will Delay Interval passes or the
    # session ends, whichever is first, and not at all if the client connects again to the
    # session before that ([MQTT-3.1.3-9]).
    will_topic = new_topic("will")
    dev_id = new_id()
    watcher = connected(V5)
    assert watcher.subscribe((will_topic, 1),
                             (presence_topic("disconnected", dev_id), 1)) == [1, 1]
    dev = mqtt_client(V5, dev_id)
    dev.connect(properties=props_of(PacketTypes.CONNECT, SessionExpiryInterval=3600),
                clean_start=True,
                will=(will_topic, b"gone", 1, False,
                      props_of(PacketTypes.WILLMESSAGE, WillDelayInterval=3600)))
    dev.drop()
    # The server has handled the end of the connection: no will yet.
    before, _ = collect_until(
        watcher, lambda m: m[0] == presence_topic("disconnected", dev_id))
    assert [m for m in before if m[0] == will_topic] == []
    again = mqtt_client(V5, dev_id)
    flags, _ = again.connect(
        properties=props_of(PacketTypes.CONNECT, SessionExpiryInterval=3600),
        clean_start=False)
    assert flags.session_present
    assert publish_acked(again, will_topic, b"marker") == 0
    next_is(watcher, will_topic, b"marker")


@profiles("standard")
def test_standard_will_delay_ends_with_the_session(connected, mqtt_client):
    # MQTT 5 §3.1.3.2.2: a session that ends at once (Session Expiry Interval 0) publishes the
    # will at once, whatever its delay.
    will_topic = new_topic("will")
    watcher = connected(V5)
    assert watcher.subscribe((will_topic, 1)) == [1]
    dev = mqtt_client(V5)
    dev.connect(will=(will_topic, b"gone", 1, False,
                      props_of(PacketTypes.WILLMESSAGE, WillDelayInterval=3600)))
    dev.drop()
    assert watcher.next_message()[:2] == (will_topic, b"gone")
