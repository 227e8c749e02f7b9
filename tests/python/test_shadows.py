"""Device shadows, driven over MQTT (paho), iot-data over HTTP (boto3) and the AWS CLI.

The Device Shadow service as AWS documents it
(https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html,
https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html,
https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html):
  * requests are published on `$aws/things/T/shadow[/name/N]/get|update|delete`; answers go
    to `.../accepted` and `.../rejected`, an accepted update also to `.../update/delta` (when
    desired and reported differ) and `.../update/documents`;
  * refusals are `{code, message, timestamp, clientToken}` with AWS's exact messages;
  * GetThingShadow, UpdateThingShadow, DeleteThingShadow and ListNamedShadowsForThing
    answer with the same documents; an accepted HTTP change is also published on MQTT;
  * a device needs iot:Publish on the request topic, iot:Subscribe and iot:Receive on the
    answers; shadows need no registry thing; versions grow by one and survive a delete.

The AWS device SDKs (awsiotsdk, AWSIoTPythonSDK) are in test_shadow_clients.py. No test
sleeps to synchronise: every wait is on a message, a Queue or an Event with a timeout.
"""

import json
import os
import queue
import signal
import threading
import time

import pytest

from conftest import AwsCliError

from test_mqtt_gateway import (  # noqa: F401  (make_device and paho are fixtures)
    SUBACK_FAILURE_311,
    V311,
    V5,
    WAIT,
    arn,
    make_device,
    paho,
)
from test_mqtt_sessions import collect_until, make_device_on
from test_mqtt_transports import make_data_client

THING = "${iot:Connection.Thing.ThingName}"
NOT_AUTHORIZED = 0x87


def shadow_policy(account_id):
    """The device policy of AWS's shadow examples: connect as the thing, publish, subscribe
    and receive on that thing's shadow topics only (classic and named)."""
    topics = "$aws/things/%s/shadow/*" % THING
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", THING)},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": arn(account_id, "topic", topics)},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": arn(account_id, "topicfilter", topics)},
        ],
    }


def shadow_topic(thing, op, name=None):
    named = "/name/%s" % name if name else ""
    return "$aws/things/%s/shadow%s/%s" % (thing, named, op)


def body(resp):
    """The JSON document of an iot-data shadow response."""
    return json.loads(resp["payload"].read())


def assert_recent(ts):
    assert isinstance(ts, int) and abs(ts - time.time()) < 60, ts


@pytest.fixture(scope="module")
def data(server):
    return make_data_client(server)


@pytest.fixture(scope="module")
def data_raw(server):
    return make_data_client(server, validate=False)


@pytest.fixture
def device(make_device, account_id, paho):
    """device(protocol=V311) -> (connected Paho, thing name): the shadow policy, subscribed
    to every answer of its thing's shadows (`$aws/things/T/shadow/#`)."""

    def make(protocol=V311):
        creds, (thing,) = make_device(shadow_policy(account_id))
        c = paho(creds, thing, protocol)
        c.connect()
        assert c.subscribe(("$aws/things/%s/shadow/#" % thing, 1)) == [1]
        return c, thing

    return make


def ask(dev, thing, op, doc=b"", name=None):
    """Publishes a shadow request and collects its answers up to the last one: /rejected,
    /accepted of get and delete, /documents of an update -> {suffix: JSON}, in the order
    they came (Shoal publishes an update's accepted, delta, documents in that order)."""
    topic = shadow_topic(thing, op, name)
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    assert dev.publish_acked(topic, payload) == 0
    last = ("/documents",) if op == "update" else ("/accepted",)
    got = {}
    while True:
        _, (t, p, _, _) = collect_until(dev, lambda m: m[0].startswith(topic + "/"))
        got[t[len(topic) + 1:]] = json.loads(p)
        if t.endswith(("/rejected",) + last):
            return got


# --------------------------------------------------------------------------
# 1. MQTT: the documents of get, update and delete
# --------------------------------------------------------------------------


def test_mqtt_update_get_delete_documents(device):
    """The answer documents of a shadow's life: not found, created with desired (delta and
    documents without `previous`), reported, a null removing a key, deleted, recreated with
    the next version."""
    dev, thing = device()
    got = ask(dev, thing, "get", {"clientToken": "g0"})
    assert set(got) == {"rejected"}
    rej = got["rejected"]
    assert_recent(rej.pop("timestamp"))
    assert rej == {"code": 404, "message": "No shadow exists with name: '%s'" % thing,
                   "clientToken": "g0"}

    desired = {"color": "red", "size": {"w": 1, "h": 2}}
    got = ask(dev, thing, "update", {"state": {"desired": desired}, "clientToken": "u1"})
    assert list(got) == ["accepted", "delta", "documents"]
    acc, delta, docs = got["accepted"], got["delta"], got["documents"]
    ts = acc["timestamp"]
    assert_recent(ts)
    meta = {"color": {"timestamp": ts}, "size": {"w": {"timestamp": ts}, "h": {"timestamp": ts}}}
    assert acc == {"state": {"desired": desired}, "metadata": {"desired": meta},
                   "version": 1, "timestamp": ts, "clientToken": "u1"}
    assert delta == {"state": desired, "metadata": meta, "version": 1, "timestamp": ts,
                     "clientToken": "u1"}
    assert "previous" not in docs  # the update created the shadow
    assert docs == {"current": {"state": {"desired": desired}, "metadata": {"desired": meta},
                                "version": 1},
                    "timestamp": ts, "clientToken": "u1"}

    got = ask(dev, thing, "update", {"state": {"reported": desired}, "clientToken": "u2"})
    assert list(got) == ["accepted", "documents"], "a delta without a difference: %r" % got
    assert got["accepted"]["version"] == 2
    docs = got["documents"]
    assert docs["previous"]["version"] == 1 and docs["current"]["version"] == 2
    assert docs["previous"]["state"] == {"desired": desired}
    assert docs["current"]["state"] == {"desired": desired, "reported": desired}

    got = ask(dev, thing, "get", {"clientToken": "g1"})["accepted"]
    assert_recent(got.pop("timestamp"))
    assert set(got["metadata"]) == {"desired", "reported"}
    assert got["state"] == {"desired": desired, "reported": desired}, "no delta expected"
    assert (got["version"], got["clientToken"]) == (2, "g1")

    # null removes a key (and its metadata); the desired value is a delta again.
    got = ask(dev, thing, "update", {"state": {"reported": {"size": None}}})
    assert got["delta"]["state"] == {"size": {"w": 1, "h": 2}}
    assert "clientToken" not in got["accepted"]
    got = ask(dev, thing, "get")["accepted"]
    assert got["state"] == {"desired": desired, "reported": {"color": "red"},
                            "delta": {"size": {"w": 1, "h": 2}}}
    assert set(got["metadata"]["reported"]) == {"color"}

    got = ask(dev, thing, "delete", {"clientToken": "d1"})["accepted"]
    assert_recent(got.pop("timestamp"))
    assert got == {"version": 3, "clientToken": "d1"}
    assert ask(dev, thing, "get")["rejected"]["code"] == 404
    assert ask(dev, thing, "delete")["rejected"]["code"] == 404
    # Recreated: the version continues, and there is no `previous`.
    got = ask(dev, thing, "update", {"state": {"reported": {"on": True}}})
    assert got["accepted"]["version"] == 4
    assert "previous" not in got["documents"]
    assert got["documents"]["current"]["state"] == {"reported": {"on": True}}


def nested(levels):
    """An object `levels` deep: nested(2) == {"l1": {"l2": 1}}."""
    v = 1
    for i in range(levels, 0, -1):
        v = {"l%d" % i: v}
    return v


REJECTED_UPDATES = [
    ("invalid-json", b'{"state": {"reported": ', 400, "Invalid JSON", None),
    ("no-state", {"clientToken": "t1"}, 400, "Missing required node: state", "t1"),
    ("state-string", {"state": "on", "clientToken": "t2"}, 400,
     "State node must be an object", "t2"),
    ("desired-number", {"state": {"desired": 5}}, 400, "Desired node must be an object", None),
    ("reported-array", {"state": {"reported": [1]}}, 400, "Reported node must be an object",
     None),
    ("version-string", {"state": {"reported": {"a": 1}}, "version": "1"}, 400,
     "Invalid version", None),
    ("token-number", {"state": {"reported": {"a": 1}}, "clientToken": 7}, 400,
     "Invalid clientToken", None),
    ("token-too-long", {"state": {"reported": {"a": 1}}, "clientToken": "x" * 65}, 400,
     "Invalid clientToken", None),
    ("seven-levels", {"state": {"desired": nested(7)}, "clientToken": "t3"}, 400,
     "JSON contains too many levels of nesting; maximum is 6", "t3"),
    ("unknown-node", {"state": {"delta": {"a": 1}}}, 400, "State contains an invalid node",
     None),
    ("over-8-kb", {"state": {"desired": {"a": "x" * 4500}, "reported": {"b": "y" * 4500}},
                   "clientToken": "t4"}, 413,
     "The payload exceeds the maximum size allowed", "t4"),
]


@pytest.mark.parametrize("doc, code, message, token",
                         [pytest.param(*c[1:], id=c[0]) for c in REJECTED_UPDATES])
def test_mqtt_update_rejections(device, doc, code, message, token):
    """An invalid update is refused on /update/rejected with AWS's code and message (and the
    client token when it could be read), and nothing is stored."""
    dev, thing = device()
    got = ask(dev, thing, "update", doc)
    assert set(got) == {"rejected"}, got
    rej = got["rejected"]
    assert_recent(rej.pop("timestamp"))
    want = {"code": code, "message": message}
    if token:
        want["clientToken"] = token
    assert rej == want
    assert ask(dev, thing, "get")["rejected"]["code"] == 404


def test_mqtt_limits_accept_six_levels_and_8_kb(device):
    """The limits' edges are accepted: six levels of nesting, 8 KB of state in all."""
    dev, thing = device()
    assert ask(dev, thing, "update", {"state": {"desired": nested(6)}})["accepted"]["version"] == 1
    big = {"state": {"reported": {"a": "x" * 3900}, "desired": {"b": "y" * 4000}}}
    assert ask(dev, thing, "update", big)["accepted"]["version"] == 2


def test_mqtt_version_conflict_and_named_shadow_not_found(device):
    """An update naming another version than the shadow's is refused with 409; the right
    version is accepted. A missing named shadow's 404 quotes the shadow's name."""
    dev, thing = device()
    ask(dev, thing, "update", {"state": {"reported": {"n": 1}}})
    rej = ask(dev, thing, "update", {"state": {"reported": {"n": 2}}, "version": 7,
                                     "clientToken": "c9"})["rejected"]
    assert (rej["code"], rej["message"], rej["clientToken"]) == (409, "Version conflict", "c9")
    got = ask(dev, thing, "update", {"state": {"reported": {"n": 2}}, "version": 1})
    assert got["accepted"]["version"] == 2

    for op in ("get", "delete"):
        rej = ask(dev, thing, op, {"clientToken": "n1"}, name="cfg")["rejected"]
        assert (rej["code"], rej["message"], rej["clientToken"]) == (
            404, "No shadow exists with name: 'cfg'", "n1")
    got = ask(dev, thing, "update", {"state": {"desired": {"mode": "eco"}}}, name="cfg")
    assert got["accepted"]["version"] == 1  # a named shadow has its own version
    assert got["delta"]["state"] == {"mode": "eco"}
    assert ask(dev, thing, "get", name="cfg")["accepted"]["state"]["delta"] == {"mode": "eco"}


# --------------------------------------------------------------------------
# 2. MQTT: what the policy allows
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [pytest.param(V311, id="mqtt311"),
                                      pytest.param(V5, id="mqtt5")])
def test_policy_limits_a_device_to_its_own_shadow(make_device, account_id, paho, data,
                                                  aws_error, unique, protocol):
    """With `$aws/things/${iot:Connection.Thing.ThingName}/shadow/*` a device subscribes with
    `+` to its own shadow's answers but not another thing's, and its update of another
    thing's shadow is refused: MQTT 3.1.1 is disconnected, MQTT 5 gets PUBACK 0x87."""
    creds, (thing,) = make_device(shadow_policy(account_id))
    other = unique("other")
    dev = paho(creds, thing, protocol)
    dev.connect()
    failure = SUBACK_FAILURE_311 if protocol == V311 else NOT_AUTHORIZED
    assert dev.subscribe(("$aws/things/%s/shadow/get/+" % thing, 1),
                         ("$aws/things/%s/shadow/get/+" % other, 1)) == [1, failure]
    got = ask(dev, thing, "get", {"clientToken": "own"})
    assert (got["rejected"]["code"], got["rejected"]["clientToken"]) == (404, "own")

    mid = dev.publish(shadow_topic(other, "update"),
                      json.dumps({"state": {"reported": {"hijacked": True}}}), qos=1)
    if protocol == V311:
        assert dev.closed.wait(WAIT), "the connection stayed open after a denied publish"
        assert dev.pubacks.get(mid) is None
    else:
        assert dev.pubacks.wait(mid) == NOT_AUTHORIZED
        assert ask(dev, thing, "get")["rejected"]["code"] == 404  # still connected
    with aws_error("ResourceNotFoundException", 404):
        data.get_thing_shadow(thingName=other)


# --------------------------------------------------------------------------
# 3. iot-data over HTTP (boto3)
# --------------------------------------------------------------------------


def test_http_update_get_delete_without_a_registry_thing(data, unique, aws_error):
    """UpdateThingShadow, GetThingShadow and DeleteThingShadow, classic and named, for a thing
    that is not in the registry: the documents are the MQTT ones."""
    thing = unique("nothing")
    resp = data.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": {"wait_time": 10}}, "clientToken": "app-1"}).encode())
    acc = body(resp)
    assert (acc["version"], acc["clientToken"], acc["state"]) == (
        1, "app-1", {"desired": {"wait_time": 10}})
    assert acc["metadata"] == {"desired": {"wait_time": {"timestamp": acc["timestamp"]}}}
    doc = body(data.get_thing_shadow(thingName=thing))
    assert doc["state"] == {"desired": {"wait_time": 10}, "delta": {"wait_time": 10}}
    assert doc["version"] == 1 and "clientToken" not in doc

    data.update_thing_shadow(thingName=thing, payload=b'{"state":{"reported":{"wait_time":10}}}')
    doc = body(data.get_thing_shadow(thingName=thing))
    assert doc["state"] == {"desired": {"wait_time": 10}, "reported": {"wait_time": 10}}
    assert doc["version"] == 2

    named = body(data.update_thing_shadow(thingName=thing, shadowName="cfg",
                                          payload=b'{"state":{"reported":{"fw":"1.0"}}}'))
    assert named["version"] == 1
    assert body(data.get_thing_shadow(thingName=thing, shadowName="cfg"))["state"] == {
        "reported": {"fw": "1.0"}}
    deleted = body(data.delete_thing_shadow(thingName=thing, shadowName="cfg"))
    assert deleted["version"] == 1 and set(deleted) == {"version", "timestamp"}
    with aws_error("ResourceNotFoundException", 404) as ei:
        data.get_thing_shadow(thingName=thing, shadowName="cfg")
    assert ei.value.response["Error"]["Message"] == "No shadow exists with name: 'cfg'"
    # The classic shadow is untouched by the named one's deletion.
    assert body(data.delete_thing_shadow(thingName=thing))["version"] == 2
    again = body(data.update_thing_shadow(thingName=thing,
                                          payload=b'{"state":{"reported":{"back":true}}}'))
    assert again["version"] == 3  # recreated: the version continues


def test_http_errors(data, data_raw, unique, aws_error):
    """ResourceNotFoundException (404), ConflictException (409), InvalidRequestException
    (400) and RequestEntityTooLargeException (413), with AWS's messages."""
    thing = unique("err")
    with aws_error("ResourceNotFoundException", 404) as ei:
        data.get_thing_shadow(thingName=thing)
    assert ei.value.response["Error"]["Message"] == "No shadow exists with name: '%s'" % thing
    with aws_error("ResourceNotFoundException", 404):
        data.delete_thing_shadow(thingName=thing)
    data.update_thing_shadow(thingName=thing, payload=b'{"state":{"reported":{"a":1}}}')
    with aws_error("ConflictException", 409) as ei:
        data.update_thing_shadow(thingName=thing,
                                 payload=b'{"state":{"reported":{"a":2}},"version":5}')
    assert ei.value.response["Error"]["Message"] == "Version conflict"
    for payload, message in [(b"{not json", "Invalid JSON"),
                             (b'{"state": 3}', "State node must be an object"),
                             (b'{"version": 1}', "Missing required node: state")]:
        with aws_error("InvalidRequestException", 400) as ei:
            data.update_thing_shadow(thingName=thing, payload=payload)
        assert ei.value.response["Error"]["Message"] == message
    with aws_error("RequestEntityTooLargeException", 413):
        data.update_thing_shadow(thingName=thing, payload=json.dumps(
            {"state": {"reported": {"blob": "z" * 9000}}}).encode())
    for size in (0, 101):
        with aws_error("InvalidRequestException", 400):
            data_raw.list_named_shadows_for_thing(thingName=thing, pageSize=size)
    # None of the refusals changed the shadow.
    doc = body(data.get_thing_shadow(thingName=thing))
    assert (doc["version"], doc["state"]) == (1, {"reported": {"a": 1}})


def test_http_list_named_shadows_paginates(data, unique):
    """ListNamedShadowsForThing with pageSize=1 follows nextToken through every named shadow;
    the classic shadow is not listed."""
    thing = unique("list")
    names = sorted("s%d-%s" % (i, unique("n")) for i in range(5))
    data.update_thing_shadow(thingName=thing, payload=b'{"state":{"reported":{"x":1}}}')
    for n in names:
        data.update_thing_shadow(thingName=thing, shadowName=n,
                                 payload=b'{"state":{"reported":{"x":1}}}')
    first = data.list_named_shadows_for_thing(thingName=thing)
    assert sorted(first["results"]) == names and "nextToken" not in first
    assert_recent(first["timestamp"])
    seen, token, pages = [], None, 0
    while True:
        kw = {"nextToken": token} if token else {}
        page = data.list_named_shadows_for_thing(thingName=thing, pageSize=1, **kw)
        pages += 1
        assert len(page["results"]) == 1, page
        seen += page["results"]
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 10, "pagination does not end"
    assert sorted(seen) == names and len(seen) == len(set(seen))
    assert data.list_named_shadows_for_thing(thingName=unique("none"))["results"] == []


def test_http_changes_are_published_on_mqtt(device, data):
    """An accepted UpdateThingShadow is published on update/accepted, update/delta and
    update/documents, a DeleteThingShadow on delete/accepted; an HTTP refusal is not
    published on /rejected (the next message is the next accepted change)."""
    dev, thing = device()
    resp = body(data.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": {"wait_time": 10}}, "clientToken": "app"}).encode()))
    msgs = [collect_until(dev, lambda m: True)[1] for _ in range(3)]
    base = shadow_topic(thing, "update")
    assert [m[0] for m in msgs] == [base + "/accepted", base + "/delta", base + "/documents"]
    assert json.loads(msgs[0][1]) == resp
    delta = json.loads(msgs[1][1])
    assert (delta["state"], delta["version"], delta["clientToken"]) == (
        {"wait_time": 10}, 1, "app")

    try:
        data.update_thing_shadow(thingName=thing,
                                 payload=b'{"state":{"reported":{"x":1}},"version":9}')
    except data.exceptions.ConflictException:
        pass
    else:
        raise AssertionError("a version conflict was accepted")
    data.delete_thing_shadow(thingName=thing)
    topic, payload, _, _ = dev.next_message()
    assert topic == shadow_topic(thing, "delete/accepted"), (topic, payload)
    assert json.loads(payload)["version"] == 1


def test_http_publish_on_a_shadow_topic_is_a_shadow_request(device, data, aws_error):
    """iot-data Publish on `.../shadow/update` updates the shadow as an MQTT publish would:
    the answers, a refusal included, are published on the answer topics; publishing on an
    answer topic is refused."""
    dev, thing = device()
    topic = shadow_topic(thing, "update")
    data.publish(topic=topic, qos=1, payload=json.dumps(
        {"state": {"reported": {"wait_time": 5}}, "clientToken": "http"}).encode())
    msgs = [collect_until(dev, lambda m: True)[1] for _ in range(2)]
    assert [m[0] for m in msgs] == [topic + "/accepted", topic + "/documents"]
    accepted = json.loads(msgs[0][1])
    assert (accepted["version"], accepted["clientToken"]) == (1, "http")
    doc = body(data.get_thing_shadow(thingName=thing))
    assert doc["state"] == {"reported": {"wait_time": 5}}

    data.publish(topic=topic, qos=1, payload=b'{"clientToken":"bad"}')
    t, p, _, _ = dev.next_message()
    assert t == topic + "/rejected"
    rejected = json.loads(p)
    assert (rejected["code"], rejected["message"], rejected["clientToken"]) == (
        400, "Missing required node: state", "bad")

    with aws_error("InvalidRequestException", 400):
        data.publish(topic=topic + "/accepted", payload=b"{}")


# --------------------------------------------------------------------------
# 4. The AWS CLI
# --------------------------------------------------------------------------


def cli_with_payload(aws_cli, command, *args):
    """`aws iot-data COMMAND ARGS` with a raw JSON --payload: CLI v2 needs
    `--cli-binary-format raw-in-base64-out`, v1 has no such option and sends it as it is."""
    try:
        return aws_cli("iot-data", command, "--cli-binary-format", "raw-in-base64-out", *args)
    except AwsCliError as e:
        if "--cli-binary-format" not in e.stderr:
            raise
        return aws_cli("iot-data", command, *args)


def test_aws_cli_update_and_get_thing_shadow(aws_cli, unique, tmp_path):
    """`aws iot-data update-thing-shadow --thing-name T --payload JSON outfile` and
    `get-thing-shadow` (the app's steps of the seed), list and delete."""
    thing = unique("cli")
    out = tmp_path / "update.json"
    cli_with_payload(aws_cli, "update-thing-shadow", "--thing-name", thing,
                     "--payload", '{"state": {"desired": {"wait_time": 10}}}', str(out))
    acc = json.loads(out.read_text())
    assert (acc["state"], acc["version"]) == ({"desired": {"wait_time": 10}}, 1)

    got = tmp_path / "get.json"
    aws_cli("iot-data", "get-thing-shadow", "--thing-name", thing, str(got))
    doc = json.loads(got.read_text())
    assert doc["state"] == {"desired": {"wait_time": 10}, "delta": {"wait_time": 10}}
    assert doc["metadata"]["desired"]["wait_time"]["timestamp"] == acc["timestamp"]

    listed = aws_cli("iot-data", "list-named-shadows-for-thing", "--thing-name", thing)
    assert listed["results"] == []
    gone = tmp_path / "delete.json"
    aws_cli("iot-data", "delete-thing-shadow", "--thing-name", thing, str(gone))
    assert json.loads(gone.read_text())["version"] == 1
    with pytest.raises(AwsCliError) as ei:
        aws_cli("iot-data", "get-thing-shadow", "--thing-name", thing, str(got))
    assert "ResourceNotFoundException" in ei.value.stderr


# --------------------------------------------------------------------------
# 5. Durability
# --------------------------------------------------------------------------

STREAMS = 4  # devices updating their own shadows at once
KILL_AFTER = 120  # accepted updates (all streams) before the SIGKILL
MAX_UPDATES = 2000  # per stream


def next_answer(dev, timeout=WAIT):
    """The next message, or None once the connection has ended and nothing is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return dev.messages.get(timeout=0.05)
        except queue.Empty:
            if dev.closed.is_set() and dev.messages.empty():
                return None
    raise AssertionError("%s: no answer within %ss" % (dev.client_id, timeout))


def test_accepted_shadow_updates_survive_sigkill(shoal_factory, paho, tmp_path):
    """STREAMS devices each send MQTT updates to their own shadow, each waiting for its
    /update/accepted; once KILL_AFTER are accepted in all, another thread SIGKILLs the server
    while updates are in flight. Restarted on the same data, every shadow holds at least its
    last accepted update, and the next update continues its version."""
    data_dir = tmp_path / "shadow-crash"
    srv = shoal_factory(data_dir)
    admin = srv.client()
    account = admin.create_thing(thingName="probe")["thingArn"].split(":")[4]
    creds, things = make_device_on(admin, tmp_path, shadow_policy(account), things=STREAMS)
    devices = []
    for thing in things:
        dev = paho(creds, thing, V311, srv=srv)
        dev.connect()
        assert dev.subscribe((shadow_topic(thing, "update/accepted"), 1),
                             (shadow_topic(thing, "update/rejected"), 1)) == [1, 1]
        devices.append(dev)

    lock = threading.Lock()
    accepted = {t: [] for t in things}  # thing -> [(seq, version)], in order
    total = [0]
    errors = []
    enough, killed = threading.Event(), threading.Event()

    def stream(dev, thing):
        try:
            for seq in range(MAX_UPDATES):
                token = "seq-%d" % seq
                doc = {"state": {"reported": {"seq": seq, "pad": "p" * 200}},
                       "clientToken": token}
                if dev.closed.is_set():
                    return
                dev.publish(shadow_topic(thing, "update"), json.dumps(doc), qos=1)
                got = next_answer(dev)
                if got is None:
                    return
                answer = json.loads(got[1])
                assert (got[0], answer.get("clientToken")) == (
                    shadow_topic(thing, "update/accepted"), token), answer
                with lock:
                    accepted[thing].append((seq, answer["version"]))
                    total[0] += 1
                    if total[0] >= KILL_AFTER:
                        enough.set()
        except Exception as e:  # reported by the main thread
            if not killed.is_set():
                errors.append("%s: %r" % (thing, e))
                enough.set()

    threads = [threading.Thread(target=stream, args=(d, t), daemon=True)
               for d, t in zip(devices, things)]
    for th in threads:
        th.start()
    assert enough.wait(60), "too few updates accepted within 60 s"
    assert not errors, errors
    killed.set()
    os.kill(srv.pid, signal.SIGKILL)
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL
    for th in threads:
        th.join(WAIT + 5)
        assert not th.is_alive(), "a stream is still blocked after the kill"
    with lock:
        accepted = {t: list(v) for t, v in accepted.items()}
    assert sum(map(len, accepted.values())) >= KILL_AFTER

    srv2 = shoal_factory(data_dir)
    data2 = make_data_client(srv2)
    for thing, acks in accepted.items():
        assert [v for _, v in acks] == list(range(1, len(acks) + 1)), thing
        doc = body(data2.get_thing_shadow(thingName=thing))
        print("%s: accepted %d, stored version %d" % (thing, len(acks), doc["version"]))
        if acks:
            last_seq, last_version = acks[-1]
            assert doc["version"] >= last_version, "an accepted update was lost"
            assert doc["state"]["reported"]["seq"] >= last_seq
        # Version and content are of one update: version n holds seq n - 1.
        assert doc["state"]["reported"]["seq"] == doc["version"] - 1
        after = body(data2.update_thing_shadow(thingName=thing,
                                               payload=b'{"state":{"reported":{"seq":-1}}}'))
        assert after["version"] == doc["version"] + 1
