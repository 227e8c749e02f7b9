"""The admin reset (a Shoal extension, as moto and LocalStack offer): `POST /shoal/reset` with
the operator's admin key, and `shoal reset` on the command line, empty an account's region (or
everything) in one call, keeping accounts and keys; live connections end, and the index and
timers stay consistent. A tenant's key is refused."""

import json
import time

import boto3
import pytest
from botocore.config import Config

from conftest import run_shoal, send_signed
from fleet_support import Fleet
from test_mqtt_gateway import V311, allow_all_policy, paho  # noqa: F401  (fixture by name)
from test_mqtt_sessions import make_device_on


def reset(srv, body, key=None, secret=None):
    status, _, raw = send_signed(srv.endpoint, "POST", "/shoal/reset",
                                 body=json.dumps(body).encode(),
                                 access_key=key or srv.access_key,
                                 secret_key=secret or srv.secret_key)
    return status, json.loads(raw) if raw else None


def fill(srv, key, secret, tmp_path, paho):  # noqa: F811
    """An account with one of everything, a live MQTT client and its index on."""
    fleet = Fleet(srv, key, secret)
    iot = fleet.iot
    fleet.configure(things="REGISTRY_AND_SHADOW", groups="ON")
    iot.create_thing_type(thingTypeName="lamp")
    iot.create_thing(thingName="lamp-1", thingTypeName="lamp")
    iot.create_thing_group(thingGroupName="floor")
    iot.add_thing_to_thing_group(thingGroupName="floor", thingName="lamp-1")
    iot.create_billing_group(billingGroupName="site")
    iot.create_role_alias(roleAlias="ra", roleArn="arn:aws:iam::123456789012:role/r")
    fleet.data.update_thing_shadow(thingName="lamp-1",
                                   payload=json.dumps({"state": {"reported": {"on": 1}}}))
    fleet.data.publish(topic="kept/x", payload=b"1", retain=True, qos=1)
    iot.create_job(jobId="j1", targets=[iot.describe_thing(thingName="lamp-1")["thingArn"]],
                   document=json.dumps({"op": "x"}))
    s3 = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                               region_name="us-east-1").client(
        "s3", endpoint_url=srv.endpoint, config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="firmware")
    s3.put_object(Bucket="firmware", Key="v1.bin", Body=b"\0" * 1000)
    creds, (dev,) = make_device_on(iot, tmp_path, allow_all_policy())
    client = paho(creds, dev, V311, srv=srv, clean_session=False)
    client.connect()
    assert client.subscribe(("cmd/#", 1)) == [1]
    fleet.wait_names("thingName:lamp-1", ["lamp-1"])
    return fleet, s3, client


def test_reset_empties_one_account_and_keeps_the_rest(shoal_factory, tmp_path, paho):  # noqa: F811
    srv = shoal_factory()
    account, key, secret = srv.create_account()
    fleet, s3, client = fill(srv, key, secret, tmp_path, paho)
    iot = fleet.iot
    admin = srv.client()
    admin.create_thing(thingName="kept")

    # A tenant's key is refused, and nothing changes.
    status, body = reset(srv, {"accountId": account}, key, secret)
    assert status == 401 and body["message"]
    assert iot.describe_thing(thingName="lamp-1")

    t0 = time.monotonic()
    status, body = reset(srv, {"accountId": account, "region": "us-east-1"})
    took = time.monotonic() - t0
    assert status == 200, body
    assert body["partitions"] == ["%s/us-east-1" % account]
    assert took < 5, "the reset took %.1fs" % took

    # The live connection ended; the account is empty; its keys still work.
    assert client.closed.wait(10)
    assert iot.list_things()["things"] == []
    assert iot.list_thing_types()["thingTypes"] == []
    assert iot.list_thing_groups()["thingGroups"] == []
    assert iot.list_billing_groups()["billingGroups"] == []
    assert iot.list_policies()["policies"] == []
    assert iot.list_certificates()["certificates"] == []
    assert iot.list_role_aliases()["roleAliases"] == []
    assert iot.list_jobs()["jobs"] == []
    assert s3.list_buckets()["Buckets"] == []
    assert fleet.data.list_retained_messages()["retainedTopics"] == []
    assert iot.get_indexing_configuration()["thingIndexingConfiguration"][
        "thingIndexingMode"] == "OFF"
    with pytest.raises(Exception):
        fleet.data.get_thing_shadow(thingName="lamp-1")
    # The other account is untouched.
    assert admin.describe_thing(thingName="kept")["thingName"] == "kept"

    # The emptied account works as a new one, its index included.
    fleet.configure(things="REGISTRY", groups="OFF")
    iot.create_thing(thingName="lamp-1")
    assert fleet.names("thingName:*") == ["lamp-1"]

    # The command line does the same, here for every account.
    out = run_shoal("reset", "--all", "--data", srv.data_dir).stdout
    emptied = json.loads(out)["partitions"]
    assert "%s/us-east-1" % account in emptied
    assert iot.list_things()["things"] == []
    assert admin.list_things()["things"] == []


def test_the_reset_request_is_checked(shoal_factory):
    srv = shoal_factory()
    status, body = reset(srv, {})
    assert status == 400, body
    status, body = reset(srv, {"accountId": "123456789012", "all": True})
    assert status == 400, body
    status, _ = reset(srv, {"accountId": "not-an-account"})
    assert status == 400
