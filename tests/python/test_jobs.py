"""AWS IoT Jobs end to end: the owner's `iot` API (boto3 and the AWS CLI), devices on MQTT
(the AWS IoT Device SDK v2 jobs clients and raw paho-mqtt) and on HTTPS (boto3
`iot-jobs-data`), and a SIGKILL in the middle of a rollout.

What AWS IoT documents, and what is checked here
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html,
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-http-device-api.html,
https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html,
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html,
https://docs.aws.amazon.com/iot/latest/apireference/API_DescribeJob.html):
  * the seed's flow: search the fleet index for `shadow.reported.firmware <= 1.0.0`, put
    what it finds in a static group, create a job for that group; the devices run it and
    `aws iot describe-job` shows the execution overview (numberOfSucceededThings, ...);
  * a device is told of a new job on `notify-next` (the job document as a JSON object),
    `start-next` hands it the execution with its document, an update to SUCCEEDED ends it,
    and a SNAPSHOT job whose executions all ended is COMPLETED;
  * a fleet of three where one device succeeds, one fails and one rejects: the counters of
    DescribeJob, and a FAILED execution with `jobExecutionsRetryConfig` (FAILED, 1 retry)
    queued again as execution 2, retry attempt 1;
  * MQTT refusals on `/rejected`: InvalidJson, VersionMismatch and InvalidStateTransition
    (both with `executionState`), ResourceNotFound, `clientToken` echoed; devices cannot
    publish on the service's own topics (`notify`, answers);
  * durability: executions made before a SIGKILL are neither lost nor made twice; a job
    whose executions all ended before a SIGKILL is COMPLETED after the restart;
  * error shapes of CreateJob, DeleteJob and iot-jobs-data, and iot-jobs-data times in
    epoch seconds.

The session server is shared with every other module: every test uses names of its own
(jobs, things, groups), and the fleet-indexing test works in an account of its own. No test
sleeps to synchronise: devices wait on Queues/Futures with a timeout, and the owner's view
(DescribeJob, which the scheduler updates in the background) is polled with a deadline.
"""

import gc
import json
import os
import queue
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fleet_support import Fleet
from test_mqtt_gateway import (  # noqa: F401  (make_device and paho are fixtures)
    HOST, NOT_AUTHORIZED, THING, V311, V5, WAIT, arn, make_device, paho)

mqtt_crt = pytest.importorskip("awscrt.mqtt")
iotjobs = pytest.importorskip("awsiot.iotjobs")
QOS1 = mqtt_crt.QoS.AT_LEAST_ONCE

DEADLINE = 15.0  # seconds the background scheduler may take for what a test waits for
POLL = 0.02  # pause between two polls of the owner's view
SECONDS_MAX = 10_000_000_000  # an epoch time in seconds is below this (ms are above)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def until(fn, timeout=DEADLINE, what="condition"):
    """Calls fn until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("%s not reached within %ss (last: %r)" % (what, timeout, last))
        time.sleep(POLL)  # the poll interval, not a synchronisation


def jobs_data_client(srv, access_key=None, secret_key=None, validate=True, **config):
    """boto3 `iot-jobs-data`; only the endpoint is non-standard (SigV4 name iot-jobs-data)."""
    config.setdefault("connect_timeout", 10)
    config.setdefault("read_timeout", 30)
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                 parameter_validation=validate, **config)
    session = boto3.session.Session(aws_access_key_id=access_key or srv.access_key,
                                    aws_secret_access_key=secret_key or srv.secret_key,
                                    region_name="us-east-1")
    return session.client("iot-jobs-data", endpoint_url=srv.endpoint, config=cfg)


def job_policy(account_id):
    """AWS's jobs device policy: connect as the thing; publish, receive and subscribe on that
    thing's jobs topics only."""
    topics = "$aws/things/%s/jobs/*" % THING
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", THING)},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": arn(account_id, "topic", topics)},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": arn(account_id, "topicfilter", topics)},
        ],
    }


def counters(job):
    """The execution overview of a DescribeJob `job`: status -> count."""
    pd = job["jobProcessDetails"]
    return {k: pd.get("numberOf%sThings" % k, 0) for k in (
        "Succeeded", "Failed", "Canceled", "Rejected", "Queued", "InProgress", "Removed",
        "TimedOut")}


def overview(**nonzero):
    out = {k: 0 for k in ("Succeeded", "Failed", "Canceled", "Rejected", "Queued",
                          "InProgress", "Removed", "TimedOut")}
    out.update(nonzero)
    return out


def wait_job(iot, job_id, pred, what, timeout=DEADLINE):
    """Polls DescribeJob until pred(job) holds; returns the job."""
    return until(lambda: (lambda j: j if pred(j) else None)(
        iot.describe_job(jobId=job_id)["job"]), timeout, "%s: %s" % (job_id, what))


def take(q, what, pred=lambda _: True, timeout=WAIT):
    """The next item of q that satisfies pred (others are dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %s within %ss" % (what, timeout))
        try:
            item = q.get(timeout=left)
        except queue.Empty:
            raise AssertionError("no %s within %ss" % (what, timeout))
        if pred(item):
            return item


def assert_recent_dt(dt):
    """A datetime the SDK made with fromtimestamp(seconds): now, give or take a minute."""
    assert abs(dt.timestamp() - time.time()) < 60, dt


def assert_recent_secs(v):
    assert isinstance(v, int) and v < SECONDS_MAX and abs(v - time.time()) < 60, v


# --------------------------------------------------------------------------
# 1. The seed's flow: index search -> group -> job, with the AWS CLI
# --------------------------------------------------------------------------


def test_cli_seed_index_search_group_and_job(server):
    """The seed's three steps with the AWS CLI in an account of its own: fleet indexing on
    (REGISTRY_AND_SHADOW), `search-index "shadow.reported.firmware <= 1.0.0"` finds the
    devices still on 1.0.0 or older, a static group is made of them, `create-job` targets the
    group with `{"operation":"install",...}`; the devices run it over HTTPS (iot-jobs-data),
    and `describe-job` shows the execution overview, `list-job-executions-for-job` each
    device SUCCEEDED."""
    account, key, secret = server.create_account()
    fleet = Fleet(server, key, secret, account)
    out = fleet.cli("iot", "update-indexing-configuration", "--thing-indexing-configuration",
                    "thingIndexingMode=REGISTRY_AND_SHADOW")
    assert out in (None, {}), out
    fleet.wait_active()

    firmware = {"HomeGW-old": "0.9.0", "HomeGW-1": "1.0.0", "HomeGW-new": "1.0.1",
                "HomeGWV2": "2.0.0"}
    for thing, fw in firmware.items():
        fleet.iot.create_thing(thingName=thing)
        fleet.update_shadow(thing, {"state": {"reported": {"firmware": fw}}})
    outdated = ["HomeGW-1", "HomeGW-old"]

    # (1) search the index.
    def search():
        res = fleet.cli("iot", "search-index", "--index-name", "AWS_Things",
                        "--query-string", "shadow.reported.firmware <= 1.0.0")
        names = sorted(t["thingName"] for t in res["things"])
        return names if names == outdated else None

    found = until(search, what="things on firmware <= 1.0.0 in the index")

    # (2) a group for the update, made of what the search found.
    group = fleet.cli("iot", "create-thing-group", "--thing-group-name", "Firmware_Update")
    for thing in found:
        fleet.cli("iot", "add-thing-to-thing-group", "--thing-group-name", "Firmware_Update",
                  "--thing-name", thing)

    # (3) a job for that group.
    document = {"operation": "install", "data": "https://example.com/firmware/1.1.0.bin"}
    made = fleet.cli("iot", "create-job", "--job-id", "install-fw-1-1-0",
                     "--targets", group["thingGroupArn"],
                     "--document", json.dumps(document),
                     "--description", "firmware 1.1.0 for devices on 1.0.0 or older")
    assert made["jobId"] == "install-fw-1-1-0"
    assert made["jobArn"] == "arn:aws:iot:us-east-1:%s:job/install-fw-1-1-0" % account
    assert made["description"] == "firmware 1.1.0 for devices on 1.0.0 or older"

    job = until(lambda: (lambda j: j if counters(j)["Queued"] == 2 else None)(
        fleet.cli("iot", "describe-job", "--job-id", "install-fw-1-1-0")["job"]),
        what="two queued executions")
    assert job["status"] == "IN_PROGRESS"
    assert job["targetSelection"] == "SNAPSHOT"
    assert job["targets"] == [group["thingGroupArn"]]
    assert counters(job) == overview(Queued=2)
    got = fleet.cli("iot", "get-job-document", "--job-id", "install-fw-1-1-0")
    assert json.loads(got["document"]) == document
    listed = fleet.cli("iot", "list-jobs", "--thing-group-name", "Firmware_Update")
    assert [j["jobId"] for j in listed["jobs"]] == ["install-fw-1-1-0"]

    # The devices run it over HTTPS.
    device = jobs_data_client(server, key, secret)
    for thing in found:
        pending = device.get_pending_job_executions(thingName=thing)
        assert [j["jobId"] for j in pending["queuedJobs"]] == ["install-fw-1-1-0"]
        assert pending["inProgressJobs"] == []
        started = device.start_next_pending_job_execution(
            thingName=thing, statusDetails={"step": "downloading"})["execution"]
        assert (started["jobId"], started["thingName"], started["status"]) == (
            "install-fw-1-1-0", thing, "IN_PROGRESS")
        assert json.loads(started["jobDocument"]) == document
        done = device.update_job_execution(
            thingName=thing, jobId="install-fw-1-1-0", status="SUCCEEDED",
            statusDetails={"firmware": "1.1.0"}, includeJobExecutionState=True)
        assert done["executionState"]["status"] == "SUCCEEDED"
        assert done["executionState"]["statusDetails"] == {"firmware": "1.1.0"}
    # The newer devices were never targeted.
    for thing in ("HomeGW-new", "HomeGWV2"):
        assert device.get_pending_job_executions(thingName=thing)["queuedJobs"] == []
        assert fleet.iot.list_job_executions_for_thing(thingName=thing)[
            "executionSummaries"] == []

    # The execution overview of the seed's console page, from `aws iot describe-job`.
    job = until(lambda: (lambda j: j if j["status"] == "COMPLETED" else None)(
        fleet.cli("iot", "describe-job", "--job-id", "install-fw-1-1-0")["job"]),
        what="job COMPLETED")
    assert counters(job) == overview(Succeeded=2)
    assert "processingTargets" not in job["jobProcessDetails"] or \
        job["jobProcessDetails"]["processingTargets"] == []
    assert job["completedAt"] >= job["createdAt"]
    assert job["isConcurrent"] is False
    for args, want in [(("--status", "COMPLETED"), ["install-fw-1-1-0"]),
                       (("--status", "IN_PROGRESS"), []),
                       (("--target-selection", "SNAPSHOT"), ["install-fw-1-1-0"]),
                       (("--target-selection", "CONTINUOUS"), [])]:
        listed = fleet.cli("iot", "list-jobs", *args)
        assert [j["jobId"] for j in listed["jobs"]] == want, args
    summary = fleet.cli("iot", "list-jobs")["jobs"][0]
    assert (summary["status"], summary["targetSelection"]) == ("COMPLETED", "SNAPSHOT")
    execs = fleet.cli("iot", "list-job-executions-for-job", "--job-id", "install-fw-1-1-0")
    rows = sorted((e["thingArn"].rsplit("/", 1)[1], e["jobExecutionSummary"]["status"],
                   e["jobExecutionSummary"]["executionNumber"])
                  for e in execs["executionSummaries"])
    assert rows == [(t, "SUCCEEDED", 1) for t in outdated]
    one = fleet.cli("iot", "describe-job-execution", "--job-id", "install-fw-1-1-0",
                    "--thing-name", "HomeGW-1")["execution"]
    assert one["status"] == "SUCCEEDED"
    assert one["statusDetails"] == {"detailsMap": {"firmware": "1.1.0"}}
    assert one["versionNumber"] == 3  # queued 1, started 2, succeeded 3


# --------------------------------------------------------------------------
# 2. AWS IoT Device SDK v2: IotJobsClientV2 (MQTT 5) and IotJobsClient (MQTT 3.1.1)
# --------------------------------------------------------------------------


@pytest.fixture
def sdk_device(make_device, account_id, server):
    """-> (IotJobsClientV2 over an MQTT 5 client, thing), as the SDK's jobs sample makes it."""
    mqtt5_builder = pytest.importorskip("awsiot.mqtt5_client_builder")
    rr = pytest.importorskip("awscrt.mqtt_request_response")
    creds, (thing,) = make_device(job_policy(account_id))
    connected, stopped = threading.Event(), threading.Event()
    client = mqtt5_builder.mtls_from_path(
        endpoint=HOST, port=server.mqtt_port, cert_filepath=creds.cert,
        pri_key_filepath=creds.key, ca_filepath=str(server.ca_file), client_id=thing,
        keep_alive_interval_sec=30,
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_stopped=lambda _: stopped.set())
    client.start()
    try:
        assert connected.wait(WAIT), "the MQTT 5 client did not connect"
        jobs = iotjobs.IotJobsClientV2(client, rr.ClientOptions(
            max_request_response_subscriptions=2, max_streaming_subscriptions=2,
            operation_timeout_in_seconds=int(WAIT)))
        yield jobs, thing
    finally:
        # The request-response client and its streams go before the MQTT client they use.
        jobs = None
        gc.collect()
        client.stop()
        stopped.wait(WAIT)


def open_stream(create, request):
    """Opens an SDK event stream; returns the Queue its events go to once subscribed."""
    import awsiot
    from awscrt.mqtt_request_response import SubscriptionStatusEventType

    events, status = queue.Queue(), queue.Queue()
    stream = create(request, awsiot.ServiceStreamOptions(
        incoming_event_listener=events.put,
        subscription_status_listener=status.put))
    stream.open()
    ev = take(status, "stream subscription status")
    assert ev.type == SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED, ev.type
    return stream, events


def test_awsiotsdk_v2_device_runs_a_job(sdk_device, iot, unique):
    """The SDK's jobs sample flow with IotJobsClientV2 over MQTT 5: the device opens its
    notify and notify-next streams; a job created afterwards reaches it on notify-next
    (QUEUED, document as an object) and notify; start-next hands it the execution with its
    document (IN_PROGRESS, version 2); describe says IN_PROGRESS; SUCCEEDED ends it, both
    streams say nothing is pending, and DescribeJob says COMPLETED."""
    jobs, thing = sdk_device
    stream_next, nexts = open_stream(
        jobs.create_next_job_execution_changed_stream,
        iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing))
    stream_all, changes = open_stream(
        jobs.create_job_executions_changed_stream,
        iotjobs.JobExecutionsChangedSubscriptionRequest(thing_name=thing))
    pending = jobs.get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing)).result(WAIT)
    assert (pending.queued_jobs or []) == [] and (pending.in_progress_jobs or []) == []

    job_id = unique("sdk-job")
    document = {"operation": "install", "data": "https://example.com/fw.bin"}
    thing_arn = iot.describe_thing(thingName=thing)["thingArn"]
    iot.create_job(jobId=job_id, targets=[thing_arn], document=json.dumps(document),
                   targetSelection="SNAPSHOT")

    ev = take(nexts, "notify-next of the new job")
    assert ev.execution is not None, "notify-next without an execution"
    assert (ev.execution.job_id, ev.execution.status) == (job_id, "QUEUED")
    assert ev.execution.job_document == document
    assert (ev.execution.version_number, ev.execution.execution_number) == (1, 1)
    assert_recent_dt(ev.execution.queued_at)
    assert_recent_dt(ev.timestamp)
    ch = take(changes, "notify of the new job")
    assert [s.job_id for s in ch.jobs["QUEUED"]] == [job_id]
    assert not ch.jobs.get("IN_PROGRESS")

    started = jobs.start_next_pending_job_execution(
        iotjobs.StartNextPendingJobExecutionRequest(
            thing_name=thing, status_details={"step": "download"})).result(WAIT)
    ex = started.execution
    assert (ex.job_id, ex.status, ex.version_number) == (job_id, "IN_PROGRESS", 2)
    assert ex.job_document == document
    assert ex.status_details == {"step": "download"}
    assert_recent_dt(ex.started_at)

    desc = jobs.describe_job_execution(iotjobs.DescribeJobExecutionRequest(
        thing_name=thing, job_id=job_id)).result(WAIT)
    assert (desc.execution.job_id, desc.execution.status) == (job_id, "IN_PROGRESS")
    assert desc.execution.job_document == document  # includeJobDocument defaults to true

    done = jobs.update_job_execution(iotjobs.UpdateJobExecutionRequest(
        thing_name=thing, job_id=job_id, status="SUCCEEDED", expected_version=2,
        include_job_execution_state=True)).result(WAIT)
    assert (done.execution_state.status, done.execution_state.version_number) == (
        "SUCCEEDED", 3)
    assert done.job_document is None

    # Nothing pending any more: notify-next without an execution, notify with no jobs.
    last = take(nexts, "notify-next after the job ended")
    assert last.execution is None, last.execution
    ch = take(changes, "notify after the job ended")
    assert not ch.jobs, ch.jobs
    pending = jobs.get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing)).result(WAIT)
    assert (pending.queued_jobs or []) == [] and (pending.in_progress_jobs or []) == []

    job = wait_job(iot, job_id, lambda j: j["status"] == "COMPLETED", "COMPLETED")
    assert counters(job) == overview(Succeeded=1)
    assert "completedAt" in job


class V1Device:
    """One device of the fleet: IotJobsClient (the SDK's MQTT 3.1.1 jobs client) with its
    notify-next, start-next and update answers subscribed, each into a Queue."""

    def __init__(self, server, creds, thing, job_id):
        builder = pytest.importorskip("awsiot.mqtt_connection_builder")
        self.thing, self.job_id = thing, job_id
        self.conn = builder.mtls_from_path(
            endpoint=HOST, port=server.mqtt_port, cert_filepath=creds.cert,
            pri_key_filepath=creds.key, ca_filepath=str(server.ca_file), client_id=thing,
            clean_session=True, keep_alive_secs=30)
        self.conn.connect().result(WAIT)
        self.jobs = iotjobs.IotJobsClient(self.conn)
        self.nexts, self.started, self.updated, self.refused = (
            queue.Queue(), queue.Queue(), queue.Queue(), queue.Queue())
        j = self.jobs
        for sub, req, q in [
            (j.subscribe_to_next_job_execution_changed_events,
             iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing), self.nexts),
            (j.subscribe_to_start_next_pending_job_execution_accepted,
             iotjobs.StartNextPendingJobExecutionSubscriptionRequest(thing_name=thing),
             self.started),
            (j.subscribe_to_start_next_pending_job_execution_rejected,
             iotjobs.StartNextPendingJobExecutionSubscriptionRequest(thing_name=thing),
             self.refused),
            (j.subscribe_to_update_job_execution_accepted,
             iotjobs.UpdateJobExecutionSubscriptionRequest(thing_name=thing, job_id=job_id),
             self.updated),
            (j.subscribe_to_update_job_execution_rejected,
             iotjobs.UpdateJobExecutionSubscriptionRequest(thing_name=thing, job_id=job_id),
             self.refused),
        ]:
            future, _ = sub(req, QOS1, q.put)
            future.result(WAIT)

    def next_execution(self, what, **expect):
        """The next notify-next carrying this job with the expected members."""
        def match(ev):
            e = ev.execution
            return e is not None and e.job_id == self.job_id and all(
                getattr(e, k) == v for k, v in expect.items())
        return take(self.nexts, "%s: %s" % (self.thing, what), match).execution

    def start_next(self, token):
        self.jobs.publish_start_next_pending_job_execution(
            iotjobs.StartNextPendingJobExecutionRequest(thing_name=self.thing,
                                                        client_token=token),
            QOS1).result(WAIT)
        got = take(self.started, "%s: start-next/accepted" % self.thing,
                   lambda r: r.client_token == token)
        assert self.refused.empty(), self.refused.get()
        return got.execution

    def update(self, status, token, **kw):
        self.jobs.publish_update_job_execution(
            iotjobs.UpdateJobExecutionRequest(thing_name=self.thing, job_id=self.job_id,
                                              status=status, client_token=token, **kw),
            QOS1).result(WAIT)
        got = take(self.updated, "%s: update/accepted (%s)" % (self.thing, status),
                   lambda r: r.client_token == token)
        assert self.refused.empty(), self.refused.get()
        return got

    def close(self):
        self.conn.disconnect().result(WAIT)


def test_awsiotsdk_fleet_succeeds_fails_rejects_and_retries(make_device, account_id, server,
                                                             iot, unique):
    """Three devices (IotJobsClient over MQTT 3.1.1) in a static group; the job has
    jobExecutionsRetryConfig FAILED x1. One succeeds, one rejects its QUEUED execution, one
    fails: its execution is queued again (notify-next with executionNumber 2;
    ListJobExecutionsForThing: executionNumber 2, retryAttempt 1), it fails the retry too and
    stays FAILED. DescribeJob: COMPLETED with 1 succeeded, 1 failed, 1 rejected."""
    creds, things = make_device(job_policy(account_id), things=3)
    ok_thing, fail_thing, reject_thing = things
    group = unique("fleet")
    group_arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    for t in things:
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=t)
    job_id = unique("fleet-job")
    devices = []
    try:
        for t in things:
            devices.append(V1Device(server, creds, t, job_id))
        ok, fail, reject = devices
        document = {"operation": "install", "data": "https://example.com/fw-3.bin"}
        iot.create_job(jobId=job_id, targets=[group_arn], document=json.dumps(document),
                       jobExecutionsRetryConfig={"criteriaList": [
                           {"failureType": "FAILED", "numberOfRetries": 1}]})
        for d in devices:
            e = d.next_execution("notify-next of the new job", status="QUEUED")
            assert (e.execution_number, e.version_number) == (1, 1)
            assert e.job_document == document

        # The first device succeeds.
        e = ok.start_next("ok-start")
        assert (e.job_id, e.status, e.job_document) == (job_id, "IN_PROGRESS", document)
        ok.update("SUCCEEDED", "ok-done")

        # The third rejects the job without starting it.
        got = reject.update("REJECTED", "reject", include_job_execution_state=True,
                            status_details={"reason": "incompatible"})
        assert got.execution_state.status == "REJECTED"

        # The second fails: a retry is queued, as execution 2.
        e = fail.start_next("fail-start-1")
        assert (e.status, e.execution_number) == ("IN_PROGRESS", 1)
        fail.update("FAILED", "fail-1")
        e = fail.next_execution("notify-next of the retry", execution_number=2)
        assert e.status == "QUEUED"
        assert e.job_document == document
        summary = iot.list_job_executions_for_thing(thingName=fail_thing, jobId=job_id)[
            "executionSummaries"]
        assert [(s["jobId"], s["jobExecutionSummary"]["status"],
                 s["jobExecutionSummary"]["executionNumber"],
                 s["jobExecutionSummary"].get("retryAttempt"))
                for s in summary] == [(job_id, "QUEUED", 2, 1)]
        assert iot.describe_job_execution(jobId=job_id, thingName=fail_thing)[
            "execution"]["executionNumber"] == 2
        assert iot.describe_job(jobId=job_id)["job"]["status"] == "IN_PROGRESS"

        # It fails the retry as well: no retry is left.
        e = fail.start_next("fail-start-2")
        assert (e.job_id, e.status, e.execution_number) == (job_id, "IN_PROGRESS", 2)
        fail.update("FAILED", "fail-2", status_details={"error": "checksum"})
        last = take(fail.nexts, "notify-next after the last failure",
                    lambda ev: ev.execution is None or ev.execution.job_id != job_id)
        assert last.execution is None, last.execution

        job = wait_job(iot, job_id, lambda j: j["status"] == "COMPLETED", "COMPLETED")
        assert counters(job) == overview(Succeeded=1, Failed=1, Rejected=1)
        assert job["jobExecutionsRetryConfig"] == {"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 1}]}
        rows = {e["thingArn"].rsplit("/", 1)[1]: e["jobExecutionSummary"] for e in
                iot.list_job_executions_for_job(jobId=job_id)["executionSummaries"]}
        assert {t: (s["status"], s["executionNumber"]) for t, s in rows.items()} == {
            ok_thing: ("SUCCEEDED", 1), fail_thing: ("FAILED", 2),
            reject_thing: ("REJECTED", 1)}
        assert rows[fail_thing].get("retryAttempt") == 1
        assert iot.list_job_executions_for_job(jobId=job_id, status="FAILED")[
            "executionSummaries"][0]["thingArn"].endswith("/" + fail_thing)
        rejected = iot.describe_job_execution(jobId=job_id, thingName=reject_thing)["execution"]
        assert rejected["statusDetails"] == {"detailsMap": {"reason": "incompatible"}}
        assert "startedAt" not in rejected
    finally:
        for d in devices:
            d.close()


# --------------------------------------------------------------------------
# 3. paho-mqtt, raw: the rejected documents, and the service's own topics
# --------------------------------------------------------------------------


class Inbox:
    """Messages of a Paho client by topic, whatever order they arrive in."""

    def __init__(self, client):
        self.client = client
        self.seen = []  # every (topic, parsed payload) taken from the client, in order
        self.pending = []

    def _pull(self, timeout):
        topic, payload, _, _ = self.client.next_message(timeout)
        try:
            body = json.loads(payload)
        except ValueError:
            body = payload
        self.seen.append((topic, body))
        self.pending.append((topic, body))

    def next(self, topic, pred=lambda _: True, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            for i, (t, body) in enumerate(self.pending):
                if t == topic and pred(body):
                    del self.pending[i]
                    return body
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("nothing on %s within %ss (got %r)"
                                     % (topic, timeout, self.pending))
            self._pull(left)

    def ask(self, topic, body, answer, token=None):
        """Publishes a request (QoS 1; PUBACK 0) and returns its answer on topic/answer."""
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        assert self.client.publish_acked(topic, payload) == 0
        return self.next("%s/%s" % (topic, answer),
                         (lambda b: b.get("clientToken") == token) if token else
                         (lambda _: True))


def test_paho_rejected_codes_and_client_tokens(make_device, account_id, paho, iot, unique):
    """Raw MQTT 5 requests: a payload that is not a JSON object is InvalidJson; start-next
    echoes its clientToken; an update with a wrong expectedVersion is VersionMismatch with
    the executionState; an update of a SUCCEEDED execution is InvalidStateTransition with its
    executionState; an unknown job is ResourceNotFound; every rejection echoes clientToken
    and carries a timestamp in seconds."""
    creds, (thing,) = make_device(job_policy(account_id))
    dev = paho(creds, thing, V5)
    dev.connect()
    base = "$aws/things/%s/jobs" % thing
    assert dev.subscribe((base + "/#", 1)) == [1]
    box = Inbox(dev)

    job_id = unique("raw-job")
    document = {"operation": "install", "data": "x"}
    iot.create_job(jobId=job_id, targets=[iot.describe_thing(thingName=thing)["thingArn"]],
                   document=json.dumps(document))
    told = box.next(base + "/notify-next", lambda b: "execution" in b)
    assert told["execution"]["jobId"] == job_id
    assert told["execution"]["jobDocument"] == document  # an object on MQTT
    assert_recent_secs(told["timestamp"])
    assert_recent_secs(told["execution"]["queuedAt"])

    # Not a JSON object, not JSON at all.
    for bad in (b"[1, 2]", b'"start"', b"{not json"):
        rej = box.ask(base + "/start-next", bad, "rejected")
        assert rej["code"] == "InvalidJson", rej
        assert_recent_secs(rej["timestamp"])
    # Nothing was started by them.
    pending = box.ask(base + "/get", {"clientToken": "get-1"}, "accepted", "get-1")
    assert [j["jobId"] for j in pending["queuedJobs"]] == [job_id]
    assert pending["inProgressJobs"] == []
    assert_recent_secs(pending["timestamp"])

    started = box.ask(base + "/start-next", {"clientToken": "start-1"}, "accepted", "start-1")
    assert started["clientToken"] == "start-1"
    ex = started["execution"]
    assert (ex["jobId"], ex["status"], ex["versionNumber"], ex["executionNumber"]) == (
        job_id, "IN_PROGRESS", 2, 1)
    assert ex["jobDocument"] == document
    assert_recent_secs(ex["startedAt"])

    upd = "%s/%s/update" % (base, job_id)
    stale = box.ask(upd, {"status": "SUCCEEDED", "expectedVersion": 1, "clientToken": "vm"},
                    "rejected", "vm")
    assert stale["code"] == "VersionMismatch", stale
    assert stale["executionState"]["status"] == "IN_PROGRESS"
    assert stale["executionState"]["versionNumber"] == 2
    assert_recent_secs(stale["timestamp"])

    done = box.ask(upd, {"status": "SUCCEEDED", "expectedVersion": 2, "clientToken": "ok",
                         "statusDetails": {"result": "installed"}}, "accepted", "ok")
    assert "executionState" not in done and "jobDocument" not in done

    again = box.ask(upd, {"status": "IN_PROGRESS", "clientToken": "ist"}, "rejected", "ist")
    assert again["code"] == "InvalidStateTransition", again
    assert again["executionState"]["status"] == "SUCCEEDED"
    assert again["executionState"]["versionNumber"] == 3
    assert again["executionState"]["statusDetails"] == {"result": "installed"}

    missing = box.ask("%s/%s/update" % (base, unique("nojob")),
                      {"status": "SUCCEEDED", "clientToken": "nf"}, "rejected", "nf")
    assert missing["code"] == "ResourceNotFound", missing
    assert "executionState" not in missing

    desc = box.ask("%s/%s/get" % (base, job_id), {"clientToken": "d", "includeJobDocument":
                                                  False}, "accepted", "d")
    assert desc["execution"]["status"] == "SUCCEEDED"
    assert "jobDocument" not in desc["execution"]
    assert iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"][
        "status"] == "SUCCEEDED"


def test_paho_answers_reach_the_requester_alone(make_device, account_id, paho, iot, unique):
    """AWS IoT Jobs writes the answer to a request on the requesting connection, subscribed or
    not, and to no one else: a watcher subscribed to every jobs topic of the thing gets its
    notifications but not another client's answers (jobs-mqtt-api.html: "These response
    messages don't pass through the message broker and can't be subscribed to by other
    clients or rules")."""
    topics = "$aws/things/*/jobs/*"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": arn(account_id, "client", "*")},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": arn(account_id, "topic", topics)},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": arn(account_id, "topicfilter", topics)},
        ],
    }
    creds, (thing, watcher_id) = make_device(policy, things=2)
    base = "$aws/things/%s/jobs" % thing
    watcher = paho(creds, watcher_id, V5)
    watcher.connect()
    assert watcher.subscribe((base + "/#", 1)) == [1]
    seen = Inbox(watcher)
    dev = paho(creds, thing, V5)  # subscribes to nothing
    dev.connect()
    box = Inbox(dev)
    job_id = unique("direct")
    iot.create_job(jobId=job_id, targets=[iot.describe_thing(thingName=thing)["thingArn"]],
                   document=json.dumps({"operation": "x"}))
    assert seen.next(base + "/notify-next")["execution"]["jobId"] == job_id
    got = box.ask(base + "/get", {"clientToken": "mine"}, "accepted", "mine")
    assert [j["jobId"] for j in got["queuedJobs"]] == [job_id]
    # Ending the job empties the list: `notify` goes to the subscribers after the answers
    # above, so a watcher given those answers would have them before it.
    box.ask(base + "/start-next", {"clientToken": "go"}, "accepted", "go")
    box.ask("%s/%s/update" % (base, job_id), {"status": "SUCCEEDED", "clientToken": "end"},
            "accepted", "end")
    seen.next(base + "/notify", lambda b: b.get("jobs") == {})
    answers = [t for t, _ in seen.seen if t.endswith("/accepted") or t.endswith("/rejected")]
    assert answers == [], answers


@pytest.mark.parametrize("protocol", [pytest.param(V311, id="mqtt311"),
                                      pytest.param(V5, id="mqtt5")])
def test_paho_devices_cannot_publish_on_the_services_topics(make_device, account_id, paho,
                                                            iot, unique, protocol):
    """`$aws/things/{thing}/jobs/notify` (and notify-next, and an answer topic) are the
    service's: even with a policy that allows publishing there, a device's publish is refused
    (MQTT 3.1.1: disconnected; MQTT 5: PUBACK 0x87, connection kept) and nothing reaches the
    thing's subscribers."""
    creds, (thing, watcher_id) = make_device(job_policy(account_id), things=2)
    base = "$aws/things/%s/jobs" % thing
    watcher = paho(creds, thing, V5)  # the thing's own connection, subscribed
    watcher.connect()
    assert watcher.subscribe((base + "/#", 1)) == [1]
    box = Inbox(watcher)
    forged = json.dumps({"timestamp": 1, "jobs": {"QUEUED": [{"jobId": "forged"}]}})

    if protocol == V311:
        for topic in ("/notify", "/notify-next", "/get/accepted"):
            dev = paho(creds, watcher_id, V311)
            dev.connect()
            mid = dev.publish(base + topic, forged, qos=1)
            assert dev.closed.wait(WAIT), "MQTT 3.1.1: connection stayed after %s" % topic
            assert dev.pubacks.get(mid) is None
    else:
        dev = paho(creds, watcher_id, V5)
        dev.connect()
        for topic in ("/notify", "/notify-next", "/get/accepted", "/start-next/rejected"):
            assert dev.publish_acked(base + topic, forged) == NOT_AUTHORIZED, topic
        assert not dev.closed.is_set()

    # A marker after the refusals: the thing's own request and its answer. Had any forged
    # message been routed, the watcher would have received it before the marker.
    box.ask(base + "/get", {"clientToken": "marker"}, "accepted", "marker")
    forged_seen = [m for m in box.seen if "forged" in json.dumps(m[1])]
    assert forged_seen == []


# --------------------------------------------------------------------------
# 4. Durability: SIGKILL in the middle of a rollout
# --------------------------------------------------------------------------

FLEET = 1500


def test_sigkill_during_a_rollout_makes_each_execution_once(shoal_factory, tmp_path):
    """1,500 things in a static group, a job over the group, SIGKILL as soon as DescribeJob
    shows some but not all executions; after a restart on the same data directory the rollout
    completes: ListJobExecutionsForJob lists each thing exactly once (execution 1), the
    counters sum to 1,500 and each device has one pending execution."""
    data_dir = tmp_path / "jobs-crash"
    srv = shoal_factory(data_dir)
    iot = srv.client()
    group_arn = iot.create_thing_group(thingGroupName="big-fleet")["thingGroupArn"]
    names = ["node-%04d" % i for i in range(FLEET)]
    local = threading.local()

    def make(name):
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = srv.client()
        c.create_thing(thingName=name)
        c.add_thing_to_thing_group(thingGroupName="big-fleet", thingName=name)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, names))
    assert iot.describe_thing_group(thingGroupName="big-fleet")["thingGroupName"] == "big-fleet"

    iot.create_job(jobId="fleet-wide", targets=[group_arn],
                   document=json.dumps({"operation": "install", "data": "all"}))
    observed = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pd = iot.describe_job(jobId="fleet-wide")["job"]["jobProcessDetails"]
        made = sum(v for k, v in pd.items() if k.startswith("numberOf"))
        observed.append(made)
        if made > 0:  # some executions exist (all of them, if the rollout was quicker)
            break
    os.kill(srv.pid, signal.SIGKILL)
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL
    print("executions seen before the kill: %s (%d polls)" % (observed[-1], len(observed)))

    srv2 = shoal_factory(data_dir)
    iot2 = srv2.client()

    def settled():
        job = iot2.describe_job(jobId="fleet-wide")["job"]
        c = counters(job)
        done = sum(c.values()) >= FLEET and not job["jobProcessDetails"].get(
            "processingTargets") and not job.get("isConcurrent")
        return job if done else None

    job = until(settled, 30, "the rollout finished after the restart")
    assert counters(job) == overview(Queued=FLEET)
    assert job["status"] == "IN_PROGRESS"

    listed, token = [], None
    while True:
        kw = {"jobId": "fleet-wide", "maxResults": 250}
        if token:
            kw["nextToken"] = token
        page = iot2.list_job_executions_for_job(**kw)
        listed.extend(page["executionSummaries"])
        token = page.get("nextToken")
        if not token:
            break
    things = [e["thingArn"].rsplit("/", 1)[1] for e in listed]
    dupes = sorted(t for t, n in Counter(things).items() if n > 1)
    assert dupes == [], "listed more than once: %s" % dupes[:10]
    assert sorted(things) == names, "missing: %s" % sorted(set(names) - set(things))[:10]
    assert {(e["jobExecutionSummary"]["status"], e["jobExecutionSummary"]["executionNumber"])
            for e in listed} == {("QUEUED", 1)}

    device = jobs_data_client(srv2)
    for name in (names[0], names[FLEET // 2], names[-1]):
        pending = device.get_pending_job_executions(thingName=name)
        assert [(j["jobId"], j["executionNumber"], j["versionNumber"])
                for j in pending["queuedJobs"]] == [("fleet-wide", 1, 1)]


SINGLES = 300  # one-thing jobs for the crash test below
CRASH_ROUNDS = 8  # SIGKILLs at most (each lands during some devices' updates)
ACKS_PER_ROUND = 40  # acknowledged updates before each SIGKILL
UPDATERS = 32  # devices updating at the same time


def test_sigkill_while_devices_finish_leaves_no_job_unfinished(shoal_factory, tmp_path):
    """300 one-thing SNAPSHOT jobs; 32 devices at a time report SUCCEEDED over HTTPS and the
    server is killed with SIGKILL while they do, then restarted on the same data directory,
    up to 8 times. After each restart every acknowledged update is there, and every job whose
    execution has ended is COMPLETED (AWS: a snapshot job completes once all its executions
    are in a terminal state), within a few seconds."""
    data_dir = tmp_path / "jobs-finish-crash"
    srv = shoal_factory(data_dir)
    local = threading.local()

    def owner():
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = srv.client()
        return c

    def make(i):
        arn_ = owner().create_thing(thingName="single-%03d" % i)["thingArn"]
        owner().create_job(jobId="single-%03d" % i, targets=[arn_], document='{"op":"x"}')

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(SINGLES)))
    device = jobs_data_client(srv, max_pool_connections=UPDATERS)
    until(lambda: device.get_pending_job_executions(thingName="single-%03d" % (SINGLES - 1))[
        "queuedJobs"], what="the last job released")

    todo = list(range(SINGLES))
    for round_ in range(CRASH_ROUNDS):
        lock, acked, killed = threading.Lock(), [], threading.Event()
        # Half of what is left at most, so the kill always lands while devices still update.
        threshold = min(ACKS_PER_ROUND, max(1, len(todo) // 2))
        device = jobs_data_client(srv, max_pool_connections=UPDATERS,
                                  connect_timeout=5, read_timeout=10)

        def finish(i, device=device, srv=srv, lock=lock, acked=acked, killed=killed):
            if killed.is_set():
                return
            try:
                device.update_job_execution(thingName="single-%03d" % i,
                                            jobId="single-%03d" % i, status="SUCCEEDED")
            except Exception:  # refused or cut off by the kill
                assert killed.is_set(), "an update failed before the kill"
                return
            with lock:
                acked.append(i)
                if len(acked) >= threshold and not killed.is_set():
                    killed.set()
                    os.kill(srv.pid, signal.SIGKILL)

        with ThreadPoolExecutor(UPDATERS) as pool:
            list(pool.map(finish, todo))
        assert killed.is_set(), "every device finished before the kill"
        assert srv.proc.wait(timeout=10) == -signal.SIGKILL

        srv = shoal_factory(data_dir)
        iot = srv.client(max_pool_connections=16)
        with ThreadPoolExecutor(16) as pool:
            jobs = dict(zip(todo, pool.map(
                lambda i: iot.describe_job(jobId="single-%03d" % i)["job"], todo)))
        ended = [i for i, j in jobs.items() if counters(j)["Succeeded"] == 1]
        lost = sorted(set(acked) - set(ended))
        assert lost == [], "acknowledged SUCCEEDED updates lost: %s" % lost

        def unfinished():
            return [i for i in ended if iot.describe_job(jobId="single-%03d" % i)["job"][
                "status"] != "COMPLETED"]

        stuck = unfinished()
        deadline = time.monotonic() + 5
        while stuck and time.monotonic() < deadline:
            time.sleep(0.1)  # the poll interval: a restarted server may finish them late
            stuck = [i for i in stuck if iot.describe_job(jobId="single-%03d" % i)["job"][
                "status"] != "COMPLETED"]
        assert stuck == [], (
            "round %d: jobs whose only execution SUCCEEDED are still IN_PROGRESS after the "
            "restart: %s" % (round_, [(i, jobs[i]["status"]) for i in stuck]))
        todo = [i for i in todo if i not in set(ended)]
        if not todo:
            break


# --------------------------------------------------------------------------
# 5. Error shapes, and times in seconds on iot-jobs-data
# --------------------------------------------------------------------------


def test_create_job_errors(iot, iot_raw, account_id, unique, aws_error):
    """CreateJob: a jobId outside [a-zA-Z0-9_-]{1,64} is InvalidRequestException; an unknown
    target thing or group, or an unknown job template, ResourceNotFoundException (404);
    documentParameters without a managed template InvalidRequestException with AWS's message;
    documentSource (not served: Shoal has no S3) and a schedulingConfig startTime more than a
    year ahead (AWS: at most one year) InvalidRequestException; the same jobId twice
    ResourceAlreadyExistsException (409) with its id and ARN. DeleteJob of a job in progress
    without force is InvalidStateTransitionException (409); with force it is gone (404)."""
    thing = unique("errs")
    thing_arn = iot.create_thing(thingName=thing)["thingArn"]
    doc = json.dumps({"operation": "noop"})
    for bad in ("bad job!", "a" * 65, "job.with.dots"):
        with aws_error("InvalidRequestException", 400):
            iot_raw.create_job(jobId=bad, targets=[thing_arn], document=doc)
    with aws_error("ResourceNotFoundException", 404):
        iot.create_job(jobId=unique("j"), targets=[arn(account_id, "thing", unique("ghost"))],
                       document=doc)
    with aws_error("ResourceNotFoundException", 404):
        iot.create_job(jobId=unique("j"),
                       targets=[arn(account_id, "thinggroup", unique("ghost"))], document=doc)
    with aws_error("InvalidRequestException", 400):
        iot.create_job(jobId=unique("j"), targets=[thing_arn],
                       documentSource="https://s3.amazonaws.com/job-test-bucket/job.json")
    with aws_error("ResourceNotFoundException", 404):
        iot.create_job(jobId=unique("j"), targets=[thing_arn],
                       jobTemplateArn="arn:aws:iot:us-east-1:%s:jobtemplate/%s"
                       % (account_id, unique("no-template")))
    with aws_error("InvalidRequestException", 400) as ei:
        iot.create_job(jobId=unique("j"), targets=[thing_arn], document=doc,
                       documentParameters={"packages": "vim"})
    assert ei.value.response["Error"]["Message"] == (
        "Document parameters are only supported for managed job templates.")
    with aws_error("InvalidRequestException", 400):
        iot.create_job(jobId=unique("j"), targets=[thing_arn], document=doc,
                       schedulingConfig={"startTime": "2099-01-01T00:00"})

    job_id = unique("dup")
    made = iot.create_job(jobId=job_id, targets=[thing_arn], document=doc)
    with aws_error("ResourceAlreadyExistsException", 409) as ei:
        iot.create_job(jobId=job_id, targets=[thing_arn], document=doc)
    err = ei.value.response
    assert (err["resourceId"], err["resourceArn"]) == (job_id, made["jobArn"])
    # The first job is unchanged by the refused second one.
    assert json.loads(iot.get_job_document(jobId=job_id)["document"]) == {"operation": "noop"}

    with aws_error("InvalidStateTransitionException", 409):
        iot.delete_job(jobId=job_id)
    iot.delete_job(jobId=job_id, force=True)
    with aws_error("ResourceNotFoundException", 404):
        iot.describe_job(jobId=job_id)
    with aws_error("ResourceNotFoundException", 404):
        iot.get_job_document(jobId=unique("never"))


def test_jobs_data_errors_and_times_in_seconds(server, iot, unique, aws_error):
    """iot-jobs-data (boto3, SigV4 name iot-jobs-data): UpdateJobExecution of a job the thing
    has no execution of is ResourceNotFoundException (404); every time in its answers
    (queuedAt, startedAt, lastUpdatedAt) is epoch seconds; a wrong expectedVersion is a 409
    conflict that changes nothing; an update of an ended execution is
    InvalidStateTransitionException (409)."""
    device = jobs_data_client(server)
    thing = unique("https")
    thing_arn = iot.create_thing(thingName=thing)["thingArn"]

    with aws_error("ResourceNotFoundException", 404):
        device.update_job_execution(thingName=thing, jobId=unique("nojob"), status="SUCCEEDED")
    with aws_error("ResourceNotFoundException", 404):
        device.describe_job_execution(thingName=thing, jobId=unique("nojob"))

    job_id = unique("secs")
    iot.create_job(jobId=job_id, targets=[thing_arn], document='{"operation":"reboot"}')

    def queued():
        q = device.get_pending_job_executions(thingName=thing)["queuedJobs"]
        return q or None

    (summary,) = until(queued, what="the execution released")
    assert summary["jobId"] == job_id
    assert_recent_secs(summary["queuedAt"])
    assert_recent_secs(summary["lastUpdatedAt"])
    assert "startedAt" not in summary

    desc = device.describe_job_execution(thingName=thing, jobId=job_id)["execution"]
    assert_recent_secs(desc["queuedAt"])
    assert_recent_secs(desc["lastUpdatedAt"])
    assert desc["jobDocument"] == '{"operation":"reboot"}'  # a string over HTTP

    started = device.start_next_pending_job_execution(thingName=thing)["execution"]
    assert started["status"] == "IN_PROGRESS"
    for k in ("queuedAt", "startedAt", "lastUpdatedAt"):
        assert_recent_secs(started[k])
    pending = device.get_pending_job_executions(thingName=thing)
    assert [j["jobId"] for j in pending["inProgressJobs"]] == [job_id]
    assert_recent_secs(pending["inProgressJobs"][0]["startedAt"])

    # A wrong expectedVersion is refused with a conflict (the model lists no VersionMismatch
    # error for HTTP; which 409 code AWS uses is not documented) and changes nothing.
    with pytest.raises(ClientError) as ei:
        device.update_job_execution(thingName=thing, jobId=job_id, status="SUCCEEDED",
                                    expectedVersion=1)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409, ei.value
    assert ei.value.response["Error"]["Code"] in (
        "InvalidStateTransitionException", "ConflictException"), ei.value
    now = device.describe_job_execution(thingName=thing, jobId=job_id)["execution"]
    assert (now["status"], now["versionNumber"]) == ("IN_PROGRESS", 2)
    device.update_job_execution(thingName=thing, jobId=job_id, status="SUCCEEDED",
                                expectedVersion=2)
    with aws_error("InvalidStateTransitionException", 409):
        device.update_job_execution(thingName=thing, jobId=job_id, status="FAILED")
    desc = device.describe_job_execution(thingName=thing, jobId=job_id)["execution"]
    assert desc["status"] == "SUCCEEDED"
    for k in ("queuedAt", "startedAt", "lastUpdatedAt"):
        assert_recent_secs(desc[k])
    # The owner's API has datetimes (epoch seconds with a fraction on the wire).
    owner = iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"]
    assert abs(owner["lastUpdatedAt"].timestamp() - desc["lastUpdatedAt"]) < 2


# --------------------------------------------------------------------------
# 6. Shoal's rollout preview (an extension: POST /shoal/rollout-preview)
# --------------------------------------------------------------------------


def test_rollout_preview_lists_the_waves_and_sends_nothing(iot, signed_request, unique):
    """A CreateJob body posted to /shoal/rollout-preview gives the waves of things under the
    rollout rate (two a minute here), when each abort criterion can first fire, and creates
    nothing: no job, no execution."""
    group = unique("preview")
    group_arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    names = sorted(unique("pv") for _ in range(5))
    for n in names:
        iot.create_thing(thingName=n)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=n)
    body = json.dumps({
        "targets": [group_arn],
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 2},
        "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                                          "thresholdPercentage": 50,
                                          "minNumberOfExecutedThings": 3}]},
    }).encode()
    status, _, raw = signed_request("POST", "/shoal/rollout-preview", body)
    assert status == 200, raw
    p = json.loads(raw)
    assert p["targets"] == 5 and p["neverReleased"] == 0
    assert [w["count"] for w in p["waves"]] == [2, 2, 1]
    assert [t for w in p["waves"] for t in w["things"]] == names
    assert p["waves"][1]["startTime"] - p["waves"][0]["startTime"] == 60
    assert all(w["ratePerMinute"] == 2 for w in p["waves"])
    assert p["abortCriteria"][0]["earliestWave"] == 2
    assert iot.list_job_executions_for_thing(thingName=names[0])["executionSummaries"] == []
    status, _, raw = signed_request("POST", "/shoal/rollout-preview", json.dumps(
        {"targets": [group_arn], "jobExecutionsRolloutConfig": {"maximumPerMinute": 0}}).encode())
    assert status == 400 and json.loads(raw)["message"].startswith("1 validation error")
