"""Helpers shared by the fleet-indexing modules (test_fleet_indexing.py and
test_dynamic_groups_and_metrics.py).

Not a test module (pytest collects only test_*.py); it is imported like conftest and the
other shared helpers, by plain module name, because pytest puts this folder on sys.path.

  THINGS, GROUPS  the two fleet-indexing index names
  CONSISTENCY     seconds a change may take to become searchable (AWS: "within seconds")
  REBUILD         seconds a whole index may take to be rebuilt after a restart
  POLL            pause between two polls of an eventually consistent answer
  TRANSIENT       error codes that mean "not yet" while an index is (re)built
  until           polls a function with a deadline (no test sleeps to synchronise)
  error_of        (HTTP status, code, message) of a botocore ClientError
  Fleet           one account on one server: boto3 `iot` and `iot-data` clients, the AWS
                  CLI and hand-signed requests, plus indexing configuration and search helpers
"""

import json
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import run_aws, send_signed

THINGS = "AWS_Things"
GROUPS = "AWS_ThingGroups"
CONSISTENCY = 5.0  # seconds a change may take to become searchable (AWS: "within seconds")
REBUILD = 20.0  # seconds a whole index may take to be rebuilt after a restart
POLL = 0.02  # pause between two polls of an eventually consistent answer

# While an index is (re)built after a restart, queries may be refused with this.
TRANSIENT = {"IndexNotReadyException"}


def until(fn, timeout=CONSISTENCY, what="condition"):
    """Calls fn until it returns something truthy (returned) or the deadline passes.
    IndexNotReadyException (an index being rebuilt) counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except ClientError as e:
            if e.response["Error"]["Code"] not in TRANSIENT:
                raise
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("%s not reached within %ss (last: %r)" % (what, timeout, last))
        time.sleep(POLL)  # the poll interval, not a synchronisation


def error_of(exc_info):
    """(HTTP status, code, message) of a botocore ClientError."""
    r = exc_info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


class Fleet:
    """One account on one server: boto3 `iot` and `iot-data` clients and the AWS CLI, all
    signed with the account's key."""

    def __init__(self, srv, key, secret, account=None):
        self.srv, self.key, self.secret, self.account = srv, key, secret, account
        self.iot = srv.client(access_key=key, secret_key=secret)
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                     connect_timeout=10, read_timeout=30)
        self.data = boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1",
        ).client("iot-data", endpoint_url=srv.endpoint, config=cfg)

    def cli(self, *args, **kw):
        return run_aws(self.srv.endpoint, self.key, self.secret, *args, **kw)

    def raw(self, method, path, body=None):
        """A hand-signed request -> (status, headers, parsed JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        status, headers, raw = send_signed(self.srv.endpoint, method, path, body=data,
                                           access_key=self.key, secret_key=self.secret)
        return status, headers, json.loads(raw) if raw else None

    def configure(self, things="REGISTRY_AND_SHADOW", connectivity="STATUS", groups="ON",
                  **thing_extra):
        cfg = {"thingIndexingMode": things, "thingConnectivityIndexingMode": connectivity,
               **thing_extra}
        self.iot.update_indexing_configuration(
            thingIndexingConfiguration=cfg,
            thingGroupIndexingConfiguration={"thingGroupIndexingMode": groups})
        self.wait_active()

    def wait_active(self, timeout=10.0):
        """Until every enabled index is ACTIVE (built)."""
        def active():
            names = self.iot.list_indices()["indexNames"]
            return all(self.iot.describe_index(indexName=n)["indexStatus"] == "ACTIVE"
                       for n in names)
        until(active, timeout, "indices ACTIVE")

    def search(self, query, index=THINGS, max_results=None):
        """Every matching document, following nextToken."""
        docs, token = [], None
        key = "thingGroups" if index == GROUPS else "things"
        for _ in range(1000):
            kw = {"indexName": index, "queryString": query}
            if token:
                kw["nextToken"] = token
            if max_results:
                kw["maxResults"] = max_results
            page = self.iot.search_index(**kw)
            docs.extend(page[key])
            token = page.get("nextToken")
            if not token:
                return docs
        raise AssertionError("nextToken never ends for %r" % query)

    def names(self, query, index=THINGS):
        """Names of every matching thing (or thing group), following nextToken."""
        key = "thingGroupName" if index == GROUPS else "thingName"
        return [d[key] for d in self.search(query, index)]

    def wait_names(self, query, expected, index=THINGS, timeout=CONSISTENCY):
        """Polls until the query finds exactly `expected` (in this order); returns the
        documents."""
        seen = {}

        def check():
            docs = self.search(query, index)
            key = "thingGroupName" if index == GROUPS else "thingName"
            seen["names"] = [d[key] for d in docs]
            return (docs,) if seen["names"] == list(expected) else None

        try:
            return until(check, timeout, "search %r" % query)[0]
        except AssertionError:
            raise AssertionError("search %r: expected %r within %ss, last got %r"
                                 % (query, list(expected), timeout, seen.get("names")))

    def update_shadow(self, thing, doc, shadow=None):
        """Updates the (classic or named) shadow through iot-data; returns its answer."""
        kw = {"thingName": thing, "payload": json.dumps(doc).encode()}
        if shadow:
            kw["shadowName"] = shadow
        return json.loads(self.data.update_thing_shadow(**kw)["payload"].read())
