"""Custom authorizers (https://docs.aws.amazon.com/iot/latest/developerguide/custom-authentication.html):
the control plane with boto3 and the AWS CLI, TestInvokeAuthorizer, token signatures, and
paho-mqtt devices without a certificate let in or refused by the authorizer's function, which
is a small HTTP server here (Shoal posts AWS's event to the endpoint `[functions]` maps the
function's ARN to; SHOAL_FUNCTIONS on the command line)."""

import base64
import http.client
import http.server
import json
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from paho.mqtt.enums import CallbackAPIVersion

from conftest import run_aws
from test_mqtt_gateway import NOT_AUTHORIZED, V311, Paho

ARN = "arn:aws:lambda:us-east-1:123456789012:function:device-auth"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})


class Function:
    """The authorizer's function: lets in the password "pw" (or any signed token)."""

    def __init__(self):
        self.events = []
        fn = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fn.events.append(event)
                mqtt_data = event.get("protocolData", {}).get("mqtt", {})
                password = base64.b64decode(mqtt_data.get("password", "")) or b""
                headers = event.get("protocolData", {}).get("http", {}).get("headers", {})
                ok = (password == b"pw" or event.get("signatureVerified") is True
                      or headers.get("x-secret") == "pw")
                body = json.dumps({
                    "isAuthenticated": ok, "principalId": "dev1",
                    "disconnectAfterInSeconds": 3600, "refreshAfterInSeconds": 600,
                    "policyDocuments": [ALLOW_ALL]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def function():
    f = Function()
    yield f
    f.httpd.shutdown()


@pytest.fixture(scope="module")
def authsrv(function, tmp_path_factory):
    from conftest import ShoalServer
    srv = ShoalServer(tmp_path_factory.mktemp("auth") / "data",
                      env={"SHOAL_FUNCTIONS": "%s=%s" % (ARN, function.url)})
    srv.start()
    yield srv
    srv.stop()


class NoCertPaho(Paho):
    """paho over TLS without a client certificate, user name and password as given."""

    def __init__(self, server, client_id, username, password, protocol=V311):
        self._setup(client_id, protocol, server.mqtt_port)
        self.client.tls_set(ca_certs=str(server.ca_file))
        self.client.username_pw_set(username, password)


def authorizer(iot, name, **kw):
    return iot.create_authorizer(authorizerName=name, authorizerFunctionArn=ARN,
                                 signingDisabled=True, status="ACTIVE", **kw)


def test_the_control_plane(authsrv, aws_error):
    iot = authsrv.client()
    made = authorizer(iot, "a1", tags=[{"Key": "k", "Value": "v"}])
    assert made["authorizerArn"].endswith(":authorizer/a1")
    with aws_error("ResourceAlreadyExistsException", 409):
        authorizer(iot, "a1")
    d = iot.describe_authorizer(authorizerName="a1")["authorizerDescription"]
    assert d["authorizerFunctionArn"] == ARN and d["status"] == "ACTIVE"
    assert d["signingDisabled"] is True and d["enableCachingForHttp"] is False
    assert iot.list_tags_for_resource(resourceArn=made["authorizerArn"])["tags"] == [
        {"Key": "k", "Value": "v"}]
    # Signing (the default) needs a token key and a public key.
    with aws_error("InvalidRequestException", 400):
        iot.create_authorizer(authorizerName="a2", authorizerFunctionArn=ARN)

    authorizer(iot, "a3")
    iot.update_authorizer(authorizerName="a3", status="INACTIVE")
    assert [a["authorizerName"] for a in iot.list_authorizers()["authorizers"]] == ["a1", "a3"]
    assert [a["authorizerName"] for a in
            iot.list_authorizers(status="INACTIVE")["authorizers"]] == ["a3"]
    assert [a["authorizerName"] for a in
            iot.list_authorizers(ascendingOrder=False)["authorizers"]] == ["a3", "a1"]

    with aws_error("ResourceNotFoundException", 404):
        iot.describe_default_authorizer()
    assert iot.set_default_authorizer(authorizerName="a1")["authorizerName"] == "a1"
    assert iot.describe_default_authorizer()["authorizerDescription"]["authorizerName"] == "a1"
    with aws_error("ResourceAlreadyExistsException", 409):
        iot.set_default_authorizer(authorizerName="a3")
    # An ACTIVE authorizer, or the default, cannot be deleted.
    with aws_error("DeleteConflictException", 409):
        iot.delete_authorizer(authorizerName="a1")
    iot.clear_default_authorizer()
    with aws_error("ResourceNotFoundException", 404):
        iot.clear_default_authorizer()
    iot.delete_authorizer(authorizerName="a3")
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_authorizer(authorizerName="a3")


def test_test_invoke_authorizer_and_token_signatures(authsrv, function, aws_error):
    iot = authsrv.client()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    iot.create_authorizer(authorizerName="signed", authorizerFunctionArn=ARN,
                          tokenKeyName="token", tokenSigningPublicKeys={"k1": public},
                          status="ACTIVE")
    token = "device-token-1"
    sig = base64.b64encode(key.sign(token.encode(), padding.PKCS1v15(),
                                    hashes.SHA256())).decode()
    out = iot.test_invoke_authorizer(authorizerName="signed", token=token, tokenSignature=sig)
    assert out["isAuthenticated"] is True and out["principalId"] == "dev1"
    assert out["policyDocuments"] == [ALLOW_ALL]
    assert (out["disconnectAfterInSeconds"], out["refreshAfterInSeconds"]) == (3600, 600)
    assert function.events[-1]["token"] == token
    assert function.events[-1]["signatureVerified"] is True
    bad = base64.b64encode(b"\0" * 256).decode()
    with aws_error("InvalidRequestException", 400):
        iot.test_invoke_authorizer(authorizerName="signed", token=token, tokenSignature=bad)

    authorizer(iot, "plain")
    out = iot.test_invoke_authorizer(authorizerName="plain", mqttContext={
        "username": "u", "password": b"nope", "clientId": "c"}, tlsContext={"serverName": "x"})
    assert out["isAuthenticated"] is False
    event = function.events[-1]
    assert event["protocolData"]["mqtt"] == {
        "username": "u", "password": base64.b64encode(b"nope").decode(), "clientId": "c"}
    assert event["protocolData"]["tls"] == {"serverName": "x"}


def test_paho_with_a_user_name_and_password(authsrv, function):
    iot = authsrv.client()
    authorizer(iot, "mqtt-auth")
    user = "device?x-amz-customauthorizer-name=mqtt-auth"
    ok = NoCertPaho(authsrv, "dev-ok", user, "pw")
    try:
        ok.connect()
        assert ok.subscribe(("cmd/#", 1)) == [1]
        ok.publish("cmd/x", b"hi", qos=1)
        got = ok.next_message()
        assert (got[0], got[1]) == ("cmd/x", b"hi")
    finally:
        ok.stop()
    assert function.events[-1]["protocolData"]["mqtt"]["username"] == user

    refused = NoCertPaho(authsrv, "dev-no", user, "wrong")
    try:
        refused.start()
        code, _, _ = refused.wait_connack()
        assert code == NOT_AUTHORIZED, "CONNACK 5: not authorized"
    finally:
        refused.stop()

    # Naming no authorizer uses the account's default.
    iot.set_default_authorizer(authorizerName="mqtt-auth")
    try:
        dflt = NoCertPaho(authsrv, "dev-default", "device", "pw")
        dflt.connect()
        dflt.stop()
    finally:
        iot.clear_default_authorizer()


def test_authorizers_with_the_cli(authsrv):
    cli = lambda *a: run_aws(authsrv.endpoint, authsrv.access_key, authsrv.secret_key, *a)  # noqa
    cli("iot", "create-authorizer", "--authorizer-name", "cli-auth",
        "--authorizer-function-arn", ARN, "--signing-disabled", "--status", "ACTIVE")
    names = [a["authorizerName"] for a in cli("iot", "list-authorizers")["authorizers"]]
    assert "cli-auth" in names
    out = cli("iot", "test-invoke-authorizer", "--authorizer-name", "cli-auth",
              "--mqtt-context", "username=u,password=pw,clientId=c")
    assert out["isAuthenticated"] is True


def https_post(srv, path, headers):
    """POST over TLS without a client certificate, ALPN `x-amzn-http-ca` -> (status, body)."""
    ctx = ssl.create_default_context(cafile=str(srv.ca_file))
    ctx.set_alpn_protocols(["x-amzn-http-ca"])
    conn = http.client.HTTPSConnection("localhost", srv.device_https_port, context=ctx,
                                       timeout=10)
    try:
        conn.request("POST", path, body=b"on", headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_https_publish_with_a_custom_authorizer(authsrv, function):
    iot = authsrv.client()
    authorizer(iot, "http-auth")
    ok, body = https_post(authsrv, "/topics/lamps/1?qos=1&retain=true", {
        "x-amz-customauthorizer-name": "http-auth", "x-secret": "pw"})
    assert ok == 200, body
    event = function.events[-1]
    assert event["protocols"] == ["tls", "http"]
    assert event["protocolData"]["http"]["queryString"] == "?qos=1&retain=true"
    data = boto3_data(authsrv)
    assert data.get_retained_message(topic="lamps/1")["payload"] == b"on"
    refused, _ = https_post(authsrv, "/topics/lamps/2?qos=1", {
        "x-amz-customauthorizer-name": "http-auth", "x-secret": "nope"})
    assert refused == 401


def boto3_data(srv):
    import boto3
    return boto3.session.Session(
        aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
        region_name="us-east-1").client("iot-data", endpoint_url=srv.endpoint)


class WsPaho(Paho):
    """paho over a TLS WebSocket without a certificate or SigV4, with upgrade headers."""

    def __init__(self, server, client_id, headers):
        self._setup(client_id, V311, server.mqtt_port, transport="websockets")
        self.client.ws_set_options(path="/mqtt", headers=headers)
        self.client.tls_set(ca_certs=str(server.ca_file))


def test_websocket_with_a_custom_authorizer(authsrv, function):
    iot = authsrv.client()
    authorizer(iot, "ws-auth")
    ok = WsPaho(authsrv, "ws-ok", {"x-amz-customauthorizer-name": "ws-auth", "x-secret": "pw"})
    try:
        ok.connect()
        assert ok.subscribe(("ws/#", 1)) == [1]
        ok.publish("ws/x", b"hi", qos=1)
        assert ok.next_message()[:2] == ("ws/x", b"hi")
    finally:
        ok.stop()
    assert function.events[-1]["protocolData"]["http"]["headers"]["x-secret"] == "pw"
    # The function refuses: the connection ends before any CONNACK (AWS refuses the upgrade
    # itself; Shoal asks the function once the upgrade is done).
    no = WsPaho(authsrv, "ws-no", {"x-amz-customauthorizer-name": "ws-auth", "x-secret": "x"})
    try:
        no.start()
        assert no.outcome() == "closed"
    finally:
        no.stop()


def raw_connect(srv, server_name, username, password, client_id="raw-1"):
    """MQTT 3.1.1 CONNECT over TLS (no certificate) to the MQTT port with `server_name` as SNI
    -> the CONNACK return code, or None when the server closes without one."""
    import socket
    import struct

    def utf8(s):
        b = s.encode()
        return struct.pack("!H", len(b)) + b

    ctx = ssl.create_default_context(cafile=str(srv.ca_file))
    ctx.check_hostname = False  # the SNI names a domain the test certificate does not cover
    ctx.verify_mode = ssl.CERT_NONE
    tcp = socket.create_connection(("127.0.0.1", srv.mqtt_port), timeout=10)
    sock = ctx.wrap_socket(tcp, server_hostname=server_name)
    try:
        body = (utf8("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 30) + utf8(client_id)
                + utf8(username) + utf8(password))
        sock.sendall(bytes([0x10, len(body)]) + body)
        head = sock.recv(4)
        return head[3] if len(head) == 4 and head[0] == 0x20 else None
    except (ConnectionError, OSError):
        return None
    finally:
        sock.close()


def test_a_domain_configuration_picks_the_authorizer_and_can_be_disabled(authsrv, function):
    iot = authsrv.client()
    authorizer(iot, "dom-auth")
    domain = "devices.plant-%d.example" % len(function.events)
    iot.create_domain_configuration(
        domainConfigurationName="plant", domainName=domain,
        serverCertificateArns=["arn:aws:acm:us-east-1:123456789012:certificate/p"],
        authorizerConfig={"defaultAuthorizerName": "dom-auth", "allowAuthorizerOverride": False})
    # No authorizer named, no account default: the domain's default authorizer asks the
    # function, which gets the server name.
    assert raw_connect(authsrv, domain, "dev", "pw") == 0
    assert function.events[-1]["protocolData"]["tls"]["serverName"] == domain
    assert raw_connect(authsrv, domain, "dev", "wrong") == 5
    # Override not allowed: a named authorizer that does not exist is ignored.
    assert raw_connect(authsrv, domain, "dev?x-amz-customauthorizer-name=nope", "pw") == 0
    # A DISABLED domain lets nobody in.
    iot.update_domain_configuration(domainConfigurationName="plant",
                                    domainConfigurationStatus="DISABLED")
    assert raw_connect(authsrv, domain, "dev", "pw") == 5
