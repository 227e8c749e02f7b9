"""Hostile tenants and devices: what one account, or one misbehaving client, must not be able
to do to the others or to the server.

 1. Secrets at rest: the data folder is its owner's only (0700, files 0600), whatever the
    umask the server was started with.
 2. Access keys: `shoal key list / deactivate / activate / delete / create` on the data folder
    of a running server take effect on the next request (keys are looked up on every one).
 3. GET /metrics needs the operator's scrape token (every account) or SigV4 (the signer's
    account only).
 4. HTTP bounds on the API port: head timeout (idle or partial head), credentials checked
    before the body is read, 1 MiB body limit.
 5. The API listener's connection cap (SHOAL_API_MAX_CONNECTIONS).
 6. DescribeEndpoint: per-account host names shaped as AWS's, under the public host.
 7. Certificate ownership across accounts: DEFAULT-mode certificates and CAs belong to one
    account per region; SNI_ONLY ones may be held by several.
 8. A device certificate held by two accounts connects only with the TLS server name of one
    account's endpoint, and is then that account's device.
 9. Fleet-query bounds: deeply nested or very long queries are refused, not a stack overflow.
10. iot-data Publish refuses MQTT 5 properties a subscriber could not decode (nothing is
    stored as retained).

Servers that see global changes (accounts, keys, umask, limits) come from `shoal_factory`.
Nothing sleeps to synchronise: socket reads have timeouts, and what the server does
asynchronously is polled with a deadline.
"""

import base64
import json
import os
import re
import socket
import ssl
import stat
import threading
import time
import urllib.parse
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

from conftest import METRICS_TOKEN, send_signed
from fleet_support import THINGS, Fleet, until
from test_mqtt_gateway import NOT_AUTHORIZED, V5, V311, WAIT, Creds, Paho
from test_mqtt_transports import KeyPaho

REGION = "us-east-1"
PREFIX = re.compile(r"[a-z][a-z0-9]{13}")
PROM_LINE = re.compile(
    r'iot_fleet_metric\{account="([^"]*)",region="([^"]*)",metric_name="([^"]*)",'
    r'aggregation_type="([^"]*)"\} (\S+)')
MAX_BODY = 1024 * 1024
HEAD_DEADLINE = 15.0  # the server's head timeout is 10 s; a little slack on a busy machine
SOCKET_TIMEOUT = 20.0  # a read that waits longer than any server timeout means "never closed"
PROMPT = 5.0  # an answer that needs no body arrives at once


# --------------------------------------------------------------------------
# Helpers: raw HTTP on a socket
# --------------------------------------------------------------------------


def host_port(srv):
    host, port = urllib.parse.urlsplit(srv.endpoint).netloc.rsplit(":", 1)
    return host, int(port)


def connect(srv, timeout=PROMPT):
    s = socket.create_connection(host_port(srv), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_until_closed(sock):
    """Everything the server sends until it closes -> (bytes, "eof" | "reset"); raises
    socket.timeout if the connection stays open past the socket's timeout."""
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got, "reset"
        if not chunk:
            return got, "eof"
        got += chunk


def read_response(sock):
    """One HTTP/1.1 response -> (status, {lower-case header: value}, body). Reads the head and
    Content-Length bytes of body, no more (the connection may stay open)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a whole response head: %r" % buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of a response body"
        body += chunk
    return status, headers, body[:length]


def signed_head(srv, method, path, body, access_key, secret_key, service="iot",
                headers=None, declare_length=True):
    """The head of a request SigV4-signed (by botocore) over `body`, as bytes, with
    Content-Length len(body) (or the caller's own framing headers)."""
    host, port = host_port(srv)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    req = AWSRequest(method=method, url="http://%s:%d%s" % (host, port, path), data=body,
                     headers=hdrs)
    SigV4Auth(Credentials(access_key, secret_key), service, REGION).add_auth(req)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (host, port)]
    lines += ["%s: %s" % (k, v) for k, v in req.headers.items() if k.lower() != "host"]
    if declare_length:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_aws_error(status, headers, body, code, expected_status):
    """An AWS restJson1 error: status, x-amzn-ErrorType and a JSON body with a message."""
    assert status == expected_status, (status, headers, body)
    assert headers.get("x-amzn-errortype", "").split(":")[0] == code, (headers, body)
    doc = json.loads(body)
    assert isinstance(doc.get("message"), str) and doc["message"], doc
    return doc


def header_dict(headers):
    return {k.lower(): v for k, v in headers.items()}


def error_parts(exc_info):
    r = exc_info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r


# --------------------------------------------------------------------------
# Helpers: accounts
# --------------------------------------------------------------------------


class Tenant:
    """One account on a server: its id, keys, boto3 `iot` and `iot-data` clients."""

    def __init__(self, srv, account, key, secret):
        self.srv, self.account, self.key, self.secret = srv, account, key, secret
        self.fleet = Fleet(srv, key, secret, account)
        self.iot = self.fleet.iot
        self.data = self.fleet.data

    def arn(self, kind, name):
        return "arn:aws:iot:%s:%s:%s/%s" % (REGION, self.account, kind, name)

    def endpoint(self, kind="iot:Data-ATS"):
        return self.iot.describe_endpoint(endpointType=kind)["endpointAddress"]


def admin_tenant(srv):
    client = srv.client()
    name = "probe-" + uuid.uuid4().hex[:10]
    account = client.create_thing(thingName=name)["thingArn"].split(":")[4]
    client.delete_thing(thingName=name)
    return Tenant(srv, account, srv.access_key, srv.secret_key)


def new_tenant(srv):
    """An account made with `shoal account create` against the running server."""
    return Tenant(srv, *srv.create_account())


@pytest.fixture
def two_tenants(shoal_factory):
    """A fresh server with account A (the admin key's) and account B (`shoal account create`)."""
    srv = shoal_factory()
    return srv, admin_tenant(srv), new_tenant(srv)


# ==========================================================================
# 1. Secrets at rest
# ==========================================================================


def test_data_folder_and_secrets_are_private(shoal_factory):
    # A umask of 0 would leave everything world-readable: the server must set its own.
    old = os.umask(0)
    try:
        srv = shoal_factory()
    finally:
        os.umask(old)
    # A write, so that the write-ahead log exists too.
    srv.client().create_thing(thingName="perm-" + uuid.uuid4().hex[:10])

    data = srv.data_dir
    mode = stat.S_IMODE(os.stat(data).st_mode)
    assert mode == 0o700, "data folder is %o" % mode
    required = ["shoal.db", "credentials", "ca.key", "server.key"]
    optional = ["shoal.db-wal", "shoal.db-shm"]
    for name in required + [n for n in optional if (data / n).exists()]:
        path = data / name
        assert path.is_file(), "%s missing (folder holds %s)" % (name, sorted(os.listdir(data)))
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, "%s is %o: group/other bits set" % (name, mode)
        assert mode == 0o600, "%s is %o" % (name, mode)


# ==========================================================================
# 2. Access keys
# ==========================================================================


def _key_rows(shoal_cli, srv):
    """`shoal key list` -> ({key id: (account, status)}, raw output)."""
    out = shoal_cli("key", "list", "--data", srv.data_dir)
    text = out.stdout + out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        words = line.split()
        if words and re.fullmatch(r"AKIA[A-Z0-9]{16}", words[0]):
            rows[words[0]] = (words[1], words[2])
    return rows, text


def test_access_keys_list_deactivate_activate_delete(shoal_factory, shoal_cli, aws_error):
    srv = shoal_factory()
    admin = srv.client()
    account = admin_tenant(srv).account
    key, secret = srv.create_key()
    second = srv.client(access_key=key, secret_key=secret)
    assert second.list_things()["ResponseMetadata"]["HTTPStatusCode"] == 200  # key cached

    rows, text = _key_rows(shoal_cli, srv)
    assert rows[srv.access_key] == (account, "active"), text
    assert rows[key] == (account, "active"), text
    # Never a secret.
    assert srv.secret_key not in text and secret not in text, text

    # Deactivated while the server runs: refused on the very next request.
    out = shoal_cli("key", "deactivate", key, "--data", srv.data_dir)
    assert secret not in out.stdout + out.stderr
    with aws_error("UnrecognizedClientException", 403):
        second.list_things()
    rows, text = _key_rows(shoal_cli, srv)
    assert rows[key] == (account, "inactive"), text
    assert secret not in text
    # The admin key is untouched.
    assert admin.list_things()["ResponseMetadata"]["HTTPStatusCode"] == 200

    # Activated: works again at once.
    shoal_cli("key", "activate", key, "--data", srv.data_dir)
    assert second.list_things()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _key_rows(shoal_cli, srv)[0][key] == (account, "active")

    # Deleted: gone for good, and cannot be activated again.
    shoal_cli("key", "delete", key, "--data", srv.data_dir)
    with aws_error("UnrecognizedClientException", 403):
        second.list_things()
    assert key not in _key_rows(shoal_cli, srv)[0]
    again = shoal_cli("key", "activate", key, "--data", srv.data_dir, check=False)
    assert again.returncode != 0
    with aws_error("UnrecognizedClientException", 403):
        second.list_things()

    # `shoal key create` still works, and its key at once.
    key3, secret3 = srv.create_key()
    third = srv.client(access_key=key3, secret_key=secret3)
    assert third.list_things()["ResponseMetadata"]["HTTPStatusCode"] == 200
    rows, text = _key_rows(shoal_cli, srv)
    assert rows[key3] == (account, "active")
    assert secret3 not in text
    assert admin.list_things()["ResponseMetadata"]["HTTPStatusCode"] == 200


# ==========================================================================
# 3. GET /metrics
# ==========================================================================


def _metric_lines(text):
    """{account: {(metric, aggregation): value}} of the iot_fleet_metric lines."""
    out = {}
    for line in text.splitlines():
        m = PROM_LINE.fullmatch(line)
        if m:
            out.setdefault(m.group(1), {})[(m.group(3), m.group(4))] = float(m.group(5))
    return out


def _fleet_metric(tenant, things):
    f = tenant.fleet
    f.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    names = ["m-%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(things)]
    for n in names:
        f.iot.create_thing(thingName=n)
    f.wait_names("thingName:m-*", sorted(names))
    f.iot.create_fleet_metric(metricName="fleet-size", queryString="thingName:m-*", period=60,
                              aggregationField="registry.version",
                              aggregationType={"name": "Statistics", "values": ["count"]})


def test_metrics_needs_a_token_or_sigv4_and_shows_the_signers_account(shoal_factory):
    srv = shoal_factory()
    a, b = new_tenant(srv), new_tenant(srv)
    _fleet_metric(a, 2)
    _fleet_metric(b, 3)

    # No credentials: an AWS-shaped refusal.
    status, headers, body = send_signed(srv.endpoint, "GET", "/metrics", sign=False)
    assert_aws_error(status, header_dict(headers), body,
                     "MissingAuthenticationTokenException", 403)
    assert b"iot_fleet_metric{" not in body

    # The operator's token: every account.
    status, headers, body = send_signed(
        srv.endpoint, "GET", "/metrics", sign=False,
        headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert status == 200
    assert header_dict(headers)["content-type"].startswith("text/plain")
    lines = _metric_lines(body.decode())
    assert lines[a.account] == {("fleet-size", "count"): 2.0}, lines
    assert lines[b.account] == {("fleet-size", "count"): 3.0}, lines

    # A wrong token is refused, whatever its length.
    for token in ("wrong", METRICS_TOKEN + "x", METRICS_TOKEN[:-1]):
        status, headers, body = send_signed(
            srv.endpoint, "GET", "/metrics", sign=False,
            headers={"Authorization": "Bearer " + token})
        assert status == 403, (token, status, body)
        assert header_dict(headers).get("x-amzn-errortype"), headers
        assert b"iot_fleet_metric{" not in body

    # SigV4 (any service name): the signer's own account only.
    for tenant, other, count, service in ((a, b, 2.0, "iot"), (b, a, 3.0, "monitoring")):
        status, headers, body = send_signed(srv.endpoint, "GET", "/metrics", service=service,
                                            access_key=tenant.key, secret_key=tenant.secret)
        assert status == 200, body
        text = body.decode()
        assert _metric_lines(text) == {tenant.account: {("fleet-size", "count"): count}}, text
        assert 'account="%s"' % other.account not in text

    # An unknown key is refused as on the API.
    status, headers, body = send_signed(srv.endpoint, "GET", "/metrics",
                                        access_key="AKIA" + "Z" * 16, secret_key="x" * 40)
    assert_aws_error(status, header_dict(headers), body, "UnrecognizedClientException", 403)


# ==========================================================================
# 4. HTTP bounds on the API port
# ==========================================================================


def test_idle_and_partial_heads_are_closed_by_the_server(server, signed_request):
    idle = connect(server, SOCKET_TIMEOUT)
    partial = connect(server, SOCKET_TIMEOUT)
    started = time.monotonic()
    partial.sendall(b"POST /things/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    try:
        _, how = read_until_closed(idle)  # socket.timeout here: never closed
        idle_after = time.monotonic() - started
        _, how_partial = read_until_closed(partial)
        partial_after = time.monotonic() - started
    finally:
        idle.close()
        partial.close()
    assert how in ("eof", "reset")
    assert how_partial in ("eof", "reset")
    assert idle_after <= HEAD_DEADLINE, "idle connection closed after %.1fs" % idle_after
    assert partial_after <= HEAD_DEADLINE, "partial head closed after %.1fs" % partial_after
    # The server still answers.
    assert signed_request("GET", "/things")[0] == 200


def test_huge_unsigned_body_is_refused_before_it_is_read(server, signed_request):
    s = connect(server)
    try:
        s.sendall(b"POST /things/huge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n")
        status, headers, body = read_response(s)  # within PROMPT, with no body sent
    finally:
        s.close()
    assert_aws_error(status, headers, body, "MissingAuthenticationTokenException", 403)
    assert signed_request("GET", "/things")[0] == 200


def test_unknown_access_key_is_refused_before_the_body(server, unique):
    body = json.dumps({"attributePayload": {"attributes": {"a": "x" * 500000}}}).encode()
    head = signed_head(server, "POST", "/things/%s" % unique("nokey"), body,
                       "AKIA" + "Q" * 16, "s" * 40)
    s = connect(server)
    try:
        s.sendall(head)  # the body never follows
        status, headers, resp = read_response(s)
    finally:
        s.close()
    assert_aws_error(status, headers, resp, "UnrecognizedClientException", 403)


def test_body_over_one_mib_is_refused_413(server, iot, unique, aws_error):
    name = unique("big")
    body = json.dumps({"attributePayload": {"attributes": {"a": "x" * MAX_BODY}}}).encode()
    assert len(body) > MAX_BODY

    # Declared: answered from the head alone.
    s = connect(server)
    try:
        s.sendall(signed_head(server, "POST", "/things/%s" % name, body,
                              server.access_key, server.secret_key))
        status, headers, resp = read_response(s)
    finally:
        s.close()
    assert_aws_error(status, headers, resp, "RequestEntityTooLargeException", 413)

    # Streamed (chunked, no length): cut off at the limit.
    s = connect(server, SOCKET_TIMEOUT)
    s.sendall(signed_head(server, "POST", "/things/%s" % name, body, server.access_key,
                          server.secret_key, headers={"Transfer-Encoding": "chunked"},
                          declare_length=False))

    def stream():
        try:
            for i in range(0, len(body), 65536):
                piece = body[i:i + 65536]
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close once it has refused

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    try:
        status, headers, resp = read_response(s)
    finally:
        s.close()
        sender.join(WAIT)
    assert_aws_error(status, headers, resp, "RequestEntityTooLargeException", 413)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing(thingName=name)


# ==========================================================================
# 5. Connection cap
# ==========================================================================


def test_api_connection_cap(shoal_factory, monkeypatch):
    monkeypatch.setenv("SHOAL_API_MAX_CONNECTIONS", "4")
    srv = shoal_factory()
    monkeypatch.delenv("SHOAL_API_MAX_CONNECTIONS")
    held = [connect(srv, SOCKET_TIMEOUT) for _ in range(4)]
    try:
        # The 4 are served: a request on one of them is answered.
        first = held[0]
        first.sendall(signed_head(srv, "GET", "/things", b"", srv.access_key, srv.secret_key))
        assert read_response(first)[0] == 200

        fifth = connect(srv, 3.0)
        try:
            got, how = read_until_closed(fifth)
        except socket.timeout:
            pytest.fail("a 5th connection over a cap of 4 was still open after 3 s")
        finally:
            fifth.close()
        assert got == b"" and how in ("eof", "reset"), (got, how)

        # One of the 4 goes; a new connection is then served (the slot frees asynchronously).
        held.pop().close()

        def served():
            try:
                return send_signed(srv.endpoint, "GET", "/things", access_key=srv.access_key,
                                   secret_key=srv.secret_key)[0] == 200
            except OSError:
                return False

        until(served, PROMPT, "a request after one connection closed")
    finally:
        for s in held:
            s.close()


# ==========================================================================
# 6. DescribeEndpoint
# ==========================================================================


def test_describe_endpoint_names_the_account(shoal_factory):
    srv = shoal_factory()
    a, b = admin_tenant(srv), new_tenant(srv)

    def names(tenant, region=REGION):
        client = srv.client(region=region, access_key=tenant.key, secret_key=tenant.secret)
        return {kind: client.describe_endpoint(endpointType=kind)["endpointAddress"]
                for kind in ("iot:Data-ATS", "iot:Data", "iot:CredentialProvider",
                             "iot:Jobs")}

    prefixes = {}
    for tenant in (a, b):
        got = names(tenant)
        m = re.fullmatch(r"([a-z0-9]+)-ats\.iot\.us-east-1\.localhost", got["iot:Data-ATS"])
        assert m, got
        prefix = m.group(1)
        assert PREFIX.fullmatch(prefix), prefix
        assert got == {
            "iot:Data-ATS": "%s-ats.iot.us-east-1.localhost" % prefix,
            "iot:Data": "%s.iot.us-east-1.localhost" % prefix,
            "iot:CredentialProvider": "%s.credentials.iot.us-east-1.localhost" % prefix,
            "iot:Jobs": "%s.jobs.iot.us-east-1.localhost" % prefix,
        }
        # Stable, and AWS's default type is iot:Data.
        assert tenant.iot.describe_endpoint()["endpointAddress"] == got["iot:Data"]
        assert tenant.endpoint() == got["iot:Data-ATS"]
        # The signature's region is the name's region; the prefix stays.
        assert names(tenant, "eu-west-1") == {
            k: v.replace(".us-east-1.", ".eu-west-1.") for k, v in got.items()}
        prefixes[tenant.account] = prefix
    assert prefixes[a.account] != prefixes[b.account]


# ==========================================================================
# 7. Certificate ownership across accounts
# ==========================================================================


def _register_without_ca(tenant, pem, status="ACTIVE"):
    return tenant.iot.register_certificate_without_ca(certificatePem=pem, status=status)


def _mode(tenant, cert_id):
    return tenant.iot.describe_certificate(
        certificateId=cert_id)["certificateDescription"]["certificateMode"]


def _cert_ids(tenant):
    return {c["certificateId"] for c in tenant.iot.list_certificates(pageSize=250)["certificates"]}


def _assert_conflict_names_b(ei, a, b, cert_id):
    status, code, resp = error_parts(ei)
    assert (status, code) == (409, "ResourceAlreadyExistsException"), resp
    raw = json.dumps({k: v for k, v in resp.items() if k != "ResponseMetadata"})
    assert a.account not in raw, "the error names account A: %s" % raw
    arn = resp.get("resourceArn")
    if arn is not None:
        assert arn == b.arn("cert", cert_id), arn


def _register_in_b(b, pem, how, ca_pem):
    if how == "without-ca":
        return b.iot.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")
    if how == "with-root-ca":
        return b.iot.register_certificate(certificatePem=pem, caCertificatePem=ca_pem,
                                          setAsActive=True)
    return b.iot.register_certificate(certificatePem=pem, setAsActive=True)


@pytest.mark.parametrize("how", ["without-ca", "no-ca-pem"])
def test_default_certificate_of_a_cannot_be_registered_by_b(two_tenants, pki, how):
    srv, a, b = two_tenants
    made = a.iot.create_keys_and_certificate(setAsActive=True)
    pem, cert_id = made["certificatePem"], made["certificateId"]
    ca_pem = srv.ca_file.read_text()
    # Precondition: ca.pem is what signed it.
    pki.load(pem).verify_directly_issued_by(pki.load(ca_pem))
    assert _mode(a, cert_id) == "DEFAULT"

    with pytest.raises(ClientError) as ei:
        _register_in_b(b, pem, how, ca_pem)
    _assert_conflict_names_b(ei, a, b, cert_id)
    assert cert_id not in _cert_ids(b)
    assert a.iot.describe_certificate(certificateId=cert_id)[
        "certificateDescription"]["status"] == "ACTIVE"


def test_naming_shoals_root_as_the_ca_is_refused_as_an_unregistered_ca(two_tenants):
    """caCertificatePem must be a CA registered in the caller's account; Shoal's root (AWS's
    own CA, in effect) is not one, for A as for B: 400 CertificateValidationException, and
    nothing about A's copy is revealed to B."""
    srv, a, b = two_tenants
    made = a.iot.create_keys_and_certificate(setAsActive=True)
    pem, cert_id = made["certificatePem"], made["certificateId"]
    for tenant in (a, b):
        with pytest.raises(ClientError) as ei:
            _register_in_b(tenant, pem, "with-root-ca", srv.ca_file.read_text())
        err = ei.value.response
        assert err["Error"]["Code"] == "CertificateValidationException", err
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert a.account not in str(err) or tenant is a
    assert cert_id not in _cert_ids(b)


def test_sni_only_certificate_in_two_accounts_and_release_on_delete(two_tenants, pki, aws_error):
    srv, a, b = two_tenants
    # (b) Self-signed, registered without a CA in A: SNI_ONLY, so B may hold it too.
    _, cert = pki.self_signed("shared-%s" % uuid.uuid4().hex[:8])
    shared = pki.pem(cert)
    in_a = _register_without_ca(a, shared)
    in_b = _register_without_ca(b, shared)
    assert in_a["certificateId"] == in_b["certificateId"]
    assert in_b["certificateArn"] == b.arn("cert", in_b["certificateId"])
    assert _mode(a, in_a["certificateId"]) == "SNI_ONLY"
    assert _mode(b, in_b["certificateId"]) == "SNI_ONLY"

    # (c) A DEFAULT-mode certificate of A: refused to B until A deletes it.
    made = a.iot.create_keys_and_certificate(setAsActive=True)
    pem, cert_id = made["certificatePem"], made["certificateId"]
    with pytest.raises(ClientError) as ei:
        _register_without_ca(b, pem)
    _assert_conflict_names_b(ei, a, b, cert_id)
    a.iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    a.iot.delete_certificate(certificateId=cert_id)
    got = _register_without_ca(b, pem)
    assert got["certificateId"] == cert_id
    assert got["certificateArn"] == b.arn("cert", cert_id)
    assert _mode(b, cert_id) == "SNI_ONLY"
    with aws_error("ResourceNotFoundException", 404):
        a.iot.describe_certificate(certificateId=cert_id)


def _ca_mode(tenant, ca_id):
    return tenant.iot.describe_ca_certificate(
        certificateId=ca_id)["certificateDescription"]["certificateMode"]


def test_default_ca_of_a_cannot_be_registered_default_by_b(two_tenants, pki):
    srv, a, b = two_tenants
    ca_key, ca_cert, ca_id = pki.register_ca(a.iot)
    assert _ca_mode(a, ca_id) == "DEFAULT"
    code = b.iot.get_registration_code()["registrationCode"]
    with pytest.raises(ClientError) as ei:
        b.iot.register_ca_certificate(
            caCertificate=pki.pem(ca_cert),
            verificationCertificate=pki.pem(pki.verification_cert(code, ca_key, ca_cert)),
            setAsActive=True)
    status, err, resp = error_parts(ei)
    assert (status, err) == (409, "ResourceAlreadyExistsException"), resp
    raw = json.dumps({k: v for k, v in resp.items() if k != "ResponseMetadata"})
    assert a.account not in raw, raw
    if resp.get("resourceArn") is not None:
        assert resp["resourceArn"] == b.arn("cacert", ca_id)
    assert ca_id not in {c["certificateId"]
                         for c in b.iot.list_ca_certificates()["certificates"]}


def test_sni_only_ca_in_two_accounts(two_tenants, pki):
    srv, a, b = two_tenants
    _, ca_cert = pki.ca("Shared SNI CA %s" % uuid.uuid4().hex[:8])
    ids = [t.iot.register_ca_certificate(caCertificate=pki.pem(ca_cert),
                                         certificateMode="SNI_ONLY",
                                         setAsActive=True)["certificateId"] for t in (a, b)]
    assert ids[0] == ids[1]
    assert _ca_mode(a, ids[0]) == "SNI_ONLY" and _ca_mode(b, ids[1]) == "SNI_ONLY"


def test_default_ca_of_a_can_be_registered_sni_only_by_b(two_tenants, pki):
    srv, a, b = two_tenants
    _, ca_cert, ca_id = pki.register_ca(a.iot)
    got = b.iot.register_ca_certificate(caCertificate=pki.pem(ca_cert),
                                        certificateMode="SNI_ONLY", setAsActive=True)
    assert got["certificateId"] == ca_id
    assert got["certificateArn"] == b.arn("cacert", ca_id)
    assert _ca_mode(b, ca_id) == "SNI_ONLY"
    assert _ca_mode(a, ca_id) == "DEFAULT"


# ==========================================================================
# 8. A certificate held by two accounts: the TLS server name picks the account
# ==========================================================================


class NamedPaho(Paho):
    """test_mqtt_gateway's waitable paho client over mutual TLS, connecting to `host`
    (which is also the TLS server name and the name the server certificate is verified
    against) instead of "localhost"."""

    def __init__(self, host, srv, creds, client_id, protocol=V5):
        super().__init__(srv, creds, client_id, protocol)
        self.host = host


@pytest.fixture
def clients():
    """Collects paho wrappers to stop at teardown."""
    made = []
    yield made
    for c in made:
        c.stop()


@pytest.fixture
def localhost_names(monkeypatch):
    """`*.localhost` does not resolve here: resolve it to 127.0.0.1 (only the address; the
    name is still the TLS server name and what the certificate is checked against)."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kw):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def _device_policy(tenant, client_id, prefix):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": tenant.arn("client", client_id)},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": tenant.arn("topic", "%s/*" % prefix)},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": tenant.arn("topicfilter", "%s/*" % prefix)},
    ]})


def test_shared_certificate_connects_by_account_endpoint(two_tenants, pki, tmp_path, clients,
                                                        localhost_names, unique):
    srv, a, b = two_tenants
    key, cert = pki.self_signed("two-accounts-%s" % uuid.uuid4().hex[:8])
    cert_path, key_path = tmp_path / "shared.pem.crt", tmp_path / "shared.private.pem.key"
    cert_path.write_text(pki.pem(cert))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    creds = Creds(cert_path, key_path, pki.cert_id(cert), None)

    base = "hostile/%s" % unique("sni")
    client_id = unique("dev")
    own = {a.account: "%s/a" % base, b.account: "%s/b" % base}
    for t in (a, b):
        arn = _register_without_ca(t, pki.pem(cert))["certificateArn"]
        policy = unique("pol")
        t.iot.create_policy(policyName=policy,
                            policyDocument=_device_policy(t, client_id, own[t.account]))
        t.iot.attach_policy(policyName=policy, target=arn)

    # Each account's listener: a subscriber on the plain port with the account's key, on the
    # same topics in both accounts.
    subs = {}
    for t in (a, b):
        sub = KeyPaho(srv.mqtt_plain_port, unique("sub"), V311, username=t.key,
                      password=t.secret)
        clients.append(sub)
        sub.connect()
        assert sub.subscribe(("%s/#" % base, 1)) == [1]
        subs[t.account] = sub

    # No meaningful server name (an IP, or a name that is no account's endpoint): the TLS
    # handshake succeeds, then the connection ends without a CONNACK.
    for host in ("127.0.0.1", "localhost"):
        dev = NamedPaho(host, srv, creds, client_id)
        clients.append(dev)
        assert dev.start().outcome() == "closed", host
        assert dev.connect_error is None, (host, dev.connect_error)

    host_a, host_b = a.endpoint(), b.endpoint()
    assert host_a != host_b
    # The server certificate covers the account names (normal verification with ca.pem).
    ctx = ssl.create_default_context(cafile=str(srv.ca_file))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    for host in (host_a, host_b):
        with socket.create_connection((host, srv.mqtt_port), timeout=WAIT) as tcp:
            with ctx.wrap_socket(tcp, server_hostname=host) as tls:
                assert ("DNS", "*.iot.us-east-1.localhost") in tls.getpeercert()["subjectAltName"]

    # With A's endpoint name: account A's device, A's policy.
    dev = NamedPaho(host_a, srv, creds, client_id)
    clients.append(dev)
    dev.connect()
    assert dev.publish_acked("%s/a/1" % base, b"as-a") == 0
    assert subs[a.account].next_message() == ("%s/a/1" % base, b"as-a", 1, False)
    assert dev.publish_acked("%s/b/1" % base, b"b-topic-as-a") == NOT_AUTHORIZED
    dev.stop()

    # With B's: account B's device. B's subscriber sees B's message first: neither of the
    # device's messages as A reached account B.
    dev = NamedPaho(host_b, srv, creds, client_id)
    clients.append(dev)
    dev.connect()
    assert dev.publish_acked("%s/b/2" % base, b"as-b") == 0
    assert subs[b.account].next_message() == ("%s/b/2" % base, b"as-b", 1, False)
    assert dev.publish_acked("%s/a/2" % base, b"a-topic-as-b") == NOT_AUTHORIZED
    dev.stop()

    # And nothing of B's reached A: A's next message is a marker published after them.
    a.data.publish(topic="%s/a/marker" % base, qos=1, payload=b"marker")
    assert subs[a.account].next_message() == ("%s/a/marker" % base, b"marker", 1, False)


# ==========================================================================
# 9. Fleet-query bounds
# ==========================================================================


def test_search_index_refuses_deep_and_long_queries(shoal_factory, aws_error, unique):
    srv = shoal_factory()
    fleet = admin_tenant(srv).fleet
    fleet.configure(things="REGISTRY", connectivity="OFF", groups="OFF")
    thing = unique("q")
    fleet.iot.create_thing(thingName=thing)
    fleet.wait_names("thingName:%s" % thing, [thing])

    for query in ("(" * 20000 + "a:b", "NOT " * 4000 + "a:b"):
        with aws_error("InvalidQueryException", 400):
            fleet.iot.search_index(indexName=THINGS, queryString=query)
        # Still up and answering.
        assert srv.proc.poll() is None
        assert fleet.names("thingName:%s" % thing) == [thing]


# ==========================================================================
# 10. iot-data Publish: properties no MQTT 5 subscriber could decode
# ==========================================================================


def _publish_raw(srv, topic, query, headers=None, body=b"payload"):
    path = "/topics/%s?%s" % (urllib.parse.quote(topic, safe=""), query)
    status, hdrs, resp = send_signed(srv.endpoint, "POST", path, body=body, headers=headers,
                                     access_key=srv.access_key, secret_key=srv.secret_key,
                                     service="iotdata")
    return status, header_dict(hdrs), resp


def _user_properties(pairs):
    return base64.b64encode(json.dumps(pairs).encode()).decode()


def _assert_nothing_retained(tenant, topic, aws_error):
    with aws_error("ResourceNotFoundException", 404):
        tenant.data.get_retained_message(topic=topic)


def _mqtt5_subscriber_is_fine(srv, tenant, topic, clients):
    """An MQTT 5 subscriber on `topic` connects, subscribes and gets a live message as its
    first (no retained message before it), and stays connected."""
    sub = KeyPaho(srv.mqtt_plain_port, "v5-" + uuid.uuid4().hex[:10], V5,
                  username=tenant.key, password=tenant.secret)
    clients.append(sub)
    sub.connect()
    assert sub.subscribe((topic, 1)) == [1]
    tenant.data.publish(topic=topic, qos=1, payload=b"live")
    assert sub.next_message() == (topic, b"live", 1, False)
    assert not sub.closed.is_set(), sub.disconnect_reason


def test_publish_refuses_properties_a_subscriber_could_not_decode(server, unique, clients,
                                                                  aws_error):
    admin = Tenant(server, None, server.access_key, server.secret_key)
    topic = "hostile/%s/props" % unique("pub")

    # A NUL character in a user property (MQTT 5 §1.5.4 forbids U+0000).
    status, headers, body = _publish_raw(
        server, topic, "qos=1&retain=true",
        headers={"x-amz-mqtt5-user-properties": _user_properties([{"k": "a\u0000b"}])})
    assert_aws_error(status, headers, body, "InvalidRequestException", 400)

    # A 70 KB user property (over MQTT 5's 65,535-byte strings), retained.
    status, headers, body = _publish_raw(
        server, topic, "qos=1&retain=true",
        headers={"x-amz-mqtt5-user-properties": _user_properties([{"k": "v" * 70 * 1024}])})
    assert_aws_error(status, headers, body, "InvalidRequestException", 400)

    # A 70 KB contentType, retained: refused too (the exact answer is checked below).
    status, headers, body = _publish_raw(
        server, topic, "qos=1&retain=true&contentType=" + "x" * 70 * 1024)
    assert 400 <= status < 500, (status, headers, body)

    _assert_nothing_retained(admin, topic, aws_error)
    _mqtt5_subscriber_is_fine(server, admin, topic, clients)
