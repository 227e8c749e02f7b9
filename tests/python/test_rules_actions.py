"""The rules engine's actions beyond republish (issue 21): HTTP topic rule destinations and
the HTTP action, S3, CloudWatch Logs, republish into the shadow service, and the error action.

What AWS IoT Core does, and what is checked here:
  * A topic rule destination for an HTTP URL is IN_PROGRESS until confirmed: AWS POSTs
    `{confirmationUrl}?confirmationToken=TOKEN` with the headers
    x-amz-rules-engine-message-type: DestinationConfirmation and
    x-amz-rules-engine-destination-arn, and a JSON body {arn, confirmationToken, enableUrl,
    messageType}; ConfirmTopicRuleDestination or a GET of enableUrl enables it. ENABLED <->
    DISABLED; IN_PROGRESS again sends a new confirmation
    (https://docs.aws.amazon.com/iot/latest/developerguide/http-action-destination.html,
    https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateTopicRuleDestination.html).
  * The HTTP action POSTs the rule's output (application/json when it is JSON, else
    application/octet-stream), header values are substitution templates, and it tries at
    most three times, again only after 429 or 5xx
    (https://docs.aws.amazon.com/iot/latest/developerguide/https-rule-action.html). A rule
    whose URL has no destination makes one. Shoal's outbound HTTP refuses addresses that are
    not public (SSRF guard); the test server allows 127.0.0.1 only.
  * S3 writes the output at bucket/key (https://docs.aws.amazon.com/iot/latest/developerguide/s3-rule-action.html);
    CloudWatch Logs writes it as a log event, or in batch mode the events of a JSON array
    (https://docs.aws.amazon.com/iot/latest/developerguide/cloudwatch-logs-rule-action.html).
  * A failed action activates the error action with AWS's message
    (https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html).

Asynchronous effects (objects, log events, HTTP requests) are waited for on queues or by
polling with a deadline (fleet_support.until), never with a sleep.
"""

import base64
import json
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from fleet_support import until
from rules_support import (  # noqa: F401  (fixtures are used by name)
    ROLE,
    action_counts,
    create_destination,
    data,
    dev,
    enabled_destination,
    error_code,
    error_message,
    fresh,
    logs,
    receiver,
    republish,
    rule_name,
    rules,
    s3,
    service_client,
    topic_of,
)
from test_mqtt_gateway import make_device, paho  # noqa: F401
from test_mqtt_sessions import mk  # noqa: F401


def destination(iot, arn):
    return iot.get_topic_rule_destination(arn=arn)["topicRuleDestination"]


def status_of(iot, arn):
    return destination(iot, arn)["status"]


def plain_get(url):
    """An unsigned GET, as a browser following enableUrl would send -> HTTP status."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def log_events(logs, group):
    """The group's events; none while the group does not exist yet (it is made by the first
    write, asynchronously)."""
    try:
        return logs.filter_log_events(logGroupName=group)["events"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise


def http_action(url, **extra):
    return {"http": {"url": url, **extra}}


# --------------------------------------------------------------------------
# 1. Topic rule destinations
# --------------------------------------------------------------------------


def test_a_destination_is_confirmed_with_the_enable_url(iot, receiver, account_id, server):
    rcv = receiver()
    url = rcv.url("/hook")
    d = create_destination(iot, url)
    assert d["status"] == "IN_PROGRESS"
    assert d["arn"].startswith("arn:aws:iot:us-east-1:%s:ruledestination/http/" % account_id)
    assert d["httpUrlProperties"] == {"confirmationUrl": url}

    req = rcv.confirmation()
    assert req["method"] == "POST" and req["path"] == "/hook"
    token = req["query"]["confirmationToken"]
    assert req["headers"]["x-amz-rules-engine-destination-arn"].strip('"') == d["arn"]
    assert req["headers"]["content-type"].startswith("application/json")
    body = json.loads(req["body"])
    assert body == {"arn": d["arn"], "confirmationToken": token,
                    "enableUrl": body["enableUrl"], "messageType": "DestinationConfirmation"}
    assert body["enableUrl"] == "%s/confirmdestination/%s" % (server.endpoint.rstrip("/"),
                                                              token)
    assert status_of(iot, d["arn"]) == "IN_PROGRESS"

    # A wrong token does not enable it; the enable URL, unsigned, does.
    assert plain_get(body["enableUrl"][:-4] + "0000") >= 400
    assert status_of(iot, d["arn"]) == "IN_PROGRESS"
    assert plain_get(body["enableUrl"]) == 200
    got = destination(iot, d["arn"])
    assert got["status"] == "ENABLED" and got["httpUrlProperties"] == {"confirmationUrl": url}

    summaries = {s["arn"]: s for s in
                 iot.list_topic_rule_destinations()["destinationSummaries"]}
    assert summaries[d["arn"]]["status"] == "ENABLED"
    assert summaries[d["arn"]]["httpUrlSummary"] == {"confirmationUrl": url}

    with pytest.raises(ClientError) as e:
        create_destination(iot, url)
    assert error_code(e)[:2] == ("ResourceAlreadyExistsException", 409)

    iot.delete_topic_rule_destination(arn=d["arn"])
    with pytest.raises(ClientError) as e:
        destination(iot, d["arn"])
    assert error_code(e)[:2] == ("UnauthorizedException", 401)


def test_destination_status_transitions(iot, receiver):
    rcv = receiver()
    rcv.answer(500)  # the first confirmation fails
    d = create_destination(iot, rcv.url("/t"))
    first = rcv.confirmation()["query"]["confirmationToken"]
    got = until(lambda: (lambda x: x if x["status"] == "ERROR" else None)(
        destination(iot, d["arn"])), what="destination ERROR")
    assert "500" in got["statusReason"]

    # ERROR -> IN_PROGRESS sends a new confirmation with a new token.
    iot.update_topic_rule_destination(arn=d["arn"], status="IN_PROGRESS")
    assert status_of(iot, d["arn"]) == "IN_PROGRESS"
    second = rcv.confirmation()["query"]["confirmationToken"]
    assert second != first
    # IN_PROGRESS -> IN_PROGRESS: again a new one.
    iot.update_topic_rule_destination(arn=d["arn"], status="IN_PROGRESS")
    third = rcv.confirmation()["query"]["confirmationToken"]
    assert third not in (first, second)
    # It cannot be enabled without confirming.
    with pytest.raises(ClientError) as e:
        iot.update_topic_rule_destination(arn=d["arn"], status="ENABLED")
    assert error_code(e)[:2] == ("InvalidRequestException", 400)
    # Only the last token confirms it.
    for old in (first, second):
        with pytest.raises(ClientError) as e:
            iot.confirm_topic_rule_destination(confirmationToken=old)
        assert error_code(e)[:2] == ("InvalidRequestException", 400)
    assert status_of(iot, d["arn"]) == "IN_PROGRESS"
    iot.confirm_topic_rule_destination(confirmationToken=third)
    assert status_of(iot, d["arn"]) == "ENABLED"

    iot.update_topic_rule_destination(arn=d["arn"], status="DISABLED")
    assert status_of(iot, d["arn"]) == "DISABLED"
    iot.update_topic_rule_destination(arn=d["arn"], status="ENABLED")
    assert status_of(iot, d["arn"]) == "ENABLED"
    with pytest.raises(ClientError) as e:
        iot.update_topic_rule_destination(arn=d["arn"], status="DELETING")
    assert error_code(e)[:2] == ("InvalidRequestException", 400)


@pytest.mark.parametrize("op", ["get", "delete", "update"])
def test_a_missing_destination_is_access_denied(iot, account_id, op):
    arn = "arn:aws:iot:us-east-1:%s:ruledestination/http/%s" % (account_id, uuid.uuid4())
    call = {"get": lambda: iot.get_topic_rule_destination(arn=arn),
            "delete": lambda: iot.delete_topic_rule_destination(arn=arn),
            "update": lambda: iot.update_topic_rule_destination(arn=arn, status="ENABLED")}[op]
    with pytest.raises(ClientError) as e:
        call()
    assert error_code(e)[:2] == ("UnauthorizedException", 401)


@pytest.mark.parametrize("host", ["127.0.0.2", "169.254.169.254", "10.1.2.3"])
def test_the_ssrf_guard_refuses_confirmations_to_private_addresses(iot, receiver, host):
    rcv = receiver()  # only to clean up: its port is reused so the URL is unique
    d = create_destination(iot, "http://%s:%d/latest/meta-data/" % (host, rcv.port))
    got = until(lambda: (lambda x: x if x["status"] == "ERROR" else None)(
        destination(iot, d["arn"])), what="destination ERROR")
    assert "not a public address" in got["statusReason"], got
    iot.delete_topic_rule_destination(arn=d["arn"])


# --------------------------------------------------------------------------
# 2. The HTTP action
# --------------------------------------------------------------------------


def test_a_rule_makes_its_destination_and_sends_only_once_confirmed(iot, rules, dev, receiver):
    rcv = receiver()
    t = topic_of("http")
    errors = "errors/" + t
    url = rcv.url("/in/%s" % t)
    rules("SELECT temp, topic(3) AS dev FROM '%s/+'" % t, [http_action(
        url, headers=[{"key": "x-device", "value": "${topic(3)}"},
                      {"key": "x-static", "value": "s"}])],
        error_action=republish(errors))
    # The rule made a destination for the URL and sent its confirmation.
    mine = [s for s in iot.list_topic_rule_destinations()["destinationSummaries"]
            if s["httpUrlSummary"]["confirmationUrl"] == url]
    assert [s["status"] for s in mine] == ["IN_PROGRESS"]
    token = rcv.confirmation()["query"]["confirmationToken"]

    c = dev()
    c.subscribe((errors, 1))
    c.publish(t + "/d1", json.dumps({"temp": 1}), qos=1)
    err = error_message(c, errors)
    assert err["failures"][0]["failedAction"] == "HttpAction"
    assert err["failures"][0]["failedResource"] == url
    assert "IN_PROGRESS" in err["failures"][0]["errorMessage"]
    assert base64.b64decode(err["base64OriginalPayload"]) == b'{"temp": 1}'

    iot.confirm_topic_rule_destination(confirmationToken=token)
    c.publish(t + "/d2", json.dumps({"temp": 2}), qos=1)
    req = rcv.next(lambda r: r["path"].startswith("/in/"))
    assert req["method"] == "POST" and req["path"] == "/in/" + t
    assert json.loads(req["body"]) == {"temp": 2, "dev": "d2"}
    assert req["headers"]["content-type"] == "application/json"
    assert req["headers"]["x-device"] == "d2" and req["headers"]["x-static"] == "s"
    assert not [r for r in rcv.seen if b'"temp":1' in r["body"]]

    # Disabled: the action fails again, and nothing is sent.
    arn = mine[0]["arn"]
    iot.update_topic_rule_destination(arn=arn, status="DISABLED")
    c.publish(t + "/d3", json.dumps({"temp": 3}), qos=1)
    err = error_message(c, errors)
    assert base64.b64decode(err["base64OriginalPayload"]) == b'{"temp": 3}'
    assert "DISABLED" in err["failures"][0]["errorMessage"]
    assert not [r for r in rcv.seen if b'"temp":3' in r["body"]]


def test_http_posts_binary_output_as_octet_stream(iot, rules, dev, receiver):
    rcv = receiver()
    enabled_destination(iot, rcv, "/")
    t = topic_of("bin")
    rules("SELECT * FROM '%s'" % t, [http_action(rcv.url("/b/${topic(2)}"),
                                                 confirmationUrl=rcv.url("/"))])
    c = dev()
    c.publish(t, b"\x00\x01raw", qos=1)
    req = rcv.next(lambda r: r["path"].startswith("/b/"))
    assert req["path"] == "/b/" + t.split("/")[1]
    assert req["body"] == b"\x00\x01raw"
    assert req["headers"]["content-type"] == "application/octet-stream"


def test_http_retries_on_5xx_and_429_at_most_three_times(iot, rules, dev, receiver):
    rcv = receiver()
    enabled_destination(iot, rcv, "/")
    t = topic_of("retry")
    errors = "errors/" + t
    rules("SELECT * FROM '%s'" % t, [http_action(rcv.url("/r"), confirmationUrl=rcv.url("/"))],
          error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))

    def tries(n):
        return [r for r in list(rcv.seen) if r["path"] == "/r" and json.loads(r["body"])["n"] == n]

    # 503 then 429 then 200: delivered on the third try, no error.
    rcv.answer(503, 429)
    c.publish(t, json.dumps({"n": 1}), qos=1)
    # 500 three times: the action fails after three tries.
    until(lambda: len(tries(1)) == 3, what="three tries of n=1")
    rcv.answer(500, 500, 500)
    c.publish(t, json.dumps({"n": 2}), qos=1)
    err = error_message(c, errors)
    # The first error is n=2's: n=1 succeeded on its third try.
    assert json.loads(base64.b64decode(err["base64OriginalPayload"])) == {"n": 2}
    assert err["failures"][0]["failedAction"] == "HttpAction"
    assert "500" in err["failures"][0]["errorMessage"]
    assert len(tries(2)) == 3
    # A 4xx other than 429 is not retried.
    rcv.answer(404)
    c.publish(t, json.dumps({"n": 3}), qos=1)
    err = error_message(c, errors)
    assert json.loads(base64.b64decode(err["base64OriginalPayload"])) == {"n": 3}
    assert "404" in err["failures"][0]["errorMessage"]
    assert len(tries(3)) == 1
    assert len(tries(1)) == 3 and len(tries(2)) == 3


def test_an_endpoint_that_does_not_answer_fails_the_action(iot, rules, dev, receiver):
    rcv = receiver()
    enabled_destination(iot, rcv, "/")
    t = topic_of("down")
    errors = "errors/" + t
    rules("SELECT * FROM '%s'" % t, [http_action(rcv.url("/d"), confirmationUrl=rcv.url("/"))],
          error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))
    rcv.close()  # nothing listens on the port any more
    c.publish(t, b'{"a": 1}', qos=1)
    f = error_message(c, errors)["failures"][0]
    assert (f["failedAction"], f["failedResource"]) == ("HttpAction", rcv.url("/d"))
    assert f["errorMessage"]


def test_the_http_action_uses_the_destination_of_its_confirmation_url(
        iot, rules, dev, receiver):
    rcv = receiver()
    enabled_destination(iot, rcv, "/")
    # Another destination under it, left unconfirmed.
    create_destination(iot, rcv.url("/api"))
    rcv.confirmation()
    t = topic_of("which")
    errors = "errors/" + t
    rules("SELECT * FROM '%s'" % t, [http_action(rcv.url("/api/x"),
                                                 confirmationUrl=rcv.url("/"))],
          error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))
    c.publish(t, b'{"a": 1}', qos=1)
    # "confirmationUrl: The URL to which AWS IoT sends a confirmation message"
    # (https://docs.aws.amazon.com/iot/latest/apireference/API_HttpAction.html): the rule's
    # destination is the ENABLED one for its confirmation URL.
    until(lambda: [r for r in list(rcv.seen) if r["path"] == "/api/x"]
          or not c.no_message_pending(), what="a POST or an error")
    assert c.no_message_pending(), error_message(c, errors)
    [req] = [r for r in list(rcv.seen) if r["path"] == "/api/x"]
    assert json.loads(req["body"]) == {"a": 1}


def test_an_action_url_with_user_information_is_refused(iot, rules, aws_error, receiver):
    """`http://127.0.0.1:PORT@127.0.0.2:PORT/x` starts with the confirmed
    `http://127.0.0.1:PORT` as a string, but its host is 127.0.0.2: a URL with user
    information is refused when the rule is written."""
    rcv = receiver()
    prefix = "http://127.0.0.1:%d" % rcv.port
    sneaky = "%s@127.0.0.2:%d/x" % (prefix, rcv.port)
    with aws_error("InvalidRequestException", 400):
        rules("SELECT * FROM '%s'" % topic_of("ssrf"),
              [http_action(sneaky, confirmationUrl=prefix)])
    with aws_error("InvalidRequestException", 400):
        create_destination(iot, "http://user@127.0.0.1:%d/" % rcv.port)


def test_a_confirmed_destination_does_not_admit_another_host(iot, rules, dev, receiver):
    confirmed, other = receiver(), receiver()
    prefix = "http://127.0.0.1:%d" % confirmed.port
    create_destination(iot, prefix)
    iot.confirm_topic_rule_destination(
        confirmationToken=confirmed.confirmation()["query"]["confirmationToken"])
    t = topic_of("userinfo")
    errors = "errors/" + t
    try:
        rules("SELECT * FROM '%s'" % t, [http_action(
            "%s@127.0.0.1:%d/x" % (prefix, other.port), confirmationUrl=prefix)],
            error_action=republish(errors))
    except ClientError as e:  # refusing the URL outright is as good
        assert e.response["Error"]["Code"] == "InvalidRequestException"
        return
    c = dev()
    c.subscribe((errors, 1))
    c.publish(t, b'{"a": 1}', qos=1)
    until(lambda: other.seen or not c.no_message_pending(), what="a POST or an error")
    assert not other.seen, "posted to %s, which no destination confirmed" % other.url("/x")


# --------------------------------------------------------------------------
# 3. S3 and CloudWatch Logs
# --------------------------------------------------------------------------


def test_s3_writes_the_output_at_the_rendered_key(rules, dev, s3):
    bucket = "rules-" + uuid.uuid4().hex[:16]
    s3.create_bucket(Bucket=bucket)
    t = topic_of("s3")
    leaf = t.split("/")[1]
    rules("SELECT *, topic(2) AS id FROM '%s'" % t, [{"s3": {
        "roleArn": ROLE, "bucketName": bucket, "key": "${topic(2)}/${newuuid()}.json"}}])
    c = dev()
    for i in range(2):
        c.publish(t, json.dumps({"i": i}), qos=1)

    def objects():
        got = s3.list_objects_v2(Bucket=bucket, Prefix=leaf + "/").get("Contents", [])
        return got if len(got) == 2 else None

    keys = [o["Key"] for o in until(objects, what="two objects")]
    assert len(set(keys)) == 2
    for k in keys:
        uuid.UUID(k[len(leaf) + 1:-len(".json")])  # ${newuuid()}
    bodies = sorted(json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())["i"]
                    for k in keys)
    assert bodies == [0, 1]
    got = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert got["id"] == leaf


def test_a_missing_bucket_fires_the_error_action_with_awss_message(rules, dev):
    t = topic_of("nobucket")
    bucket = "no-such-bucket-" + uuid.uuid4().hex[:12]
    errors = "errors/" + t
    name = rules("SELECT * FROM '%s'" % t, [
        {"s3": {"roleArn": ROLE, "bucketName": bucket, "key": "k"}}],
        error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))
    c.publish(t, b'{"message": "Hello"}', qos=1)
    err = error_message(c, errors)
    assert set(err) == {"ruleName", "topic", "cloudwatchTraceId", "clientId",
                        "base64OriginalPayload", "failures"}
    assert err["ruleName"] == name
    assert err["topic"] == t
    assert err["clientId"] == c.client_id
    uuid.UUID(err["cloudwatchTraceId"])
    assert base64.b64decode(err["base64OriginalPayload"]) == b'{"message": "Hello"}'
    [f] = err["failures"]
    assert f["failedAction"] == "S3Action"
    assert f["failedResource"] == bucket
    assert f["errorMessage"]


def test_two_failures_make_one_error_message(rules, dev):
    t = topic_of("twofail")
    errors = "errors/" + t
    buckets = ["no-such-bucket-" + uuid.uuid4().hex[:12] for _ in range(2)]
    rules("SELECT * FROM '%s'" % t, [
        {"s3": {"roleArn": ROLE, "bucketName": b, "key": "k"}} for b in buckets],
        error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))
    c.publish(t, b'{"n": 1}', qos=1)
    c.publish(t, b'{"n": 2}', qos=1)
    first = error_message(c, errors)
    # "A single message is generated per rule and message. For example, if two rule actions
    # in the same rule fail, the error action receives one message that contains both errors."
    assert sorted(f["failedResource"] for f in first["failures"]) == sorted(buckets)
    second = error_message(c, errors)
    assert base64.b64decode(second["base64OriginalPayload"]) == b'{"n": 2}'


def test_cloudwatch_logs_writes_one_event_per_message(rules, dev, logs):
    group = "/shoal/rules/" + uuid.uuid4().hex[:12]
    t = topic_of("logs")
    rules("SELECT *, topic() AS t FROM '%s'" % t, [{"cloudwatchLogs": {
        "roleArn": ROLE, "logGroupName": group}}])
    c = dev()
    for i in range(2):
        c.publish(t, json.dumps({"i": i}), qos=1)

    def events():
        got = log_events(logs, group)
        return got if len(got) == 2 else None

    got = until(events, what="two log events")
    assert sorted(json.loads(e["message"])["i"] for e in got) == [0, 1]
    assert all(json.loads(e["message"])["t"] == t for e in got)


def test_cloudwatch_log_events_are_timestamped_now(fresh):
    # Its own server: the bug shows only while the account has no offline persistent session.
    srv, iot, connect = fresh()
    logs = service_client(srv, "logs")
    group = "/shoal/rules/" + uuid.uuid4().hex[:12]
    t = topic_of("logts")
    iot.create_topic_rule(ruleName=rule_name(), topicRulePayload={
        "sql": "SELECT * FROM '%s'" % t,
        "actions": [{"cloudwatchLogs": {"roleArn": ROLE, "logGroupName": group}}]})
    c = connect()
    before = int(time.time() * 1000)
    c.publish(t, b'{"a": 1}', qos=1)
    [e] = until(lambda: log_events(logs, group), what="a log event")
    assert before - 60_000 <= e["timestamp"] <= int(time.time() * 1000) + 60_000, (
        e["timestamp"], before)


def test_cloudwatch_logs_batch_mode(rules, dev, logs):
    group = "/shoal/rules/" + uuid.uuid4().hex[:12]
    t = topic_of("batch")
    errors = "errors/" + t
    rules("SELECT VALUE batch FROM '%s'" % t, [{"cloudwatchLogs": {
        "roleArn": ROLE, "logGroupName": group, "batchMode": True}}],
        error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))
    now = int(time.time() * 1000)
    c.publish(t, json.dumps({"batch": [{"timestamp": now - 1000, "message": "first"},
                                       {"timestamp": now, "message": "second"}]}), qos=1)
    got = until(lambda: (lambda e: e if len(e) == 2 else None)(log_events(logs, group)),
                what="two batch events")
    assert sorted((e["timestamp"], e["message"]) for e in got) == [
        (now - 1000, "first"), (now, "second")]
    # Not an array of {timestamp, message}: the action fails.
    c.publish(t, json.dumps({"batch": {"message": "no array"}}), qos=1)
    err = error_message(c, errors)
    assert err["failures"][0]["failedAction"] == "CloudwatchLogsAction"
    assert err["failures"][0]["failedResource"] == group


# --------------------------------------------------------------------------
# 4. Republish into services, reserved topics and loops
# --------------------------------------------------------------------------


def test_republish_into_the_shadow_service(rules, dev, data):
    c = dev()
    thing = c.client_id
    t = topic_of("feed")
    rules("SELECT state FROM '%s'" % t, [republish("$$aws/things/%s/shadow/update" % thing)],
          error_action=republish("errors/" + t))
    c.subscribe(("$aws/things/%s/shadow/update/accepted" % thing, 1), ("errors/" + t, 1))
    c.publish(t, json.dumps({"state": {"reported": {"temp": 23}}, "other": 1}), qos=1)
    got = c.next_message()
    assert got[0] == "$aws/things/%s/shadow/update/accepted" % thing, got
    assert json.loads(got[1])["state"] == {"reported": {"temp": 23}}
    shadow = json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["reported"] == {"temp": 23}


def test_republish_to_a_reserved_answer_topic_fails(rules, dev):
    c = dev()
    t = topic_of("reserved")
    errors = "errors/" + t
    target = "$aws/things/%s/shadow/update/accepted" % c.client_id
    rules("SELECT * FROM '%s'" % t, [republish("$" + target)], error_action=republish(errors))
    c.subscribe((target, 1), (errors, 1))
    c.publish(t, b'{"fake": true}', qos=1)
    got = c.next_message()
    assert got[0] == errors, "a rule published on a service's answer topic: %r" % (got,)
    f = json.loads(got[1])["failures"][0]
    assert (f["failedAction"], f["failedResource"]) == ("RepublishAction", target)


def test_a_republish_loop_is_stopped(server, rules, dev):
    # AWS documents that a republish onto the rule's own filter loops and sets no limit
    # (https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-rule.html); Shoal
    # stops it after a few hops and counts the stopped republish as a failure.
    t = topic_of("loop")
    name = rules("SELECT * FROM '%s/#'" % t, [republish(t + "/again")])
    c = dev()
    c.subscribe((t + "/again", 1))
    c.publish(t + "/start", b'{"x": 1}', qos=1)
    counts = until(lambda: (lambda n: n if n.get(("0", "failed")) == 1 else None)(
        action_counts(server, name)), what="the loop stopped")
    hops = counts[("0", "succeeded")]
    assert 1 <= hops <= 16 and counts[("0", "queued")] == hops + 1
    got = [c.next_message() for _ in range(hops)]
    assert {(m[0], m[1]) for m in got} == {(t + "/again", b'{"x":1}')}
    assert c.no_message_pending()


def test_a_stopped_loop_reaches_the_error_action(server, rules, dev):
    t = topic_of("loop")
    errors = "errors/" + t
    name = rules("SELECT * FROM '%s/#'" % t, [republish(t + "/again")],
                 error_action=republish(errors))
    c = dev()
    c.subscribe((errors, 1))
    c.publish(t + "/start", b'{"x": 1}', qos=1)
    # Once the error action has run (or failed), a marker sent after it comes second.
    until(lambda: sum(n for (i, o), n in action_counts(server, name).items()
                      if i == "error" and o in ("succeeded", "failed")),
          what="the error action ran")
    c.publish(errors, b'"marker"', qos=1)
    err = error_message(c, errors)
    assert err != "marker", "the error action's message was not delivered"
    f = err["failures"][0]
    assert f["failedAction"] == "RepublishAction" and "loop" in f["errorMessage"]


# --------------------------------------------------------------------------
# 5. /metrics
# --------------------------------------------------------------------------


def test_metrics_count_each_actions_work(server, rules, dev):
    t = topic_of("metrics")
    name = rules("SELECT * FROM '%s'" % t, [
        republish("out/" + t),
        {"s3": {"roleArn": ROLE, "bucketName": "no-such-bucket-" + uuid.uuid4().hex[:12],
                "key": "k"}},
    ], error_action=republish("errors/" + t))
    c = dev()
    c.subscribe(("out/" + t, 1), ("errors/" + t, 1))
    for i in range(3):
        c.publish(t, json.dumps({"i": i}), qos=1)
    got = [c.next_message() for _ in range(6)]
    assert sorted(m[0] for m in got) == sorted(["out/" + t] * 3 + ["errors/" + t] * 3)
    want = {
        ("0", "queued"): 3, ("0", "succeeded"): 3, ("0", "failed"): 0, ("0", "dropped"): 0,
        ("1", "queued"): 3, ("1", "succeeded"): 0, ("1", "failed"): 3, ("1", "dropped"): 0,
        ("error", "queued"): 3, ("error", "succeeded"): 3, ("error", "failed"): 0,
        ("error", "dropped"): 0,
    }
    # The worker counts a success after the broker took the message: poll briefly.
    until(lambda: action_counts(server, name) == want, what="action counters %r" % want)
