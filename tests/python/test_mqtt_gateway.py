"""The MQTT device gateway, driven by unmodified device clients.

A device is made the way the AWS IoT documentation makes one: a key pair and an
ACTIVE certificate (CreateKeysAndCertificate), an IoT policy attached to the
certificate, and a thing attached to it (AttachThingPrincipal) so that the
`${iot:Connection.Thing.ThingName}` policy variable resolves for a client id
equal to the thing name. Then paho-mqtt (MQTT 3.1.1 and 5), the Mosquitto
command-line clients and the AWS IoT Device SDK (awsiotsdk, awscrt) connect
over mutual TLS, trusting DATA/ca.pem and naming the server "localhost".

What AWS IoT does, and what is checked here
(https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html,
https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html):
  * CONNECT needs iot:Connect on client/<clientId>; PUBLISH iot:Publish on
    topic/<topic>; SUBSCRIBE iot:Subscribe on topicfilter/<filter>; each
    delivery iot:Receive on topic/<topic> (a denied delivery is dropped).
  * MQTT 3.1.1: a denied CONNECT or PUBLISH closes the connection; a denied
    filter gets 0x80 in the SUBACK. MQTT 5: CONNACK 0x87, PUBACK 0x87 (the
    connection stays), 0x87 in the SUBACK.
  * Only registered, ACTIVE certificates connect; QoS is at most 1; a second
    connection with the same client id takes over.

No test sleeps to synchronise: every wait is an Event / Queue with a timeout.
A message that must NOT arrive is checked with a marker: the same publisher
sends an allowed message after it, and the broker keeps per-publisher order,
so once the marker arrives the forbidden one would have arrived before it.
"""

import json
import queue
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

WAIT = 10.0  # seconds for anything the server should do promptly
HOST = "localhost"  # the server certificate is for localhost and 127.0.0.1

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5
PROTOCOLS = [pytest.param(V311, id="mqtt311"), pytest.param(V5, id="mqtt5")]

# MQTT 5 reason codes (§2.4) and the MQTT 3.1.1 SUBACK failure code (§3.9.3).
NOT_AUTHORIZED = 0x87
SUBACK_FAILURE_311 = 0x80
SESSION_TAKEN_OVER = 0x8E


# --------------------------------------------------------------------------
# Devices: certificate, key, policy, things
# --------------------------------------------------------------------------


class Creds:
    """Files and identifiers of one device certificate."""

    def __init__(self, cert_path, key_path, cert_id, cert_arn):
        self.cert = str(cert_path)
        self.key = str(key_path)
        self.cert_id = cert_id
        self.cert_arn = cert_arn


def arn(account_id, kind, name):
    return "arn:aws:iot:us-east-1:%s:%s/%s" % (account_id, kind, name)


THING = "${iot:Connection.Thing.ThingName}"


def thing_policy(account_id, shared=None, extra=()):
    """AWS's documented example style: connect as the thing, publish and receive
    under topic/<thing>/..., subscribe to the matching topic filters. `shared`
    adds a prefix every device with this policy may use (for talking between
    devices)."""
    pub_recv = [arn(account_id, "topic", "topic/%s/*" % THING)]
    filters = [arn(account_id, "topicfilter", "topic/%s/*" % THING)]
    if shared:
        pub_recv.append(arn(account_id, "topic", "%s/*" % shared))
        filters.append(arn(account_id, "topicfilter", "%s/*" % shared))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", THING)},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": pub_recv},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": filters},
            *extra,
        ],
    }


def allow_all_policy():
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}


def write_creds(tmp_path, name, resp):
    cert_path = Path(tmp_path) / ("%s.pem.crt" % name)
    key_path = Path(tmp_path) / ("%s.private.pem.key" % name)
    cert_path.write_text(resp["certificatePem"])
    key_path.write_text(resp["keyPair"]["PrivateKey"])
    key_path.chmod(0o600)
    return Creds(cert_path, key_path, resp["certificateId"], resp["certificateArn"])


@pytest.fixture
def make_device(iot, tmp_path, unique):
    """make_device(policy_doc, things=1, active=True) -> (creds, [thing names]).

    Keys and certificate from CreateKeysAndCertificate, the policy attached to
    the certificate, and `things` things attached to it (each thing name is a
    client id the thing policy lets connect)."""

    def make(policy_doc, things=1, active=True):
        name = unique("dev")
        creds = write_creds(tmp_path, name,
                            iot.create_keys_and_certificate(setAsActive=active))
        policy = unique("pol")
        iot.create_policy(policyName=policy, policyDocument=json.dumps(policy_doc))
        iot.attach_policy(policyName=policy, target=creds.cert_arn)
        names = []
        for i in range(things):
            thing = "%s-%d" % (name, i) if things > 1 else name
            iot.create_thing(thingName=thing)
            iot.attach_thing_principal(thingName=thing, principal=creds.cert_arn)
            names.append(thing)
        return creds, names

    return make


# --------------------------------------------------------------------------
# paho-mqtt, with every callback turned into something a test can wait on
# --------------------------------------------------------------------------


class Acks:
    """Acknowledgements by message id, filled by the network thread."""

    def __init__(self):
        self._cond = threading.Condition()
        self._got = {}

    def put(self, mid, value):
        with self._cond:
            self._got[mid] = value
            self._cond.notify_all()

    def wait(self, mid, timeout=WAIT):
        with self._cond:
            self._cond.wait_for(lambda: mid in self._got, timeout=timeout)
            return self._got.get(mid)

    def get(self, mid):
        with self._cond:
            return self._got.get(mid)


class Paho:
    """One paho-mqtt client over mutual TLS and paho's network thread, without
    automatic reconnection (it would hide a server-side close and fight a
    client-id takeover): once the connection ends, `closed` is set for good."""

    def __init__(self, server, creds, client_id, protocol=V311, ca=None, clean_session=None,
                 username=None):
        kw = {} if clean_session is None else {"clean_session": clean_session}
        self._setup(client_id, protocol, server.mqtt_port, **kw)
        if username is not None:
            self.client.username_pw_set(username)
        self.client.tls_set(ca_certs=str(ca or server.ca_file), certfile=creds.cert,
                            keyfile=creds.key)

    def _setup(self, client_id, protocol, port, **client_kw):
        """The paho client and the waitable state its callbacks fill; transports and
        credentials are the caller's."""
        self.client_id = client_id
        self.protocol = protocol
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=protocol, reconnect_on_failure=False, **client_kw)
        self.port = port
        # What the TCP connection goes to, and the TLS server name.
        self.host = HOST
        self.connack = queue.Queue()  # (reason code value, flags, properties)
        self.disconnect_reason = None  # (reason code value, properties)
        self.closed = threading.Event()  # the connection has ended
        self.messages = queue.Queue()
        self.subacks = Acks()
        self.pubacks = Acks()
        self.unsubacks = Acks()
        self.connect_error = None
        self._started = False
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = lambda cl, ud, mid, codes, props: self.subacks.put(
            mid, [rc.value for rc in codes])
        c.on_publish = lambda cl, ud, mid, rc, props: self.pubacks.put(mid, rc.value)
        c.on_unsubscribe = lambda cl, ud, mid, codes, props: self.unsubacks.put(mid, codes)

    # callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack.put((reason_code.value, flags, properties))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_reason = (reason_code.value, properties)
        self.closed.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put((msg.topic, msg.payload, msg.qos, msg.retain))

    # lifecycle

    def start(self, keepalive=30, properties=None, will=None):
        """TCP + TLS + CONNECT; the network thread then runs until the
        connection ends. A TLS refusal is recorded, not raised."""
        if will:
            self.client.will_set(*will)
        try:
            self.client.connect(self.host, self.port, keepalive=keepalive,
                                properties=properties)
        except (ssl.SSLError, ConnectionError, OSError) as e:
            self.connect_error = e
            self.closed.set()
            return self
        self._started = True
        self.client.loop_start()
        return self

    def connect(self, **kw):
        """start() and require a successful CONNACK."""
        self.start(**kw)
        code, flags, props = self.wait_connack()
        assert code == 0, "CONNACK refused: 0x%02x" % code
        return flags, props

    def wait_connack(self, timeout=WAIT):
        """The CONNACK (code, flags, properties); fails if the connection ends
        without one."""
        got = self.outcome(timeout)
        assert got != "closed", "connection closed without a CONNACK (%s)" % (
            self.connect_error or self.disconnect_reason)
        assert got is not None, "no CONNACK within %ss" % timeout
        return got

    def outcome(self, timeout=WAIT):
        """The CONNACK tuple, "closed" if the connection ended without one, or
        None if neither happened in time."""
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                try:
                    return self.connack.get(timeout=0.05)
                except queue.Empty:
                    pass
                if self.closed.is_set():
                    try:
                        return self.connack.get_nowait()
                    except queue.Empty:
                        return "closed"
            return None
        finally:
            timer.cancel()

    def stop(self):
        if not self._started:
            return
        if not self.closed.is_set():
            self.client.disconnect()
            self.closed.wait(WAIT)
        self.client.loop_stop()
        self._started = False

    # operations

    def subscribe(self, *filters, timeout=WAIT):
        """subscribe(("a/#", 1), ("b", 0)) -> the SUBACK's codes (ints)."""
        rc, mid = self.client.subscribe(list(filters))
        assert rc == MQTTErrorCode.MQTT_ERR_SUCCESS, rc
        codes = self.subacks.wait(mid, timeout)
        assert codes is not None, "no SUBACK within %ss" % timeout
        return codes

    def publish(self, topic, payload, qos=0, retain=False):
        """Sends a PUBLISH; returns its message id (for pubacks)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        # A server that refuses the PUBLISH by closing (MQTT 3.1.1) may do so before paho's
        # publish() returns: the packet was written, and paho then reports NO_CONN.
        refused_fast = (info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN
                        and self.closed.wait(WAIT))
        assert info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or refused_fast, info.rc
        return info.mid

    def publish_acked(self, topic, payload, timeout=WAIT):
        """QoS 1 publish -> the PUBACK's reason code (0 on MQTT 3.1.1)."""
        mid = self.publish(topic, payload, qos=1)
        code = self.pubacks.wait(mid, timeout)
        assert code is not None, "no PUBACK for %s within %ss" % (topic, timeout)
        return code

    def next_message(self, timeout=WAIT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: no message within %ss" % (self.client_id, timeout))

    def no_message_pending(self):
        return self.messages.empty()


@pytest.fixture
def paho(server):
    """paho(creds, client_id, protocol, cls=Paho) -> a Paho (or subclass), stopped at
    teardown."""
    started = []

    def make(creds, client_id, protocol=V311, srv=None, cls=None, **kw):
        p = (cls or Paho)(srv or server, creds, client_id, protocol, **kw)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def roundtrip(client, topic, payload=None, qos=1):
    """Publish on `topic` (which `client` is subscribed to) and wait for it:
    proves the connection is alive and authorised end to end."""
    payload = payload or ("ping-%s" % uuid.uuid4().hex[:8]).encode()
    client.publish(topic, payload, qos=qos)
    got = client.next_message()
    assert (got[0], got[1]) == (topic, payload)
    return got


# --------------------------------------------------------------------------
# A bare MQTT 5 client, to see exactly what the server writes. paho 2.1 drops
# the reason code of a server DISCONNECT shorter than 3 bytes (its
# _handle_disconnect wants remaining length > 2, while MQTT 5 §3.14.2.1 allows
# a 1-byte reason without properties), so DISCONNECT reasons are read here.
# --------------------------------------------------------------------------

DISCONNECT_PACKET = 14


def _utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def _varint(n):
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 0x7F
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class RawMqtt5:
    def __init__(self, server, creds, client_id, keepalive=30):
        ctx = ssl.create_default_context(cafile=str(server.ca_file))
        ctx.load_cert_chain(creds.cert, creds.key)
        tcp = socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=WAIT)
        self.sock = ctx.wrap_socket(tcp, server_hostname=HOST)
        body = (_utf8("MQTT") + bytes([5, 0x02]) + struct.pack("!H", keepalive)
                + b"\x00" + _utf8(client_id))
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed by the server")
            buf += chunk
        return buf

    def read_packet(self):
        """-> (packet type, flags, body); EOFError if the server closed."""
        first = self._read(1)[0]
        length, shift = 0, 0
        while True:
            b = self._read(1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return first >> 4, first & 0x0F, self._read(length)

    def connack_code(self):
        ptype, _, body = self.read_packet()
        assert ptype == 2, "expected CONNACK, got packet type %d" % ptype
        return body[1]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture
def raw5(server):
    opened = []

    def make(creds, client_id):
        c = RawMqtt5(server, creds, client_id)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


# --------------------------------------------------------------------------
# 1. AWS CLI makes the device; paho-mqtt 3.1.1 and 5 use it
# --------------------------------------------------------------------------


def test_aws_cli_device_with_paho_mqtt311_and_mqtt5(aws_cli, account_id, server, paho,
                                                     tmp_path, unique):
    shared = "team/%s" % unique("t")
    devices = {}
    policy = unique("pol")
    aws_cli("iot", "create-policy", "--policy-name", policy, "--policy-document",
            json.dumps(thing_policy(account_id, shared=shared)))
    for proto in ("v311", "v5"):
        thing = unique("thing")
        cert_path = tmp_path / ("%s-certificate.pem.crt" % thing)
        key_path = tmp_path / ("%s-private.pem.key" % thing)
        pub_path = tmp_path / ("%s-public.pem.key" % thing)
        resp = aws_cli("iot", "create-keys-and-certificate", "--set-as-active",
                       "--certificate-pem-outfile", str(cert_path),
                       "--public-key-outfile", str(pub_path),
                       "--private-key-outfile", str(key_path))
        assert cert_path.read_text() == resp["certificatePem"]
        assert "PRIVATE KEY" in key_path.read_text()
        aws_cli("iot", "attach-policy", "--policy-name", policy,
                "--target", resp["certificateArn"])
        aws_cli("iot", "create-thing", "--thing-name", thing)
        aws_cli("iot", "attach-thing-principal", "--thing-name", thing,
                "--principal", resp["certificateArn"])
        devices[proto] = (Creds(cert_path, key_path, resp["certificateId"],
                                resp["certificateArn"]), thing)

    (c3, t3), (c5, t5) = devices["v311"], devices["v5"]
    a = paho(c3, t3, V311)
    flags, _ = a.connect()
    assert not flags.session_present
    b = paho(c5, t5, V5)
    b.connect()

    # Each device on its own topics, QoS 0 and 1: publish -> broker -> itself.
    for dev, thing in ((a, t3), (b, t5)):
        assert dev.subscribe(("topic/%s/#" % thing, 1)) == [1]
        for qos in (0, 1):
            topic = "topic/%s/telemetry/q%d" % (thing, qos)
            payload = json.dumps({"qos": qos, "by": thing}).encode()
            mid = dev.publish(topic, payload, qos=qos)
            if qos == 1:
                assert dev.pubacks.wait(mid) == 0
            got = dev.next_message()
            assert got == (topic, payload, qos, False)

    # Between the two devices (and the two protocol versions), both QoS.
    assert a.subscribe(("%s/to-v311/+" % shared, 1)) == [1]
    assert b.subscribe(("%s/to-v5/+" % shared, 0)) == [0]
    for qos in (0, 1):
        topic = "%s/to-v311/q%d" % (shared, qos)
        b.publish(topic, b"from mqtt5", qos=qos)
        assert a.next_message() == (topic, b"from mqtt5", qos, False)
        topic = "%s/to-v5/q%d" % (shared, qos)
        a.publish(topic, b"from mqtt311", qos=qos)
        # b subscribed with QoS 0: delivery is at min(publish, subscription) QoS.
        assert b.next_message() == (topic, b"from mqtt311", 0, False)

    # A binary payload, and an empty one, go through unchanged.
    blob = bytes(range(256)) * 64
    topic = "%s/to-v311/blob" % shared
    b.publish(topic, blob, qos=1)
    assert a.next_message()[1] == blob
    b.publish(topic, b"", qos=1)
    assert a.next_message()[1] == b""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_delivery_qos_is_the_lower_of_publish_and_subscription(make_device, account_id,
                                                               paho, protocol):
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, protocol)
    c.connect()
    assert c.subscribe(("topic/%s/q0" % thing, 0), ("topic/%s/q1" % thing, 1)) == [0, 1]
    cases = [("q0", 1, 0), ("q1", 0, 0), ("q1", 1, 1), ("q0", 0, 0)]
    for sub, pub_qos, want in cases:
        topic = "topic/%s/%s" % (thing, sub)
        c.publish(topic, b"x", qos=pub_qos)
        got = c.next_message()
        assert (got[0], got[2]) == (topic, want), (sub, pub_qos)
    # A subscription asking for QoS 2 is granted QoS 1.
    assert c.subscribe(("topic/%s/q2" % thing, 2)) == [1]
    topic = "topic/%s/q2" % thing
    c.publish(topic, b"y", qos=1)
    assert c.next_message()[:3] == (topic, b"y", 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unsubscribe_stops_delivery(make_device, account_id, paho, protocol):
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, protocol)
    c.connect()
    assert c.subscribe(("topic/%s/a" % thing, 1), ("topic/%s/b" % thing, 1)) == [1, 1]
    rc, mid = c.client.unsubscribe("topic/%s/a" % thing)
    assert rc == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert c.unsubacks.wait(mid) is not None
    c.publish("topic/%s/a" % thing, b"gone", qos=1)
    roundtrip(c, "topic/%s/b" % thing)
    assert c.no_message_pending()


# --------------------------------------------------------------------------
# 2. Mosquitto command-line clients
# --------------------------------------------------------------------------


def _mosquitto_or_skip():
    missing = [b for b in ("mosquitto_pub", "mosquitto_sub") if shutil.which(b) is None]
    if missing:
        pytest.skip("%s not installed (Debian package mosquitto-clients; scripts/test "
                    "installs it when run as root)" % " and ".join(missing))


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_pub_and_sub(make_device, account_id, server, unique, version):
    _mosquitto_or_skip()
    shared = "team/%s" % unique("m")
    # One certificate attached to two things: the subscriber and the publisher
    # connect with their own client ids, each resolving its own thing name.
    creds, (sub_id, pub_id) = make_device(thing_policy(account_id, shared=shared), things=2)
    tls = ["--cafile", str(server.ca_file), "--cert", creds.cert, "--key", creds.key,
           "-h", HOST, "-p", str(server.mqtt_port), "-V", version]
    topic = "%s/readings" % shared
    # mosquitto_sub's stdout is a pipe here: line-buffer it (coreutils stdbuf)
    # so that its debug line for the SUBACK arrives when it is printed.
    line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    sub = subprocess.Popen(
        [*line_buffered, "mosquitto_sub", *tls, "-i", sub_id, "-t", "%s/#" % shared, "-q", "1",
         "-C", "2", "-W", str(int(WAIT * 3)), "-d", "-F", "MSG %t %q %p"],
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
            try:
                line = lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError("mosquitto_sub: no SUBACK\n%s" % "\n".join(seen))
            assert line is not None, "mosquitto_sub ended:\n%s" % "\n".join(seen)
            seen.append(line)
            if "received SUBACK" in line:
                break
        for qos, payload in ((1, "21.5"), (0, "hello mosquitto")):
            pub = subprocess.run(
                ["mosquitto_pub", *tls, "-i", pub_id, "-t", topic, "-q", str(qos),
                 "-m", payload, "-d"],
                capture_output=True, text=True, timeout=WAIT * 3, stdin=subprocess.DEVNULL)
            assert pub.returncode == 0, pub.stdout + pub.stderr
            if qos == 1:
                assert "received PUBACK" in pub.stdout, pub.stdout
        assert sub.wait(timeout=WAIT * 3) == 0, "\n".join(seen)
        while True:
            line = lines.get(timeout=WAIT)
            if line is None:
                break
            seen.append(line)
        got = [l for l in seen if l.startswith("MSG ")]
        assert got == ["MSG %s 1 21.5" % topic, "MSG %s 0 hello mosquitto" % topic], seen
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_pub_refused_where_the_policy_forbids(make_device, account_id, server,
                                                        version):
    _mosquitto_or_skip()
    creds, (thing,) = make_device(thing_policy(account_id))
    tls = ["--cafile", str(server.ca_file), "--cert", creds.cert, "--key", creds.key,
           "-h", HOST, "-p", str(server.mqtt_port), "-V", version]
    # A client id the policy does not let connect.
    pub = subprocess.run(["mosquitto_pub", *tls, "-i", "not-" + thing, "-t",
                          "topic/%s/x" % thing, "-m", "x", "-q", "1"],
                         capture_output=True, text=True, timeout=WAIT * 3,
                         stdin=subprocess.DEVNULL)
    assert pub.returncode != 0, pub.stdout + pub.stderr
    if version == "mqttv5":
        assert "not authorized" in (pub.stdout + pub.stderr).lower(), pub.stderr
    # Its own client id works.
    ok = subprocess.run(["mosquitto_pub", *tls, "-i", thing, "-t", "topic/%s/x" % thing,
                         "-m", "x", "-q", "1"],
                        capture_output=True, text=True, timeout=WAIT * 3,
                        stdin=subprocess.DEVNULL)
    assert ok.returncode == 0, ok.stdout + ok.stderr


# --------------------------------------------------------------------------
# 3. AWS IoT Device SDK v2 for Python (awscrt)
# --------------------------------------------------------------------------


def test_awsiotsdk_mqtt311_connection(make_device, account_id, server):
    mqtt_crt = pytest.importorskip("awscrt.mqtt")
    builder = pytest.importorskip("awsiot.mqtt_connection_builder")
    creds, (thing,) = make_device(thing_policy(account_id))
    conn = builder.mtls_from_path(
        endpoint=HOST, port=server.mqtt_port, cert_filepath=creds.cert,
        pri_key_filepath=creds.key, ca_filepath=str(server.ca_file), client_id=thing,
        clean_session=True, keep_alive_secs=30)
    got = queue.Queue()
    connected = False
    try:
        result = conn.connect().result(WAIT)
        connected = True
        assert result["session_present"] is False
        fut, _ = conn.subscribe(
            topic="topic/%s/sdk/#" % thing, qos=mqtt_crt.QoS.AT_LEAST_ONCE,
            callback=lambda topic, payload, dup, qos, retain, **kw: got.put(
                (topic, payload, qos)))
        suback = fut.result(WAIT)
        assert suback["qos"] == mqtt_crt.QoS.AT_LEAST_ONCE
        for qos in (mqtt_crt.QoS.AT_MOST_ONCE, mqtt_crt.QoS.AT_LEAST_ONCE):
            topic = "topic/%s/sdk/q%d" % (thing, qos.value)
            fut, _ = conn.publish(topic=topic, payload=b'{"sdk": "v2"}', qos=qos)
            fut.result(WAIT)
            assert got.get(timeout=WAIT) == (topic, b'{"sdk": "v2"}', qos)
        # A topic filter the policy does not grant: SUBACK failure (0x80).
        fut, _ = conn.subscribe(topic="topic/not-%s/#" % thing,
                                qos=mqtt_crt.QoS.AT_LEAST_ONCE,
                                callback=lambda *a, **kw: None)
        with pytest.raises(mqtt_crt.SubscribeError):
            fut.result(WAIT)
        # The connection survives the refusal.
        topic = "topic/%s/sdk/after" % thing
        conn.publish(topic=topic, payload=b"still here",
                     qos=mqtt_crt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
        assert got.get(timeout=WAIT)[:2] == (topic, b"still here")
    finally:
        if connected:
            conn.disconnect().result(WAIT)


def test_awsiotsdk_mqtt5_client(make_device, account_id, server):
    mqtt5 = pytest.importorskip("awscrt.mqtt5")
    builder = pytest.importorskip("awsiot.mqtt5_client_builder")
    creds, (thing,) = make_device(thing_policy(account_id))
    connected, stopped = threading.Event(), threading.Event()
    failures = []
    got = queue.Queue()
    client = builder.mtls_from_path(
        endpoint=HOST, port=server.mqtt_port, cert_filepath=creds.cert,
        pri_key_filepath=creds.key, ca_filepath=str(server.ca_file), client_id=thing,
        keep_alive_interval_sec=30,
        on_publish_received=lambda data: got.put(
            (data.publish_packet.topic, data.publish_packet.payload,
             data.publish_packet.qos)),
        on_lifecycle_connection_success=lambda data: connected.set(),
        on_lifecycle_connection_failure=lambda data: failures.append(data.exception),
        on_lifecycle_stopped=lambda data: stopped.set())
    client.start()
    try:
        assert connected.wait(WAIT), "MQTT5 SDK client did not connect: %s" % failures
        suback = client.subscribe(mqtt5.SubscribePacket(subscriptions=[
            mqtt5.Subscription(topic_filter="topic/%s/sdk5/#" % thing,
                               qos=mqtt5.QoS.AT_LEAST_ONCE),
            mqtt5.Subscription(topic_filter="topic/not-%s/#" % thing,
                               qos=mqtt5.QoS.AT_LEAST_ONCE),
        ])).result(WAIT)
        assert list(suback.reason_codes) == [mqtt5.SubackReasonCode.GRANTED_QOS_1,
                                             mqtt5.SubackReasonCode.NOT_AUTHORIZED]
        topic = "topic/%s/sdk5/t" % thing
        done = client.publish(mqtt5.PublishPacket(
            topic=topic, payload=b"mqtt5 sdk", qos=mqtt5.QoS.AT_LEAST_ONCE)).result(WAIT)
        assert done.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
        assert got.get(timeout=WAIT) == (topic, b"mqtt5 sdk", mqtt5.QoS.AT_LEAST_ONCE)
        # Publishing where the policy does not allow: PUBACK 0x87, still connected.
        done = client.publish(mqtt5.PublishPacket(
            topic="topic/not-%s/t" % thing, payload=b"no",
            qos=mqtt5.QoS.AT_LEAST_ONCE)).result(WAIT)
        assert done.puback.reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        client.publish(mqtt5.PublishPacket(topic=topic, payload=b"again",
                                           qos=mqtt5.QoS.AT_LEAST_ONCE)).result(WAIT)
        assert got.get(timeout=WAIT)[1] == b"again"
    finally:
        client.stop()
        stopped.wait(WAIT)


# --------------------------------------------------------------------------
# 4. What the policy forbids, and certificates that may not connect
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_id_the_policy_does_not_allow_cannot_connect(make_device, account_id, paho,
                                                            protocol):
    creds, (thing,) = make_device(thing_policy(account_id))
    # Another client id: no thing of that name is attached, so the policy
    # variable does not resolve and iot:Connect is not granted.
    c = paho(creds, "intruder-" + uuid.uuid4().hex[:8], protocol).start()
    got = c.outcome()
    if protocol == V311:
        assert got == "closed", "MQTT 3.1.1: expected the connection closed, got %r" % (got,)
    else:
        assert got not in (None, "closed"), "MQTT 5: expected CONNACK 0x87, got %r" % (got,)
        assert got[0] == NOT_AUTHORIZED
        assert c.closed.wait(WAIT), "connection not closed after a refused CONNACK"
    # The thing name itself may connect with the same certificate.
    paho(creds, thing, protocol).connect()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_thing_attached_to_another_certificate_does_not_resolve(make_device, account_id,
                                                                paho, protocol):
    # Device A's thing name is a valid client id only for A's certificate.
    creds_a, (thing_a,) = make_device(thing_policy(account_id))
    creds_b, (thing_b,) = make_device(thing_policy(account_id))
    got = paho(creds_b, thing_a, protocol).start().outcome()
    if protocol == V311:
        assert got == "closed", got
    else:
        assert got not in (None, "closed") and got[0] == NOT_AUTHORIZED, got


@pytest.mark.parametrize("qos", [0, 1])
def test_denied_publish_closes_an_mqtt311_connection(make_device, account_id, paho, qos):
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, V311)
    c.connect()
    assert c.subscribe(("topic/%s/#" % thing, 1)) == [1]
    roundtrip(c, "topic/%s/ok" % thing)
    mid = c.publish("topic/not-%s/x" % thing, b"forbidden", qos=qos)
    assert c.closed.wait(WAIT), "the connection stayed open after a denied PUBLISH"
    if qos == 1:
        assert c.pubacks.get(mid) is None, "a denied PUBLISH was acknowledged"


def test_denied_publish_mqtt5_gets_puback_not_authorized(make_device, account_id, paho):
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, V5)
    c.connect()
    assert c.subscribe(("topic/%s/#" % thing, 1)) == [1]
    assert c.publish_acked("topic/not-%s/x" % thing, b"forbidden") == NOT_AUTHORIZED
    # QoS 0 has nothing to acknowledge; the connection stays either way.
    c.publish("topic/not-%s/y" % thing, b"forbidden", qos=0)
    assert not c.closed.is_set()
    roundtrip(c, "topic/%s/still-here" % thing)
    assert c.no_message_pending()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_denied_subscribe_gets_a_failure_code_for_that_filter(make_device, account_id,
                                                              paho, protocol):
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, protocol)
    c.connect()
    denied = SUBACK_FAILURE_311 if protocol == V311 else NOT_AUTHORIZED
    codes = c.subscribe(("topic/%s/#" % thing, 1), ("topic/not-%s/#" % thing, 1),
                        ("#", 0), ("topic/%s/+/x" % thing, 0))
    assert codes == [1, denied, denied, 0]
    # The connection stays, and the granted filters work.
    roundtrip(c, "topic/%s/a/x" % thing)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_denied_receive_is_silently_not_delivered(make_device, account_id, paho, protocol):
    creds_pub, (pub_id,) = make_device(thing_policy(account_id))

    # The subscriber may subscribe to the publisher's topics, and receive all
    # of them but .../secret (an explicit Deny wins over the Allow).
    def sub_policy():
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect",
                 "Resource": arn(account_id, "client", THING)},
                {"Effect": "Allow", "Action": "iot:Subscribe",
                 "Resource": arn(account_id, "topicfilter", "topic/%s/*" % pub_id)},
                {"Effect": "Allow", "Action": "iot:Receive",
                 "Resource": arn(account_id, "topic", "topic/%s/*" % pub_id)},
                {"Effect": "Deny", "Action": "iot:Receive",
                 "Resource": arn(account_id, "topic", "topic/%s/secret" % pub_id)},
            ],
        }

    creds_sub, (sub_id,) = make_device(sub_policy())
    sub = paho(creds_sub, sub_id, protocol)
    sub.connect()
    assert sub.subscribe(("topic/%s/#" % pub_id, 1)) == [1]
    pub = paho(creds_pub, pub_id, V311)
    pub.connect()
    for qos in (0, 1):
        pub.publish("topic/%s/secret" % pub_id, b"hidden", qos=qos)
        marker = ("topic/%s/open" % pub_id, b"visible-%d" % qos)
        pub.publish(*marker, qos=qos)
        got = sub.next_message()
        assert (got[0], got[1]) == marker, "received %r before the marker" % (got,)
    assert sub.no_message_pending()
    # The publisher itself was allowed to publish: its connection is alive.
    assert not pub.closed.is_set()


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_inactive_or_revoked_certificate_cannot_connect(make_device, iot, account_id, paho,
                                                        protocol, status):
    creds, (thing,) = make_device(thing_policy(account_id))
    # While ACTIVE it connects...
    first = paho(creds, thing, protocol)
    first.connect()
    first.stop()
    # ...and after UpdateCertificate it no longer does.
    iot.update_certificate(certificateId=creds.cert_id, newStatus=status)
    got = paho(creds, thing, protocol).start().outcome()
    assert got == "closed", "a %s certificate got %r" % (status, got)


def test_certificate_created_inactive_cannot_connect_until_activated(make_device, iot,
                                                                     account_id, paho):
    creds, (thing,) = make_device(thing_policy(account_id), active=False)
    assert paho(creds, thing, V311).start().outcome() == "closed"
    iot.update_certificate(certificateId=creds.cert_id, newStatus="ACTIVE")
    paho(creds, thing, V311).connect()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unregistered_certificate_cannot_connect(pki, server, paho, tmp_path, protocol):
    key, cert = pki.self_signed("unregistered-device")
    cert_path = tmp_path / "unregistered.pem.crt"
    key_path = tmp_path / "unregistered.key"
    cert_path.write_text(pki.pem(cert))
    key_path.write_bytes(key.private_bytes(
        pki.serialization.Encoding.PEM, pki.serialization.PrivateFormat.TraditionalOpenSSL,
        pki.serialization.NoEncryption()))
    creds = Creds(cert_path, key_path, pki.cert_id(cert), None)
    got = paho(creds, "unregistered-" + uuid.uuid4().hex[:8], protocol).start().outcome()
    assert got == "closed", "an unregistered certificate got %r" % (got,)


def test_registered_without_ca_certificate_connects(iot, pki, server, paho, tmp_path,
                                                    unique, account_id):
    # RegisterCertificateWithoutCA + ACTIVE is enough; the issuer does not matter.
    key, cert = pki.self_signed("byo-device", kind="p256")
    resp = iot.register_certificate_without_ca(certificatePem=pki.pem(cert),
                                               status="ACTIVE")
    policy = unique("pol")
    iot.create_policy(policyName=policy, policyDocument=json.dumps(allow_all_policy()))
    iot.attach_policy(policyName=policy, target=resp["certificateArn"])
    cert_path = tmp_path / "byo.pem.crt"
    key_path = tmp_path / "byo.key"
    cert_path.write_text(pki.pem(cert))
    key_path.write_bytes(key.private_bytes(
        pki.serialization.Encoding.PEM, pki.serialization.PrivateFormat.PKCS8,
        pki.serialization.NoEncryption()))
    creds = Creds(cert_path, key_path, resp["certificateId"], resp["certificateArn"])
    c = paho(creds, unique("byo"), V5)
    c.connect()
    topic = "byo/%s" % uuid.uuid4().hex[:8]
    assert c.subscribe((topic, 1)) == [1]
    roundtrip(c, topic)


def test_certificate_without_policy_cannot_connect(iot, server, paho, tmp_path, unique):
    creds = write_creds(tmp_path, "nopolicy", iot.create_keys_and_certificate(setAsActive=True))
    got = paho(creds, unique("nopol"), V5).start().outcome()
    assert got not in (None, "closed") and got[0] == NOT_AUTHORIZED, got


def test_sdk_style_user_name_is_accepted_and_ignored(make_device, account_id, paho):
    # The AWS IoT Device SDKs send metrics as the MQTT user name.
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, V311, username="?SDK=PythonV2&Version=1.31.0&Platform=Linux")
    c.connect()
    assert c.subscribe(("topic/%s/#" % thing, 1)) == [1]
    roundtrip(c, "topic/%s/u" % thing)


def test_mqtt_wildcards_in_policy_resources_are_literal(make_device, account_id, paho, unique):
    # AWS: "+" and "#" in a policy resource are not MQTT wildcards; only "*"
    # and "?" are policy wildcards.
    base = unique("lit")
    creds, (thing,) = make_device({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", THING)},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [arn(account_id, "topic", "%s/+" % base),
                          arn(account_id, "topic", "%s/ok" % base)]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": arn(account_id, "topicfilter", "%s/#" % base)},
        ],
    })
    c = paho(creds, thing, V5)
    c.connect()
    assert c.subscribe(("%s/#" % base, 1), ("%s/ok" % base, 1), ("%s/+" % base, 1)) == [
        1, NOT_AUTHORIZED, NOT_AUTHORIZED]
    assert c.publish_acked("%s/other" % base, b"x") == NOT_AUTHORIZED
    roundtrip(c, "%s/ok" % base)


def test_connect_policy_with_is_attached_condition(make_device, account_id, paho):
    # The documented example: any client id, provided it names a thing attached
    # to the certificate.
    creds, (thing,) = make_device({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "iot:Connect",
            "Resource": arn(account_id, "client", "*"),
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
        }],
    })
    paho(creds, thing, V5).connect()
    got = paho(creds, "loose-" + uuid.uuid4().hex[:8], V5).start().outcome()
    assert got not in (None, "closed") and got[0] == NOT_AUTHORIZED, got


def test_connect_policy_with_certificate_common_name(iot, pki, paho, tmp_path, unique,
                                                     account_id):
    cn = unique("cn")
    key, cert = pki.self_signed(cn)
    resp = iot.register_certificate_without_ca(certificatePem=pki.pem(cert), status="ACTIVE")
    policy = unique("pol")
    iot.create_policy(policyName=policy, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
                       "Resource": arn(account_id, "client",
                                       "${iot:Certificate.Subject.CommonName}")}],
    }))
    iot.attach_policy(policyName=policy, target=resp["certificateArn"])
    (tmp_path / "cn.crt").write_text(pki.pem(cert))
    (tmp_path / "cn.key").write_bytes(key.private_bytes(
        pki.serialization.Encoding.PEM, pki.serialization.PrivateFormat.PKCS8,
        pki.serialization.NoEncryption()))
    creds = Creds(tmp_path / "cn.crt", tmp_path / "cn.key", resp["certificateId"],
                  resp["certificateArn"])
    paho(creds, cn, V311).connect()
    assert paho(creds, cn + "-x", V311).start().outcome() == "closed"


def test_policy_attached_to_the_things_group_applies(iot, account_id, paho, tmp_path, unique):
    # No policy on the certificate: the thing's group carries it.
    creds = write_creds(tmp_path, "grp", iot.create_keys_and_certificate(setAsActive=True))
    thing, group, policy = unique("thing"), unique("group"), unique("pol")
    iot.create_thing(thingName=thing)
    iot.attach_thing_principal(thingName=thing, principal=creds.cert_arn)
    group_arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    iot.create_policy(policyName=policy, policyDocument=json.dumps(thing_policy(account_id)))
    iot.attach_policy(policyName=policy, target=group_arn)
    c = paho(creds, thing, V5)
    c.connect()
    assert c.subscribe(("topic/%s/#" % thing, 1)) == [1]
    roundtrip(c, "topic/%s/g" % thing)


# --------------------------------------------------------------------------
# Changes made through the API while a device is connected
# --------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_deactivating_a_certificate_ends_its_live_mqtt311_connections(make_device, iot,
                                                                    account_id, paho, status):
    # AWS (UpdateCertificate): devices using a certificate that leaves ACTIVE are
    # disconnected; devices on other certificates are not.
    creds, (a_id, b_id) = make_device(thing_policy(account_id), things=2)
    other_creds, (other_id,) = make_device(thing_policy(account_id))
    a = paho(creds, a_id, V311)
    a.connect()
    b = paho(creds, b_id, V311)
    b.connect()
    other = paho(other_creds, other_id, V311)
    other.connect()
    assert other.subscribe(("topic/%s/#" % other_id, 1)) == [1]
    iot.update_certificate(certificateId=creds.cert_id, newStatus=status)
    assert a.closed.wait(WAIT), "connection %s survived %s" % (a_id, status)
    assert b.closed.wait(WAIT), "connection %s survived %s" % (b_id, status)
    roundtrip(other, "topic/%s/still" % other_id)


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_deactivating_a_certificate_sends_mqtt5_disconnect_not_authorized(make_device, iot,
                                                                         account_id, raw5,
                                                                         status):
    creds, (thing,) = make_device(thing_policy(account_id))
    c = raw5(creds, thing)
    assert c.connack_code() == 0
    iot.update_certificate(certificateId=creds.cert_id, newStatus=status)
    ptype, _, body = c.read_packet()
    assert ptype == DISCONNECT_PACKET, "expected DISCONNECT, got packet type %d" % ptype
    assert body[:1] == bytes([NOT_AUTHORIZED]), body


def _publish_until(client, topic, want, deadline=WAIT):
    """QoS 1 publishes until the PUBACK code is `want` (policy changes reach a
    live connection asynchronously; AWS allows itself minutes). Returns the
    number of publishes it took."""
    stop = threading.Event()
    timer = threading.Timer(deadline, stop.set)
    timer.start()
    try:
        n = 0
        while not stop.is_set():
            n += 1
            if client.publish_acked(topic, b"probe") == want:
                return n
        raise AssertionError("PUBACK never became 0x%02x within %ss" % (want, deadline))
    finally:
        timer.cancel()


def test_detaching_and_attaching_policy_applies_to_a_live_mqtt5_connection(
        make_device, iot, account_id, paho, unique):
    creds, (thing,) = make_device(thing_policy(account_id))
    policy = unique("pol")
    iot.create_policy(policyName=policy,
                      policyDocument=json.dumps(thing_policy(account_id)))
    # Swap the device's policy for an identical one, then detach it.
    attached = iot.list_attached_policies(target=creds.cert_arn)["policies"]
    iot.attach_policy(policyName=policy, target=creds.cert_arn)
    for p in attached:
        iot.detach_policy(policyName=p["policyName"], target=creds.cert_arn)
    c = paho(creds, thing, V5)
    c.connect()
    topic = "topic/%s/x" % thing
    assert c.publish_acked(topic, b"before") == 0
    iot.detach_policy(policyName=policy, target=creds.cert_arn)
    tries = _publish_until(c, topic, NOT_AUTHORIZED)
    assert tries == 1, "the change took %d publishes to apply" % tries
    assert not c.closed.is_set()
    iot.attach_policy(policyName=policy, target=creds.cert_arn)
    _publish_until(c, topic, 0)


def test_register_thing_for_a_live_certificate_applies_to_its_connection(
        make_device, iot, account_id, paho):
    """A provisioning that changes what a live connection uses (here: a policy attached to the
    certificate it connected with) reaches it at its next publish, like AttachPolicy; one that
    only adds a new device changes nothing a connection uses."""
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, V5)
    c.connect()
    other = "other/%s" % thing
    assert c.publish_acked(other, b"before") == NOT_AUTHORIZED
    template = {
        "Parameters": {"ThingName": {"Type": "String"}, "CertificateId": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing",
                      "Properties": {"ThingName": {"Ref": "ThingName"}}},
            "certificate": {"Type": "AWS::IoT::Certificate",
                            "Properties": {"CertificateId": {"Ref": "CertificateId"},
                                           "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iot:Publish",
                               "Resource": arn(account_id, "topic", "other/*")}]})}},
        },
    }
    iot.register_thing(templateBody=json.dumps(template),
                       parameters={"ThingName": thing, "CertificateId": creds.cert_id})
    tries = _publish_until(c, other, 0)
    assert tries == 1, "the provisioning took %d publishes to apply" % tries
    assert not c.closed.is_set()


def test_new_default_policy_version_applies_to_a_live_mqtt5_connection(
        make_device, iot, account_id, paho, unique):
    creds, (thing,) = make_device(thing_policy(account_id))
    policy = iot.list_attached_policies(target=creds.cert_arn)["policies"][0]["policyName"]
    c = paho(creds, thing, V5)
    c.connect()
    assert c.subscribe(("topic/%s/b" % thing, 1)) == [1]
    assert c.publish_acked("topic/%s/a" % thing, b"1") == 0
    narrower = thing_policy(account_id)
    # Publish only under topic/<thing>/b from now on.
    narrower["Statement"][1] = {
        "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
        "Resource": arn(account_id, "topic", "topic/%s/b" % THING)}
    iot.create_policy_version(policyName=policy, policyDocument=json.dumps(narrower),
                              setAsDefault=True)
    _publish_until(c, "topic/%s/a" % thing, NOT_AUTHORIZED)
    roundtrip(c, "topic/%s/b" % thing)


def test_detaching_policy_closes_a_live_mqtt311_connection_on_its_next_publish(
        make_device, iot, account_id, paho):
    creds, (thing,) = make_device(thing_policy(account_id))
    policy = iot.list_attached_policies(target=creds.cert_arn)["policies"][0]["policyName"]
    c = paho(creds, thing, V311)
    c.connect()
    assert c.subscribe(("topic/%s/#" % thing, 1)) == [1]
    roundtrip(c, "topic/%s/x" % thing)
    iot.detach_policy(policyName=policy, target=creds.cert_arn)
    c.publish("topic/%s/x" % thing, b"after detach", qos=1)
    assert c.closed.wait(WAIT), "publishing without a policy did not end the connection"


# --------------------------------------------------------------------------
# 5. Client-id takeover
# --------------------------------------------------------------------------


@pytest.mark.parametrize("first_protocol,second_protocol", [
    pytest.param(V311, V311, id="311-then-311"),
    pytest.param(V5, V5, id="5-then-5"),
    pytest.param(V311, V5, id="311-then-5"),
])
def test_second_connection_with_the_same_client_id_takes_over(make_device, account_id, paho,
                                                              first_protocol,
                                                              second_protocol):
    creds, (thing,) = make_device(thing_policy(account_id))
    first = paho(creds, thing, first_protocol)
    first.connect()
    assert first.subscribe(("topic/%s/first" % thing, 1)) == [1]
    roundtrip(first, "topic/%s/first" % thing)

    second = paho(creds, thing, second_protocol)
    second.connect()
    assert first.closed.wait(WAIT), "the first connection was not disconnected"
    assert first.disconnect_reason is not None

    # The new connection works; it starts clean (the first one's subscription
    # did not carry over) and nothing reaches the old one.
    assert second.subscribe(("topic/%s/second" % thing, 1)) == [1]
    second.publish("topic/%s/first" % thing, b"to nobody", qos=1)
    roundtrip(second, "topic/%s/second" % thing)
    assert second.no_message_pending()
    assert first.no_message_pending()


def test_mqtt5_takeover_sends_disconnect_session_taken_over(make_device, account_id, paho,
                                                           raw5):
    # MQTT 5 §3.1.4 [MQTT-3.1.4-3]: the old connection gets DISCONNECT 0x8E.
    creds, (thing,) = make_device(thing_policy(account_id))
    first = raw5(creds, thing)
    assert first.connack_code() == 0
    paho(creds, thing, V5).connect()
    ptype, _, body = first.read_packet()
    assert ptype == DISCONNECT_PACKET, "expected DISCONNECT, got packet type %d" % ptype
    assert body[:1] == bytes([SESSION_TAKEN_OVER]), body
    with pytest.raises((EOFError, ConnectionError, ssl.SSLError)):
        first.read_packet()


def test_takeover_leaves_other_clients_alone(make_device, account_id, paho):
    creds, (a_id, b_id) = make_device(thing_policy(account_id), things=2)
    a = paho(creds, a_id, V311)
    a.connect()
    b = paho(creds, b_id, V311)
    b.connect()
    a2 = paho(creds, a_id, V5)
    a2.connect()
    assert a.closed.wait(WAIT)
    assert b.subscribe(("topic/%s/#" % b_id, 1)) == [1]
    roundtrip(b, "topic/%s/x" % b_id)
    assert not b.closed.is_set()


# --------------------------------------------------------------------------
# Where Shoal and AWS IoT (or the MQTT 5 specification) part ways
# --------------------------------------------------------------------------


def test_qos2_publish_is_acknowledged_and_delivered_once(make_device, account_id, paho):
    # AWS IoT has no QoS 2; Shoal accepts it as standard MQTT brokers do (issue 4), so that any
    # MQTT device works: PUBREC/PUBREL/PUBCOMP, and the message routed once.
    creds, (thing,) = make_device(thing_policy(account_id))
    c = paho(creds, thing, V311)
    c.connect()
    assert c.subscribe(("topic/%s/#" % thing, 1)) == [1]
    c.publish("topic/%s/qos2" % thing, b"exactly once", qos=2)
    topic, payload, qos, _ = c.next_message()
    assert (topic, payload, qos) == ("topic/%s/qos2" % thing, b"exactly once", 1)
    assert c.no_message_pending()
    assert not c.closed.is_set()


# MQTT 5 §3.2.2.3.7 [MQTT-3.2.2-16]: a server that accepts a zero-length client id returns
# the Assigned Client Identifier in CONNACK.
def test_mqtt5_empty_client_id_gets_assigned_client_identifier(iot, server, paho, tmp_path,
                                                               unique):
    creds = write_creds(tmp_path, "anon", iot.create_keys_and_certificate(setAsActive=True))
    policy = unique("pol")
    iot.create_policy(policyName=policy, policyDocument=json.dumps(allow_all_policy()))
    iot.attach_policy(policyName=policy, target=creds.cert_arn)
    c = paho(creds, "", V5)
    code, _, props = c.start().wait_connack()
    assert code == 0
    assert getattr(props, "AssignedClientIdentifier", ""), props


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_last_will_is_published_on_unexpected_disconnect(make_device, account_id, paho,
                                                         protocol):
    creds, (dev_id,) = make_device(thing_policy(account_id))
    will_topic = "topic/%s/status" % dev_id
    creds_w, (w_id,) = make_device(allow_all_policy())
    watcher = paho(creds_w, w_id, V311)
    watcher.connect()
    assert watcher.subscribe((will_topic, 1)) == [1]
    dev = paho(creds, dev_id, protocol)
    dev.connect(will=(will_topic, b"offline", 1, False))
    # Drop the TCP connection without a DISCONNECT packet.
    dev.client.socket().shutdown(2)
    got = watcher.next_message()
    assert got[:2] == (will_topic, b"offline")


def test_multi_level_wildcard_does_not_match_the_parent_level(make_device, paho, unique):
    creds, (thing,) = make_device(allow_all_policy())
    base = unique("sensor")
    c = paho(creds, thing, V311)
    c.connect()
    assert c.subscribe(("%s/#" % base, 1)) == [1]
    c.publish(base, b"parent", qos=1)
    got = roundtrip(c, "%s/temperature" % base)  # the marker must come first
    assert got[0] == "%s/temperature" % base


def test_persistent_session_is_resumed(make_device, account_id, paho):
    creds, (thing,) = make_device(allow_all_policy())
    first = paho(creds, thing, V311, clean_session=False)
    first.connect()
    assert first.subscribe(("topic/%s/#" % thing, 1)) == [1]
    first.stop()
    again = paho(creds, thing, V311, clean_session=False)
    flags, _ = again.connect()
    assert flags.session_present
    roundtrip(again, "topic/%s/resumed" % thing)


def test_retained_message_reaches_a_later_subscriber(make_device, paho):
    creds, (pub_id, sub_id) = make_device(allow_all_policy(), things=2)
    topic = "retained/%s" % uuid.uuid4().hex[:10]
    pub = paho(creds, pub_id, V311)
    pub.connect()
    pub.pubacks.wait(pub.publish(topic, b"last known", qos=1, retain=True))
    sub = paho(creds, sub_id, V311)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    assert sub.next_message() == (topic, b"last known", 1, True)
