"""Bounded, seeded fuzzer of the HTTP API, driven by botocore's own service models.

Every operation of the `iot` and `iot-data` models is called with requests built
from its input shape (URI labels, query string, headers, JSON body or raw payload),
mostly with valid-looking values and sometimes with hostile ones. Each request is
SigV4-signed so that it gets past authentication and reaches the handlers.

What must hold for every request: an answer arrives (no reset, no timeout); no 5xx
(a 500 InternalFailureException is still reported: it means a handler failed);
every 4xx has an `x-amzn-ErrorType` header and a JSON body with a `message`. After
each batch a plain ListThings must still work. All findings are reported at once.

  SHOAL_FUZZ_API_SECONDS  time budget of the fuzz loop (default 60)
  SHOAL_FUZZ_SEED         seed (fixed by default). Request #i's input depends only on
                          (seed, i), and the run as a whole only on the seed and the
                          server's answers, so a failing run replays with its seed.
"""

import base64
import collections
import datetime
import http.client
import json
import os
import random
import string
import time
import urllib.parse

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SEED = int(os.environ.get("SHOAL_FUZZ_SEED", "20250611"))
BUDGET = float(os.environ.get("SHOAL_FUZZ_API_SECONDS", "60"))
BATCH = 25  # requests between two health checks
REQUEST_TIMEOUT = 20.0  # seconds; a debug build can be slow on large inputs, not this slow
MAX_DEPTH = 5  # shapes nest (and some recurse); deeper structures are left empty
NAME_POOL = 3  # ids and names come from a tiny pool so creates, reads and deletes collide
EPOCH = 1_760_000_000  # timestamps are drawn around a fixed instant so that runs replay

LONG = "a" * 70_000  # above http's 64 KiB URI limit and most member length limits
UNICODE = "\u00fc\u65e5\u672c\x00\u202e\U0001F600\ud800"  # NUL, bidi override, lone surrogate

# Hostile values by location. Labels and query values are in wire form (already
# percent-encoded, or deliberately broken encodings) and are sent as they are.
HOSTILE_WIRE = ["", ".", "..", "../..", "%2F", "..%2F..%2F", "%", "%zz", "%00", "%ED%A0%80",
                "%FF%FE", "%C0%AF", urllib.parse.quote(UNICODE.encode("utf-8", "surrogatepass")),
                LONG, "-1", "99999999999999999999999", "1.5", "NaN"]
# Header values: ASCII only, since http.client refuses CR/LF and sends latin-1 while
# botocore signs UTF-8, so other values could never carry a valid signature.
HOSTILE_HEADER = ["", "-1", "99999999999999999999", "%zz", "  a  b  ", "{]", "a" * 8000]
# JSON members: also wrong types, and inf, which json.dumps writes as (invalid) Infinity.
HOSTILE_JSON = ["", LONG, UNICODE, "../../../etc/passwd", "%2F", 2**64, -(2**63) - 1, -1, 0,
                1e308, float("inf"), None, True, [], {}, [[["x"]]], {"a": {"b": 1}}, "x"]

# Whole request bodies that replace the serialised JSON body.
HOSTILE_BODIES = [
    ("10,000 nested arrays", b"[" * 10_000 + b"]" * 10_000),
    ("10,000 nested objects", ('{"a":' * 10_000 + "1" + "}" * 10_000).encode()),
    ("truncated JSON", b'{"a": '),
    ("not UTF-8", b"\xff\xfe\x00{"),
    ("2 MB body", b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'),  # above any body limit
    ("JSON null", b"null"), ("JSON array", b"[]"), ("JSON string", b'"x"'),
    ("huge exponent", b"1e999999"), ("duplicate keys", b'{"a": 1, "a": 2}'),
    ("empty body", b""),
]


class WireSigV4Auth(SigV4Auth):
    """botocore's signer, with the canonical query computed from the wire query.

    botocore signs a query string it built itself and takes the URL's query as
    canonical as-is; for hand-made queries (broken escapes, bytes that are not
    UTF-8) SigV4 says: decode each name and value, then URI-encode it again.
    """

    def canonical_query_string(self, request):
        query = urllib.parse.urlsplit(request.url).query
        pairs = []
        for pair in filter(None, query.split("&")):
            k, _, v = pair.partition("=")
            pairs.append(tuple(urllib.parse.quote(urllib.parse.unquote_to_bytes(x), safe="-_.~")
                               for x in (k, v)))
        return "&".join("%s=%s" % kv for kv in sorted(pairs))


class Gen:
    """Random values for botocore shapes; `spice` is the chance a value turns hostile."""

    def __init__(self, rng, spice):
        self.rng, self.spice, self.hostile = rng, spice, []

    def _spiced(self, path):
        if self.rng.random() >= self.spice:
            return False
        self.hostile.append(path)
        return True

    def wire(self, shape, path, greedy=False):
        """A label or query value in wire form (percent-encoded as botocore would)."""
        if self._spiced(path):
            return self.rng.choice(HOSTILE_WIRE)
        v = self.scalar(shape, path, query=True)
        text = json.dumps(v) if isinstance(v, bool) else str(v)
        return urllib.parse.quote(text, safe="/~" if greedy else "~")

    def header(self, shape, path):
        if self._spiced(path):
            return self.rng.choice(HOSTILE_HEADER)
        v = self.scalar(shape, path, query=True)
        return json.dumps(v) if isinstance(v, bool) else str(v)

    def scalar(self, shape, path, query=False):
        rng, t, meta = self.rng, shape.type_name, shape.metadata
        if t == "string":
            if shape.enum:
                return rng.choice(shape.enum)
            return self.string(path.rsplit(".", 1)[-1], meta.get("min", 1), meta.get("max", 64))
        if t in ("integer", "long"):
            lo = meta.get("min", 0)
            return rng.randint(lo, min(meta.get("max", lo + 100), lo + 100))
        if t in ("float", "double"):
            return round(rng.uniform(0, 100), 3)
        if t == "boolean":
            return rng.random() < 0.5
        if t == "timestamp":
            ts = EPOCH + rng.randint(-86400, 86400)
            if query:
                return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat()
            return int(ts)
        if t == "blob":
            return base64.b64encode(rng.randbytes(rng.randint(0, 32))).decode()
        return "x"

    def string(self, member, lo, hi):
        rng, low = self.rng, member.lower()
        if "policydocument" in low:
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
        if low == "querystring":
            return rng.choice(["thingName:fuzz-*", "*", "attributes.a:1", "thingName:"])
        if low.endswith("arn"):
            return "arn:aws:iot:us-east-1:123456789012:thing/fuzz-%d" % rng.randrange(NAME_POOL)
        if low.endswith(("name", "id", "topic")) and hi >= 6:
            return "fuzz-%d" % rng.randrange(NAME_POOL)
        n = max(lo, min(hi, rng.randint(1, 12)))
        return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(n))

    def doc(self, shape, path, depth=0):
        """A JSON value for a body member (possibly hostile anywhere in the tree)."""
        rng = self.rng
        if self._spiced(path):
            return rng.choice(HOSTILE_JSON)
        t = shape.type_name
        if t == "structure":
            if depth >= MAX_DEPTH:
                return {}
            return {m.serialization.get("name", name): self.doc(m, path + "." + name, depth + 1)
                    for name, m in shape.members.items()
                    if name in shape.required_members or rng.random() < 0.4}
        if t == "list":
            n = max(shape.metadata.get("min", 0), rng.randint(0, 3)) if depth < MAX_DEPTH else 0
            return [self.doc(shape.member, path + "[]", depth + 1) for _ in range(n)]
        if t == "map":
            n = rng.randint(0, 3) if depth < MAX_DEPTH else 0
            return {str(self.scalar(shape.key, path + ".key")): self.doc(shape.value, path + "{}",
                                                                           depth + 1)
                    for _ in range(n)}
        return self.scalar(shape, path)


def build_request(rng, op):
    """(method, path+query, headers, body, note) for one random call of `op`."""
    mode = rng.choices(["valid", "members", "body"], weights=[55, 30, 15])[0]
    gen = Gen(rng, spice=0.2 if mode == "members" else 0.0)
    uri, _, static_query = op.http["requestUri"].partition("?")
    query = [q for q in static_query.split("&") if q]
    headers, body_doc, payload = {}, {}, None
    shape = op.input_shape
    members = shape.members.items() if shape is not None else []
    payload_name = shape.serialization.get("payload") if shape is not None else None
    for name, m in members:
        loc, wire_name = m.serialization.get("location"), m.serialization.get("name", name)
        required = name in shape.required_members
        if loc == "uri":
            greedy = "{%s+}" % wire_name in uri
            value = gen.wire(m, name, greedy)
            uri = uri.replace("{%s+}" % wire_name, value).replace("{%s}" % wire_name, value)
        elif not required and rng.random() < 0.5:
            continue  # optional members are left out half of the time
        elif loc == "querystring":
            if m.type_name == "map":  # a map's keys are the parameter names
                query += ["%s=%s" % (gen.wire(m.key, name), gen.wire(m.value, name))
                          for _ in range(2)]
                continue
            values = [m.member] * rng.randint(1, 2) if m.type_name == "list" else [m]
            query += ["%s=%s" % (urllib.parse.quote(wire_name), gen.wire(v, name)) for v in values]
        elif loc == "header":
            headers[wire_name] = gen.header(m, name)
        elif name == payload_name and m.type_name == "blob":
            payload = rng.choice([b'{"state": {"desired": {"x": 1}}}', b"hello", b"",
                                  rng.randbytes(64)])
        elif name == payload_name:
            payload = json.dumps(gen.doc(m, name)).encode()
        elif loc is None:
            body_doc[wire_name] = gen.doc(m, name)
    if mode == "members" and not gen.hostile and members:
        # Nothing turned hostile by chance: force a top-level body member (maybe one
        # the operation does not know), or the payload of payload operations.
        bad = rng.choice(HOSTILE_JSON)
        if payload is None:
            name = rng.choice([n for n, _ in members])
            body_doc[name] = bad
        else:
            name, payload = payload_name, json.dumps(bad).encode()
        gen.hostile.append(name + " (forced)")
    if payload is not None:
        body = payload
    elif body_doc or op.http["method"] in ("POST", "PUT", "PATCH"):
        ascii_only = rng.random() < 0.7  # else raw UTF-8, lone surrogates included
        body = json.dumps(body_doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    else:
        body = None
    note = "valid-looking"
    if mode == "members":
        note = "hostile members: " + ", ".join(gen.hostile)
    if mode == "body":
        note, body = rng.choice(HOSTILE_BODIES)
        note = "hostile body: " + note
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    path = uri + ("?" + "&".join(query) if query else "")
    return op.http["method"], path, headers, body, note


def send(srv, signing_name, method, path, headers, body):
    """Sign with botocore and send over a fresh connection -> (status, headers, body)."""
    host = urllib.parse.urlsplit(srv.endpoint).netloc
    hdrs = dict(headers, Host=host)
    req = AWSRequest(method=method, url="http://%s%s" % (host, path), data=body, headers=hdrs)
    WireSigV4Auth(Credentials(srv.access_key, srv.secret_key), signing_name,
                  srv.region).add_auth(req)
    conn = http.client.HTTPConnection(host, timeout=REQUEST_TIMEOUT)
    try:
        try:
            conn.request(method, path, body=body, headers=dict(req.headers.items()))
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (e.g. "body too large") and close before reading the
            # whole body; a robust client still reads that answer, so do we.
            pass
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


# The HTTP layer's own limit on a request target (http's Uri: 65,534 bytes). Past it the
# request is refused with a bare 414 before Shoal sees it (docs/compatibility.md).
URI_LIMIT = 65_534


def problem_with(status, headers, body, path=""):
    """Why this answer breaks the contract, or None."""
    if status == 414 and len(path) > URI_LIMIT:
        return None
    etype = (headers.get("x-amzn-ErrorType") or "").split(":")[0]
    try:
        doc = json.loads(body)
        has_message = isinstance(doc, dict) and isinstance(doc.get("message"), str) \
            and doc["message"] != ""
    except ValueError:
        has_message = False
    if status >= 500:
        if status == 500 and etype == "InternalFailureException" and has_message:
            return "500 InternalFailureException (a handler failed)"
        return "5xx without an AWS error shape"
    if 400 <= status < 500:
        if not etype:
            return "4xx without x-amzn-ErrorType"
        if not has_message:
            return "4xx whose body is not JSON with a message"
    return None


def _operations():
    """[(signing name, operation model)] for both models, in a seeded order."""
    session = botocore.session.get_session()
    ops = []
    for service in ("iot", "iot-data"):
        model = session.get_service_model(service)
        ops += [(model.signing_name, model.operation_model(n)) for n in model.operation_names]
    random.Random(SEED).shuffle(ops)
    return ops


def _short(text, n=200):
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return text if len(text) <= n else text[:n] + "...(%d chars)" % len(text)


class Findings:
    """Contract breaches grouped by kind (problem, status, error type): one kind usually
    has one cause, so the report lists it once with the operations that showed it."""

    def __init__(self):
        self.kinds = collections.OrderedDict()  # kind -> {"count", "ops", "examples"}

    def add(self, op_name, problem, status, etype, example):
        k = self.kinds.setdefault((problem, status, etype),
                                  {"count": 0, "ops": collections.Counter(), "examples": []})
        k["count"] += 1
        if op_name not in k["ops"] and len(k["examples"]) < 3:
            k["examples"].append(example)  # first example of up to 3 operations
        k["ops"][op_name] += 1

    def report(self, header):
        lines = ["%d kind(s) of finding; %s" % (len(self.kinds), header)]
        for (problem, status, etype), k in self.kinds.items():
            lines.append("- %s [status %s, x-amzn-ErrorType %s] x%d in %d operation(s): %s"
                         % (problem, status, etype, k["count"], len(k["ops"]),
                            ", ".join(sorted(k["ops"]))[:600]))
            lines += ["    e.g. " + e for e in k["examples"]]
        return "\n".join(lines)


@pytest.mark.timeout(BUDGET + 180)  # the budget plus server start and the last requests
def test_api_fuzz(shoal_factory):
    srv = shoal_factory()
    client = srv.client(connect_timeout=5, read_timeout=REQUEST_TIMEOUT)
    ops = _operations()
    findings, statuses, covered = Findings(), collections.Counter(), set()
    # Most of the iot model is not implemented (UnknownOperationException); once an
    # operation says so to a valid-looking call it gets only one visit in ten, so the
    # budget goes to the handlers that exist. The choice is seeded too.
    unsupported, skip_rng = set(), random.Random(SEED)
    deadline, i, slot = time.monotonic() + BUDGET, 0, 0

    while time.monotonic() < deadline:
        for _ in range(BATCH):
            while ops[slot % len(ops)][1].name in unsupported and skip_rng.random() < 0.9:
                slot += 1
            signing_name, op = ops[slot % len(ops)]
            slot += 1
            rng = random.Random("%d:%d" % (SEED, i))  # request #i's input depends on nothing else
            method, path, headers, body, note = build_request(rng, op)
            example = "#%d %s %s %s [%s]" % (i, op.name, method, _short(path), note)
            covered.add(op.name)
            i += 1
            try:
                status, rheaders, rbody = send(srv, signing_name, method, path, headers, body)
            except (OSError, http.client.HTTPException) as e:
                findings.add(op.name, "no answer: " + type(e).__name__, None, None,
                             "%s -> %r" % (example, e))
                statuses["no answer"] += 1
                continue
            statuses[status] += 1
            etype = rheaders.get("x-amzn-ErrorType")
            if etype == "UnknownOperationException" and note == "valid-looking":
                unsupported.add(op.name)
            problem = problem_with(status, rheaders, rbody, path)
            if problem:
                findings.add(op.name, problem, status, etype,
                             "%s -> %s %s: %s" % (example, status, etype, _short(rbody)))
        # The server must still be there and serve a plain call after every batch.
        if srv.proc.poll() is not None:
            findings.add("<server>", "process exited", srv.proc.returncode, None,
                         "after request #%d\n%s" % (i - 1, srv.describe_output()[-2000:]))
            break
        try:
            client.list_things(maxResults=1)
        except Exception as e:  # whatever it is, it is the finding
            findings.add("<health check>", "ListThings failed", None, None,
                         "after request #%d: %r" % (i - 1, e))

    summary = ("seed=%d (replay: SHOAL_FUZZ_SEED=%d) budget=%.0fs requests=%d operations "
               "covered=%d/%d (%d unsupported) statuses=%s"
               % (SEED, SEED, BUDGET, i, len(covered), len(ops), len(unsupported),
                  dict(sorted(statuses.items(), key=str))))
    print(summary)
    assert srv.proc.poll() is None, findings.report(summary)
    assert not findings.kinds, findings.report(summary)
