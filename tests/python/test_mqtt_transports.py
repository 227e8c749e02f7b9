"""The ways into the message broker besides MQTT over mutual TLS.

1. iot-data over HTTP with SigV4 on the API port: Publish (with the MQTT 5
   properties), GetRetainedMessage and ListRetainedMessages, from boto3 and
   the AWS CLI, checked against MQTT subscribers
   (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Data_Plane.html).
2. Device HTTPS: iot-data Publish with the device's client certificate, the
   certificate's IoT policy deciding
   (https://docs.aws.amazon.com/iot/latest/developerguide/http.html).
3. MQTT over WebSocket on the MQTT TLS port, path /mqtt, the upgrade request
   presigned with SigV4 for the service `iotdevicegateway`
   (https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html).
4. Shoal's own plain-TCP MQTT listener (AWS IoT has none): the access key id
   as user name and the secret access key as password.

Devices come from test_mqtt_gateway's `make_device` (certificate, policy and
thing as the AWS documentation makes them) and its waitable paho wrapper.
Nothing sleeps to synchronise: every wait is a Queue / Event with a timeout.
"""

import base64
import http.client
import json
import queue
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid

import boto3
import paho.mqtt.client as mqtt
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from paho.mqtt.enums import CallbackAPIVersion

from conftest import AwsCliError
from test_mqtt_gateway import (  # noqa: F401  (make_device and paho are fixtures)
    HOST,
    V311,
    V5,
    WAIT,
    Acks,
    Paho,
    allow_all_policy,
    arn,
    make_device,
    paho,
    roundtrip,
    thing_policy,
)

PROTOCOLS = [pytest.param(V311, id="mqtt311"), pytest.param(V5, id="mqtt5")]
MAX_PAYLOAD = 128 * 1024  # https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits

# CONNACK refusals for a bad user name or password: MQTT 3.1.1 §3.2.2.3 return
# code 4, MQTT 5 §3.2.2.2 reason code 0x86.
BAD_CREDENTIALS_311 = 0x04
BAD_CREDENTIALS_5 = 0x86


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------


def make_data_client(server, secret_key=None, validate=True):
    """boto3 `iot-data` client; only the endpoint is non-standard (as conftest's make_client)."""
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                 parameter_validation=validate, connect_timeout=10, read_timeout=30)
    session = boto3.session.Session(aws_access_key_id=server.access_key,
                                    aws_secret_access_key=secret_key or server.secret_key,
                                    region_name="us-east-1")
    return session.client("iot-data", endpoint_url=server.endpoint, config=cfg)


@pytest.fixture(scope="module")
def data(server):
    return make_data_client(server)


@pytest.fixture(scope="module")
def data_raw(server):
    """Client-side validation off, so that invalid input reaches the server."""
    return make_data_client(server, validate=False)


@pytest.fixture
def prefix(unique):
    """A topic prefix of this test's own."""
    return "xport/%s" % unique("p")


@pytest.fixture
def subscriber(make_device, paho):
    """subscriber(filter, protocol=V311) -> a connected mTLS Paho (allow-all
    policy, client id = its thing name) subscribed to `filter` at QoS 1."""

    def make(topic_filter, protocol=V311):
        creds, (thing,) = make_device(allow_all_policy())
        c = paho(creds, thing, protocol)
        c.connect()
        assert c.subscribe((topic_filter, 1)) == [1]
        return c

    return make


class KeyPaho(Paho):
    """The Paho wrapper (same waitable callbacks) authenticating with an access
    key instead of a client certificate: over plain TCP (user name / password),
    or over WebSocket with TLS and a presigned path."""

    def __init__(self, port, client_id, protocol=V311, username=None, password=None,
                 transport="tcp", ws_path=None, ca=None):
        self._setup(client_id, protocol, port, transport=transport)
        if username is not None:
            self.client.username_pw_set(username, password)
        if ws_path is not None:
            self.client.ws_set_options(path=ws_path)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca))


@pytest.fixture
def key_paho():
    """key_paho(port, client_id, ...) -> a KeyPaho, stopped at teardown."""
    started = []

    def make(*args, **kw):
        p = KeyPaho(*args, **kw)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def capture_messages(client):
    """Route `client`'s deliveries to a queue of whole paho messages (to read
    MQTT 5 properties); returns the queue."""
    got = queue.Queue()
    client.client.on_message = lambda cl, ud, msg: got.put(msg)
    return got


def next_from(q, what="message"):
    try:
        return q.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError("no %s within %ss" % (what, WAIT))


# --------------------------------------------------------------------------
# 1. iot-data Publish over HTTP (SigV4)
# https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html
# --------------------------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1], ids=["qos0", "qos1"])
def test_http_publish_reaches_an_mqtt_subscriber(data, subscriber, prefix, qos):
    sub = subscriber("%s/#" % prefix)
    topic = "%s/readings/q%d" % (prefix, qos)
    payload = json.dumps({"temperature": 21.5, "qos": qos}).encode()
    resp = data.publish(topic=topic, qos=qos, payload=payload)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Delivered at the publish QoS (the subscription is QoS 1), not retained.
    assert sub.next_message() == (topic, payload, qos, False)
    # A binary payload goes through unchanged.
    blob = bytes(range(256)) * 16
    data.publish(topic=topic, qos=qos, payload=blob)
    assert sub.next_message()[1] == blob


def test_http_publish_mqtt5_properties_reach_an_mqtt5_subscriber(data, subscriber, prefix):
    # Publish's userProperties, payloadFormatIndicator, contentType,
    # responseTopic, correlationData and messageExpiry become the MQTT 5
    # PUBLISH properties (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt5).
    sub = subscriber("%s/#" % prefix, protocol=V5)
    got = capture_messages(sub)
    topic = "%s/request" % prefix
    correlation = b"\x00\x01req-42\xff"
    data.publish(
        topic=topic, qos=1, payload=b'{"cmd": "reboot"}',
        userProperties=json.dumps([{"deviceName": "alpha"}, {"deviceCnt": "45"}]),
        payloadFormatIndicator="UTF8_DATA",
        contentType="application/json",
        responseTopic="%s/response" % prefix,
        correlationData=base64.b64encode(correlation).decode(),
        messageExpiry=3600)
    msg = next_from(got)
    assert (msg.topic, msg.payload, msg.qos) == (topic, b'{"cmd": "reboot"}', 1)
    props = msg.properties
    assert props.UserProperty == [("deviceName", "alpha"), ("deviceCnt", "45")]
    assert props.PayloadFormatIndicator == 1
    assert props.ContentType == "application/json"
    assert props.ResponseTopic == "%s/response" % prefix
    assert props.CorrelationData == correlation
    # The remaining lifetime (MQTT 5 §3.3.2.3.3): at most what was asked.
    assert 3500 < props.MessageExpiryInterval <= 3600

    # Without properties, none are invented.
    data.publish(topic=topic, qos=1, payload=b"plain")
    msg = next_from(got)
    assert msg.payload == b"plain"
    for name in ("UserProperty", "ContentType", "ResponseTopic", "CorrelationData"):
        assert not hasattr(msg.properties, name), name


@pytest.mark.parametrize("topic, qos", [
    pytest.param("{p}/ok", 2, id="qos2"),
    pytest.param("{p}/+/x", 0, id="plus-wildcard"),
    pytest.param("{p}/#", 0, id="hash-wildcard"),
    # Topics beginning with $ are reserved
    # (https://docs.aws.amazon.com/iot/latest/developerguide/topics.html#topicnames).
    pytest.param("$shoal-reserved/{p}", 0, id="dollar"),
])
def test_http_publish_invalid_request(data_raw, aws_error, subscriber, prefix, topic, qos):
    sub = subscriber("%s/#" % prefix)
    with aws_error("InvalidRequestException", 400):
        data_raw.publish(topic=topic.format(p=prefix), qos=qos, payload=b"nope")
    # Nothing was published: the next message is the marker.
    roundtrip(sub, "%s/marker" % prefix)


def test_http_publish_payload_over_128_kb_is_too_large(data, aws_error, subscriber, prefix):
    # https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits
    sub = subscriber("%s/#" % prefix)
    topic = "%s/big" % prefix
    with aws_error("RequestEntityTooLargeException", 413):
        data.publish(topic=topic, qos=1, payload=b"x" * (MAX_PAYLOAD + 1))
    # Exactly 128 KB is allowed.
    data.publish(topic=topic, qos=1, payload=b"y" * MAX_PAYLOAD)
    got = sub.next_message()
    assert (got[0], len(got[1])) == (topic, MAX_PAYLOAD)


def cli_publish(aws_cli, *args):
    """`aws iot-data publish ARGS` with a raw (not base64) --payload: AWS CLI v2
    needs `--cli-binary-format raw-in-base64-out` for that, v1 has no such
    option and sends blob arguments as they are."""
    try:
        return aws_cli("iot-data", "publish", *args,
                       "--cli-binary-format", "raw-in-base64-out")
    except AwsCliError as e:
        if "--cli-binary-format" not in e.stderr:
            raise
        return aws_cli("iot-data", "publish", *args)


def test_aws_cli_iot_data_publish(aws_cli, subscriber, prefix):
    # The CLI example of the Publish page, with a raw (not base64) payload.
    sub = subscriber("%s/#" % prefix)
    topic = "%s/cli" % prefix
    cli_publish(aws_cli, "--topic", topic, "--qos", "1", "--payload", '{"a":1}')
    assert sub.next_message() == (topic, b'{"a":1}', 1, False)


# --------------------------------------------------------------------------
# Retained messages over HTTP
# https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain
# --------------------------------------------------------------------------


def test_http_retained_message_get_and_delete(data, aws_error, prefix):
    topic = "%s/state" % prefix
    before = int(time.time() * 1000)
    data.publish(topic=topic, qos=1, retain=True, payload=b'{"on": true}',
                 userProperties=json.dumps([{"k": "v"}]))
    after = int(time.time() * 1000)
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetRetainedMessage.html
    got = data.get_retained_message(topic=topic)
    assert got["topic"] == topic
    assert got["payload"] == b'{"on": true}'
    assert got["qos"] == 1
    assert isinstance(got["lastModifiedTime"], int)
    assert before - 1000 <= got["lastModifiedTime"] <= after + 1000, (before, got, after)
    assert json.loads(got["userProperties"]) == [{"k": "v"}]

    # A newer retained message replaces it; without user properties there are none.
    data.publish(topic=topic, qos=0, retain=True, payload=b'{"on": false}')
    got = data.get_retained_message(topic=topic)
    assert (got["payload"], got["qos"]) == (b'{"on": false}', 0)
    assert "userProperties" not in got

    # "To delete a retained message, publish a zero-byte retained message to the topic."
    data.publish(topic=topic, qos=1, retain=True, payload=b"")
    with aws_error("ResourceNotFoundException", 404):
        data.get_retained_message(topic=topic)


def test_get_retained_message_of_a_topic_without_one_is_not_found(data, aws_error, prefix):
    topic = "%s/never" % prefix
    with aws_error("ResourceNotFoundException", 404):
        data.get_retained_message(topic=topic)
    # A message published without retain is not kept either.
    data.publish(topic=topic, qos=1, payload=b"transient")
    with aws_error("ResourceNotFoundException", 404):
        data.get_retained_message(topic=topic)


def test_list_retained_messages_paginates(data, prefix):
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_ListRetainedMessages.html
    mine = {"%s/dev%d" % (prefix, i): b"v" * (i + 1) for i in range(5)}
    for i, (topic, payload) in enumerate(mine.items()):
        data.publish(topic=topic, qos=i % 2, retain=True, payload=payload)

    first = data.list_retained_messages(maxResults=2)
    assert len(first["retainedTopics"]) == 2
    assert first.get("nextToken")

    # The listing is account-wide: other tests' retained topics may be there too.
    seen = []
    pages = data.get_paginator("list_retained_messages").paginate(
        PaginationConfig={"PageSize": 2})
    n_pages = 0
    for page in pages:
        n_pages += 1
        assert len(page["retainedTopics"]) <= 2
        seen.extend(page["retainedTopics"])
    assert n_pages >= 3
    topics = [t["topic"] for t in seen]
    assert len(topics) == len(set(topics)), "a topic listed twice: %s" % topics
    listed = {t["topic"]: t for t in seen if t["topic"].startswith(prefix + "/")}
    assert set(listed) == set(mine)
    now = time.time() * 1000
    for i, (topic, payload) in enumerate(mine.items()):
        item = listed[topic]
        assert item["payloadSize"] == len(payload)
        assert item["qos"] == i % 2
        assert abs(item["lastModifiedTime"] - now) < 60_000, item

    # Deleted ones leave the listing.
    for topic in mine:
        data.publish(topic=topic, qos=1, retain=True, payload=b"")
    left = [t["topic"] for p in data.get_paginator("list_retained_messages").paginate()
            for t in p["retainedTopics"] if t["topic"].startswith(prefix + "/")]
    assert left == []


def test_mqtt_retained_publish_is_readable_over_http(make_device, account_id, paho, data,
                                                     prefix):
    topic = "%s/mqtt-retained" % prefix
    # Retaining needs iot:RetainPublish besides iot:Publish
    # (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html).
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": arn(
            account_id, "client", "${iot:Connection.Thing.ThingName}")},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:RetainPublish"],
         "Resource": arn(account_id, "topic", topic)},
    ]}
    creds, (thing,) = make_device(policy)
    dev = paho(creds, thing, V311)
    dev.connect()
    assert dev.pubacks.wait(dev.publish(topic, b"from mqtt", qos=1, retain=True)) == 0
    got = data.get_retained_message(topic=topic)
    assert (got["topic"], got["payload"], got["qos"]) == (topic, b"from mqtt", 1)
    # Deleting it over MQTT shows over HTTP too.
    dev.pubacks.wait(dev.publish(topic, b"", qos=1, retain=True))
    listed = [t["topic"] for p in data.get_paginator("list_retained_messages").paginate()
              for t in p["retainedTopics"]]
    assert topic not in listed


def test_http_retained_message_reaches_a_later_mqtt_subscriber(data, subscriber, prefix):
    topic = "%s/config" % prefix
    data.publish(topic=topic, qos=1, retain=True, payload=b"last known")
    sub = subscriber(topic)
    # Sent on subscribing, with the RETAIN flag set (MQTT 3.1.1 §3.3.1.3).
    assert sub.next_message() == (topic, b"last known", 1, True)
    # A live publish to a current subscriber does not carry the flag.
    data.publish(topic=topic, qos=1, retain=True, payload=b"newer")
    assert sub.next_message() == (topic, b"newer", 1, False)
    data.publish(topic=topic, qos=1, retain=True, payload=b"")


def test_aws_cli_retained_message(aws_cli, prefix):
    topic = "%s/cli-retained" % prefix
    cli_publish(aws_cli, "--topic", topic, "--qos", "1", "--retain", "--payload", '{"b":2}')
    got = aws_cli("iot-data", "get-retained-message", "--topic", topic)
    assert got["topic"] == topic
    assert base64.b64decode(got["payload"]) == b'{"b":2}'
    assert got["qos"] == 1


# --------------------------------------------------------------------------
# 2. Device HTTPS with a client certificate
# https://docs.aws.amazon.com/iot/latest/developerguide/http.html
# --------------------------------------------------------------------------


def device_https_post(server, creds, path, body, timeout=WAIT):
    """POST over HTTPS with the device's certificate -> (status, headers, body)."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    if creds is not None:
        ctx.load_cert_chain(creds.cert, creds.key)
    conn = http.client.HTTPSConnection(HOST, server.device_https_port, context=ctx,
                                       timeout=timeout)
    try:
        conn.request("POST", path, body=body,
                     headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def topic_path(topic, query="qos=1"):
    return "/topics/%s?%s" % (urllib.parse.quote(topic, safe=""), query)


def publish_only_policy(account_id, topic_pattern):
    """iot:Publish on topic/<topic_pattern> and nothing else: over HTTP there is
    no connection, so no iot:Connect is involved."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": arn(account_id, "topic", topic_pattern)}]}


def test_device_https_publish_allowed_by_the_certificate_policy(server, make_device,
                                                                account_id, subscriber,
                                                                prefix):
    sub = subscriber("%s/#" % prefix)
    creds, _ = make_device(publish_only_policy(account_id, "%s/http/*" % prefix))
    topic = "%s/http/telemetry" % prefix
    status, headers, body = device_https_post(server, creds, topic_path(topic),
                                              b'{"via": "https"}')
    assert status == 200, body
    assert sub.next_message() == (topic, b'{"via": "https"}', 1, False)


def test_device_https_publish_with_the_topic_s_slashes_unencoded(server, make_device,
                                                                  account_id, subscriber,
                                                                  prefix):
    # AWS's HTTPS sample (developer guide, "HTTPS", Python on port 8443) posts to
    # `/topics/test/topic?qos=1` with the slashes as they are.
    sub = subscriber("%s/#" % prefix)
    creds, _ = make_device(publish_only_policy(account_id, "%s/http/*" % prefix))
    topic = "%s/http/raw" % prefix
    status, _, body = device_https_post(server, creds, "/topics/%s?qos=1" % topic, b"raw")
    assert status == 200, body
    assert sub.next_message() == (topic, b"raw", 1, False)


def test_device_https_publish_denied_is_401(server, make_device, account_id, subscriber,
                                            prefix):
    sub = subscriber("%s/#" % prefix)
    creds, _ = make_device(publish_only_policy(account_id, "%s/http/*" % prefix))
    status, headers, body = device_https_post(server, creds,
                                              topic_path("%s/other/x" % prefix), b"no")
    assert status == 401, body
    assert headers["x-amzn-ErrorType"].split(":")[0] == "UnauthorizedException"
    assert json.loads(body)["message"]
    # Nothing was delivered: the allowed publish after it is the next message.
    allowed = "%s/http/after" % prefix
    status, _, body = device_https_post(server, creds, topic_path(allowed), b"yes")
    assert status == 200, body
    assert sub.next_message()[:2] == (allowed, b"yes")


def test_device_https_checks_the_certificate_on_every_request(server, iot, make_device,
                                                              account_id, prefix):
    """A revoked certificate cannot go on publishing over a kept-alive connection: every
    request re-checks its status, as a new connection would."""
    creds, _ = make_device(publish_only_policy(account_id, "%s/keep/*" % prefix))
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.load_cert_chain(creds.cert, creds.key)
    conn = http.client.HTTPSConnection(HOST, server.device_https_port, context=ctx,
                                       timeout=WAIT)
    try:
        def post(n):
            conn.request("POST", topic_path("%s/keep/%d" % (prefix, n)), body=b"x",
                         headers={"Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()

        assert post(1)[0] == 200
        sock = conn.sock
        iot.update_certificate(certificateId=creds.cert_id, newStatus="REVOKED")
        status, headers, body = post(2)
        assert conn.sock is sock, "the same connection"
        assert status == 401, body
        assert headers["x-amzn-ErrorType"].split(":")[0] == "UnauthorizedException"
    finally:
        conn.close()


def test_device_https_without_client_certificate_gets_no_answer(server):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
        device_https_post(server, None, topic_path("xport/anon"), b"who")


# --------------------------------------------------------------------------
# 3. MQTT over WebSocket, SigV4-presigned (account access keys)
# https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html
# --------------------------------------------------------------------------


def sdk_websocket_connection(server, client_id, secret_key=None):
    auth = pytest.importorskip("awscrt.auth")
    builder = pytest.importorskip("awsiot.mqtt_connection_builder")
    provider = auth.AwsCredentialsProvider.new_static(server.access_key,
                                                      secret_key or server.secret_key)
    return builder.websockets_with_default_aws_signing(
        endpoint=HOST, port=server.mqtt_port, region="us-east-1",
        credentials_provider=provider, ca_filepath=str(server.ca_file),
        client_id=client_id, clean_session=True, keep_alive_secs=30)


def test_websocket_sdk_client_exchanges_messages_with_an_mtls_device(server, make_device,
                                                                     account_id, paho,
                                                                     prefix):
    mqtt_crt = pytest.importorskip("awscrt.mqtt")
    conn = sdk_websocket_connection(server, "ws-" + uuid.uuid4().hex[:10])
    got = queue.Queue()
    connected = False
    try:
        result = conn.connect().result(WAIT)
        connected = True
        assert result["session_present"] is False
        fut, _ = conn.subscribe(
            topic="%s/to-ws/#" % prefix, qos=mqtt_crt.QoS.AT_LEAST_ONCE,
            callback=lambda topic, payload, dup, qos, retain, **kw: got.put(
                (topic, payload, qos)))
        assert fut.result(WAIT)["qos"] == mqtt_crt.QoS.AT_LEAST_ONCE
        # To itself.
        topic = "%s/to-ws/self" % prefix
        conn.publish(topic=topic, payload=b"over websocket",
                     qos=mqtt_crt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
        assert next_from(got) == (topic, b"over websocket", mqtt_crt.QoS.AT_LEAST_ONCE)

        # Both ways with a device on mutual TLS.
        creds, (thing,) = make_device(thing_policy(account_id, shared=prefix))
        dev = paho(creds, thing, V311)
        dev.connect()
        assert dev.subscribe(("%s/to-dev/#" % prefix, 1)) == [1]
        topic = "%s/to-ws/from-dev" % prefix
        dev.publish(topic, b"hello websocket", qos=1)
        assert next_from(got) == (topic, b"hello websocket", mqtt_crt.QoS.AT_LEAST_ONCE)
        topic = "%s/to-dev/from-ws" % prefix
        conn.publish(topic=topic, payload=b"hello device",
                     qos=mqtt_crt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
        assert dev.next_message() == (topic, b"hello device", 1, False)
    finally:
        if connected:
            conn.disconnect().result(WAIT)


def test_websocket_with_a_wrong_secret_is_refused(server):
    conn = sdk_websocket_connection(server, "ws-" + uuid.uuid4().hex[:10],
                                    secret_key="not-the-secret-" + uuid.uuid4().hex)
    exceptions = pytest.importorskip("awscrt.exceptions")
    # The server answers the upgrade request with 403: the SDK reports a failed upgrade.
    with pytest.raises(exceptions.AwsCrtError, match="WEBSOCKET_UPGRADE"):
        conn.connect().result(WAIT)


def presigned_ws_path(server, secret_key=None, service="iotdevicegateway",
                      region="us-east-1", path="/mqtt"):
    """PATH?X-Amz-... presigned by botocore's SigV4QueryAuth for localhost:PORT."""
    req = AWSRequest(method="GET", url="https://%s:%d%s" % (HOST, server.mqtt_port, path))
    SigV4QueryAuth(Credentials(server.access_key, secret_key or server.secret_key),
                   service, region, expires=300).add_auth(req)
    parts = urllib.parse.urlsplit(req.url)
    return "%s?%s" % (parts.path, parts.query)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_paho_websocket_with_a_botocore_presigned_path(server, key_paho, make_device,
                                                       account_id, paho, prefix, protocol):
    ws = key_paho(server.mqtt_port, "ws-" + uuid.uuid4().hex[:10], protocol,
                  transport="websockets", ws_path=presigned_ws_path(server),
                  ca=server.ca_file)
    ws.connect()
    assert ws.subscribe(("%s/#" % prefix, 1)) == [1]
    roundtrip(ws, "%s/self" % prefix)
    creds, (thing,) = make_device(thing_policy(account_id, shared=prefix))
    dev = paho(creds, thing, V311)
    dev.connect()
    dev.publish("%s/from-dev" % prefix, b"to paho websocket", qos=1)
    assert ws.next_message() == ("%s/from-dev" % prefix, b"to paho websocket", 1, False)


def websocket_upgrade_status(server, path):
    """The HTTP status of a WebSocket upgrade request (RFC 6455 §4.1) for `path`
    over TLS without a client certificate."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    conn = http.client.HTTPSConnection(HOST, server.mqtt_port, context=ctx, timeout=WAIT)
    try:
        conn.request("GET", path, headers={
            "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(uuid.uuid4().bytes).decode(),
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "mqtt"})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("case, status", [
    pytest.param("valid", 101, id="valid-101"),
    pytest.param("unsigned", 403, id="unsigned-403"),
    pytest.param("wrong-secret", 403, id="wrong-secret-403"),
    pytest.param("wrong-service", 403, id="service-iotdata-403"),
    pytest.param("wrong-region", 403, id="other-region-403"),
    pytest.param("wrong-path", 404, id="path-not-mqtt-404"),
])
def test_websocket_upgrade_needs_a_presigned_mqtt_path(server, case, status):
    path = {
        "valid": lambda: presigned_ws_path(server),
        "unsigned": lambda: "/mqtt",
        "wrong-secret": lambda: presigned_ws_path(server, secret_key="wrong" * 8),
        "wrong-service": lambda: presigned_ws_path(server, service="iotdata"),
        "wrong-region": lambda: presigned_ws_path(server, region="eu-west-1"),
        "wrong-path": lambda: presigned_ws_path(server, path="/other"),
    }[case]()
    assert websocket_upgrade_status(server, path) == status


# --------------------------------------------------------------------------
# 4. Shoal's plain-TCP listener: access key id / secret as user name / password
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_tcp_exchanges_messages_with_an_mtls_device(server, key_paho, make_device,
                                                          account_id, paho, prefix,
                                                          protocol):
    plain = key_paho(server.mqtt_plain_port, "plain-" + uuid.uuid4().hex[:10], protocol,
                     username=server.access_key, password=server.secret_key)
    plain.connect()
    assert plain.subscribe(("%s/to-plain/#" % prefix, 1)) == [1]
    roundtrip(plain, "%s/to-plain/self" % prefix)
    creds, (thing,) = make_device(thing_policy(account_id, shared=prefix))
    dev = paho(creds, thing, V311)
    dev.connect()
    assert dev.subscribe(("%s/to-dev/#" % prefix, 1)) == [1]
    dev.publish("%s/to-plain/x" % prefix, b"from mtls", qos=1)
    assert plain.next_message() == ("%s/to-plain/x" % prefix, b"from mtls", 1, False)
    assert plain.publish_acked("%s/to-dev/y" % prefix, b"from plain") == 0
    assert dev.next_message() == ("%s/to-dev/y" % prefix, b"from plain", 1, False)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_tcp_wrong_password_is_refused(server, key_paho, protocol):
    c = key_paho(server.mqtt_plain_port, "plain-" + uuid.uuid4().hex[:10], protocol,
                 username=server.access_key, password="not-" + server.secret_key)
    got = c.start().outcome()
    assert got not in (None, "closed"), "expected a refusing CONNACK, got %r" % (got,)
    # paho reports MQTT 3.1.1's return code 4 as this reason too.
    assert got[0] == BAD_CREDENTIALS_5, got
    assert c.closed.wait(WAIT), "connection not closed after a refused CONNACK"


def _plain_connect(server, protocol, credentials):
    """A hand-written CONNECT on the plain port -> the CONNACK's bytes (b"" if
    the server closes without one)."""
    client_id = "raw-" + uuid.uuid4().hex[:10]
    flags = 0x02  # clean session
    payload = _utf8(client_id)
    if credentials:
        flags |= 0xC0
        payload += _utf8(credentials[0]) + _utf8(credentials[1])
    level = 4 if protocol == V311 else 5
    body = _utf8("MQTT") + bytes([level, flags]) + struct.pack("!H", 30)
    if level == 5:
        body += b"\x00"  # no properties
    body += payload
    with socket.create_connection(("127.0.0.1", server.mqtt_plain_port), timeout=WAIT) as s:
        s.sendall(b"\x10" + bytes([len(body)]) + body)
        out = b""
        while True:
            chunk = s.recv(64)
            if not chunk:
                return out
            out += chunk


def _utf8(text):
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", ["wrong-password", "unknown-key", "no-credentials"])
def test_plain_tcp_connack_refusal_codes(server, protocol, case):
    creds = {
        "wrong-password": (server.access_key, "x" + server.secret_key),
        "unknown-key": ("AKIA" + uuid.uuid4().hex[:16].upper(), server.secret_key),
        "no-credentials": None,
    }[case]
    got = _plain_connect(server, protocol, creds)
    # The CONNACK, then the server closes the connection (recv returned b"").
    if protocol == V311:
        assert got == bytes([0x20, 0x02, 0x00, BAD_CREDENTIALS_311]), got.hex()
    else:
        assert got[:1] == b"\x20" and got[3:4] == bytes([BAD_CREDENTIALS_5]), got.hex()


def test_plain_tcp_mosquitto_clients(server, make_device, account_id, paho, prefix):
    if not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")):
        pytest.skip("mosquitto clients not installed")
    auth = ["-h", "127.0.0.1", "-p", str(server.mqtt_plain_port),
            "-u", server.access_key, "-P", server.secret_key]
    creds, (thing,) = make_device(thing_policy(account_id, shared=prefix))
    dev = paho(creds, thing, V311)
    dev.connect()
    assert dev.subscribe(("%s/to-dev/#" % prefix, 1)) == [1]

    line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    sub = subprocess.Popen(
        [*line_buffered, "mosquitto_sub", *auth, "-t", "%s/to-sub/#" % prefix, "-q", "1",
         "-C", "1", "-W", str(int(WAIT * 3)), "-d", "-F", "MSG %t %q %p"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL)
    try:
        lines = queue.Queue()

        def pump():
            for line in sub.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen = []
        while True:  # -d prints the SUBACK: the subscription is in place
            line = next_from(lines, "SUBACK from mosquitto_sub (%s)" % seen)
            assert line is not None, "mosquitto_sub ended:\n%s" % "\n".join(seen)
            seen.append(line)
            if "received SUBACK" in line:
                break
        dev.publish("%s/to-sub/t" % prefix, b"to mosquitto", qos=1)
        assert sub.wait(timeout=WAIT * 3) == 0, "\n".join(seen)
        while True:
            line = next_from(lines)
            if line is None:
                break
            seen.append(line)
        assert "MSG %s/to-sub/t 1 to mosquitto" % prefix in seen, seen
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()

    pub = subprocess.run(["mosquitto_pub", *auth, "-t", "%s/to-dev/m" % prefix, "-q", "1",
                          "-m", "from mosquitto", "-d"],
                         capture_output=True, text=True, timeout=WAIT * 3,
                         stdin=subprocess.DEVNULL)
    assert pub.returncode == 0, pub.stdout + pub.stderr
    assert "received PUBACK" in pub.stdout, pub.stdout
    assert dev.next_message() == ("%s/to-dev/m" % prefix, b"from mosquitto", 1, False)
    # A wrong password: mosquitto_pub fails.
    bad = subprocess.run(["mosquitto_pub", *auth[:-1], "wrong", "-t", "%s/to-dev/m" % prefix,
                          "-m", "x"], capture_output=True, text=True, timeout=WAIT * 3,
                         stdin=subprocess.DEVNULL)
    assert bad.returncode != 0, bad.stdout + bad.stderr
