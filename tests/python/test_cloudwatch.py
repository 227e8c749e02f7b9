"""CloudWatch metrics and alarms (the `monitoring` API) with unmodified clients: boto3's
`cloudwatch` client (botocore's rpc-v2-cbor protocol), the AWS CLI, and raw awsJson 1.0
requests, all pointed at Shoal's API endpoint with the same keys as the `iot` client.

What AWS documents, and what is checked here
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DeleteAlarms.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
https://docs.aws.amazon.com/iot/latest/developerguide/iot-fleet-metrics.html,
https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html):
  * PutMetricAlarm creates or replaces an alarm (INSUFFICIENT_DATA, "Unchecked: Initial alarm
    creation"); DescribeAlarms returns its whole configuration and state, filters by names,
    name prefix, state and action prefix, and pages with MaxRecords/NextToken; invalid input
    is refused with CloudWatch's query-compatible codes (InvalidParameterValue,
    InvalidParameterCombination, MissingParameter, InvalidNextToken, InvalidFormat,
    ResourceNotFound);
  * DeleteAlarms is all or nothing (one unknown name: ResourceNotFound, nothing deleted);
    DescribeAlarmHistory keeps ConfigurationUpdate, StateUpdate and Action items, newest first,
    after the alarm is gone;
  * SetAlarmState changes the state at once and runs that state's actions; an action is an
    AWS IoT topic ARN (the notification, the JSON CloudWatch sends to SNS, is published there)
    or an ARN the operator maps (SHOAL_ALARM_ACTIONS) to an MQTT topic or a webhook;
  * fleet metrics (IoTFleetMetrics, dimension AggregationType) and Shoal's AWS/IoT operational
    counters are read back with ListMetrics, GetMetricStatistics and GetMetricData; alarms are
    evaluated on the server's clock, with the four TreatMissingData behaviours;
  * the Fleet Hub demo's step 4 end to end: devices connected over MQTT, a fleet metric
    counting the connected ones, an alarm on it that goes OK then ALARM when half of them
    disconnect, and the notification received over MQTT;
  * another account sees none of it; awsJson 1.0 (X-Amz-Target) is served as well.

No test sleeps: the servers run with SHOAL_TEST_CLOCK=1 and move their clock with the
SigV4-signed `POST /shoal/test/clock` (Shoal's test hook, which answers once the timers then due
have run), MQTT and webhook deliveries are waited on with queues and timeouts, and only the
eventually consistent fleet index is polled with a deadline (`until`). The module's server gets
at most a few minutes of advances in all (SigV4 checks request times against its clock); the
fleet test, which needs more, runs on a server of its own.
"""

import datetime
import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import DEFAULT_REGION, AwsCliError, ShoalServer, run_aws, send_signed
from fleet_support import Fleet, error_of, until
from rules_support import Receiver
from test_mqtt_gateway import V311, WAIT, Paho, allow_all_policy, write_creds

# Operator-mapped action ARNs (SHOAL_ALARM_ACTIONS): any ARN, mapped to a webhook or a topic.
# Mapped without an account: every account of the server may use them (the server's accounts
# are made when it starts).
HOOK_ARN = "arn:aws:sns:us-east-1::shoal-cw-webhook"
MAPPED_ARN = "arn:aws:sns:us-east-1::shoal-cw-mqtt"
MAPPED_TOPIC = "mapped/alerts/%s" % uuid.uuid4().hex[:12]
UNMAPPED_ARN = "arn:aws:sns:us-east-1:123456789012:not-mapped"

CLOCK_PATH = "/shoal/test/clock"
def cli_time(v):
    """A timestamp as the AWS CLI prints it, as epoch seconds: CLI v1 prints CBOR's epoch
    numbers as they are (its timestamp format is `none`), v2 prints ISO 8601."""
    if isinstance(v, (int, float)):
        return float(v)
    return datetime.datetime.fromisoformat(v).timestamp()


TIMESTAMPS = ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp",
              "StateTransitionedTimestamp")
HISTORY_KEYS = {"AlarmName", "AlarmType", "Timestamp", "HistoryItemType", "HistorySummary",
                "HistoryData"}
NOTIFICATION_KEYS = {"AlarmName", "AlarmDescription", "AWSAccountId", "NewStateValue",
                     "NewStateReason", "StateChangeTime", "Region", "AlarmArn", "OldStateValue",
                     "Trigger"}
TRIGGER_KEYS = {"MetricName", "Namespace", "StatisticType", "Statistic", "Dimensions", "Period",
                "EvaluationPeriods", "ComparisonOperator", "Threshold", "TreatMissingData"}
DROP = object()  # marks a parameter left out of a request


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def cloudwatch(srv, key=None, secret=None, validate=True):
    """A plain boto3 `cloudwatch` client; nothing but the endpoint is non-standard."""
    session = boto3.session.Session(aws_access_key_id=key or srv.access_key,
                                    aws_secret_access_key=secret or srv.secret_key,
                                    region_name=DEFAULT_REGION)
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                 parameter_validation=validate, connect_timeout=10, read_timeout=30)
    return session.client("cloudwatch", endpoint_url=srv.endpoint, config=cfg)


def account_of(iot):
    """The account of a client's key, read back from an ARN the server made."""
    name = "acct-probe-" + uuid.uuid4().hex[:10]
    arn = iot.create_thing(thingName=name)["thingArn"]
    iot.delete_thing(thingName=name)
    return arn.split(":")[4]


def uname(prefix="alarm"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def topic_arn(account, topic, region=DEFAULT_REGION):
    return "arn:aws:iot:%s:%s:topic/%s" % (region, account, topic)


def alarm_arn(account, name):
    return "arn:aws:cloudwatch:%s:%s:alarm:%s" % (DEFAULT_REGION, account, name)


def at(millis):
    """Epoch milliseconds -> an aware datetime."""
    return datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.timezone.utc)


def iso(millis):
    return at(millis).strftime("%Y-%m-%dT%H:%M:%SZ")


def alarm_args(name, **over):
    """PutMetricAlarm's parameters: a valid alarm on AWS/IoT Connect.Success, changed by
    `over` (a DROP value leaves the parameter out)."""
    kw = {"AlarmName": name, "Namespace": "AWS/IoT", "MetricName": "Connect.Success",
          "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
          "ComparisonOperator": "GreaterThanOrEqualToThreshold"}
    kw.update(over)
    return {k: v for k, v in kw.items() if v is not DROP}


def advance(srv, seconds, key=None, secret=None):
    """POST /shoal/test/clock: the server's clock moves on `seconds`, the AWS/IoT counters are
    flushed and every timer then due has run -> {"now": epoch millis, "fired": count}."""
    status, _, body = send_signed(srv.endpoint, "POST", CLOCK_PATH,
                                  body=json.dumps({"advanceSeconds": seconds}).encode(),
                                  access_key=key or srv.access_key,
                                  secret_key=secret or srv.secret_key)
    assert status == 200, (status, body)
    out = json.loads(body)
    assert set(out) == {"now", "fired"}, out
    assert isinstance(out["now"], int) and isinstance(out["fired"], int), out
    return out


def devices(iot, tmp_path, count=1, prefix="dev"):
    """One certificate with an allow-all policy and `count` things attached to it (each
    thing name is a client id it may connect as) -> (creds, [thing names])."""
    base = uname(prefix)
    creds = write_creds(tmp_path, base, iot.create_keys_and_certificate(setAsActive=True))
    policy = "pol-" + base
    iot.create_policy(policyName=policy, policyDocument=json.dumps(allow_all_policy()))
    iot.attach_policy(policyName=policy, target=creds.cert_arn)
    names = ["%s-%d" % (base, i) for i in range(count)]
    for n in names:
        iot.create_thing(thingName=n)
        iot.attach_thing_principal(thingName=n, principal=creds.cert_arn)
    return creds, names


def connect(srv, creds, client_id):
    p = Paho(srv, creds, client_id, V311)
    p.connect()
    return p


def next_json(client, timeout=WAIT):
    """The next MQTT message a client receives -> (topic, parsed JSON payload)."""
    topic, payload = client.next_message(timeout)[:2]
    return topic, json.loads(payload)


def state_of(cw, name):
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm["StateValue"]


def history(cw, name, kind=None, **kw):
    if kind:
        kw["HistoryItemType"] = kind
    return cw.describe_alarm_history(AlarmName=name, **kw)["AlarmHistoryItems"]


def summaries(items):
    return [h["HistorySummary"] for h in items]


def check_notification(note, account, name, new, old, description=None, reason=None):
    """The JSON CloudWatch sends to SNS for a state change."""
    assert NOTIFICATION_KEYS <= set(note), note
    assert note["AlarmName"] == name
    assert note["AWSAccountId"] == account
    assert note["AlarmArn"] == alarm_arn(account, name)
    assert (note["NewStateValue"], note["OldStateValue"]) == (new, old), note
    assert note["Region"] in (DEFAULT_REGION, "US East (N. Virginia)"), note["Region"]
    assert isinstance(note["StateChangeTime"], str) and note["StateChangeTime"], note
    if description is not None:
        assert note["AlarmDescription"] == description
    if reason is not None:
        assert note["NewStateReason"] == reason
    assert TRIGGER_KEYS <= set(note["Trigger"]), note["Trigger"]
    assert note["Trigger"]["StatisticType"] == "Statistic"
    return note["Trigger"]


def error_codes(ei):
    """(HTTP status, code) of a ClientError."""
    status, code, _ = error_of(ei)
    return status, code


# --------------------------------------------------------------------------
# Fixtures: one server for the module, with the test clock and the mapped actions
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook():
    """The webhook SHOAL_ALARM_ACTIONS maps HOOK_ARN to; started before the server, which
    must know its port."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, hook):
    env = {"SHOAL_TEST_CLOCK": "1",
           "SHOAL_ALARM_ACTIONS": "%s=%s;%s=mqtt:%s" % (HOOK_ARN, hook.url("/hook"),
                                                        MAPPED_ARN, MAPPED_TOPIC)}
    s = ShoalServer(tmp_path_factory.mktemp("shoal-cloudwatch") / "data", env=env).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def iot(srv):
    return srv.client()


@pytest.fixture(scope="module")
def cw(srv):
    return cloudwatch(srv)


@pytest.fixture(scope="module")
def cw_raw(srv):
    """Client-side validation off: the server's own answers to invalid input."""
    return cloudwatch(srv, validate=False)


@pytest.fixture(scope="module")
def account(iot):
    return account_of(iot)


@pytest.fixture(scope="module")
def cli(srv):
    return lambda *args: run_aws(srv.endpoint, srv.access_key, srv.secret_key, *args)


@pytest.fixture
def put_alarm(cw):
    """put_alarm(name=None, client=cw, **PutMetricAlarm overrides) -> the alarm's name; the
    alarms made are deleted at teardown (the module's server is shared)."""
    made = []

    def put(name=None, client=None, **over):
        client = client or cw
        kw = alarm_args(name or uname(), **over)
        client.put_metric_alarm(**kw)
        made.append((client, kw["AlarmName"]))
        return kw["AlarmName"]

    yield put
    for client, name in made:
        try:
            client.delete_alarms(AlarmNames=[name])
        except ClientError:
            pass


# --------------------------------------------------------------------------
# 1. The AWS CLI
# --------------------------------------------------------------------------


def test_cli_put_describe_get_metric_data_and_delete(srv, iot, cli, account, tmp_path):
    """`aws cloudwatch put-metric-alarm`, `describe-alarms`, `get-metric-data`, `list-metrics`,
    `describe-alarm-history` and `delete-alarms`, their JSON as the CLI prints it."""
    name = uname("cli")
    action = topic_arn(account, "alerts/" + name)
    out = cli("cloudwatch", "put-metric-alarm", "--alarm-name", name,
              "--alarm-description", "too many connects", "--namespace", "AWS/IoT",
              "--metric-name", "Connect.Success", "--statistic", "Sum", "--period", "60",
              "--evaluation-periods", "2", "--datapoints-to-alarm", "1", "--threshold", "1000",
              "--comparison-operator", "GreaterThanThreshold",
              "--treat-missing-data", "notBreaching", "--alarm-actions", action)
    assert out in (None, {}), out

    got = cli("cloudwatch", "describe-alarms", "--alarm-names", name)
    assert got["CompositeAlarms"] == []
    [alarm] = got["MetricAlarms"]
    for k in TIMESTAMPS:
        assert cli_time(alarm.pop(k)) > 1.7e9
    assert alarm == {
        "AlarmName": name,
        "AlarmArn": alarm_arn(account, name),
        "AlarmDescription": "too many connects",
        "ActionsEnabled": True,
        "OKActions": [],
        "AlarmActions": [action],
        "InsufficientDataActions": [],
        "StateValue": "INSUFFICIENT_DATA",
        "StateReason": "Unchecked: Initial alarm creation",
        "MetricName": "Connect.Success",
        "Namespace": "AWS/IoT",
        "Statistic": "Sum",
        "Dimensions": [],
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 1,
        "Threshold": 1000.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }

    # A device connects; the clock moves a minute: the counters are flushed and the alarm is
    # evaluated (data below the threshold: OK).
    creds, [thing] = devices(iot, tmp_path)
    connect(srv, creds, thing).stop()
    now = advance(srv, 60)["now"]
    query = [{"Id": "connects", "Label": "connects", "ReturnData": True,
              "MetricStat": {"Metric": {"Namespace": "AWS/IoT", "MetricName": "Connect.Success"},
                             "Period": 60, "Stat": "Sum"}}]
    data = cli("cloudwatch", "get-metric-data", "--metric-data-queries", json.dumps(query),
               "--start-time", iso(now - 600_000), "--end-time", iso(now + 60_000))
    assert data["Messages"] == []
    [res] = data["MetricDataResults"]
    assert (res["Id"], res["Label"], res["StatusCode"]) == ("connects", "connects", "Complete")
    assert len(res["Timestamps"]) == len(res["Values"]) >= 1
    assert sum(res["Values"]) >= 1
    stamps = [cli_time(t) for t in res["Timestamps"]]
    assert stamps == sorted(stamps, reverse=True)  # TimestampDescending by default

    listed = cli("cloudwatch", "list-metrics", "--namespace", "AWS/IoT",
                 "--metric-name", "Connect.Success")
    assert listed["Metrics"] == [
        {"Namespace": "AWS/IoT", "MetricName": "Connect.Success", "Dimensions": []}]

    alarm = cli("cloudwatch", "describe-alarms", "--alarm-names", name)["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK"
    assert isinstance(json.loads(alarm["StateReasonData"]), dict)
    items = cli("cloudwatch", "describe-alarm-history", "--alarm-name", name,
                "--history-item-type", "StateUpdate")["AlarmHistoryItems"]
    assert summaries(items) == ["Alarm updated from INSUFFICIENT_DATA to OK"]

    assert cli("cloudwatch", "delete-alarms", "--alarm-names", name) in (None, {})
    assert cli("cloudwatch", "describe-alarms", "--alarm-names", name)["MetricAlarms"] == []
    items = cli("cloudwatch", "describe-alarm-history", "--alarm-name", name,
                "--history-item-type", "ConfigurationUpdate")["AlarmHistoryItems"]
    assert summaries(items) == ['Alarm "%s" deleted' % name, 'Alarm "%s" created' % name]
    with pytest.raises(AwsCliError) as e:
        cli("cloudwatch", "delete-alarms", "--alarm-names", name)
    assert "ResourceNotFound" in e.value.stderr


# --------------------------------------------------------------------------
# 2. PutMetricAlarm and DescribeAlarms
# --------------------------------------------------------------------------


def test_put_describe_shape_and_replace(cw, account, put_alarm):
    """Every field of a MetricAlarm as given; a second PutMetricAlarm replaces the alarm
    (same name and ARN, new threshold) and adds a ConfigurationUpdate history item."""
    name = uname("shape")
    actions = {k: [topic_arn(account, "alerts/%s/%s" % (k, name))]
               for k in ("OKActions", "AlarmActions", "InsufficientDataActions")}
    kw = dict(AlarmName=name, AlarmDescription="door sensors offline", ActionsEnabled=True,
              MetricName="offline-doors", Namespace="IoTFleetMetrics", Statistic="Average",
              Dimensions=[{"Name": "AggregationType", "Value": "count"}], Period=300,
              Unit="Count", EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=10.0,
              ComparisonOperator="GreaterThanThreshold", TreatMissingData="breaching",
              Tags=[{"Key": "team", "Value": "ops"}], **actions)
    put_alarm(**kw)
    got = cw.describe_alarms(AlarmNames=[name])
    assert got["CompositeAlarms"] == []
    [alarm] = got["MetricAlarms"]
    stamps = {k: alarm.pop(k) for k in TIMESTAMPS}
    assert all(isinstance(v, datetime.datetime) for v in stamps.values()), stamps
    expected = {
        "AlarmName": name,
        "AlarmArn": alarm_arn(account, name),
        "AlarmDescription": "door sensors offline",
        "ActionsEnabled": True,
        **actions,
        "StateValue": "INSUFFICIENT_DATA",
        "StateReason": "Unchecked: Initial alarm creation",
        "MetricName": "offline-doors",
        "Namespace": "IoTFleetMetrics",
        "Statistic": "Average",
        "Dimensions": [{"Name": "AggregationType", "Value": "count"}],
        "Period": 300,
        "Unit": "Count",
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
    }
    assert alarm == expected

    # Replace: same name, another threshold.
    cw.put_metric_alarm(**{**kw, "Threshold": 20.0})
    same = cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]
    assert [a["AlarmName"] for a in same] == [name]
    again = same[0]
    assert again["AlarmArn"] == alarm_arn(account, name)
    assert again["Threshold"] == 20.0
    assert again["AlarmConfigurationUpdatedTimestamp"] >= \
        stamps["AlarmConfigurationUpdatedTimestamp"]

    def config(a):
        return {k: v for k, v in a.items()
                if k not in TIMESTAMPS + ("StateValue", "StateReason", "StateReasonData")}

    assert config(again) == {**config(expected), "Threshold": 20.0}

    items = history(cw, name, "ConfigurationUpdate")
    assert summaries(items) == ['Alarm "%s" updated' % name, 'Alarm "%s" created' % name]
    for h in items:
        assert set(h) == HISTORY_KEYS, h
        assert (h["AlarmName"], h["AlarmType"], h["HistoryItemType"]) == (
            name, "MetricAlarm", "ConfigurationUpdate")
        assert isinstance(json.loads(h["HistoryData"]), dict)
    assert items[0]["Timestamp"] >= items[1]["Timestamp"]
    ascending = history(cw, name, "ConfigurationUpdate", ScanBy="TimestampAscending")
    assert summaries(ascending) == summaries(items)[::-1]


def test_a_minimal_alarm_has_no_actions_and_is_enabled(cw, account, put_alarm):
    """Only the required parameters: actions enabled, no actions, no dimensions, no unit."""
    name = put_alarm()
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["AlarmArn"] == alarm_arn(account, name)
    assert alarm["ActionsEnabled"] is True
    assert (alarm["OKActions"], alarm["AlarmActions"], alarm["InsufficientDataActions"]) == (
        [], [], [])
    assert alarm["Dimensions"] == []
    assert "Unit" not in alarm and "ExtendedStatistic" not in alarm
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 1)
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"


def test_describe_filters_and_paging(cw, cw_raw, account, put_alarm, aws_error):
    """AlarmNames, AlarmNamePrefix, StateValue and ActionPrefix select; MaxRecords=2 over five
    alarms gives pages of 2, 2 and 1 with every alarm exactly once; a bad NextToken is
    InvalidNextToken."""
    prefix = uname("flt")
    names = ["%s-%d" % (prefix, i) for i in range(5)]
    action = topic_arn(account, "alerts/" + prefix)
    for i, n in enumerate(names):
        put_alarm(n, **({"AlarmActions": [action]} if i == 4 else {}))

    def listed(**kw):
        return [a["AlarmName"] for a in cw.describe_alarms(**kw)["MetricAlarms"]]

    assert listed(AlarmNamePrefix=prefix) == names
    assert listed(AlarmNames=[names[3], names[1], uname("absent")]) == [names[1], names[3]]
    cw.set_alarm_state(AlarmName=names[2], StateValue="ALARM", StateReason="filter test")
    assert listed(AlarmNamePrefix=prefix, StateValue="ALARM") == [names[2]]
    assert listed(AlarmNamePrefix=prefix, StateValue="INSUFFICIENT_DATA") == [
        n for n in names if n != names[2]]
    assert listed(AlarmNamePrefix=prefix, StateValue="OK") == []
    assert listed(ActionPrefix=action) == [names[4]]
    assert listed(ActionPrefix=topic_arn(account, "alerts/" + uname("nobody"))) == []

    pages, token = [], None
    for _ in range(10):
        kw = {"AlarmNamePrefix": prefix, "MaxRecords": 2}
        if token:
            kw["NextToken"] = token
        page = cw.describe_alarms(**kw)
        pages.append([a["AlarmName"] for a in page["MetricAlarms"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1], pages
    assert [n for p in pages for n in p] == names

    with aws_error("InvalidNextToken", 400):
        cw.describe_alarms(AlarmNamePrefix=prefix, NextToken="not-a-token")
    for bad in (0, 101):
        with pytest.raises(ClientError) as ei:
            cw_raw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=bad)
        status, code = error_codes(ei)
        assert status == 400 and code in ("InvalidParameterValue", "ValidationError"), (bad, code)


# --------------------------------------------------------------------------
# 3. Validation
# --------------------------------------------------------------------------


PUT_ERRORS = [
    pytest.param({"AlarmActions": [UNMAPPED_ARN]}, {"InvalidParameterValue"},
                 id="unknown-action-arn"),
    pytest.param({"OKActions": ["arn:aws:iot:us-east-1:999999999999:topic/alerts/x"]},
                 {"InvalidParameterValue"}, id="topic-of-another-account"),
    pytest.param({"InsufficientDataActions": ["arn:aws:iot:eu-west-1:{account}:topic/x"]},
                 {"InvalidParameterValue"}, id="topic-of-another-region"),
    pytest.param({"ComparisonOperator": "Bigger"}, {"InvalidParameterValue", "ValidationError"},
                 id="bad-comparison-operator"),
    pytest.param({"Period": 45}, {"InvalidParameterValue", "ValidationError"}, id="period-45"),
    pytest.param({"EvaluationPeriods": 0}, {"InvalidParameterValue"}, id="evaluation-periods-0"),
    pytest.param({"EvaluationPeriods": 2, "DatapointsToAlarm": 3},
                 {"InvalidParameterValue", "ValidationError"}, id="datapoints-over-periods"),
    pytest.param({"ExtendedStatistic": "p90"}, {"InvalidParameterCombination"},
                 id="statistic-and-extended-statistic"),
    pytest.param({"Statistic": DROP}, {"MissingParameter", "InvalidParameterCombination"},
                 id="no-statistic"),
    pytest.param({"Threshold": DROP}, {"MissingParameter"}, id="missing-threshold"),
    pytest.param({"TreatMissingData": "sometimes"}, {"InvalidParameterValue", "ValidationError"},
                 id="bad-treat-missing-data"),
]


@pytest.mark.parametrize("over,codes", PUT_ERRORS)
def test_put_metric_alarm_validation(cw, cw_raw, account, over, codes):
    """Each invalid PutMetricAlarm is a 400 with CloudWatch's code, and makes no alarm."""
    name = uname("bad")
    over = {k: ([a.format(account=account) for a in v] if isinstance(v, list) else v)
            for k, v in over.items()}
    with pytest.raises(ClientError) as ei:
        cw_raw.put_metric_alarm(**alarm_args(name, **over))
    status, code = error_codes(ei)
    assert status == 400 and code in codes, (status, code, error_of(ei)[2])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_put_metric_alarm_without_a_name_is_missing_parameter(cw_raw):
    with pytest.raises(ClientError) as ei:
        cw_raw.put_metric_alarm(**alarm_args(DROP))
    status, code = error_codes(ei)
    assert status == 400 and code in ("MissingParameter", "ValidationError"), code


def stats_args(**over):
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    kw = {"Namespace": "AWS/IoT", "MetricName": "Connect.Success",
          "StartTime": end - datetime.timedelta(hours=1), "EndTime": end, "Period": 60,
          "Statistics": ["Sum"]}
    kw.update(over)
    return {k: v for k, v in kw.items() if v is not DROP}


def data_args(query_over=None, **over):
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    q = {"Id": "m1", "MetricStat": {
        "Metric": {"Namespace": "AWS/IoT", "MetricName": "Connect.Success"},
        "Period": 60, "Stat": "Sum"}}
    q.update(query_over or {})
    kw = {"MetricDataQueries": [{k: v for k, v in q.items() if v is not DROP}],
          "StartTime": end - datetime.timedelta(hours=1), "EndTime": end}
    kw.update(over)
    return kw


def _two_days_back():
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"StartTime": end - datetime.timedelta(days=2), "EndTime": end}


def _backwards():
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"StartTime": end, "EndTime": end - datetime.timedelta(hours=1)}


QUERY_ERRORS = [
    pytest.param("get_metric_statistics", lambda: stats_args(Period=45),
                 {"InvalidParameterValue"}, None, id="statistics-period-45"),
    pytest.param("get_metric_statistics", lambda: stats_args(Statistics=DROP),
                 {"MissingParameter", "InvalidParameterCombination"}, None, id="no-statistics"),
    pytest.param("get_metric_statistics", lambda: stats_args(**_two_days_back()),
                 {"InvalidParameterCombination"}, None, id="over-1440-datapoints"),
    pytest.param("get_metric_statistics", lambda: stats_args(**_backwards()),
                 {"InvalidParameterValue"}, None, id="start-after-end"),
    pytest.param("get_metric_data",
                 lambda: data_args({"MetricStat": DROP, "Expression": "SUM(METRICS())"}),
                 {"InvalidParameterValue"}, "math", id="metric-math"),
    pytest.param("get_metric_data", lambda: data_args({"Id": "Bad-Id"}),
                 {"InvalidParameterValue", "ValidationError"}, None, id="bad-query-id"),
    pytest.param("get_metric_data", lambda: dict(
        data_args(), MetricDataQueries=[dict(data_args()["MetricDataQueries"][0], Id="q%d" % i)
                                        for i in range(501)]),
                 {"InvalidParameterCombination"}, "500", id="over-500-queries"),
]


@pytest.mark.parametrize("op,args,codes,mentions", QUERY_ERRORS)
def test_metric_query_validation(cw_raw, op, args, codes, mentions):
    """GetMetricStatistics' period, statistics, datapoint budget and time range, and
    GetMetricData's query ids and (unsupported) metric math: a 400 with CloudWatch's code."""
    with pytest.raises(ClientError) as ei:
        getattr(cw_raw, op)(**args())
    status, code, message = error_of(ei)
    assert status == 400 and code in codes, (status, code, message)
    if mentions:
        assert mentions in message.lower(), message


def test_metric_statistics_of_a_metric_without_data_and_valid_periods(cw):
    """A metric with no data: its name as the label and no datapoints; the high-resolution
    periods and multiples of 60 are accepted."""
    name = "Nothing." + uuid.uuid4().hex[:8]
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for period in (1, 5, 10, 20, 30, 60, 120):
        got = cw.get_metric_statistics(
            Namespace="AWS/IoT", MetricName=name, StartTime=end - datetime.timedelta(minutes=10),
            EndTime=end, Period=period, Statistics=["Sum", "SampleCount"])
        assert (got["Label"], got["Datapoints"]) == (name, []), (period, got)
    data = cw.get_metric_data(**data_args({"MetricStat": {
        "Metric": {"Namespace": "AWS/IoT", "MetricName": name}, "Period": 60, "Stat": "Sum"}}))
    assert data["Messages"] == []
    assert [(r["Id"], r["Label"], r["Timestamps"], r["Values"], r["StatusCode"])
            for r in data["MetricDataResults"]] == [("m1", name, [], [], "Complete")]
    assert cw.list_metrics(Namespace="AWS/IoT", MetricName=name)["Metrics"] == []


# --------------------------------------------------------------------------
# 4. DeleteAlarms and history
# --------------------------------------------------------------------------


def test_delete_is_all_or_nothing_and_history_stays(cw, put_alarm, aws_error):
    a, b = put_alarm(), put_alarm()
    with aws_error("ResourceNotFound", 404):
        cw.delete_alarms(AlarmNames=[a, uname("absent")])
    assert [x["AlarmName"] for x in cw.describe_alarms(AlarmNames=[a, b])["MetricAlarms"]] == \
        sorted([a, b])
    cw.delete_alarms(AlarmNames=[a, b])
    assert cw.describe_alarms(AlarmNames=[a, b])["MetricAlarms"] == []
    with aws_error("ResourceNotFound", 404):
        cw.delete_alarms(AlarmNames=[a])

    items = history(cw, a)
    assert summaries(items) == ['Alarm "%s" deleted' % a, 'Alarm "%s" created' % a]
    # At most 100 names in one call: more deletes nothing.
    c = put_alarm()
    with aws_error("InvalidParameterCombination", 400):
        cw.delete_alarms(AlarmNames=[c] + [uname("n") for _ in range(100)])
    assert [x["AlarmName"] for x in cw.describe_alarms(AlarmNames=[c])["MetricAlarms"]] == [c]
    assert {h["HistoryItemType"] for h in items} == {"ConfigurationUpdate"}
    assert all(set(h) == HISTORY_KEYS for h in items)
    # Paged one at a time.
    first = cw.describe_alarm_history(AlarmName=a, MaxRecords=1)
    assert summaries(first["AlarmHistoryItems"]) == ['Alarm "%s" deleted' % a]
    second = cw.describe_alarm_history(AlarmName=a, MaxRecords=1, NextToken=first["NextToken"])
    assert summaries(second["AlarmHistoryItems"]) == ['Alarm "%s" created' % a]
    assert "NextToken" not in second
    with aws_error("InvalidNextToken", 400):
        cw.describe_alarm_history(AlarmName=a, NextToken="garbage")
    assert history(cw, a, "StateUpdate") == []


# --------------------------------------------------------------------------
# 5. SetAlarmState and the MQTT action
# --------------------------------------------------------------------------


def test_set_alarm_state_runs_the_mqtt_action(srv, iot, cw, cw_raw, account, put_alarm,
                                              aws_error, tmp_path):
    """SetAlarmState ALARM: the state, its StateUpdate history item, and the notification
    published on the action's AWS IoT topic (a disabled alarm's actions do not run); then
    OK (no OK actions) and ALARM again (OldStateValue OK); the errors."""
    topic = "alerts/" + uuid.uuid4().hex[:12]
    action = topic_arn(account, topic)
    creds, [thing] = devices(iot, tmp_path)
    p = connect(srv, creds, thing)
    try:
        assert p.subscribe((topic, 1)) == [1]
        quiet = put_alarm(AlarmActions=[action], ActionsEnabled=False)
        loud = put_alarm(AlarmActions=[action], AlarmDescription="front door open",
                         Namespace="IoTFleetMetrics", MetricName="doors-open",
                         Dimensions=[{"Name": "AggregationType", "Value": "sum"}],
                         Statistic="Maximum", Threshold=3.0,
                         ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
        cw.set_alarm_state(AlarmName=quiet, StateValue="ALARM", StateReason="quiet")
        cw.set_alarm_state(AlarmName=loud, StateValue="ALARM", StateReason="manual test",
                           StateReasonData=json.dumps({"source": "pytest"}))

        # The first notification is the enabled alarm's: the disabled one sent none before it.
        got_topic, note = next_json(p)
        assert got_topic == topic
        trigger = check_notification(note, account, loud, "ALARM", "INSUFFICIENT_DATA",
                                     description="front door open", reason="manual test")
        assert trigger["MetricName"] == "doors-open"
        assert trigger["Namespace"] == "IoTFleetMetrics"
        assert trigger["Dimensions"] == [{"value": "sum", "name": "AggregationType"}]
        assert (trigger["Period"], trigger["EvaluationPeriods"]) == (60, 1)
        assert trigger["ComparisonOperator"] == "GreaterThanThreshold"
        assert trigger["Threshold"] == 3.0

        [alarm] = cw.describe_alarms(AlarmNames=[loud])["MetricAlarms"]
        assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "manual test")
        assert json.loads(alarm["StateReasonData"]) == {"source": "pytest"}
        assert alarm["StateUpdatedTimestamp"] >= alarm["AlarmConfigurationUpdatedTimestamp"]
        assert state_of(cw, quiet) == "ALARM"
        updates = history(cw, loud, "StateUpdate")
        assert summaries(updates) == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
        assert isinstance(json.loads(updates[0]["HistoryData"]), dict)
        acted = until(lambda: [h for h in history(cw, loud, "Action")
                               if action in h["HistorySummary"]], WAIT, "Action history item")
        assert acted[0]["HistoryItemType"] == "Action"
        assert history(cw, quiet, "Action") == []

        # OK has no actions; ALARM again says where it came from.
        cw.set_alarm_state(AlarmName=loud, StateValue="OK", StateReason="closed")
        cw.set_alarm_state(AlarmName=loud, StateValue="ALARM", StateReason="open again")
        got_topic, note = next_json(p)
        assert got_topic == topic
        check_notification(note, account, loud, "ALARM", "OK", reason="open again")
        assert summaries(history(cw, loud, "StateUpdate")) == [
            "Alarm updated from OK to ALARM",
            "Alarm updated from ALARM to OK",
            "Alarm updated from INSUFFICIENT_DATA to ALARM",
        ]

        with aws_error("InvalidFormat", 400):
            cw.set_alarm_state(AlarmName=loud, StateValue="OK", StateReason="x",
                               StateReasonData="not json")
        with aws_error("ResourceNotFound", 404):
            cw.set_alarm_state(AlarmName=uname("absent"), StateValue="OK", StateReason="x")
        with pytest.raises(ClientError) as ei:
            cw_raw.set_alarm_state(AlarmName=loud, StateValue="BROKEN", StateReason="x")
        status, code = error_codes(ei)
        assert status == 400 and code in ("InvalidParameterValue", "ValidationError"), code
        assert state_of(cw, loud) == "ALARM"
    finally:
        p.stop()


# --------------------------------------------------------------------------
# 6. The Fleet Hub demo, step 4: an alarm on a fleet metric of connected devices
# --------------------------------------------------------------------------


def test_fleet_hub_connected_devices_alarm(shoal_factory, tmp_path):
    """Four devices connected over MQTT; fleet metric `connected-<id>` counts
    `connectivity.connected:true`; an alarm (Minimum <= 2 over one minute) goes OK while all
    are connected and ALARM once half of them have disconnected, its notifications arriving
    over MQTT; GetMetricData, GetMetricStatistics and ListMetrics show the counts."""
    n = 4
    srv = shoal_factory(env={"SHOAL_TEST_CLOCK": "1"})
    iot = srv.client()
    cw = cloudwatch(srv)
    account = account_of(iot)
    fleet = Fleet(srv, srv.access_key, srv.secret_key, account)
    fleet.configure(things="REGISTRY", connectivity="STATUS", groups="OFF")
    creds, things = devices(iot, tmp_path, n, prefix="door")
    things = sorted(things)
    fleet.wait_names("connectivity.connected:false", things)

    tag = uuid.uuid4().hex[:10]
    ok_topic, alarm_topic = "alerts/%s/ok" % tag, "alerts/%s/alarm" % tag
    # The watcher's client id is no thing's name: it is not in the index, nor counted.
    watcher = Paho(srv, creds, "watcher-" + tag, V311)
    clients = []
    try:
        watcher.connect()
        assert watcher.subscribe(("alerts/%s/#" % tag, 1)) == [1]
        for t in things:
            clients.append(connect(srv, creds, t))
        fleet.wait_names("connectivity.connected:true", things)

        metric = "connected-" + tag
        iot.create_fleet_metric(metricName=metric, queryString="connectivity.connected:true",
                                aggregationType={"name": "Statistics", "values": ["count"]},
                                aggregationField="registry.version", period=60)
        alarm = "fleet-" + tag
        dims = [{"Name": "AggregationType", "Value": "count"}]
        cw.put_metric_alarm(
            AlarmName=alarm, AlarmDescription="half of the fleet is offline",
            Namespace="IoTFleetMetrics", MetricName=metric, Dimensions=dims,
            Statistic="Minimum", Period=60, EvaluationPeriods=1, Threshold=n / 2,
            ComparisonOperator="LessThanOrEqualToThreshold",
            OKActions=[topic_arn(account, ok_topic)],
            AlarmActions=[topic_arn(account, alarm_topic)])
        assert state_of(cw, alarm) == "INSUFFICIENT_DATA"

        # All connected: the next evaluation (at most two minutes on) finds 4 > 2: OK.
        advances, state = 0, None
        for _ in range(2):
            out = advance(srv, 60)
            advances += 1
            assert out["fired"] >= 1, out
            state = state_of(cw, alarm)
            assert state in ("INSUFFICIENT_DATA", "OK"), state
            if state == "OK":
                break
        assert state == "OK"
        got_topic, note = next_json(watcher)
        assert got_topic == ok_topic
        check_notification(note, account, alarm, "OK", "INSUFFICIENT_DATA",
                           description="half of the fleet is offline")

        # Half of the devices go; once the index knows, the next evaluations find 2 <= 2.
        for p in clients[: n // 2]:
            p.stop()
        fleet.wait_names("connectivity.connected:true", things[n // 2:])
        for _ in range(3):
            out = advance(srv, 60)
            advances += 1
            state = state_of(cw, alarm)
            assert state in ("OK", "ALARM"), state
            if state == "ALARM":
                break
        assert state == "ALARM"
        now = out["now"]
        got_topic, note = next_json(watcher)
        assert got_topic == alarm_topic
        trigger = check_notification(note, account, alarm, "ALARM", "OK",
                                     description="half of the fleet is offline")
        assert (trigger["MetricName"], trigger["Namespace"]) == (metric, "IoTFleetMetrics")
        assert trigger["Dimensions"] == [{"value": "count", "name": "AggregationType"}]
        assert (trigger["Period"], trigger["EvaluationPeriods"]) == (60, 1)
        assert trigger["ComparisonOperator"] == "LessThanOrEqualToThreshold"
        assert trigger["Threshold"] == 2.0

        [described] = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        assert isinstance(json.loads(described["StateReasonData"]), dict)
        assert summaries(history(cw, alarm, "StateUpdate")) == [
            "Alarm updated from OK to ALARM", "Alarm updated from INSUFFICIENT_DATA to OK"]
        acted = until(lambda: (lambda items: items if len(items) == 2 else None)(
            history(cw, alarm, "Action")), WAIT, "the two Action history items")
        assert topic_arn(account, alarm_topic) in acted[0]["HistorySummary"]
        assert topic_arn(account, ok_topic) in acted[1]["HistorySummary"]

        # The datapoints: one per evaluation (at creation, then one per minute advanced),
        # the fours first, then the twos.
        window = {"StartTime": at(now - 900_000), "EndTime": at(now + 60_000)}
        metric_id = {"Namespace": "IoTFleetMetrics", "MetricName": metric, "Dimensions": dims}
        queries = [
            {"Id": "connected", "MetricStat": {"Metric": metric_id, "Period": 60,
                                               "Stat": "Minimum"}, "ReturnData": True},
            {"Id": "samples", "MetricStat": {"Metric": metric_id, "Period": 60,
                                             "Stat": "SampleCount"}, "ReturnData": False},
        ]
        got = cw.get_metric_data(MetricDataQueries=queries, ScanBy="TimestampAscending",
                                 **window)
        assert got["Messages"] == []
        [res] = got["MetricDataResults"]
        assert (res["Id"], res["Label"], res["StatusCode"]) == ("connected", metric, "Complete")
        values, stamps = res["Values"], res["Timestamps"]
        fours = values.count(4.0)
        assert len(values) == 1 + advances, values
        assert fours >= 1 and values == [4.0] * fours + [2.0] * (len(values) - fours), values
        assert len(values) > fours, values
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert all(int(t.timestamp()) % 60 == 0 for t in stamps), stamps

        newest_first = cw.get_metric_data(MetricDataQueries=queries[:1], **window)
        [res] = newest_first["MetricDataResults"]
        assert (res["Values"], res["Timestamps"]) == (values[::-1], stamps[::-1])

        paged, token = [], None
        for _ in range(10):
            kw = {"NextToken": token} if token else {}
            page = cw.get_metric_data(MetricDataQueries=queries[:1], MaxDatapoints=2,
                                      ScanBy="TimestampAscending", **window, **kw)
            [res] = page["MetricDataResults"]
            assert len(res["Values"]) <= 2
            paged += res["Values"]
            token = page.get("NextToken")
            if not token:
                break
        assert paged == values

        stats = cw.get_metric_statistics(
            Namespace="IoTFleetMetrics", MetricName=metric, Dimensions=dims, Period=60,
            Statistics=["Minimum", "Maximum", "SampleCount"], ExtendedStatistics=["p50"],
            **window)
        assert stats["Label"] == metric
        points = sorted(stats["Datapoints"], key=lambda d: d["Timestamp"])
        assert [d["Timestamp"] for d in points] == stamps
        assert [d["Minimum"] for d in points] == values
        assert [d["Maximum"] for d in points] == values
        assert [d["SampleCount"] for d in points] == [1.0] * len(values)
        assert [d["ExtendedStatistics"] for d in points] == [{"p50": v} for v in values]
        assert {d["Unit"] for d in points} == {"None"}
        assert all("Sum" not in d and "Average" not in d for d in points)

        assert cw.list_metrics(Namespace="IoTFleetMetrics")["Metrics"] == [
            {"Namespace": "IoTFleetMetrics", "MetricName": metric, "Dimensions": dims}]
        assert cw.list_metrics(MetricName=metric,
                               Dimensions=[{"Name": "AggregationType"}])["Metrics"] == [
            {"Namespace": "IoTFleetMetrics", "MetricName": metric, "Dimensions": dims}]
        assert cw.list_metrics(Namespace="IoTFleetMetrics", Dimensions=[
            {"Name": "AggregationType", "Value": "sum"}])["Metrics"] == []
        iot_metrics = cw.list_metrics(Namespace="AWS/IoT")["Metrics"]
        assert {"Namespace": "AWS/IoT", "MetricName": "Connect.Success",
                "Dimensions": []} in iot_metrics
    finally:
        for p in clients:
            p.stop()
        watcher.stop()


# --------------------------------------------------------------------------
# 7. AWS/IoT operational counters
# --------------------------------------------------------------------------


def test_aws_iot_counters_are_flushed_as_datapoints(srv, iot, cw, tmp_path):
    """Each advance flushes the counts since the last flush: one connection and one publish
    add exactly one to Connect.Success and PublishIn.Success."""

    def total(metric, start, end):
        got = cw.get_metric_statistics(Namespace="AWS/IoT", MetricName=metric, StartTime=start,
                                       EndTime=end, Period=60, Statistics=["Sum"])
        assert got["Label"] == metric
        return sum(d["Sum"] for d in got["Datapoints"])

    first = advance(srv, 60)["now"]
    start = at(first - 3_600_000)
    before = {m: total(m, start, at(first + 60_000))
              for m in ("Connect.Success", "PublishIn.Success")}
    creds, [thing] = devices(iot, tmp_path)
    p = connect(srv, creds, thing)
    try:
        assert p.publish_acked("telemetry/%s" % thing, b"{}") == 0
    finally:
        p.stop()
    second = advance(srv, 60)["now"]
    after = {m: total(m, start, at(second + 60_000))
             for m in ("Connect.Success", "PublishIn.Success")}
    assert after["Connect.Success"] - before["Connect.Success"] == 1.0, (before, after)
    assert after["PublishIn.Success"] - before["PublishIn.Success"] == 1.0, (before, after)
    assert total("Connect.Success", at(second - 600_000), at(second + 60_000)) >= 1

    listed = cw.list_metrics(Namespace="AWS/IoT")["Metrics"]
    for m in ("Connect.Success", "PublishIn.Success"):
        assert {"Namespace": "AWS/IoT", "MetricName": m, "Dimensions": []} in listed, listed
    assert all(m["Namespace"] == "AWS/IoT" for m in listed)


# --------------------------------------------------------------------------
# 8. Operator-mapped actions: a webhook and an MQTT topic
# --------------------------------------------------------------------------


def test_mapped_webhook_and_topic_actions(srv, iot, cw, account, put_alarm, hook, tmp_path):
    """SHOAL_ALARM_ACTIONS maps HOOK_ARN to this module's HTTP receiver and MAPPED_ARN to an
    MQTT topic: ALARM POSTs the notification to the webhook, OK publishes it on the topic."""
    creds, [thing] = devices(iot, tmp_path)
    p = connect(srv, creds, thing)
    try:
        assert p.subscribe((MAPPED_TOPIC, 1)) == [1]
        name = put_alarm(AlarmActions=[HOOK_ARN], OKActions=[MAPPED_ARN],
                         AlarmDescription="pager")
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="to the pager")

        def mine(req):
            try:
                return json.loads(req["body"]).get("AlarmName") == name
            except ValueError:
                return False

        req = hook.next(mine)
        assert (req["method"], req["path"]) == ("POST", "/hook")
        check_notification(json.loads(req["body"]), account, name, "ALARM", "INSUFFICIENT_DATA",
                           description="pager", reason="to the pager")

        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="all clear")
        got_topic, note = next_json(p)
        assert got_topic == MAPPED_TOPIC
        check_notification(note, account, name, "OK", "ALARM", reason="all clear")

        acted = until(lambda: (lambda items: items if len(items) >= 2 else None)(
            history(cw, name, "Action")), WAIT, "two Action history items")
        text = " ".join(summaries(acted))
        assert HOOK_ARN in text and MAPPED_ARN in text, text
    finally:
        p.stop()


# --------------------------------------------------------------------------
# 9. Tenancy
# --------------------------------------------------------------------------


def test_another_account_sees_nothing(srv, iot, cw, account, put_alarm, aws_error, tmp_path):
    """A second account (`shoal account create`) sees none of the first one's alarms, history
    or metrics, cannot delete or set its alarms, and has alarms of its own by the same name."""
    # Account one has metrics (a connection, flushed) and an alarm with history.
    creds, [thing] = devices(iot, tmp_path)
    connect(srv, creds, thing).stop()
    advance(srv, 60)
    name = put_alarm(Threshold=7.0)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="mine")
    assert cw.list_metrics()["Metrics"] != []
    assert history(cw, name) != []

    other_account, key, secret = srv.create_account()
    assert other_account != account
    other = cloudwatch(srv, key, secret)
    everything = other.describe_alarms()
    assert (everything["MetricAlarms"], everything["CompositeAlarms"]) == ([], [])
    assert other.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    assert other.describe_alarm_history()["AlarmHistoryItems"] == []
    assert other.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"] == []
    assert other.list_metrics()["Metrics"] == []
    with aws_error("ResourceNotFound", 404):
        other.delete_alarms(AlarmNames=[name])
    with aws_error("ResourceNotFound", 404):
        other.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="not yours")

    # The same name in the other account is an alarm of its own.
    put_alarm(name, client=other, Threshold=99.0)
    [theirs] = other.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert theirs["AlarmArn"] == alarm_arn(other_account, name)
    assert (theirs["Threshold"], theirs["StateValue"]) == (99.0, "INSUFFICIENT_DATA")
    [mine] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (mine["Threshold"], mine["StateValue"]) == (7.0, "ALARM")
    assert mine["AlarmArn"] == alarm_arn(account, name)


# --------------------------------------------------------------------------
# 10. The test clock is a test hook only
# --------------------------------------------------------------------------


def test_clock_is_refused_without_the_test_clock(server, signed_request):
    status, _, body = signed_request("POST", CLOCK_PATH,
                                     json.dumps({"advanceSeconds": 60}).encode())
    assert status == 404, (status, body)


@pytest.mark.parametrize("body", [{"advanceSeconds": 0}, {"advanceSeconds": 3601},
                                  {"advanceSeconds": -60}, {}])
def test_clock_refuses_an_advance_out_of_range(srv, body):
    status, _, raw = send_signed(srv.endpoint, "POST", CLOCK_PATH,
                                 body=json.dumps(body).encode(),
                                 access_key=srv.access_key, secret_key=srv.secret_key)
    assert status == 400, (status, raw)


# --------------------------------------------------------------------------
# 11. awsJson 1.0
# --------------------------------------------------------------------------


def json_call(srv, target, body):
    """A raw awsJson 1.0 request signed for `monitoring` -> (status, headers, parsed body)."""
    status, headers, raw = send_signed(
        srv.endpoint, "POST", "/", body=json.dumps(body).encode(),
        headers={"X-Amz-Target": "GraniteServiceVersion20100801." + target,
                 "Content-Type": "application/x-amz-json-1.0"},
        access_key=srv.access_key, secret_key=srv.secret_key, service="monitoring")
    return status, headers, (json.loads(raw) if raw.strip() else None)


def test_aws_json_1_0_protocol(srv, cw):
    """X-Amz-Target GraniteServiceVersion20100801.<Op> with an awsJson 1.0 body: an alarm
    made this way is the one boto3 describes; errors carry `__type`."""
    name = uname("json")
    status, _, body = json_call(srv, "PutMetricAlarm", {
        "AlarmName": name, "Namespace": "AWS/IoT", "MetricName": "Connect.Success",
        "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold"})
    assert status == 200, body
    try:
        _json_checks(srv, cw, name)
    finally:
        cw.delete_alarms(AlarmNames=[name])


def _json_checks(srv, cw, name):
    status, headers, body = json_call(srv, "DescribeAlarms", {})
    assert status == 200, body
    assert headers.get("Content-Type", "").startswith("application/x-amz-json-1.0"), headers
    assert isinstance(body["MetricAlarms"], list)
    assert name in [a["AlarmName"] for a in body["MetricAlarms"]]

    status, _, body = json_call(srv, "DescribeAlarms", {"AlarmNames": [name]})
    assert status == 200, body
    [alarm] = body["MetricAlarms"]
    assert (alarm["AlarmName"], alarm["Threshold"], alarm["StateValue"]) == (
        name, 5, "INSUFFICIENT_DATA")
    assert isinstance(alarm["AlarmConfigurationUpdatedTimestamp"], (int, float))
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["Threshold"] == 5.0

    status, _, body = json_call(srv, "DeleteAlarms", {"AlarmNames": [uname("absent")]})
    assert status == 404 and "ResourceNotFound" in body["__type"], (status, body)
    status, _, body = json_call(srv, "NoSuchOperation", {})
    assert status == 400 and "UnknownOperation" in body["__type"], (status, body)


# --------------------------------------------------------------------------
# 12. Missing data
# --------------------------------------------------------------------------


def test_treat_missing_data_on_an_evaluation_without_data(srv, cw, put_alarm):
    """An evaluation over a metric with no data: missing -> INSUFFICIENT_DATA, breaching ->
    ALARM, notBreaching -> OK, ignore -> the state is kept."""
    metric = "Nothing." + uuid.uuid4().hex[:8]
    names = {t: put_alarm(MetricName=metric, TreatMissingData=t)
             for t in ("missing", "breaching", "notBreaching", "ignore")}
    cw.set_alarm_state(AlarmName=names["missing"], StateValue="ALARM", StateReason="before")
    cw.set_alarm_state(AlarmName=names["ignore"], StateValue="OK", StateReason="kept")
    advance(srv, 60)
    assert {t: state_of(cw, n) for t, n in names.items()} == {
        "missing": "INSUFFICIENT_DATA", "breaching": "ALARM", "notBreaching": "OK",
        "ignore": "OK"}
    [kept] = cw.describe_alarms(AlarmNames=[names["ignore"]])["MetricAlarms"]
    assert kept["StateReason"] == "kept"
