"""MQTT sessions and the message features around them, driven by paho-mqtt over mutual TLS.

What AWS IoT Core does, and what is checked here:
  * Persistent sessions
    (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions):
    MQTT 3.1.1 clean_session=0, MQTT 5 Session Expiry Interval > 0. On reconnect CONNACK has
    session present = 1, the subscriptions are back, and the QoS 1 messages published while
    the client was offline arrive, in order; QoS 0 ones are not kept. A clean reconnect
    discards the session. Queued messages that were acknowledged to their publisher survive
    a crash of the server.
  * Last will (MQTT 3.1.1 §3.1.2.5, MQTT 5 §3.1.2.5 and §3.14.2.1 reason 0x04;
    https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-lwt).
  * Retained messages (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain,
    https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html for
    iot:RetainPublish).
  * Lifecycle events (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
  * MQTT 5 features (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt5,
    and the MQTT 5 specification sections cited at each test).

No test sleeps to synchronise: waits are on messages, acknowledgements and events with
timeouts. A message that must NOT arrive is checked with a marker sent after it by the same
publisher (the broker keeps per-publisher order), or with the client's `disconnected`
lifecycle event, which the server publishes only after it has handled the end of the
connection (and so after it published, or did not publish, the will). The one deliberate
wait is in the message-expiry test: an MQTT 5 expiry interval is at least one second.
"""

import json
import os
import signal
import ssl
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from test_mqtt_gateway import (  # noqa: F401  (make_device and paho are fixtures used by name)
    HOST,
    NOT_AUTHORIZED,
    PROTOCOLS,
    THING,
    V5,
    V311,
    WAIT,
    Paho,
    allow_all_policy,
    arn,
    make_device,
    paho,
    roundtrip,
    thing_policy,
    write_creds,
)

# MQTT 5 §3.2.2.3: the limits AWS IoT Core advertises
# (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits).
TOPIC_ALIAS_MAXIMUM = 8
RECEIVE_MAXIMUM = 100
MAX_SESSION_EXPIRY = 7 * 24 * 3600
DISCONNECT_WITH_WILL = 0x04


# --------------------------------------------------------------------------
# A paho client that keeps MQTT 5 properties and can set clean_start
# --------------------------------------------------------------------------


class Got(tuple):
    """(topic, payload, qos, retain), comparable to a plain tuple, with `.props` (the MQTT 5
    PUBLISH properties or None)."""


class Client(Paho):
    def _on_message(self, client, userdata, msg):
        got = Got((msg.topic, msg.payload, msg.qos, msg.retain))
        got.props = getattr(msg, "properties", None)
        self.messages.put(got)

    def start(self, keepalive=30, properties=None, will=None, clean_start=None):
        """As Paho.start, with MQTT 5's clean_start (paho's default sets it on the first
        connection of a client object, which would discard any session)."""
        if will:
            self.client.will_set(*will)
        kw = {} if clean_start is None else {"clean_start": clean_start}
        try:
            self.client.connect(HOST, self.port, keepalive=keepalive, properties=properties,
                                **kw)
        except (ssl.SSLError, ConnectionError, OSError) as e:
            self.connect_error = e
            self.closed.set()
            return self
        self._started = True
        self.client.loop_start()
        return self

    def drop(self):
        """Ends the TCP connection without a DISCONNECT packet."""
        self.client.socket().shutdown(2)
        assert self.closed.wait(WAIT), "the dropped connection was not noticed"

    def disconnect_with_will(self):
        """MQTT 5 DISCONNECT with reason 0x04, "Disconnect with Will Message" (§3.14.2.1)."""
        self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT,
                                                     identifier=DISCONNECT_WITH_WILL))
        assert self.closed.wait(WAIT)


@pytest.fixture
def mk(paho):
    """mk(creds, client_id, protocol=V311, srv=None, **kw) -> a Client, stopped at teardown."""
    def make(creds, client_id, protocol=V311, srv=None, **kw):
        return paho(creds, client_id, protocol, srv=srv, cls=Client, **kw)

    return make


def connect_session(mk, creds, client_id, protocol, clean, expiry=300, srv=None):
    """Connects with MQTT 3.1.1 clean_session=`clean`, or MQTT 5 clean_start=`clean` and
    Session Expiry Interval `expiry` -> (client, CONNACK flags, CONNACK properties)."""
    if protocol == V311:
        c = mk(creds, client_id, V311, srv=srv, clean_session=clean)
        flags, props = c.connect()
    else:
        c = mk(creds, client_id, V5, srv=srv)
        props = Properties(PacketTypes.CONNECT)
        if expiry:
            props.SessionExpiryInterval = expiry
        flags, props = c.connect(properties=props, clean_start=clean)
    return c, flags, props


def publish_props(**kw):
    p = Properties(PacketTypes.PUBLISH)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def publish5(client, topic, payload, qos=1, retain=False, **props):
    """An MQTT 5 publish with properties; QoS 1 -> the PUBACK reason code."""
    info = client.client.publish(topic, payload, qos=qos, retain=retain,
                                 properties=publish_props(**props) if props else None)
    assert info.rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS, info.rc
    if qos == 0:
        return None
    code = client.pubacks.wait(info.mid)
    assert code is not None, "no PUBACK for %r" % topic
    return code


def collect_until(client, pred, timeout=WAIT):
    """Messages until the first one `pred` accepts -> (the ones before it, that one)."""
    deadline = time.monotonic() + timeout
    before = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("%s: no matching message within %ss; got %r"
                                 % (client.client_id, timeout, before))
        got = client.next_message(timeout=remaining)
        if pred(got):
            return before, got
        before.append(got)


def event(client, topic, timeout=WAIT):
    """The JSON body of the next message on exactly `topic` (others are skipped)."""
    _, got = collect_until(client, lambda m: m[0] == topic, timeout)
    return json.loads(got[1])


def presence_topic(kind, client_id):
    return "$aws/events/presence/%s/%s" % (kind, client_id)


def offline_sync(mk, creds, watcher_id, client_id):
    """A connected watcher of `client_id`'s `disconnected` lifecycle event."""
    w = mk(creds, watcher_id, V311)
    w.connect()
    assert w.subscribe((presence_topic("disconnected", client_id), 1)) == [1]
    return w


def make_device_on(iot, tmp_path, policy_doc, things=1):
    """make_device for a server other than the session one -> (creds, [thing names])."""
    name = "dev-" + uuid.uuid4().hex[:10]
    creds = write_creds(tmp_path, name, iot.create_keys_and_certificate(setAsActive=True))
    policy = "pol-" + uuid.uuid4().hex[:10]
    iot.create_policy(policyName=policy, policyDocument=json.dumps(policy_doc))
    iot.attach_policy(policyName=policy, target=creds.cert_arn)
    names = []
    for i in range(things):
        thing = "%s-%d" % (name, i)
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=creds.cert_arn)
        names.append(thing)
    return creds, names


def topic_of(prefix="t"):
    return "%s/%s" % (prefix, uuid.uuid4().hex[:10])


# --------------------------------------------------------------------------
# 1. Persistent sessions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_offline_qos1_messages_are_queued_and_delivered_in_order(make_device, mk, protocol):
    # AWS persistent sessions: subscriptions kept, QoS 1 messages stored while the client is
    # disconnected and sent when it reconnects (MQTT 3.1.1 §3.1.2.4, MQTT 5 §3.1.2.11.2).
    creds, (sub_id, pub_id, w_id) = make_device(allow_all_policy(), things=3)
    topic = topic_of("persist")
    watcher = offline_sync(mk, creds, w_id, sub_id)
    sub, flags, _ = connect_session(mk, creds, sub_id, protocol, clean=False)
    assert not flags.session_present  # no session yet for this client id
    assert sub.subscribe((topic, 1)) == [1]
    sub.stop()
    event(watcher, presence_topic("disconnected", sub_id))

    pub = mk(creds, pub_id, V311)
    pub.connect()
    payloads = [b"queued-%02d" % i for i in range(10)]
    for p in payloads:
        assert pub.publish_acked(topic, p) == 0

    again, flags, _ = connect_session(mk, creds, sub_id, protocol, clean=False)
    assert flags.session_present, "CONNACK session present = 0 for a persistent session"
    got = [again.next_message() for _ in payloads]
    assert [(g[0], g[1], g[2]) for g in got] == [(topic, p, 1) for p in payloads]
    # The subscription is back without a new SUBSCRIBE, and nothing else was queued.
    roundtrip(again, topic)
    assert again.no_message_pending()


def test_offline_qos0_messages_are_not_queued(make_device, mk):
    # AWS: "messages with QoS 0 are not stored" for a disconnected persistent session.
    creds, (sub_id, pub_id, w_id) = make_device(allow_all_policy(), things=3)
    topic = topic_of("persist0")
    watcher = offline_sync(mk, creds, w_id, sub_id)
    sub, _, _ = connect_session(mk, creds, sub_id, V311, clean=False)
    assert sub.subscribe((topic, 1)) == [1]
    sub.stop()
    event(watcher, presence_topic("disconnected", sub_id))

    pub = mk(creds, pub_id, V311)
    pub.connect()
    pub.publish(topic, b"qos0-a", qos=0)
    assert pub.publish_acked(topic, b"qos1") == 0
    pub.publish(topic, b"qos0-b", qos=0)
    pub.publish_acked(topic + "/after", b"sync")  # the QoS 0 one has been routed

    again, flags, _ = connect_session(mk, creds, sub_id, V311, clean=False)
    assert flags.session_present
    assert again.next_message()[:3] == (topic, b"qos1", 1)
    roundtrip(again, topic)
    assert again.no_message_pending()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_clean_reconnect_discards_the_session(make_device, mk, protocol):
    # MQTT 3.1.1 §3.1.2.4 / MQTT 5 §3.1.2.4: Clean Session / Clean Start = 1 discards any
    # existing session; CONNACK session present is 0 (§3.2.2.2).
    creds, (sub_id, pub_id, w_id) = make_device(allow_all_policy(), things=3)
    topic = topic_of("discard")
    watcher = offline_sync(mk, creds, w_id, sub_id)
    sub, _, _ = connect_session(mk, creds, sub_id, protocol, clean=False)
    assert sub.subscribe((topic, 1)) == [1]
    sub.stop()
    event(watcher, presence_topic("disconnected", sub_id))
    pub = mk(creds, pub_id, V311)
    pub.connect()
    assert pub.publish_acked(topic, b"for the old session") == 0

    clean, flags, _ = connect_session(mk, creds, sub_id, protocol, clean=True)
    assert not flags.session_present
    # Nothing replayed, and the old subscription is gone: a publish by another client on
    # the topic does not reach it, while a marker on a new subscription does.
    marker = topic + "/marker"
    assert clean.subscribe((marker, 1)) == [1]
    assert pub.publish_acked(topic, b"not subscribed any more") == 0
    assert pub.publish_acked(marker, b"marker") == 0
    assert clean.next_message()[:2] == (marker, b"marker")
    assert clean.no_message_pending()
    clean.stop()

    # Nor is a session left to resume afterwards (MQTT 3.1.1: a clean session ends with its
    # connection; MQTT 5: it was started again, so only the new, empty one is there).
    again, flags, _ = connect_session(mk, creds, sub_id, protocol, clean=False)
    if protocol == V311:
        assert not flags.session_present
    else:
        # MQTT 5: Clean Start with an expiry interval began a new persistent session, the
        # one with the marker subscription and none of the old one's messages.
        assert flags.session_present
        roundtrip(again, marker)
    assert again.no_message_pending()


def test_mqtt5_session_without_expiry_interval_is_not_kept(make_device, mk):
    # MQTT 5 §3.1.2.11.2: an absent Session Expiry Interval is 0, the session ends with the
    # network connection.
    creds, (sub_id,) = make_device(allow_all_policy())
    topic = topic_of("noexpiry")
    sub, _, _ = connect_session(mk, creds, sub_id, V5, clean=False, expiry=0)
    assert sub.subscribe((topic, 1)) == [1]
    sub.stop()
    again, flags, _ = connect_session(mk, creds, sub_id, V5, clean=False, expiry=0)
    assert not flags.session_present


def test_mqtt5_session_expiry_interval_is_capped_and_reported(make_device, mk):
    # AWS: persistent sessions last at most 7 days; MQTT 5 §3.2.2.3.2: a server that uses
    # another value than the client asked for returns it in CONNACK.
    creds, (cid,) = make_device(allow_all_policy())
    c, _, props = connect_session(mk, creds, cid, V5, clean=True, expiry=0xFFFFFFFF)
    assert getattr(props, "SessionExpiryInterval", None) == MAX_SESSION_EXPIRY, props


def test_queued_messages_survive_sigkill(shoal_factory, mk, tmp_path):
    # A QoS 1 message acknowledged to its publisher is stored for the offline persistent
    # session (AWS: persistent sessions keep messages until the client reconnects) and
    # must survive a crash of the broker.
    data_dir = tmp_path / "crash-data"
    srv = shoal_factory(data_dir)
    creds, (sub_id, pub_id, w_id) = make_device_on(srv.client(), tmp_path,
                                                   allow_all_policy(), things=3)
    topic = topic_of("crash")
    watcher = mk(creds, w_id, V311, srv=srv)
    watcher.connect()
    assert watcher.subscribe((presence_topic("disconnected", sub_id), 1)) == [1]
    sub = mk(creds, sub_id, V311, srv=srv, clean_session=False)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    sub.stop()
    event(watcher, presence_topic("disconnected", sub_id))

    pub = mk(creds, pub_id, V311, srv=srv)
    pub.connect()
    payloads = [b"durable-%03d" % i for i in range(50)]
    for p in payloads:
        assert pub.publish_acked(topic, p) == 0

    os.kill(srv.pid, signal.SIGKILL)
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL
    srv2 = shoal_factory(data_dir)  # same data dir; a new MQTT port

    again = mk(creds, sub_id, V311, srv=srv2, clean_session=False)
    flags, _ = again.connect()
    assert flags.session_present, "the persistent session did not survive SIGKILL"
    got = []
    for _ in payloads:
        try:
            got.append(again.next_message())
        except AssertionError:
            break
    assert [g[1] for g in got] == payloads, "got %d of %d: %r" % (
        len(got), len(payloads), [g[1] for g in got][:5])
    assert {(g[0], g[2]) for g in got} == {(topic, 1)}
    # The subscription was restored with the session.
    roundtrip(again, topic)
    assert again.no_message_pending()


def test_a_subscription_acknowledged_survives_sigkill(shoal_factory, mk, tmp_path):
    # A SUBACK of a persistent session is a promise: after a crash the session comes back
    # with the subscription (AWS: persistent sessions keep subscriptions).
    data_dir = tmp_path / "crash-sub"
    srv = shoal_factory(data_dir)
    creds, (sub_id, pub_id) = make_device_on(srv.client(), tmp_path, allow_all_policy(),
                                             things=2)
    topic = topic_of("crash-sub")
    sub = mk(creds, sub_id, V311, srv=srv, clean_session=False)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    os.kill(srv.pid, signal.SIGKILL)  # still connected: the session was never closed
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL
    srv2 = shoal_factory(data_dir)

    again = mk(creds, sub_id, V311, srv=srv2, clean_session=False)
    flags, _ = again.connect()
    assert flags.session_present
    pub = mk(creds, pub_id, V311, srv=srv2)
    pub.connect()
    assert pub.publish_acked(topic, b"after the crash") == 0
    assert again.next_message()[:2] == (topic, b"after the crash")


# --------------------------------------------------------------------------
# 2. Last will
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_will_is_not_published_after_a_normal_disconnect(make_device, mk, protocol):
    # MQTT 3.1.1 §3.1.2.5 / MQTT 5 §3.1.2.5: a DISCONNECT (reason 0x00) discards the will.
    creds, (dev_id, w_id) = make_device(allow_all_policy(), things=2)
    will_topic = topic_of("will")
    watcher = mk(creds, w_id, V311)
    watcher.connect()
    assert watcher.subscribe((will_topic, 1),
                             (presence_topic("disconnected", dev_id), 1)) == [1, 1]
    dev = mk(creds, dev_id, protocol)
    dev.connect(will=(will_topic, b"offline", 1, False))
    dev.stop()
    before, ev = collect_until(watcher, lambda m: m[0] == presence_topic("disconnected",
                                                                         dev_id))
    assert json.loads(ev[1])["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert [m for m in before if m[0] == will_topic] == [], "will published after DISCONNECT"


def test_mqtt5_disconnect_with_will_message_publishes_the_will(make_device, mk):
    # MQTT 5 §3.14.2.1, reason 0x04: "the Client wishes to disconnect but requires that the
    # Server also publishes its Will Message".
    creds, (dev_id, w_id) = make_device(allow_all_policy(), things=2)
    will_topic = topic_of("will4")
    watcher = mk(creds, w_id, V311)
    watcher.connect()
    assert watcher.subscribe((will_topic, 1)) == [1]
    dev = mk(creds, dev_id, V5)
    dev.connect(will=(will_topic, b"bye with will", 1, False))
    dev.disconnect_with_will()
    assert watcher.next_message()[:3] == (will_topic, b"bye with will", 1)


def test_retained_will_is_retained(make_device, mk):
    # MQTT 3.1.1 §3.1.2.7: Will Retain = 1 publishes the will as a retained message.
    creds, (dev_id, w_id, late_id) = make_device(allow_all_policy(), things=3)
    will_topic = topic_of("rwill")
    watcher = mk(creds, w_id, V311)
    watcher.connect()
    assert watcher.subscribe((will_topic, 1)) == [1]
    dev = mk(creds, dev_id, V311)
    dev.connect(will=(will_topic, b"last words", 1, True))
    dev.drop()
    # Delivered live with RETAIN 0 (§3.3.1.3), then kept for a later subscriber.
    assert watcher.next_message() == (will_topic, b"last words", 1, False)
    late = mk(creds, late_id, V311)
    late.connect()
    assert late.subscribe((will_topic, 1)) == [1]
    assert late.next_message() == (will_topic, b"last words", 1, True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_connect_refused_when_the_policy_forbids_publishing_the_will(make_device, mk,
                                                                     account_id, protocol):
    # AWS (iot-policy-actions.html, iot:Connect): the will is published with the client's
    # permissions; a CONNECT whose will topic the policy does not allow to publish is refused.
    creds, (thing,) = make_device(thing_policy(account_id))
    c = mk(creds, thing, protocol)
    got = c.start(will=("topic/not-%s/will" % thing, b"x", 1, False)).outcome()
    if protocol == V311:
        assert got == "closed", "MQTT 3.1.1: expected the connection closed, got %r" % (got,)
    else:
        assert got not in (None, "closed") and got[0] == NOT_AUTHORIZED, got
    # A will on a topic the policy allows is accepted.
    ok = mk(creds, thing, protocol)
    ok.connect(will=("topic/%s/will" % thing, b"x", 1, False))


# --------------------------------------------------------------------------
# 3. Retained messages
# --------------------------------------------------------------------------


def test_retained_messages_are_kept_per_topic_and_replaced(make_device, mk):
    # AWS: one retained message per topic, the last one published with RETAIN wins; a new
    # exact subscription gets it with RETAIN = 1 (MQTT 5 §3.3.1.3).
    creds, (pub_id, live_id, late_id) = make_device(allow_all_policy(), things=3)
    base = topic_of("retain")
    a, b = base + "/a", base + "/b"
    live = mk(creds, live_id, V5)
    live.connect()
    assert live.subscribe((a, 1)) == [1]
    pub = mk(creds, pub_id, V5)
    pub.connect()
    assert publish5(pub, a, b"a-1", retain=True) == 0
    assert publish5(pub, a, b"a-2", retain=True) == 0
    assert publish5(pub, b, b"b-1", retain=True) == 0
    assert publish5(pub, a, b"a-not-retained") == 0
    # Live deliveries carry RETAIN 0.
    assert [live.next_message() for _ in range(3)] == [
        (a, b"a-1", 1, False), (a, b"a-2", 1, False), (a, b"a-not-retained", 1, False)]

    late = mk(creds, late_id, V5)
    late.connect()
    assert late.subscribe((a, 1)) == [1]
    assert late.next_message() == (a, b"a-2", 1, True)
    assert late.subscribe((b, 0)) == [0]
    assert late.next_message() == (b, b"b-1", 0, True)
    roundtrip(late, a)
    assert late.no_message_pending()


@pytest.mark.parametrize("wildcard", ["+", "#"])
def test_wildcard_subscription_gets_no_retained_messages(make_device, mk, wildcard):
    # AWS: "Subscription to topic filters that contain a wildcard character can't receive
    # retained messages."
    creds, (pub_id, sub_id) = make_device(allow_all_policy(), things=2)
    base = topic_of("rwild")
    pub = mk(creds, pub_id, V311)
    pub.connect()
    pub.pubacks.wait(pub.publish(base + "/x", b"retained", qos=1, retain=True))
    sub = mk(creds, sub_id, V311)
    sub.connect()
    assert sub.subscribe(("%s/%s" % (base, wildcard), 1)) == [1]
    # The marker is the first thing it gets: no retained message was sent on SUBSCRIBE.
    got = roundtrip(sub, base + "/marker")
    assert got[3] is False
    assert sub.no_message_pending()


def test_empty_retained_publish_clears_the_retained_message(make_device, mk):
    # MQTT 3.1.1 §3.3.1.3: a retained PUBLISH with a zero-byte payload removes the retained
    # message of its topic (AWS: "To delete a retained message, publish a zero-byte ...").
    creds, (pub_id, sub_id) = make_device(allow_all_policy(), things=2)
    topic = topic_of("rclear")
    pub = mk(creds, pub_id, V311)
    pub.connect()
    pub.pubacks.wait(pub.publish(topic, b"soon gone", qos=1, retain=True))
    pub.pubacks.wait(pub.publish(topic, b"", qos=1, retain=True))
    sub = mk(creds, sub_id, V311)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    roundtrip(sub, topic)
    assert sub.no_message_pending()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retained_publish_needs_iot_retain_publish(make_device, mk, account_id, protocol):
    # AWS iot-policy-actions.html: iot:RetainPublish is needed to publish with RETAIN set,
    # besides iot:Publish. The thing policy grants Publish/Receive/Subscribe only.
    creds, (thing,) = make_device(thing_policy(account_id))
    creds_late, (late_id,) = make_device(allow_all_policy())
    topic = "topic/%s/%s" % (thing, uuid.uuid4().hex[:8])
    c = mk(creds, thing, protocol)
    c.connect()
    assert c.subscribe((topic, 1)) == [1]
    roundtrip(c, topic)  # plain publishes there are allowed
    mid = c.publish(topic, b"retained", qos=1, retain=True)
    if protocol == V311:
        assert c.closed.wait(WAIT), "MQTT 3.1.1: a denied retained publish kept the connection"
    else:
        assert c.pubacks.wait(mid) == NOT_AUTHORIZED
        assert not c.closed.is_set()
        roundtrip(c, topic)  # the denied message was not routed either
        assert c.no_message_pending()
    late = mk(creds_late, late_id, V311)
    late.connect()
    assert late.subscribe((topic, 1)) == [1]
    roundtrip(late, topic)  # nothing was retained
    assert late.no_message_pending()


def test_retained_messages_survive_a_restart(shoal_factory, mk, tmp_path):
    # AWS keeps retained messages until they are cleared (or the account's retention
    # period ends), across the broker's restarts.
    data_dir = tmp_path / "retain-data"
    srv = shoal_factory(data_dir)
    creds, (pub_id, sub_id) = make_device_on(srv.client(), tmp_path, allow_all_policy(),
                                             things=2)
    topic = topic_of("rkeep")
    pub = mk(creds, pub_id, V5, srv=srv)
    pub.connect()
    assert publish5(pub, topic, b"kept", retain=True, ContentType="text/plain") == 0
    pub.stop()
    assert srv.stop() == 0
    srv2 = shoal_factory(data_dir)
    sub = mk(creds, sub_id, V5, srv=srv2)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    got = sub.next_message()
    assert got == (topic, b"kept", 1, True)
    assert getattr(got.props, "ContentType", None) == "text/plain"


# --------------------------------------------------------------------------
# 4. Lifecycle events
# --------------------------------------------------------------------------


def events_policy(account_id):
    """What AWS's lifecycle-events page asks of a subscriber."""
    filters = ["$aws/events/presence/connected/+", "$aws/events/presence/disconnected/+",
               "$aws/events/presence/connect_failed/+",
               "$aws/events/subscriptions/subscribed/+",
               "$aws/events/subscriptions/unsubscribed/+"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", THING)},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [arn(account_id, "topicfilter", f) for f in filters]},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": arn(account_id, "topic", "$aws/events/*")},
        ],
    }


@pytest.fixture
def events(make_device, mk, account_id):
    """A client subscribed to every presence and subscription event of the account."""
    creds, (w_id,) = make_device(events_policy(account_id))
    w = mk(creds, w_id, V311)
    w.connect()
    assert w.subscribe(("$aws/events/presence/connected/+", 1),
                       ("$aws/events/presence/disconnected/+", 1),
                       ("$aws/events/presence/connect_failed/+", 1),
                       ("$aws/events/subscriptions/subscribed/+", 1),
                       ("$aws/events/subscriptions/unsubscribed/+", 1)) == [1, 1, 1, 1, 1]
    return w


def test_lifecycle_connected_and_disconnected_events(make_device, mk, events):
    creds, (dev_id,) = make_device(allow_all_policy())
    dev = mk(creds, dev_id, V5)
    t0 = time.time() * 1000
    dev.connect()
    conn = event(events, presence_topic("connected", dev_id))
    dev.stop()
    disc = event(events, presence_topic("disconnected", dev_id))
    t1 = time.time() * 1000

    assert conn["clientId"] == dev_id
    assert conn["eventType"] == "connected"
    assert conn["principalIdentifier"] == creds.cert_id
    assert conn["ipAddress"] == "127.0.0.1"
    assert isinstance(conn["sessionIdentifier"], str) and conn["sessionIdentifier"]
    assert isinstance(conn["versionNumber"], int)
    assert t0 - 5000 <= conn["timestamp"] <= t1 + 5000, "timestamp is not epoch ms"

    assert disc["clientId"] == dev_id
    assert disc["eventType"] == "disconnected"
    assert disc["clientInitiatedDisconnect"] is True
    assert disc["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert disc["principalIdentifier"] == creds.cert_id
    assert disc["sessionIdentifier"] == conn["sessionIdentifier"]
    # "The connect and disconnect events of one connection have the same version number."
    assert disc["versionNumber"] == conn["versionNumber"]
    assert conn["timestamp"] <= disc["timestamp"] <= t1 + 5000


def test_lifecycle_connect_failed_event(make_device, mk, events, account_id):
    # "AWS IoT publishes a message to $aws/events/presence/connect_failed/{clientId} when a
    # client is not authorized to connect" (life-cycle-events.html, "Connect attempt failure").
    creds, (dev_id,) = make_device(thing_policy(account_id))
    intruder = dev_id + "-not-a-thing"
    dev = mk(creds, intruder, V5)
    code, _, _ = dev.start().wait_connack()
    assert code == NOT_AUTHORIZED
    failed = event(events, presence_topic("connect_failed", intruder))
    assert failed["clientId"] == intruder
    assert failed["eventType"] == "connect_failed"
    assert failed["connectFailureReason"] == "AUTHORIZATION_FAILED"
    assert failed["principalIdentifier"] == creds.cert_id
    assert failed["ipAddress"] == "127.0.0.1"


def test_connectivity_follows_the_thing_s_connections(make_device, mk, events, iot):
    # GetThingConnectivityData reports the connection of the client whose id is the thing name
    # (https://docs.aws.amazon.com/iot/latest/apireference/API_GetThingConnectivityData.html).
    creds, (dev_id,) = make_device(allow_all_policy())
    assert iot.get_thing_connectivity_data(thingName=dev_id)["connected"] is False
    dev = mk(creds, dev_id, V311)
    dev.connect()
    event(events, presence_topic("connected", dev_id))
    up = iot.get_thing_connectivity_data(thingName=dev_id)
    # This botocore's model has thingName, connected, timestamp and disconnectReason; newer
    # ones add the session and socket details, which Shoal also sends.
    assert up["thingName"] == dev_id
    assert up["connected"] is True
    assert "disconnectReason" not in up
    dev.stop()
    event(events, presence_topic("disconnected", dev_id))
    down = iot.get_thing_connectivity_data(thingName=dev_id)
    assert down["connected"] is False
    assert down["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert down["timestamp"] >= up["timestamp"]
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_thing_connectivity_data(thingName="no-such-thing-" + uuid.uuid4().hex[:8])


def test_lifecycle_connection_lost_event(make_device, mk, events):
    creds, (dev_id,) = make_device(allow_all_policy())
    dev = mk(creds, dev_id, V311)
    dev.connect()
    conn = event(events, presence_topic("connected", dev_id))
    dev.drop()
    disc = event(events, presence_topic("disconnected", dev_id))
    assert disc["clientInitiatedDisconnect"] is False
    assert disc["disconnectReason"] == "CONNECTION_LOST"
    assert disc["versionNumber"] == conn["versionNumber"]


def test_lifecycle_duplicate_client_id_and_increasing_version(make_device, mk, events):
    # "versionNumber ... is monotonically increasing for each client ID connection";
    # a takeover ends the old connection with DUPLICATE_CLIENTID.
    creds, (dev_id,) = make_device(allow_all_policy())
    first = mk(creds, dev_id, V311)
    first.connect()
    v1 = event(events, presence_topic("connected", dev_id))["versionNumber"]
    second = mk(creds, dev_id, V5)
    second.connect()
    assert first.closed.wait(WAIT)
    seen = {}
    while set(seen) != {"connected", "disconnected"}:
        _, got = collect_until(events, lambda m: m[0].endswith("/" + dev_id)
                               and "/presence/" in m[0])
        body = json.loads(got[1])
        seen[body["eventType"]] = body
    assert seen["disconnected"]["versionNumber"] == v1
    assert seen["disconnected"]["disconnectReason"] == "DUPLICATE_CLIENTID"
    assert seen["disconnected"]["clientInitiatedDisconnect"] is False
    v2 = seen["connected"]["versionNumber"]
    assert v2 > v1
    second.stop()
    disc = event(events, presence_topic("disconnected", dev_id))
    assert disc["versionNumber"] == v2
    third = mk(creds, dev_id, V311)
    third.connect()
    assert event(events, presence_topic("connected", dev_id))["versionNumber"] > v2


def test_lifecycle_subscription_events(make_device, mk, events):
    creds, (dev_id,) = make_device(allow_all_policy())
    base = topic_of("subev")
    dev = mk(creds, dev_id, V311)
    dev.connect()
    assert dev.subscribe((base + "/a", 1), (base + "/+/b", 0)) == [1, 0]
    sub = event(events, "$aws/events/subscriptions/subscribed/%s" % dev_id)
    assert sub["clientId"] == dev_id
    assert sub["eventType"] == "subscribed"
    assert sub["principalIdentifier"] == creds.cert_id
    assert sorted(sub["topics"]) == sorted([base + "/a", base + "/+/b"])
    rc, mid = dev.client.unsubscribe(base + "/a")
    assert rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert dev.unsubacks.wait(mid) is not None
    unsub = event(events, "$aws/events/subscriptions/unsubscribed/%s" % dev_id)
    assert unsub["eventType"] == "unsubscribed"
    assert unsub["topics"] == [base + "/a"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_clients_cannot_publish_lifecycle_events(make_device, mk, events, protocol):
    # AWS reserved-topics.html: $aws/events/... topics allow Subscribe (and Receive) only;
    # AWS IoT alone publishes there, even for a policy that allows everything.
    creds, (dev_id,) = make_device(allow_all_policy())
    dev = mk(creds, dev_id, protocol)
    dev.connect()
    fake = presence_topic("connected", "spoofed-" + uuid.uuid4().hex[:8])
    mid = dev.publish(fake, b'{"eventType":"connected"}', qos=1)
    if protocol == V311:
        assert dev.closed.wait(WAIT), "MQTT 3.1.1: the connection stayed"
    else:
        assert dev.pubacks.wait(mid) == NOT_AUTHORIZED
        assert not dev.closed.is_set()
    # The watcher never saw the forged event: its next presence message for this device
    # is the real disconnected event.
    dev.stop()
    before, _ = collect_until(events, lambda m: m[0] == presence_topic("disconnected",
                                                                       dev_id))
    assert [m for m in before if m[0] == fake] == []


# --------------------------------------------------------------------------
# 5. MQTT 5 features
# --------------------------------------------------------------------------


def test_mqtt5_connack_advertises_aws_limits(make_device, mk):
    # MQTT 5 §3.2.2.3: Receive Maximum, Topic Alias Maximum, Retain Available, Shared
    # Subscription Available; AWS's values (iot-core quotas: 100 in-flight QoS 1 messages,
    # 8 topic aliases).
    creds, (cid,) = make_device(allow_all_policy())
    c = mk(creds, cid, V5)
    _, props = c.connect()
    assert getattr(props, "TopicAliasMaximum", None) == TOPIC_ALIAS_MAXIMUM, props
    assert getattr(props, "ReceiveMaximum", None) == RECEIVE_MAXIMUM, props
    assert getattr(props, "RetainAvailable", None) == 1, props
    assert getattr(props, "SharedSubscriptionAvailable", None) == 1, props


def test_mqtt5_publish_properties_are_forwarded(make_device, mk):
    # MQTT 5 §3.3.2.3: the server forwards Payload Format Indicator (§3.3.2.3.2), Response
    # Topic (§3.3.2.3.5), Correlation Data (§3.3.2.3.6), User Properties in order
    # (§3.3.2.3.7, [MQTT-3.3.2-18]) and Content Type (§3.3.2.3.9) unaltered, and the Message
    # Expiry Interval as what is left of it (§3.3.2.3.3).
    creds, (pub_id, sub_id) = make_device(allow_all_policy(), things=2)
    topic = topic_of("props")
    sub = mk(creds, sub_id, V5)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    pub = mk(creds, pub_id, V5)
    pub.connect()
    user = [("b-key", "1"), ("a-key", "two"), ("b-key", "3")]
    corr = bytes(range(16)) + b"\xff\x00"
    assert publish5(pub, topic, '{"ok":true}', UserProperty=user,
                    ResponseTopic=topic + "/reply", CorrelationData=corr,
                    ContentType="application/json", PayloadFormatIndicator=1,
                    MessageExpiryInterval=600) == 0
    got = sub.next_message()
    assert got[:3] == (topic, b'{"ok":true}', 1)
    p = got.props
    assert p is not None
    assert list(getattr(p, "UserProperty", [])) == user
    assert getattr(p, "ResponseTopic", None) == topic + "/reply"
    assert getattr(p, "CorrelationData", None) == corr
    assert getattr(p, "ContentType", None) == "application/json"
    assert getattr(p, "PayloadFormatIndicator", None) == 1
    assert 0 < getattr(p, "MessageExpiryInterval", 0) <= 600


def test_mqtt5_topic_aliases_from_the_client(make_device, mk):
    # MQTT 5 §3.3.2.3.4: a PUBLISH with a topic and a Topic Alias sets the alias; one with an
    # empty topic and the alias uses it; a new topic for the alias replaces the mapping.
    creds, (cid,) = make_device(allow_all_policy())
    base = topic_of("alias")
    t1, t2 = base + "/one", base + "/two"
    c = mk(creds, cid, V5)
    c.connect()
    assert c.subscribe((base + "/+", 1)) == [1]
    assert publish5(c, t1, b"set", TopicAlias=1) == 0
    assert publish5(c, "", b"use", TopicAlias=1) == 0
    assert publish5(c, t2, b"set-8", TopicAlias=TOPIC_ALIAS_MAXIMUM) == 0
    assert publish5(c, "", b"use-8", TopicAlias=TOPIC_ALIAS_MAXIMUM, qos=0) is None
    assert publish5(c, t2, b"remap", TopicAlias=1) == 0
    assert publish5(c, "", b"use-remapped", TopicAlias=1) == 0
    got = [c.next_message()[:2] for _ in range(6)]
    assert got == [(t1, b"set"), (t1, b"use"), (t2, b"set-8"), (t2, b"use-8"),
                   (t2, b"remap"), (t2, b"use-remapped")]


def test_mqtt5_topic_alias_above_the_maximum_ends_the_connection(make_device, mk):
    # MQTT 5 §3.3.2.3.4 [MQTT-3.3.2-9]: a Topic Alias greater than the server's Topic Alias
    # Maximum is a Protocol Error; the server closes the connection.
    creds, (cid,) = make_device(allow_all_policy())
    c = mk(creds, cid, V5)
    c.connect()
    mid = c.client.publish(topic_of("alias"), b"x", qos=1,
                           properties=publish_props(TopicAlias=TOPIC_ALIAS_MAXIMUM + 1)).mid
    assert c.closed.wait(WAIT), "an out-of-range topic alias was accepted"
    assert c.pubacks.get(mid) in (None, 0x94), c.pubacks.get(mid)


def test_mqtt5_message_expiry_for_queued_messages(make_device, mk):
    # MQTT 5 §3.3.2.3.3: a message whose expiry interval has passed is not delivered to a
    # subscriber that reconnects; one that has not is delivered, with the time left of it.
    creds, (sub_id, pub_id, w_id) = make_device(allow_all_policy(), things=3)
    topic = topic_of("expiry")
    watcher = offline_sync(mk, creds, w_id, sub_id)
    sub, _, _ = connect_session(mk, creds, sub_id, V5, clean=True, expiry=300)
    assert sub.subscribe((topic, 1)) == [1]
    sub.stop()
    event(watcher, presence_topic("disconnected", sub_id))

    pub = mk(creds, pub_id, V5)
    pub.connect()
    assert publish5(pub, topic, b"expires", MessageExpiryInterval=1) == 0
    expired_at = time.monotonic() + 1.1  # the server received it before it sent the PUBACK
    assert publish5(pub, topic, b"lives", MessageExpiryInterval=3600) == 0
    assert publish5(pub, topic, b"forever") == 0
    # The one deliberate wait: MQTT 5 expiry intervals are whole seconds.
    threading.Event().wait(max(0.0, expired_at - time.monotonic()))

    again, flags, _ = connect_session(mk, creds, sub_id, V5, clean=False, expiry=300)
    assert flags.session_present
    first = again.next_message()
    assert first[:3] == (topic, b"lives", 1), "expected the expired message skipped: %r" % (
        first,)
    assert 3500 < getattr(first.props, "MessageExpiryInterval", 0) <= 3600, first.props
    second = again.next_message()
    assert second[:3] == (topic, b"forever", 1)
    assert getattr(second.props, "MessageExpiryInterval", None) is None
    roundtrip(again, topic)
    assert again.no_message_pending()


def test_mqtt5_shared_subscription_delivers_each_message_to_one_member(make_device, mk):
    # MQTT 5 §4.8.2: each message matching a shared subscription goes to one session of the
    # group; a non-shared subscription of the same topic still gets every message. AWS:
    # "$share/{ShareName}/{TopicFilter}".
    creds, (a_id, b_id, plain_id, pub_id) = make_device(allow_all_policy(), things=4)
    topic = topic_of("shared")
    group = "g" + uuid.uuid4().hex[:6]
    members = []
    for cid in (a_id, b_id):
        m = mk(creds, cid, V5)
        m.connect()
        assert m.subscribe(("$share/%s/%s" % (group, topic), 1), (topic + "/end/" + cid, 1)) \
            == [1, 1]
        members.append(m)
    plain = mk(creds, plain_id, V5)
    plain.connect()
    assert plain.subscribe((topic, 1)) == [1]
    pub = mk(creds, pub_id, V5)
    pub.connect()
    n = 20
    payloads = [b"job-%02d" % i for i in range(n)]
    for p in payloads:
        assert publish5(pub, topic, p) == 0
    for cid in (a_id, b_id):  # end markers, after every shared message
        assert publish5(pub, topic + "/end/" + cid, b"end") == 0

    assert [plain.next_message()[1] for _ in payloads] == payloads
    shares = []
    for m in members:
        before, _ = collect_until(m, lambda g: g[0].startswith(topic + "/end/"))
        assert {g[0] for g in before} <= {topic}, before
        shares.append([g[1] for g in before])
    together = shares[0] + shares[1]
    assert sorted(together) == payloads, "duplicates or losses: %r" % shares
    # Each member's share keeps the publisher's order, and both members got some.
    for share in shares:
        assert share == sorted(share)
        assert share, "one member got every message: %r" % shares


def test_mqtt5_no_local_subscription_skips_own_messages(make_device, mk):
    # MQTT 5 §3.8.3.1 No Local: "Application Messages MUST NOT be forwarded to a connection
    # with a ClientID equal to the ClientID of the publishing connection".
    creds, (me_id, other_id) = make_device(allow_all_policy(), things=2)
    base = topic_of("nolocal")
    me = mk(creds, me_id, V5)
    me.connect()
    assert me.subscribe((base + "/x", SubscribeOptions(qos=1, noLocal=True)),
                        (base + "/marker", SubscribeOptions(qos=1))) == [1, 1]
    assert publish5(me, base + "/x", b"mine") == 0
    assert publish5(me, base + "/marker", b"marker") == 0
    assert me.next_message()[:2] == (base + "/marker", b"marker"), "own message delivered"
    # Other clients' messages still arrive.
    other = mk(creds, other_id, V5)
    other.connect()
    assert publish5(other, base + "/x", b"theirs") == 0
    assert me.next_message()[:2] == (base + "/x", b"theirs")
    assert me.no_message_pending()
