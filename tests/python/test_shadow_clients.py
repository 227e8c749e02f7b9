"""Device shadows with the AWS device SDKs, unmodified, against Shoal's MQTT gateway.

* AWS IoT Device SDK v2 (awsiotsdk): `awsiot.iotshadow.IotShadowClient` over an MQTT 3.1.1
  connection and over an MQTT 5 client, classic and named shadows: the device subscribes
  to its answers and deltas, an app (boto3 iot-data) sets `desired`, the device reports it.
* AWS IoT Device SDK v1 (AWSIoTPythonSDK): `AWSIoTMQTTShadowClient` and its shadow handler
  with a delta callback, as the seed's device program uses it: the device reports
  `{"state": {"reported": {"wait_time": 5}}}`, the app sets desired wait_time 10, the delta
  callback fires, the device reports 10 and the delta is gone.

Devices use AWS's shadow policy (their own thing's shadow topics only) from
test_shadows.py, mutual TLS with a certificate from CreateKeysAndCertificate, the server
named "localhost". Every wait is a Queue or Future with a timeout.
"""

import json
import queue
import threading

import pytest

from test_mqtt_gateway import HOST, WAIT, make_device  # noqa: F401  (fixture)
from test_mqtt_transports import make_data_client
from test_shadows import shadow_policy

iotshadow = pytest.importorskip("awsiot.iotshadow")
mqtt_crt = pytest.importorskip("awscrt.mqtt")
QOS1 = mqtt_crt.QoS.AT_LEAST_ONCE


@pytest.fixture(scope="module")
def data(server):
    return make_data_client(server)


def body(resp):
    return json.loads(resp["payload"].read())


def take(q, what):
    try:
        return q.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError("no %s within %ss" % (what, WAIT))


# --------------------------------------------------------------------------
# awsiotsdk (v2): IotShadowClient
# --------------------------------------------------------------------------


@pytest.fixture(params=["mqtt311", "mqtt5"])
def shadow_client(request, make_device, account_id, server):
    """-> (IotShadowClient, thing): a device with the shadow policy, connected with the SDK's
    MQTT 3.1.1 connection or its MQTT 5 client."""
    creds, (thing,) = make_device(shadow_policy(account_id))
    common = dict(endpoint=HOST, port=server.mqtt_port, cert_filepath=creds.cert,
                  pri_key_filepath=creds.key, ca_filepath=str(server.ca_file),
                  client_id=thing)
    if request.param == "mqtt311":
        builder = pytest.importorskip("awsiot.mqtt_connection_builder")
        conn = builder.mtls_from_path(clean_session=True, keep_alive_secs=30, **common)
        conn.connect().result(WAIT)
        yield iotshadow.IotShadowClient(conn), thing
        conn.disconnect().result(WAIT)
    else:
        builder = pytest.importorskip("awsiot.mqtt5_client_builder")
        connected, stopped = threading.Event(), threading.Event()
        client = builder.mtls_from_path(
            keep_alive_interval_sec=30, **common,
            on_lifecycle_connection_success=lambda _: connected.set(),
            on_lifecycle_stopped=lambda _: stopped.set())
        client.start()
        assert connected.wait(WAIT), "the MQTT 5 client did not connect"
        yield iotshadow.IotShadowClient(client), thing
        client.stop()
        stopped.wait(WAIT)


def subscribed(subscribe, request):
    """Calls a subscribe_to_* method with a callback feeding a Queue; waits for the SUBACK."""
    got = queue.Queue()
    future, _ = subscribe(request, QOS1, got.put)
    future.result(WAIT)
    return got


def test_awsiotsdk_classic_shadow(shadow_client, data):
    """Get of a missing shadow is rejected (404); the app's desired reaches the device as a
    delta event; the device's report is accepted with its client token; the delta is gone."""
    sh, thing = shadow_client
    get_ok = subscribed(sh.subscribe_to_get_shadow_accepted,
                        iotshadow.GetShadowSubscriptionRequest(thing_name=thing))
    get_err = subscribed(sh.subscribe_to_get_shadow_rejected,
                         iotshadow.GetShadowSubscriptionRequest(thing_name=thing))
    upd_ok = subscribed(sh.subscribe_to_update_shadow_accepted,
                        iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing))
    deltas = subscribed(sh.subscribe_to_shadow_delta_updated_events,
                        iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing))

    sh.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="get-1"),
                          QOS1).result(WAIT)
    err = take(get_err, "get/rejected")
    assert (err.code, err.message, err.client_token) == (
        404, "No shadow exists with name: '%s'" % thing, "get-1")
    assert get_ok.empty()

    # The app sets desired.
    data.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": {"color": "green", "level": 3}}}).encode())
    ev = take(deltas, "delta event")
    assert (ev.state, ev.version) == ({"color": "green", "level": 3}, 1)
    assert ev.metadata["color"]["timestamp"] > 0
    # The app's HTTP update is published on update/accepted too, as AWS does.
    app = take(upd_ok, "update/accepted of the app's update")
    assert (app.client_token, app.version) == (None, 1)

    # The device reports what it was asked for.
    sh.publish_update_shadow(iotshadow.UpdateShadowRequest(
        thing_name=thing, client_token="report-1",
        state=iotshadow.ShadowState(reported=ev.state)), QOS1).result(WAIT)
    acc = take(upd_ok, "update/accepted")
    assert (acc.client_token, acc.version) == ("report-1", 2)
    assert acc.state.reported == {"color": "green", "level": 3}
    assert deltas.empty()

    doc = body(data.get_thing_shadow(thingName=thing))
    assert "delta" not in doc["state"]
    assert doc["state"]["reported"] == doc["state"]["desired"]

    sh.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="get-2"),
                          QOS1).result(WAIT)
    got = take(get_ok, "get/accepted")
    assert (got.client_token, got.version, got.state.delta) == ("get-2", 2, None)
    assert got.state.desired == got.state.reported == {"color": "green", "level": 3}


def test_awsiotsdk_named_shadow(shadow_client, data, aws_error):
    """The same with a named shadow, then the device deletes it: delete/accepted carries the
    last version, the shadow is gone from ListNamedShadowsForThing and get is rejected."""
    sh, thing = shadow_client
    name = "settings"
    req = dict(thing_name=thing, shadow_name=name)
    upd_ok = subscribed(sh.subscribe_to_update_named_shadow_accepted,
                        iotshadow.UpdateNamedShadowSubscriptionRequest(**req))
    deltas = subscribed(sh.subscribe_to_named_shadow_delta_updated_events,
                        iotshadow.NamedShadowDeltaUpdatedSubscriptionRequest(**req))
    get_ok = subscribed(sh.subscribe_to_get_named_shadow_accepted,
                        iotshadow.GetNamedShadowSubscriptionRequest(**req))
    get_err = subscribed(sh.subscribe_to_get_named_shadow_rejected,
                         iotshadow.GetNamedShadowSubscriptionRequest(**req))
    del_ok = subscribed(sh.subscribe_to_delete_named_shadow_accepted,
                        iotshadow.DeleteNamedShadowSubscriptionRequest(**req))

    data.update_thing_shadow(thingName=thing, shadowName=name,
                             payload=b'{"state": {"desired": {"interval": 30}}}')
    ev = take(deltas, "named delta event")
    assert (ev.state, ev.version) == ({"interval": 30}, 1)
    assert take(upd_ok, "update/accepted of the app's update").version == 1
    sh.publish_update_named_shadow(iotshadow.UpdateNamedShadowRequest(
        **req, client_token="named-1", state=iotshadow.ShadowState(reported=ev.state)),
        QOS1).result(WAIT)
    acc = take(upd_ok, "named update/accepted")
    assert (acc.client_token, acc.version, acc.state.reported) == ("named-1", 2, {"interval": 30})

    sh.publish_get_named_shadow(iotshadow.GetNamedShadowRequest(**req, client_token="g"),
                                QOS1).result(WAIT)
    got = take(get_ok, "named get/accepted")
    assert (got.version, got.state.delta, got.state.reported) == (2, None, {"interval": 30})
    assert data.list_named_shadows_for_thing(thingName=thing)["results"] == [name]
    # The classic shadow was never created.
    with aws_error("ResourceNotFoundException", 404):
        data.get_thing_shadow(thingName=thing)

    sh.publish_delete_named_shadow(iotshadow.DeleteNamedShadowRequest(
        **req, client_token="del"), QOS1).result(WAIT)
    gone = take(del_ok, "named delete/accepted")
    assert (gone.client_token, gone.version) == ("del", 2)
    assert data.list_named_shadows_for_thing(thingName=thing)["results"] == []
    sh.publish_get_named_shadow(iotshadow.GetNamedShadowRequest(**req, client_token="g2"),
                                QOS1).result(WAIT)
    err = take(get_err, "named get/rejected")
    assert (err.code, err.message, err.client_token) == (
        404, "No shadow exists with name: '%s'" % name, "g2")


# --------------------------------------------------------------------------
# AWSIoTPythonSDK (v1): AWSIoTMQTTShadowClient, the seed's device program
# --------------------------------------------------------------------------


class Callbacks:
    """The v1 SDK's (payload, responseStatus, token) callbacks, as Queues."""

    def __init__(self):
        self.answers = queue.Queue()
        self.deltas = queue.Queue()

    def answer(self, payload, status, token):
        self.answers.put((status, json.loads(payload), token))

    def delta(self, payload, status, token):
        self.deltas.put((status, json.loads(payload)))


@pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")
def test_awsiotpythonsdk_v1_shadow_handler(make_device, account_id, server, data):
    """The seed's device: it reports wait_time 5, the app (boto3) sets desired wait_time 10,
    the v1 delta callback fires with 10, the device reports it and the delta is gone; then
    shadowGet, shadowDelete, and a get of the deleted shadow is rejected (404)."""
    mqttlib = pytest.importorskip("AWSIoTPythonSDK.MQTTLib")
    creds, (thing,) = make_device(shadow_policy(account_id))
    client = mqttlib.AWSIoTMQTTShadowClient(thing)
    client.configureEndpoint(HOST, server.mqtt_port)
    client.configureCredentials(str(server.ca_file), creds.key, creds.cert)
    client.configureConnectDisconnectTimeout(WAIT)
    client.configureMQTTOperationTimeout(WAIT)
    assert client.connect(keepAliveIntervalSecond=60)
    try:
        cb = Callbacks()
        handler = client.createShadowHandlerWithName(thing, True)
        handler.shadowRegisterDeltaCallback(cb.delta)

        report = {"state": {"reported": {"wait_time": 5}}}
        token = handler.shadowUpdate(json.dumps(report), cb.answer, WAIT)
        status, doc, got_token = take(cb.answers, "update answer")
        assert (status, got_token, doc["clientToken"]) == ("accepted", token, token)
        assert (doc["state"], doc["version"]) == (report["state"], 1)

        data.update_thing_shadow(thingName=thing,
                                 payload=b'{"state": {"desired": {"wait_time": 10}}}')
        status, delta = take(cb.deltas, "delta callback")
        assert status == "delta/" + thing
        assert (delta["state"], delta["version"]) == ({"wait_time": 10}, 2)

        handler.shadowUpdate(json.dumps({"state": {"reported": delta["state"]}}),
                             cb.answer, WAIT)
        status, doc, _ = take(cb.answers, "update answer")
        assert (status, doc["version"]) == ("accepted", 3)
        shadow = body(data.get_thing_shadow(thingName=thing))
        assert shadow["state"] == {"desired": {"wait_time": 10}, "reported": {"wait_time": 10}}

        token = handler.shadowGet(cb.answer, WAIT)
        status, doc, got_token = take(cb.answers, "get answer")
        assert (status, got_token, doc["version"]) == ("accepted", token, 3)
        assert "delta" not in doc["state"]

        handler.shadowDelete(cb.answer, WAIT)
        status, doc, _ = take(cb.answers, "delete answer")
        assert (status, doc["version"]) == ("accepted", 3)
        handler.shadowGet(cb.answer, WAIT)
        status, doc, _ = take(cb.answers, "get answer")
        assert (status, doc["code"]) == ("rejected", 404)
        assert cb.deltas.empty()
    finally:
        client.disconnect()
