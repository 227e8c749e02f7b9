"""Shared fixtures for the Shoal end-to-end suite.

Shoal is driven exactly as a user would drive it: the `shoal` binary is started
as a child process, its readiness line is read from stdout, and unmodified boto3
and AWS CLI clients are pointed at the printed endpoint.

Fixtures:
  server          one Shoal server for the whole session (tests use unique names)
  iot             boto3 IoT client for that server (default account, us-east-1)
  iot_raw         same, with client-side parameter validation off, so that
                  invalid input reaches the server instead of botocore
  shoal_factory   starts extra servers (own data dir) for tests that crash,
                  restart or create accounts; all are stopped at teardown
  shoal_cli       runs `shoal <subcommand>` and returns the CompletedProcess
  aws_cli         runs `aws ...` against a server with an isolated environment
  aws_error       context manager asserting an AWS error code / HTTP status
  unique          unique, valid resource names
  signed_request  sends a hand-signed (SigV4) raw HTTP request with urllib
  raw_http        the same for any endpoint (or unsigned with sign=False)
  aws_cli_for     aws_cli for a server started by shoal_factory
  pki             X.509 helpers (keys, CSRs, CA and device certificates)
"""

import contextlib
import datetime
import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

# The operator's scrape token every test server gets ([metrics] token): GET /metrics with it
# shows every account; a SigV4-signed scrape shows the signer's account only.
METRICS_TOKEN = "e2e-scrape-token"
READY_TIMEOUT = 20.0  # seconds to wait for the export line after `shoal serve`
STOP_TIMEOUT = 20.0  # seconds to wait for a graceful shutdown
DEFAULT_REGION = "us-east-1"


# --------------------------------------------------------------------------
# Environment hygiene: the developer's AWS config must not leak into the run.
# --------------------------------------------------------------------------

_EMPTY_DIR = tempfile.mkdtemp(prefix="shoal-e2e-awsconf-")
EMPTY_AWS_CONFIG = os.path.join(_EMPTY_DIR, "config")
EMPTY_AWS_CREDENTIALS = os.path.join(_EMPTY_DIR, "credentials")
for _p in (EMPTY_AWS_CONFIG, EMPTY_AWS_CREDENTIALS):
    Path(_p).write_text("")


def pytest_configure(config):
    for var in list(os.environ):
        if var.startswith("AWS_"):
            del os.environ[var]
    os.environ["AWS_CONFIG_FILE"] = EMPTY_AWS_CONFIG
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = EMPTY_AWS_CREDENTIALS
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    # Loopback traffic must never go through a proxy.
    no_proxy = "127.0.0.1,localhost"
    for var in ("NO_PROXY", "no_proxy"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var), no_proxy]))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_EMPTY_DIR, ignore_errors=True)


# --------------------------------------------------------------------------
# Locating and running the binary
# --------------------------------------------------------------------------


def find_shoal_bin():
    candidates = []
    if os.environ.get("SHOAL_BIN"):
        candidates.append(Path(os.environ["SHOAL_BIN"]))
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "shoal")
    candidates.append(Path.home() / ".cache" / "shoal-target" / "debug" / "shoal")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise RuntimeError(
        "shoal binary not found; set SHOAL_BIN (tried: %s)"
        % ", ".join(str(c) for c in candidates)
    )


def parse_export_line(line):
    """`export A=1 B=2` -> {"A": "1", "B": "2"}."""
    words = shlex.split(line.strip())
    assert words and words[0] == "export", "not an export line: %r" % line
    out = {}
    for w in words[1:]:
        k, sep, v = w.partition("=")
        assert sep, "malformed assignment %r in %r" % (w, line)
        out[k] = v
    return out


def run_shoal(*args, check=True, timeout=60):
    proc = subprocess.run(
        [find_shoal_bin(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            "shoal %s exited %d\nstdout:\n%s\nstderr:\n%s"
            % (" ".join(map(str, args)), proc.returncode, proc.stdout, proc.stderr)
        )
    return proc


def make_client(endpoint, access_key, secret_key, region=DEFAULT_REGION,
                validate=True, **config_kwargs):
    """A plain boto3 IoT client; nothing but the endpoint is non-standard."""
    cfg = Config(
        # One attempt in total: a retry would hide the first answer and could
        # repeat a non-idempotent call.
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
        connect_timeout=config_kwargs.pop("connect_timeout", 10),
        read_timeout=config_kwargs.pop("read_timeout", 30),
        **config_kwargs,
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
    )
    return session.client("iot", endpoint_url=endpoint, config=cfg)


_STARTED = []  # every ShoalServer started in this run, for failure reports


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _STARTED:
        rep.sections.append(("shoal server logs (stderr files)",
                             "\n".join(str(s.stderr_path) for s in _STARTED[-4:])))


class ShoalServer:
    """One `shoal serve` child process bound to an ephemeral port."""

    def __init__(self, data_dir, log_dir=None, env=None):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir) if log_dir else self.data_dir.parent
        # Extra environment variables for the server (e.g. SHOAL_MQTT_PROFILE).
        self.env = dict(env or {})
        self.proc = None
        self.stdout_lines = []
        self.stderr_path = None
        self.exports = {}
        self.api_line = None
        self.mqtt_line = None
        self.mqtt_plain_line = None
        self.https_line = None
        self.tunnel_line = None

    # -- lifecycle --------------------------------------------------------

    def start(self):
        # Server logs (stderr) go to a file next to the data dir, kept by pytest's
        # tmp_path retention for post-mortems.
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fd, self.stderr_path = tempfile.mkstemp(prefix="shoal-stderr-", suffix=".log",
                                                dir=str(self.log_dir))
        stderr_file = os.fdopen(fd, "w")
        self.proc = subprocess.Popen(
            [find_shoal_bin(), "serve", "--data", str(self.data_dir), "--api", "127.0.0.1:0",
             "--mqtt", "127.0.0.1:0", "--device-https", "127.0.0.1:0", "--tunnel", "127.0.0.1:0",
             "--mqtt-plain", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            # Rule actions may reach receivers the tests run on 127.0.0.1, and no other
            # non-public address (the SSRF guard's tests use 127.0.0.2).
            env={**os.environ, "SHOAL_METRICS_TOKEN": METRICS_TOKEN,
                 "SHOAL_RULES_ALLOW_NETWORKS": "127.0.0.1/32", **self.env},
        )
        stderr_file.close()
        _STARTED.append(self)
        lines = queue.Queue()

        def pump():
            # Keep draining stdout for the life of the process so it never blocks.
            for line in self.proc.stdout:
                self.stdout_lines.append(line.rstrip("\n"))
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError("shoal serve not ready after %.0fs\n%s"
                                     % (READY_TIMEOUT, self.describe_output()))
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=5)
                raise AssertionError("shoal serve exited (%s) before ready\n%s"
                                     % (self.proc.returncode, self.describe_output()))
            if line.strip().startswith("api "):
                self.api_line = line
            if line.strip().startswith("mqtt "):
                self.mqtt_line = line
            if line.strip().startswith("mqtt-tcp "):
                self.mqtt_plain_line = line
            if line.strip().startswith("https "):
                self.https_line = line
            if line.strip().startswith("tunnel "):
                self.tunnel_line = line
            if line.strip().startswith("export AWS_ENDPOINT_URL="):
                self.exports = parse_export_line(line)
                return self

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send `sig` and wait; returns the exit code (kills on timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("shoal did not exit within %ss of %s" % (timeout, sig))

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return self.proc.returncode if self.proc else None

    def describe_output(self):
        err = Path(self.stderr_path).read_text(errors="replace") if self.stderr_path else ""
        return "stdout:\n%s\nstderr (tail):\n%s" % ("\n".join(self.stdout_lines), err[-4000:])

    # -- connection details ----------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    @property
    def endpoint(self):
        return self.exports["AWS_ENDPOINT_URL"]

    @property
    def access_key(self):
        return self.exports["AWS_ACCESS_KEY_ID"]

    @property
    def secret_key(self):
        return self.exports["AWS_SECRET_ACCESS_KEY"]

    @property
    def region(self):
        return self.exports.get("AWS_REGION", DEFAULT_REGION)

    def _port(self, line, scheme, what):
        """The port of a listener from its ready line, `  NAME     SCHEME://HOST:PORT   ...`."""
        assert line is not None, "no %s line in %r" % (what, self.stdout_lines)
        url = line.split()[1]
        assert url.startswith(scheme + "://"), line
        return int(url.rsplit(":", 1)[1])

    @property
    def mqtt_port(self):
        """The MQTT device listener (TLS)."""
        return self._port(self.mqtt_line, "mqtts", "mqtt")

    @property
    def mqtt_plain_port(self):
        """The plain-TCP MQTT listener."""
        return self._port(self.mqtt_plain_line, "mqtt", "mqtt-tcp")

    @property
    def device_https_port(self):
        """The device HTTPS listener."""
        return self._port(self.https_line, "https", "https")

    @property
    def tunnel_port(self):
        """The secure-tunneling proxy endpoint (wss)."""
        return self._port(self.tunnel_line, "wss", "tunnel")

    @property
    def ca_file(self):
        """The root CA devices trust (DATA/ca.pem)."""
        return self.data_dir / "ca.pem"

    def client(self, region=None, access_key=None, secret_key=None, validate=True, **kw):
        return make_client(
            self.endpoint,
            access_key or self.access_key,
            secret_key or self.secret_key,
            region or DEFAULT_REGION,
            validate=validate,
            **kw,
        )

    # -- admin CLI against this data dir ----------------------------------

    def create_account(self):
        """`shoal account create` -> (account_id, access_key, secret_key)."""
        out = run_shoal("account", "create", "--data", self.data_dir).stdout
        lines = [l for l in out.splitlines() if l.strip()]
        account_line = next(l for l in lines if l.split()[0] == "account")
        account_id = account_line.split()[1]
        exports = parse_export_line(next(l for l in lines if l.startswith("export ")))
        return account_id, exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]

    def create_key(self, account=None):
        """`shoal key create [--account N]` -> (access_key, secret_key)."""
        args = ["key", "create", "--data", self.data_dir]
        if account:
            args += ["--account", account]
        out = run_shoal(*args).stdout
        exports = parse_export_line(next(l for l in out.splitlines() if l.startswith("export ")))
        return exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = ShoalServer(tmp_path_factory.mktemp("shoal-session") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def shoal_factory(tmp_path):
    """Call with an optional data dir (and extra environment variables for the server);
    returns a started ShoalServer."""
    started = []

    def start(data_dir=None, env=None):
        srv = ShoalServer(data_dir or (tmp_path / ("data-%d" % len(started))), env=env)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        try:
            srv.stop()
        except AssertionError:
            srv.kill()


@pytest.fixture(scope="session")
def iot(server):
    return server.client()


@pytest.fixture(scope="session")
def iot_raw(server):
    return server.client(validate=False)


@pytest.fixture(scope="session")
def account_id(iot, server):
    """Account of the admin key, read back from an ARN the server produced."""
    name = "acct-probe-" + uuid.uuid4().hex[:10]
    arn = iot.create_thing(thingName=name)["thingArn"]
    iot.delete_thing(thingName=name)
    return arn.split(":")[4]


@pytest.fixture
def unique():
    """unique("thing") -> "thing-1a2b3c4d5e" (valid for every IoT name pattern)."""
    return lambda prefix="t": "%s-%s" % (prefix, uuid.uuid4().hex[:10])


@pytest.fixture(scope="session")
def shoal_cli():
    return run_shoal


@pytest.fixture(scope="session")
def aws_error():
    @contextlib.contextmanager
    def check(code, status=None):
        with pytest.raises(ClientError) as ei:
            yield ei
        got = ei.value.response["Error"]["Code"]
        assert got == code, "expected %s, got %s: %s" % (code, got, ei.value)
        if status is not None:
            got_status = ei.value.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got_status == status, "expected HTTP %s, got %s" % (status, got_status)

    return check


def _aws_executable():
    beside = Path(sys.executable).parent / "aws"
    if beside.exists():
        return str(beside)
    found = shutil.which("aws")
    if not found:
        raise RuntimeError("aws CLI not found")
    return found


class AwsCliError(Exception):
    def __init__(self, returncode, stderr):
        super().__init__("aws exited %d: %s" % (returncode, stderr.strip()))
        self.returncode = returncode
        self.stderr = stderr


def run_aws(endpoint, access_key, secret_key, *args, region=DEFAULT_REGION, timeout=60):
    """Run the AWS CLI with nothing but these settings; returns parsed JSON or None."""
    home = tempfile.mkdtemp(prefix="shoal-e2e-home-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_PROXY": os.environ.get("NO_PROXY", "127.0.0.1,localhost"),
        "no_proxy": os.environ.get("no_proxy", "127.0.0.1,localhost"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": EMPTY_AWS_CONFIG,
        "AWS_SHARED_CREDENTIALS_FILE": EMPTY_AWS_CREDENTIALS,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    }
    try:
        proc = subprocess.run(
            [_aws_executable(), *args, "--output", "json"],
            env=env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0:
        raise AwsCliError(proc.returncode, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture(scope="session")
def aws_cli(server):
    """aws_cli("iot", "list-things") against the session server (admin key)."""
    return lambda *args, **kw: run_aws(
        server.endpoint, server.access_key, server.secret_key, *args, **kw)


def send_signed(endpoint, method, path, body=None, headers=None,
                access_key=None, secret_key=None, region=DEFAULT_REGION,
                service="iot", sign=True):
    """Send a raw request (optionally SigV4-signed by botocore's signer).

    Returns (status, headers, body_bytes); HTTP errors are returned, not raised.
    """
    url = endpoint.rstrip("/") + path
    hdrs = dict(headers or {})
    if body is not None and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/json"
    if sign:
        req = AWSRequest(method=method, url=url, data=body, headers=hdrs)
        SigV4Auth(Credentials(access_key, secret_key), service, region).add_auth(req)
        hdrs = dict(req.headers.items())
    raw = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(raw, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture(scope="session")
def signed_request(server):
    def send(method, path, body=None, **kw):
        kw.setdefault("access_key", server.access_key)
        kw.setdefault("secret_key", server.secret_key)
        return send_signed(server.endpoint, method, path, body=body, **kw)

    return send


@pytest.fixture(scope="session")
def raw_http():
    """raw_http(endpoint, method, path, body=None, access_key=.., secret_key=.., sign=True)."""
    return send_signed


@pytest.fixture(scope="session")
def aws_cli_for():
    """aws_cli_for(server_or_endpoint_tuple, *args, region=..) for servers other than the session one."""
    def run(srv, *args, access_key=None, secret_key=None, **kw):
        return run_aws(srv.endpoint, access_key or srv.access_key,
                       secret_key or srv.secret_key, *args, **kw)

    return run


# --------------------------------------------------------------------------
# X.509 helpers (cryptography) for the certificate, CA and policy tests
# --------------------------------------------------------------------------


class Pki:
    """Small helpers to make keys, CSRs and certificates the way a user would
    with openssl: CA certificates, verification certificates, device
    certificates and certificate signing requests."""

    def __init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import NameOID

        self.x509, self.hashes, self.serialization = x509, hashes, serialization
        self.ec, self.rsa, self.NameOID = ec, rsa, NameOID

    def key(self, kind="rsa"):
        """kind: "rsa" (2048), "rsa4096", "p256", "p384" or "p521"."""
        if kind == "rsa":
            return self.rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa4096":
            return self.rsa.generate_private_key(public_exponent=65537, key_size=4096)
        curve = {"p256": self.ec.SECP256R1, "p384": self.ec.SECP384R1,
                 "p521": self.ec.SECP521R1}[kind]
        return self.ec.generate_private_key(curve())

    def name(self, cn, org=None):
        attrs = []
        if org:
            attrs.append(self.x509.NameAttribute(self.NameOID.ORGANIZATION_NAME, org))
        attrs.append(self.x509.NameAttribute(self.NameOID.COMMON_NAME, cn))
        return self.x509.Name(attrs)

    def cert(self, subject_cn, public_key, issuer_key, issuer_cert=None, ca=False,
             days=365, org=None):
        """A certificate for `public_key`, signed by `issuer_key` (self-signed
        when issuer_cert is None). ca=True adds CA basic constraints."""
        x509 = self.x509
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = self.name(subject_cn, org)
        issuer = issuer_cert.subject if issuer_cert is not None else subject
        b = (x509.CertificateBuilder()
             .subject_name(subject)
             .issuer_name(issuer)
             .public_key(public_key)
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=days)))
        if ca:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            b = b.add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        else:
            b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        return b.sign(issuer_key, self.hashes.SHA256())

    def ca(self, cn="Test CA", kind="rsa"):
        """A self-signed CA -> (key, cert)."""
        key = self.key(kind)
        return key, self.cert(cn, key.public_key(), key, ca=True, days=3650)

    def signed_by(self, cn, ca_key, ca_cert, kind="rsa"):
        """A leaf certificate signed by the CA -> (key, cert)."""
        key = self.key(kind)
        return key, self.cert(cn, key.public_key(), ca_key, ca_cert)

    def self_signed(self, cn, kind="rsa"):
        key = self.key(kind)
        return key, self.cert(cn, key.public_key(), key)

    def csr(self, key, cn, org=None, digest="sha256"):
        """PEM of a CSR for `key` with subject CN (and O), signed with SHA-`digest`."""
        algo = {"sha256": self.hashes.SHA256, "sha384": self.hashes.SHA384,
                "sha512": self.hashes.SHA512}[digest]()
        req = (self.x509.CertificateSigningRequestBuilder()
               .subject_name(self.name(cn, org))
               .sign(key, algo))
        return req.public_bytes(self.serialization.Encoding.PEM).decode()

    def pem(self, cert):
        return cert.public_bytes(self.serialization.Encoding.PEM).decode()

    def load(self, pem_text):
        return self.x509.load_pem_x509_certificate(
            pem_text.encode() if isinstance(pem_text, str) else pem_text)

    def der(self, cert):
        return cert.public_bytes(self.serialization.Encoding.DER)

    def cert_id(self, cert_or_pem):
        """AWS IoT's certificate id: hex SHA-256 of the DER encoding."""
        import hashlib
        cert = self.load(cert_or_pem) if isinstance(cert_or_pem, (str, bytes)) else cert_or_pem
        return hashlib.sha256(self.der(cert)).hexdigest()

    def spki(self, public_key):
        """SubjectPublicKeyInfo DER of a public key, for comparisons."""
        return public_key.public_bytes(self.serialization.Encoding.DER,
                                       self.serialization.PublicFormat.SubjectPublicKeyInfo)

    def common_name(self, cert):
        return cert.subject.get_attributes_for_oid(self.NameOID.COMMON_NAME)[0].value

    def verification_cert(self, registration_code, ca_key, ca_cert, kind="rsa"):
        """The key-verification certificate RegisterCACertificate wants: a
        certificate with CN = registration code, signed by the CA's key."""
        return self.signed_by(registration_code, ca_key, ca_cert, kind)[1]

    def register_ca(self, client, cn=None, active=True, kind="rsa"):
        """Make a CA and register it as a user would -> (ca_key, ca_cert, ca_id)."""
        cn = cn or "Test CA %s" % uuid.uuid4().hex[:10]
        ca_key, ca_cert = self.ca(cn, kind)
        code = client.get_registration_code()["registrationCode"]
        resp = client.register_ca_certificate(
            caCertificate=self.pem(ca_cert),
            verificationCertificate=self.pem(self.verification_cert(code, ca_key, ca_cert)),
            setAsActive=active)
        return ca_key, ca_cert, resp["certificateId"]


@pytest.fixture(scope="session")
def pki():
    return Pki()
