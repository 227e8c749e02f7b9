"""AWS IoT v2 logging and the CloudWatch Logs subset, with unmodified clients.

The seed raises one thing group's level to DEBUG with `aws iot set-v2-logging-level`
(its escaped JSON verbatim), then finds the failing devices with Logs Insights. Here devices
connect over MQTT (paho, mutual TLS) with an ERROR default: the device in the DEBUG group
writes records, the other only its failures, and the records are read back with the AWS CLI
(`aws logs filter-log-events`, `start-query` + `get-query-results`, v2's `aws logs tail`) and
boto3. The server is this module's own, so its logging settings touch no other test.
"""

import json
import os
import queue
import subprocess
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import DEFAULT_REGION, ShoalServer, run_aws
from test_mqtt_gateway import V311, WAIT, Paho, write_creds

SEED_QUERY = ("fields @timestamp, @message, @logStream, @log, status "
              "| filter @message like /ERROR/ | sort @timestamp desc | limit 10000")
GROUP = "AWSIotLogsV2"
ROLE = "arn:aws:iam::123456789012:role/iot-logging"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ShoalServer(tmp_path_factory.mktemp("shoal-logging") / "data").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def iot(srv):
    return srv.client()


@pytest.fixture(scope="module")
def logs(srv):
    session = boto3.session.Session(aws_access_key_id=srv.access_key,
                                    aws_secret_access_key=srv.secret_key,
                                    region_name=DEFAULT_REGION)
    return session.client("logs", endpoint_url=srv.endpoint,
                          config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def cli(srv):
    return lambda *args: run_aws(srv.endpoint, srv.access_key, srv.secret_key, *args)


def error_code(e):
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def make_device(iot, tmp_path, name, publish_topics):
    """A thing `name` with a certificate whose policy lets it connect as `name` and publish
    only on `publish_topics`."""
    creds = write_creds(tmp_path, name, iot.create_keys_and_certificate(setAsActive=True))
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
            "arn:aws:iot:%s:*:topic/%s" % (DEFAULT_REGION, t) for t in publish_topics]},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "*"}]}
    policy = "pol-" + name
    iot.create_policy(policyName=policy, policyDocument=json.dumps(doc))
    iot.attach_policy(policyName=policy, target=creds.cert_arn)
    iot.create_thing(thingName=name)
    iot.attach_thing_principal(thingName=name, principal=creds.cert_arn)
    return creds


def session(srv, creds, name):
    """Connects, publishes once (acknowledged: every record before it is written), and
    tries a publish its policy refuses (MQTT 5: refused on the PUBACK, the connection
    stays)."""
    p = Paho(srv, creds, name, protocol=5)
    p.connect()
    assert p.publish_acked("telemetry/%s" % name, b"{}") == 0
    assert p.publish_acked("forbidden/%s" % name, b"{}") == 0x87
    return p


def records(logs, **kw):
    events = logs.filter_log_events(logGroupName=GROUP, **kw)["events"]
    return [json.loads(e["message"]) for e in events]


def test_nothing_is_configured_until_options_are_set(iot):
    with pytest.raises(ClientError) as e:
        iot.get_v2_logging_options()
    assert error_code(e) == ("NotConfiguredException", 404)
    with pytest.raises(ClientError) as e:
        iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": "x"},
                                 logLevel="DEBUG")
    assert error_code(e) == ("NotConfiguredException", 404)
    # The legacy options before any set: nothing.
    got = iot.get_logging_options()
    assert "roleArn" not in got


def test_the_seed_flow_debug_for_one_group_error_by_default(srv, iot, logs, cli, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")
    opts = iot.get_v2_logging_options()
    assert opts["roleArn"] == ROLE and opts["defaultLogLevel"] == "ERROR"
    assert opts["disableAllLogs"] is False
    iot.create_thing_group(thingGroupName="ERRORGROUP")
    noisy, quiet = "dev-noisy-" + uuid.uuid4().hex[:6], "dev-quiet-" + uuid.uuid4().hex[:6]
    noisy_creds = make_device(iot, tmp_path, noisy, ["telemetry/*"])
    quiet_creds = make_device(iot, tmp_path, quiet, ["telemetry/*"])
    iot.add_thing_to_thing_group(thingGroupName="ERRORGROUP", thingName=noisy)

    # The seed's command, its escaped JSON as the shell passes it.
    cli("iot", "set-v2-logging-level", "--log-level", "DEBUG",
        "--log-target", "{\"targetType\": \"THING_GROUP\", \"targetName\": \"ERRORGROUP\"}")
    levels = cli("iot", "list-v2-logging-levels")["logTargetConfigurations"]
    assert {"logTarget": {"targetType": "THING_GROUP", "targetName": "ERRORGROUP"},
            "logLevel": "DEBUG"} in levels

    a = session(srv, noisy_creds, noisy)
    b = session(srv, quiet_creds, quiet)
    a.stop()
    b.stop()

    mine = [r for r in records(logs) if r.get("clientId") in (noisy, quiet)]
    kinds = {(r["clientId"], r["eventType"], r["status"]) for r in mine}
    # The DEBUG group's device: everything it did.
    assert (noisy, "Connect", "Success") in kinds
    assert (noisy, "Publish-In", "Success") in kinds
    assert (noisy, "Publish-In", "Failure") in kinds
    # The ERROR default: only the failure.
    assert {(e, s) for c, e, s in kinds if c == quiet} == {("Publish-In", "Failure")}
    failure = next(r for r in mine if r["clientId"] == quiet)
    assert failure["logLevel"] == "ERROR"
    assert failure["reason"] == "AUTHORIZATION_FAILURE"
    assert failure["topicName"] == "forbidden/%s" % quiet
    assert failure["protocol"] == "MQTT"
    assert failure["principalId"] == quiet_creds.cert_id
    assert failure["sourceIp"] == "127.0.0.1" and isinstance(failure["sourcePort"], int)
    assert len(failure["traceId"]) == 36
    connect = next(r for r in mine if r["eventType"] == "Connect")
    assert list(connect)[:7] == ["timestamp", "logLevel", "traceId", "accountId", "status",
                                 "eventType", "protocol"]

    # The AWS CLI reads the same records, filtered with a JSON pattern.
    out = cli("logs", "filter-log-events", "--log-group-name", GROUP,
              "--filter-pattern", '{ $.logLevel = "ERROR" }')
    levels_seen = {json.loads(e["message"])["logLevel"] for e in out["events"]}
    assert levels_seen == {"ERROR"}
    for e in out["events"]:
        assert {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"} <= set(e)


def test_the_most_specific_target_decides(srv, iot, logs, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")
    iot.create_thing_group(thingGroupName="plant-a")
    iot.create_thing_group(thingGroupName="line-3", parentGroupName="plant-a")
    dev = "dev-prec-" + uuid.uuid4().hex[:6]
    creds = make_device(iot, tmp_path, dev, ["telemetry/*"])
    iot.add_thing_to_thing_group(thingGroupName="line-3", thingName=dev)
    iot.set_v2_logging_level(logTarget={"targetType": "THING_GROUP", "targetName": "plant-a"},
                             logLevel="DEBUG")
    iot.set_v2_logging_level(logTarget={"targetType": "THING_GROUP", "targetName": "line-3"},
                             logLevel="DISABLED")

    def seen():
        # Written before the PUBACKs the session waits for: Connect and Publish-In (a
        # Disconnect is written after the client has gone, so it is left out here).
        p = session(srv, creds, dev)
        p.stop()
        return [r for r in records(logs)
                if r.get("clientId") == dev and r["eventType"] != "Disconnect"]

    # The deepest group (DISABLED) beats its parent (DEBUG): nothing, not even the failure.
    assert seen() == []
    # The principal beats the groups.
    iot.set_v2_logging_level(logTarget={"targetType": "PRINCIPAL_ID", "targetName": creds.cert_id},
                             logLevel="ERROR")
    assert {r["status"] for r in seen()} == {"Failure"}
    # The client id beats everything.
    iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": dev},
                             logLevel="INFO")
    after = seen()
    assert {(r["eventType"], r["status"]) for r in after} >= {
        ("Connect", "Success"), ("Publish-In", "Success")}
    # Disabling everything wins over any target.
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR", disableAllLogs=True)
    assert len(seen()) == len(after)
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")
    for t, name in (("CLIENT_ID", dev), ("PRINCIPAL_ID", creds.cert_id),
                    ("THING_GROUP", "plant-a"), ("THING_GROUP", "line-3")):
        iot.delete_v2_logging_level(targetType=t, targetName=name)


def test_levels_list_page_and_delete_and_stay_within_the_quota(iot):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN")
    names = ["10.0.%d.%d" % (i // 250, i % 250) for i in range(30)]
    for n in names:
        iot.set_v2_logging_level(logTarget={"targetType": "SOURCE_IP", "targetName": n},
                                 logLevel="INFO")
    got, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = iot.list_v2_logging_levels(targetType="SOURCE_IP", maxResults=7, **kw)
        assert len(page["logTargetConfigurations"]) <= 7
        got += [c["logTarget"]["targetName"] for c in page["logTargetConfigurations"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(got) == sorted(names)
    with pytest.raises(ClientError) as e:
        iot.set_v2_logging_level(logTarget={"targetType": "SOURCE_IP", "targetName": "nope"},
                                 logLevel="INFO")
    assert error_code(e)[0] == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        iot.delete_v2_logging_level(targetType="DEFAULT", targetName="x")
    assert error_code(e)[0] == "InvalidRequestException"
    for n in names:
        iot.delete_v2_logging_level(targetType="SOURCE_IP", targetName=n)
    left = iot.list_v2_logging_levels(targetType="SOURCE_IP")["logTargetConfigurations"]
    assert left == []
    # The DEFAULT target is the options' default level, first in the list, and set like the
    # others (AWS CLI's own example lists it so).
    iot.set_v2_logging_level(logTarget={"targetType": "DEFAULT"}, logLevel="ERROR")
    assert iot.get_v2_logging_options()["defaultLogLevel"] == "ERROR"
    first = iot.list_v2_logging_levels(maxResults=1)
    assert first["logTargetConfigurations"] == [
        {"logTarget": {"targetType": "DEFAULT"}, "logLevel": "ERROR"}]
    assert iot.list_v2_logging_levels(targetType="DEFAULT")["logTargetConfigurations"] == [
        {"logTarget": {"targetType": "DEFAULT"}, "logLevel": "ERROR"}]
    # AWS's quota: 1,000 targets; the next is LimitExceededException (410).
    have = len([c for c in iot.list_v2_logging_levels()["logTargetConfigurations"]
                if c["logTarget"]["targetType"] != "DEFAULT"])
    for i in range(1000 - have):
        iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": "q-%d" % i},
                                 logLevel="DEBUG")
    with pytest.raises(ClientError) as e:
        iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": "one-more"},
                                 logLevel="DEBUG")
    assert error_code(e) == ("LimitExceededException", 410)
    # Replacing an existing target's level is not a new target.
    iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": "q-0"},
                             logLevel="INFO")
    for i in range(1000 - have):
        iot.delete_v2_logging_level(targetType="CLIENT_ID", targetName="q-%d" % i)


def test_options_verbose_event_configurations_and_legacy_options(iot):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="INFO", eventConfigurations=[
        {"eventType": "Publish-In", "logLevel": "DEBUG", "logDestination": "my-group"}])
    got = iot.get_v2_logging_options()
    assert got["eventConfigurations"] == [
        {"eventType": "Publish-In", "logLevel": "DEBUG", "logDestination": "my-group"}]
    verbose = iot.get_v2_logging_options(verbose=True)["eventConfigurations"]
    types = {e["eventType"] for e in verbose}
    assert {"Connect", "Disconnect", "Publish-In", "Publish-Out", "Subscribe",
            "UpdateJobExecution"} <= types
    with pytest.raises(ClientError) as e:
        iot.set_v2_logging_options(roleArn=ROLE, eventConfigurations=[{"eventType": "Bogus"}])
    assert error_code(e)[0] == "InvalidRequestException"
    iot.set_logging_options(loggingOptionsPayload={"roleArn": ROLE, "logLevel": "WARN"})
    got = iot.get_logging_options()
    assert (got["roleArn"], got["logLevel"]) == (ROLE, "WARN")
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")


def test_an_event_configuration_sends_its_records_to_its_log_group(srv, iot, logs, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="INFO", eventConfigurations=[
        {"eventType": "Publish-In", "logLevel": "INFO", "logDestination": "telemetry-logs"}])
    dev = "dev-dest-" + uuid.uuid4().hex[:6]
    session(srv, make_device(iot, tmp_path, dev, ["telemetry/*"]), dev).stop()
    moved = [json.loads(e["message"])
             for e in logs.filter_log_events(logGroupName="telemetry-logs")["events"]]
    assert {(r["clientId"], r["eventType"]) for r in moved} == {(dev, "Publish-In")}
    mine = {r["eventType"] for r in records(logs) if r.get("clientId") == dev}
    assert "Connect" in mine and "Publish-In" not in mine
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert names == sorted(names) and {"AWSIotLogsV2", "telemetry-logs"} <= set(names)
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")


def test_groups_streams_events_and_retention(srv, iot, logs, cli, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="DEBUG")
    dev = "dev-read-" + uuid.uuid4().hex[:6]
    creds = make_device(iot, tmp_path, dev, ["telemetry/*"])
    session(srv, creds, dev).stop()
    # The Disconnect record comes once the server has seen the client go: wait for it.
    deadline = time.monotonic() + WAIT
    while True:
        gone = [r for r in records(logs, filterPattern='{ $.eventType = "Disconnect" }')
                if r.get("clientId") == dev]
        if gone:
            break
        assert time.monotonic() < deadline, "no Disconnect record for %s" % dev
        time.sleep(0.05)  # polling the API as a user does
    assert gone[0]["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    groups = logs.describe_log_groups(logGroupNamePrefix="AWSIot")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    g = groups[0]
    assert g["arn"].endswith(":log-group:%s:*" % GROUP) and g["storedBytes"] > 0
    assert "retentionInDays" not in g
    streams = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                        descending=True)["logStreams"]
    assert streams, "no stream"
    s = streams[0]
    # AWS's stream names: UUID_ACCOUNT_N.
    parts = s["logStreamName"].split("_")
    assert len(parts) == 3 and len(parts[0]) == 36 and len(parts[1]) == 12
    assert s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"]
    # GetLogEvents: newest page first by default; forward from the head with tokens.
    newest = logs.get_log_events(logGroupName=GROUP, logStreamName=s["logStreamName"], limit=2)
    assert len(newest["events"]) == 2
    head = logs.get_log_events(logGroupName=GROUP, logStreamName=s["logStreamName"],
                               startFromHead=True, limit=3)
    nxt = logs.get_log_events(logGroupName=GROUP, logStreamName=s["logStreamName"],
                              startFromHead=True, limit=3, nextToken=head["nextForwardToken"])
    assert head["events"][0]["timestamp"] <= nxt["events"][0]["timestamp"]
    assert head["events"] != nxt["events"]
    # FilterLogEvents pages with nextToken, every event once.
    everything = [e["eventId"] for e in logs.filter_log_events(logGroupName=GROUP)["events"]]
    paged, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=GROUP, limit=5, **kw)
        paged += [e["eventId"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert paged == everything
    # Terms and alternatives.
    conn = logs.filter_log_events(logGroupName=GROUP, filterPattern='"Connect" "%s"' % dev)
    assert conn["events"] and all(dev in e["message"] for e in conn["events"])
    # Retention: AWS's values only.
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]["retentionInDays"] == 7
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=2)
    assert error_code(e) == ("InvalidParameterException", 400)
    logs.delete_retention_policy(logGroupName=GROUP)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="no-such-group")
    assert error_code(e) == ("ResourceNotFoundException", 400)
    assert e.value.response["Error"]["Message"] == "The specified log group does not exist."
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName=GROUP, filterPattern='{ $.x = ')
    assert error_code(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=GROUP, logStreamName="s",
                            logEvents=[{"timestamp": 1, "message": "m"}])
    assert error_code(e)[0] == "UnknownOperationException"


def wait_query(logs, qid):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = logs.get_query_results(queryId=qid)
        if r["status"] not in ("Scheduled", "Running"):
            return r
        time.sleep(0.05)  # polling the API as a user does; the answer decides, not the delay
    raise AssertionError("query %s did not end" % qid)


def test_the_seeds_insights_query_with_the_cli(srv, iot, logs, cli, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")
    dev = "dev-query-" + uuid.uuid4().hex[:6]
    creds = make_device(iot, tmp_path, dev, ["telemetry/*"])
    session(srv, creds, dev).stop()
    now = int(time.time())
    qid = cli("logs", "start-query", "--log-group-name", GROUP, "--start-time",
              str(now - 3600), "--end-time", str(now + 60), "--query-string",
              SEED_QUERY)["queryId"]
    deadline = time.monotonic() + 60
    while True:
        out = cli("logs", "get-query-results", "--query-id", qid)
        if out["status"] == "Complete":
            break
        assert out["status"] == "Running" and time.monotonic() < deadline, out
    rows = [{f["field"]: f["value"] for f in row} for row in out["results"]]
    assert rows, out
    mine = [r for r in rows if dev in r["@message"]]
    assert mine and all(r["status"] == "Failure" for r in mine)
    assert set(mine[0]) >= {"@timestamp", "@message", "@logStream", "@log", "status", "@ptr"}
    assert mine[0]["@log"].endswith(":" + GROUP)
    stamps = [r["@timestamp"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    stats = out["statistics"]
    assert stats["recordsScanned"] >= stats["recordsMatched"] >= len(rows)
    assert stats["bytesScanned"] > 0
    # A query that does not parse says where.
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName=GROUP, startTime=now - 60, endTime=now,
                         queryString="fields @timestamp | sort")
    assert error_code(e)[0] == "MalformedQueryException"
    assert "queryCompileError" in e.value.response
    with pytest.raises(ClientError) as e:
        logs.get_query_results(queryId="not-a-query")
    assert error_code(e)[0] == "ResourceNotFoundException"
    # Stats by bin.
    r = wait_query(logs, logs.start_query(
        logGroupName=GROUP, startTime=now - 3600, endTime=now + 60,
        queryString="stats count(*) as n by eventType")["queryId"])
    counts = {row[0]["value"]: row for row in r["results"]}
    assert "Publish-In" in counts
    # StopQuery: a query still running stops; one that has ended is refused.
    qid = logs.start_query(logGroupName=GROUP, startTime=now - 3600, endTime=now + 60,
                           queryString="fields @message")["queryId"]
    try:
        assert logs.stop_query(queryId=qid)["success"] is True
        assert logs.get_query_results(queryId=qid)["status"] == "Cancelled"
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidParameterException"
        assert logs.get_query_results(queryId=qid)["status"] == "Complete"



AWS_V2 = "/usr/bin/aws"


def wait_line(lines, needle, proc, timeout=30):
    """The first line `aws logs tail` prints that holds `needle` (it polls every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, "aws logs tail printed nothing of %s: %s" % (
            needle, proc.stderr.read() if proc.poll() is not None else "")
        try:
            line = lines.get(timeout=min(left, 1))
        except queue.Empty:
            continue
        if needle in line:
            return line


@pytest.mark.skipif(not os.path.exists(AWS_V2), reason="AWS CLI v2 (Debian's awscli) is needed "
                    "for `aws logs tail`; the test command installs it when root")
def test_aws_logs_tail_follow_with_cli_v2(srv, iot, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="INFO")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": srv.access_key,
           "AWS_SECRET_ACCESS_KEY": srv.secret_key, "AWS_DEFAULT_REGION": DEFAULT_REGION,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "", "LANG": "C.UTF-8",
           "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}
    # The group exists once a record was written (as AWS's does).
    first = "dev-tail-" + uuid.uuid4().hex[:6]
    session(srv, make_device(iot, tmp_path, first, ["telemetry/*"]), first).stop()
    proc = subprocess.Popen([AWS_V2, "--endpoint-url", srv.endpoint, "logs", "tail", GROUP,
                             "--follow", "--format", "short"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
    try:
        # Printed from what was there, then followed: a device that comes later.
        wait_line(lines, first, proc)
        dev = "dev-tail-" + uuid.uuid4().hex[:6]
        session(srv, make_device(iot, tmp_path, dev, ["telemetry/*"]), dev).stop()
        wait_line(lines, dev, proc)
    finally:
        proc.kill()
        proc.wait()


def test_shadow_requests_are_logged_with_their_outcome(srv, iot, logs, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="INFO")
    dev = "dev-shadow-" + uuid.uuid4().hex[:6]
    creds = make_device(iot, tmp_path, dev, ["$aws/things/%s/shadow/*" % dev])
    p = Paho(srv, creds, dev, protocol=5)
    p.connect()
    try:
        update = "$aws/things/%s/shadow/update" % dev
        assert p.publish_acked(update, json.dumps({"state": {"reported": {"fw": 1}}})) == 0
        assert p.publish_acked(update, b"not json") == 0
    finally:
        p.stop()
    got = [r for r in records(logs, filterPattern='{ $.eventType = "UpdateThingShadow" }')
           if r.get("deviceShadowName") == dev]
    assert [(r["status"], r["logLevel"]) for r in got] == [("Success", "INFO"),
                                                          ("Failure", "ERROR")]
    assert got[0]["topicName"] == "$aws/things/%s/shadow/update" % dev
    assert got[1]["reason"] == "400"


def test_operational_counters_on_metrics_per_account(srv, iot, tmp_path):
    from conftest import send_signed

    def counts():
        status, _, body = send_signed(srv.endpoint, "GET", "/metrics", service="monitoring",
                                      access_key=srv.access_key, secret_key=srv.secret_key)
        assert status == 200, body
        out = {}
        for line in body.decode().splitlines():
            if line.startswith("iot_operations_total{"):
                labels, value = line.rsplit(" ", 1)
                name = labels.split('metric_name="')[1].split('"')[0]
                assert 'region="%s"' % DEFAULT_REGION in labels
                out[name] = float(value)
        return out

    before = counts()
    dev = "dev-count-" + uuid.uuid4().hex[:6]
    session(srv, make_device(iot, tmp_path, dev, ["telemetry/*"]), dev).stop()
    after = counts()
    assert after["Connect.Success"] == before.get("Connect.Success", 0) + 1
    assert after["PublishIn.Success"] == before.get("PublishIn.Success", 0) + 1
    assert after["PublishIn.AuthError"] == before.get("PublishIn.AuthError", 0) + 1


def test_http_requests_and_a_job_that_completes_are_logged(srv, iot, logs):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="DEBUG")
    session = boto3.session.Session(aws_access_key_id=srv.access_key,
                                    aws_secret_access_key=srv.secret_key,
                                    region_name=DEFAULT_REGION)
    cfg = Config(retries={"total_max_attempts": 1})
    data = session.client("iot-data", endpoint_url=srv.endpoint, config=cfg)
    jobs_data = session.client("iot-jobs-data", endpoint_url=srv.endpoint, config=cfg)
    thing = "http-" + uuid.uuid4().hex[:6]
    iot.create_thing(thingName=thing)
    data.publish(topic="telemetry/%s" % thing, qos=1, payload=b"{}")
    data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"a": 1}}}))
    with pytest.raises(ClientError):
        data.update_thing_shadow(thingName=thing, payload=b"not json")
    job = "job-" + uuid.uuid4().hex[:6]
    iot.create_job(jobId=job, targets=[iot.describe_thing(thingName=thing)["thingArn"]],
                   document=json.dumps({"op": "noop"}))
    jobs_data.start_next_pending_job_execution(thingName=thing)
    jobs_data.update_job_execution(thingName=thing, jobId=job, status="SUCCEEDED")

    data.publish(topic="retained/%s" % thing, qos=1, retain=True, payload=b"{}")
    data.get_retained_message(topic="retained/%s" % thing)
    data.list_retained_messages()

    got = records(logs, filterPattern='{ $.protocol = "HTTP" }')
    publish = [r for r in got if r["eventType"] == "Publish-In"
               and r["topicName"] == "telemetry/%s" % thing]
    retained = [r for r in got if r["eventType"] == "GetRetainedMessage"
                and r["topicName"] == "retained/%s" % thing]
    assert len(retained) == 1 and retained[0]["qos"] == "1", retained
    assert len(retained[0]["lastModifiedDate"]) == len("2017-08-07 18:47:56.664")
    assert any(r["eventType"] == "ListRetainedMessage" for r in got)
    assert any(r.get("retain") == "True" for r in got if r["eventType"] == "Publish-In")
    assert len(publish) == 1
    assert publish[0]["principalId"] == srv.access_key
    assert publish[0]["sourceIp"] == "127.0.0.1"
    shadow = [(r["status"], r["logLevel"]) for r in got
              if r["eventType"] == "UpdateThingShadow" and r.get("deviceShadowName") == thing]
    assert shadow == [("Success", "INFO"), ("Failure", "ERROR")]
    update = [r for r in got if r["eventType"] == "UpdateJobExecution" and r.get("jobId") == job]
    assert [(r["status"], r["logLevel"]) for r in update] == [("Success", "DEBUG")]
    assert update[0]["topicName"] == "$aws/things/%s/jobs/%s/update" % (thing, job)
    final = [r for r in records(logs, filterPattern='{ $.eventType = "ReportFinalJobExecutionCount" }')
             if r.get("jobId") == job]
    assert len(final) == 1 and "protocol" not in final[0]
    assert final[0]["details"].startswith("Job %s completed. QUEUED job execution count: 0" % job)
    assert "SUCCEEDED job execution count: 1" in final[0]["details"]


def test_another_account_sees_none_of_it_and_the_reset_empties_it(srv, iot, logs, tmp_path):
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="INFO")
    dev = "dev-tenant-" + uuid.uuid4().hex[:6]
    session(srv, make_device(iot, tmp_path, dev, ["telemetry/*"]), dev).stop()
    assert any(r.get("clientId") == dev for r in records(logs))
    account, key, secret = srv.create_account()
    other = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                  region_name=DEFAULT_REGION).client(
        "logs", endpoint_url=srv.endpoint, config=Config(retries={"total_max_attempts": 1}))
    assert other.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as e:
        other.filter_log_events(logGroupName=GROUP)
    assert error_code(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        srv.client(access_key=key, secret_key=secret).get_v2_logging_options()
    assert error_code(e)[0] == "NotConfiguredException"
    # The admin reset takes the account's logs and settings with the rest.
    from conftest import send_signed
    mine = iot.create_thing(thingName="probe-" + uuid.uuid4().hex[:6])["thingArn"].split(":")[4]
    status, _, body = send_signed(srv.endpoint, "POST", "/shoal/reset",
                                  body=json.dumps({"accountId": mine}).encode(),
                                  access_key=srv.access_key, secret_key=srv.secret_key)
    assert status == 200, body
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as e:
        iot.get_v2_logging_options()
    assert error_code(e)[0] == "NotConfiguredException"
