"""The flows of AWS's own device samples (aws-iot-device-sdk-python-v2), with the SDK's
builders at their defaults: no port given.

`samples/mqtt/mqtt5_x509.py` calls `mqtt5_client_builder.mtls_from_path` with only the
endpoint, certificate and key. With no port the SDK connects to port 443 and offers the ALPN
name `x-amzn-mqtt-ca` (Linux has ALPN), as AWS documents for MQTT over 443
(https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html). Shoal answers there
with its ALPN listener (`[device] alpn_listen`), which it can bind as root, as CI runs. The
samples take no CA file either (they trust the system store); these tests give the SDK
Shoal's CA, which is the only difference. `docs/compatibility.md` records the samples
themselves run by hand.
"""

import queue
import threading

import pytest

from test_mqtt_gateway import HOST, WAIT, make_device, thing_policy  # noqa: F401  (fixture)
from test_shadows import shadow_policy

mqtt5 = pytest.importorskip("awscrt.mqtt5")
builder5 = pytest.importorskip("awsiot.mqtt5_client_builder")
builder311 = pytest.importorskip("awsiot.mqtt_connection_builder")
iotshadow = pytest.importorskip("awsiot.iotshadow")
awscrt_io = pytest.importorskip("awscrt.io")
mqtt_crt = pytest.importorskip("awscrt.mqtt")


@pytest.fixture(scope="module")
def on_443(server):
    """The session server's ALPN listener must be on 443 for the SDK's default port."""
    lines = [l.split() for l in server.stdout_lines if l.strip().startswith("alpn ")]
    if not lines or not lines[0][1].endswith(":443"):
        pytest.skip("Shoal could not bind port 443 here (not root): the SDK's default port "
                    "is unreachable; the ALPN dispatch itself is tested in Rust")
    if not awscrt_io.is_alpn_available():
        pytest.skip("this platform's TLS has no ALPN: the SDK would use 8883")


def test_mqtt5_x509_sample_flow_on_the_default_port(on_443, make_device, account_id, server):
    """mqtt5_x509.py: connect, subscribe, publish `--count` messages, receive them back."""
    creds, (thing,) = make_device(thing_policy(account_id))
    connected, stopped = threading.Event(), threading.Event()
    failures, got = [], queue.Queue()
    client = builder5.mtls_from_path(
        endpoint=HOST, cert_filepath=creds.cert, pri_key_filepath=creds.key,
        ca_filepath=str(server.ca_file), client_id=thing,
        on_publish_received=lambda data: got.put(bytes(data.publish_packet.payload)),
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_connection_failure=lambda data: failures.append(data.exception),
        on_lifecycle_stopped=lambda _: stopped.set())
    client.start()
    try:
        assert connected.wait(WAIT), "no connection on port 443: %s" % failures
        topic = "topic/%s/sample" % thing
        client.subscribe(mqtt5.SubscribePacket(subscriptions=[
            mqtt5.Subscription(topic_filter=topic, qos=mqtt5.QoS.AT_LEAST_ONCE)])).result(WAIT)
        for i in range(1, 6):
            client.publish(mqtt5.PublishPacket(
                topic=topic, payload=b"Hello World!  [%d]" % i,
                qos=mqtt5.QoS.AT_LEAST_ONCE)).result(WAIT)
        assert [got.get(timeout=WAIT) for _ in range(5)] == [
            b"Hello World!  [%d]" % i for i in range(1, 6)]
    finally:
        client.stop()
        stopped.wait(WAIT)


def test_shadow_sample_flow_on_the_default_port(on_443, make_device, account_id, server):
    """shadow.py's flow over MQTT 3.1.1 on the default port: get (rejected: none yet),
    update reported, get (accepted with that state)."""
    creds, (thing,) = make_device(shadow_policy(account_id))
    conn = builder311.mtls_from_path(
        endpoint=HOST, cert_filepath=creds.cert, pri_key_filepath=creds.key,
        ca_filepath=str(server.ca_file), client_id=thing, clean_session=True)
    conn.connect().result(WAIT)
    try:
        shadow = iotshadow.IotShadowClient(conn)
        qos = mqtt_crt.QoS.AT_LEAST_ONCE
        answers = queue.Queue()
        for sub, req in [
            (shadow.subscribe_to_get_shadow_accepted,
             iotshadow.GetShadowSubscriptionRequest(thing_name=thing)),
            (shadow.subscribe_to_get_shadow_rejected,
             iotshadow.GetShadowSubscriptionRequest(thing_name=thing)),
            (shadow.subscribe_to_update_shadow_accepted,
             iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing)),
        ]:
            fut, _ = sub(req, qos, answers.put)
            fut.result(WAIT)
        shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing), qos).result(WAIT)
        rejected = answers.get(timeout=WAIT)
        assert isinstance(rejected, iotshadow.ErrorResponse) and rejected.code == 404
        state = iotshadow.ShadowState(reported={"color": "green"})
        shadow.publish_update_shadow(
            iotshadow.UpdateShadowRequest(thing_name=thing, state=state), qos).result(WAIT)
        accepted = answers.get(timeout=WAIT)
        assert accepted.state.reported == {"color": "green"}
        shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing), qos).result(WAIT)
        got = answers.get(timeout=WAIT)
        assert got.state.reported == {"color": "green"}
    finally:
        conn.disconnect().result(WAIT)
