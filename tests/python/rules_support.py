"""Helpers shared by the rules-engine modules (test_rules.py and test_rules_actions.py).

Not a test module (pytest collects only test_*.py); it is imported by plain module name, like
fleet_support.

  ROLE            the roleArn every action carries (AWS requires one; Shoal has no IAM)
  rule_name       a unique, valid rule name (`^[a-zA-Z0-9_]+$`)
  topic_of        a unique topic under a prefix
  republish       a republish action
  Receiver        a threaded HTTP server on 127.0.0.1 that records every request and answers
                  200 (or the statuses it is told to)
  rules, dev, receiver, data, s3, logs, tester
                  fixtures (import them by name into a test module)
  error_message   the next errorAction message a client receives (JSON)
  action_counts   the rule's shoal_rule_actions_total counters from GET /metrics
"""

import http.server
import json
import queue
import re
import threading
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import DEFAULT_REGION, METRICS_TOKEN
from test_mqtt_gateway import V311, WAIT, allow_all_policy

ROLE = "arn:aws:iam::123456789012:role/shoal-rules"


def rule_name():
    return "r_" + uuid.uuid4().hex


def topic_of(prefix="rt"):
    return "%s/%s" % (prefix, uuid.uuid4().hex[:12])


def republish(topic, qos=1, **extra):
    return {"republish": {"topic": topic, "roleArn": ROLE, "qos": qos, **extra}}


def error_code(exc_info):
    """(code, HTTP status, message) of a botocore ClientError."""
    r = exc_info.value.response
    return (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"],
            r["Error"].get("Message", ""))


def client_config():
    return Config(retries={"total_max_attempts": 1, "mode": "standard"},
                  connect_timeout=10, read_timeout=30)


def service_client(server, service):
    return boto3.session.Session(
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        region_name=DEFAULT_REGION,
    ).client(service, endpoint_url=server.endpoint, config=client_config())


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture
def rules(iot):
    """rules(sql, actions, error_action=None, name=None, **payload_fields) -> rule name.
    Every rule made is deleted at teardown (the session server is shared)."""
    made = []

    def create(sql, actions=(), error_action=None, name=None, **fields):
        name = name or rule_name()
        payload = {"sql": sql, "actions": list(actions), **fields}
        if error_action is not None:
            payload["errorAction"] = error_action
        iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
        made.append(name)
        return name

    yield create
    for n in made:
        try:
            iot.delete_topic_rule(ruleName=n)
        except ClientError:
            pass


@pytest.fixture
def dev(make_device, mk):
    """dev(protocol=V311) -> a connected paho Client (MQTT 5 properties kept) whose client
    id is a thing with an allow-all policy; up to four per test."""
    creds, things = make_device(allow_all_policy(), things=4)
    free = list(things)

    def connect(protocol=V311, **kw):
        c = mk(creds, free.pop(0), protocol)
        c.connect(**kw)
        return c

    return connect


@pytest.fixture
def fresh(shoal_factory, tmp_path, mk):
    """fresh() -> (server, iot client, connect): a server of the test's own (nothing another
    test left behind, such as offline persistent sessions or $aws/events subscriptions, changes
    what it does) and connect(protocol=V311) -> a connected client on it."""

    def make():
        from test_mqtt_sessions import make_device_on
        srv = shoal_factory()
        iot = srv.client()
        creds, things = make_device_on(iot, tmp_path, allow_all_policy(), things=4)
        free = list(things)

        def connect(protocol=V311, **kw):
            c = mk(creds, free.pop(0), protocol, srv=srv)
            c.connect(**kw)
            return c

        return srv, iot, connect

    return make


@pytest.fixture(scope="session")
def data(server):
    """boto3 `iot-data` for the session server."""
    return service_client(server, "iot-data")


@pytest.fixture(scope="session")
def s3(server):
    return service_client(server, "s3")


@pytest.fixture(scope="session")
def logs(server):
    return service_client(server, "logs")


@pytest.fixture(scope="session")
def tester(signed_request):
    """tester(body) -> (HTTP status, parsed answer) of POST /shoal/rules/test (SigV4, `iot`)."""

    def run(body, **kw):
        status, _, raw = signed_request("POST", "/shoal/rules/test",
                                        json.dumps(body).encode(), **kw)
        return status, (json.loads(raw) if raw else None)

    return run


# --------------------------------------------------------------------------
# An HTTP receiver for HTTP actions and destination confirmations
# --------------------------------------------------------------------------


class Receiver:
    """Records every request (method, path, query, headers with lower-case names, body) on a
    queue and answers 200, or the next of the statuses given to `answer`."""

    def __init__(self):
        self.requests = queue.Queue()
        self.seen = []
        self._lock = threading.Lock()
        self._statuses = []
        self.default = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                parts = urllib.parse.urlsplit(self.path)
                req = {
                    "method": self.command,
                    "path": parts.path,
                    "query": {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                with receiver._lock:
                    status = receiver._statuses.pop(0) if receiver._statuses else receiver.default
                    receiver.seen.append(req)
                receiver.requests.put(req)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def answer(self, *statuses, default=None):
        """The next requests get `statuses` in order, then `default` (unchanged if None)."""
        with self._lock:
            self._statuses = list(statuses)
            if default is not None:
                self.default = default

    def next(self, pred=lambda r: True, timeout=WAIT):
        """The next recorded request `pred` accepts (others are skipped)."""
        skipped = []
        while True:
            try:
                req = self.requests.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("no matching HTTP request within %ss (skipped %r)"
                                     % (timeout, skipped))
            if pred(req):
                return req
            skipped.append((req["method"], req["path"], req["body"][:80]))

    def confirmation(self, timeout=WAIT):
        return self.next(lambda r: r["headers"].get("x-amz-rules-engine-message-type")
                         == "DestinationConfirmation", timeout)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver(iot):
    """receiver() -> a new Receiver; its destinations are deleted and it is closed at
    teardown."""
    made = []

    def make():
        r = Receiver()
        made.append(r)
        return r

    yield make
    prefixes = [r.url("") for r in made]
    if prefixes:
        for d in iot.list_topic_rule_destinations(maxResults=1000)["destinationSummaries"]:
            url = d["httpUrlSummary"]["confirmationUrl"]
            if any(url.startswith(p) for p in prefixes):
                try:
                    iot.delete_topic_rule_destination(arn=d["arn"])
                except ClientError:
                    pass
    for r in made:
        r.close()


def create_destination(iot, url):
    return iot.create_topic_rule_destination(
        destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": url}},
    )["topicRuleDestination"]


def enabled_destination(iot, rcv, path="/"):
    """A destination for rcv.url(path), confirmed with the token it was sent -> its ARN."""
    d = create_destination(iot, rcv.url(path))
    token = rcv.confirmation()["query"]["confirmationToken"]
    iot.confirm_topic_rule_destination(confirmationToken=token)
    assert iot.get_topic_rule_destination(arn=d["arn"])["topicRuleDestination"]["status"] \
        == "ENABLED"
    return d["arn"]


# --------------------------------------------------------------------------
# Reading results
# --------------------------------------------------------------------------


def error_message(client, topic, timeout=WAIT):
    """The JSON of the next message on `topic` (the error action's republish target)."""
    while True:
        got = client.next_message(timeout)
        if got[0] == topic:
            return json.loads(got[1])


def scrape(server):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(server.endpoint.rstrip("/") + "/metrics",
                                 headers={"Authorization": "Bearer " + METRICS_TOKEN})
    with opener.open(req, timeout=30) as resp:
        assert resp.status == 200
        return resp.read().decode()


ACTION_LINE = re.compile(
    r'shoal_rule_actions_total\{account="(\d+)",region="([^"]+)",rule="([^"]+)",'
    r'index="([^"]+)",outcome="([^"]+)"\} (\d+)')


def action_counts(server, rule):
    """{(index, outcome): count} of one rule's action counters on /metrics."""
    out = {}
    for line in scrape(server).splitlines():
        m = ACTION_LINE.fullmatch(line)
        if m and m.group(3) == rule:
            out[(m.group(4), m.group(5))] = int(m.group(6))
    return out
