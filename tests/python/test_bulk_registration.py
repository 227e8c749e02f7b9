"""Bulk registration, the seed's demo with the AWS CLI: check the template file, put a
parameter file of 1,000 devices in object storage, run start-thing-registration-task, check
the results, save a certificate, and connect with it (mosquitto_pub). Then stopping a task,
and a SIGKILL in the middle of one: after the restart it finishes without registering any
line twice (https://docs.aws.amazon.com/iot/latest/developerguide/bulk-provisioning.html)."""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_mqtt_gateway import HOST, WAIT
from test_objects import s3_cli, s3_client

ROLE = "arn:aws:iam::123456789012:role/bulk-registration"


def seed_template(account_id):
    """The seed's kind of template: a thing with attributes, a certificate from a CSR, a
    policy that lets the device connect as its thing and publish under its name."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:us-east-1:%s:client/${iot:Connection.Thing.ThingName}"
         % account_id},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": "arn:aws:iot:us-east-1:%s:topic/bulk/${iot:Connection.Thing.ThingName}"
         % account_id}]}
    return {
        "Parameters": {
            "ThingName": {"Type": "String"},
            "SerialNumber": {"Type": "String"},
            "Location": {"Type": "String", "Default": "WA"},
            "CSR": {"Type": "String"},
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "ThingName"},
                "AttributePayload": {"version": "v1", "serialNumber": {"Ref": "SerialNumber"},
                                     "location": {"Ref": "Location"}}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy",
                       "Properties": {"PolicyDocument": json.dumps(policy)}},
        },
    }


def csr_for(name):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
           .sign(key, hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def wait_for(iot, task_id, done=("Completed", "Failed", "Cancelled"), timeout=300):
    """The task's description once its status is one of `done` (the task runs on the
    server's scheduler; this polls its description, as the CLI user does)."""
    deadline = time.monotonic() + timeout
    while True:
        d = iot.describe_thing_registration_task(taskId=task_id)
        if d["status"] in done or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def fetch(url):
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=30) as r:
        return r.read().decode()


def report_lines(iot, task_id, kind):
    lines = []
    for link in iot.list_thing_registration_task_reports(
            taskId=task_id, reportType=kind)["resourceLinks"]:
        lines.extend(json.loads(l) for l in fetch(link).splitlines() if l.strip())
    return lines


def test_the_seed_bulk_registration_demo(server, iot, aws_cli, account_id, unique, tmp_path,
                                         aws_error):
    bucket = unique("bulk").lower().replace("_", "-")
    prefix = unique("dev")
    # 1. The template file, checked.
    template = tmp_path / "template.json"
    template.write_text(json.dumps(seed_template(account_id), indent=2))
    assert json.loads(template.read_text())["Resources"]["certificate"]["Type"] == \
        "AWS::IoT::Certificate"
    # The parameter file: 1,000 devices, and three lines that cannot register.
    keys = {}
    lines = []
    for i in range(1000):
        name = "%s-%04d" % (prefix, i)
        key, csr = csr_for(name)
        if i < 3:
            keys[name] = key
        lines.append(json.dumps({"ThingName": name, "SerialNumber": str(1000 + i), "CSR": csr}))
    lines.insert(10, "this is not json")
    lines.insert(20, json.dumps({"ThingName": prefix + "-nocsr", "SerialNumber": "1"}))
    lines.insert(30, json.dumps({"ThingName": prefix + "-badcsr", "SerialNumber": "2",
                                 "CSR": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                        "-----END CERTIFICATE REQUEST-----\n"}))
    params = tmp_path / "params.json"
    params.write_text("\n".join(lines) + "\n")
    s3_cli(server, "mb", "s3://%s" % bucket)
    s3_cli(server, "cp", str(params), "s3://%s/params.json" % bucket)

    # 2. The registration.
    started = aws_cli("iot", "start-thing-registration-task",
                      "--template-body", "file://%s" % template,
                      "--input-file-bucket", bucket, "--input-file-key", "params.json",
                      "--role-arn", ROLE)
    task = started["taskId"]
    assert task in aws_cli("iot", "list-thing-registration-tasks")["taskIds"]

    # 3. The results.
    d = wait_for(iot, task)
    assert d["status"] == "Completed", d
    assert d["successCount"] == 1000 and d["failureCount"] == 3
    assert d["percentageProgress"] == 100
    assert d["inputFileBucket"] == bucket and d["inputFileKey"] == "params.json"
    described = aws_cli("iot", "describe-thing-registration-task", "--task-id", task)
    assert described["status"] == "Completed"
    assert task in aws_cli("iot", "list-thing-registration-tasks",
                           "--status", "Completed")["taskIds"]
    results = report_lines(iot, task, "RESULTS")
    errors = report_lines(iot, task, "ERRORS")
    assert len(results) == 1000 and len(errors) == 3
    assert sorted(e["offset"] for e in errors) == [10, 20, 30]
    assert all(e["errorMessage"] for e in errors)
    by_thing = {r["response"]["ResourceArns"]["thing"].rsplit("/", 1)[1]: r for r in results}
    assert len(by_thing) == 1000
    links = aws_cli("iot", "list-thing-registration-task-reports", "--task-id", task,
                    "--report-type", "RESULTS")
    assert links["reportType"] == "RESULTS" and links["resourceLinks"]
    # The reports are objects in the bucket too.
    assert "thing-registration-tasks/%s/" % task in s3_cli(
        server, "ls", "--recursive", "s3://%s/thing-registration-tasks/" % bucket)
    thing = iot.describe_thing(thingName="%s-0001" % prefix)
    assert thing["attributes"] == {"version": "v1", "serialNumber": "1001", "location": "WA"}

    # 4. Save a certificate, 5. and connect with it.
    name = "%s-0002" % prefix
    pem = by_thing[name]["response"]["CertificatePem"]
    cert_id = by_thing[name]["response"]["ResourceArns"]["certificate"].rsplit("/", 1)[1]
    assert iot.describe_certificate(certificateId=cert_id)["certificateDescription"][
        "status"] == "ACTIVE"
    (tmp_path / "dev.crt").write_text(pem)
    (tmp_path / "dev.key").write_bytes(keys[name].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub not installed (Debian package mosquitto-clients)")
    pub = subprocess.run(
        ["mosquitto_pub", "--cafile", str(server.ca_file), "--cert", str(tmp_path / "dev.crt"),
         "--key", str(tmp_path / "dev.key"), "-h", HOST, "-p", str(server.mqtt_port),
         "-V", "mqttv311", "-i", name, "-t", "bulk/%s" % name, "-m", "hello", "-q", "1"],
        capture_output=True, text=True, timeout=WAIT * 3, stdin=subprocess.DEVNULL)
    assert pub.returncode == 0, pub.stderr

    with aws_error("ResourceNotFoundException", 404):
        iot.describe_thing_registration_task(taskId="no-such-task")
    with aws_error("InvalidRequestException", 400):
        iot.start_thing_registration_task(templateBody=template.read_text(),
                                          inputFileBucket=bucket, inputFileKey="missing.json",
                                          roleArn=ROLE)


def thing_only_lines(prefix, n):
    return "\n".join(json.dumps({"ThingName": "%s-%05d" % (prefix, i)}) for i in range(n))


THING_ONLY = json.dumps({"Parameters": {"ThingName": {"Type": "String"}},
                         "Resources": {"thing": {"Type": "AWS::IoT::Thing",
                                                 "Properties": {"ThingName": {"Ref": "ThingName"}}}}})


def test_stopping_a_task_and_one_task_at_a_time(server, aws_error):
    _, key, secret = server.create_account()
    iot = server.client(access_key=key, secret_key=secret)

    class Srv:
        endpoint, access_key, secret_key = server.endpoint, key, secret

    s3 = s3_client(Srv)
    s3.create_bucket(Bucket="stop-me")
    s3.put_object(Bucket="stop-me", Key="p.json", Body=thing_only_lines("s", 5000).encode())
    task = iot.start_thing_registration_task(templateBody=THING_ONLY, inputFileBucket="stop-me",
                                             inputFileKey="p.json", roleArn=ROLE)["taskId"]
    with aws_error("InvalidRequestException", 400):
        iot.start_thing_registration_task(templateBody=THING_ONLY, inputFileBucket="stop-me",
                                          inputFileKey="p.json", roleArn=ROLE)
    iot.stop_thing_registration_task(taskId=task)
    d = wait_for(iot, task)
    assert d["status"] == "Cancelled", d
    assert d["successCount"] < 5000
    with aws_error("InvalidRequestException", 400):
        iot.stop_thing_registration_task(taskId=task)
    assert iot.list_thing_registration_tasks(status="Cancelled")["taskIds"] == [task]
    # The next task may start now.
    s3.put_object(Bucket="stop-me", Key="small.json", Body=thing_only_lines("t", 3).encode())
    nxt = iot.start_thing_registration_task(templateBody=THING_ONLY, inputFileBucket="stop-me",
                                            inputFileKey="small.json", roleArn=ROLE)["taskId"]
    assert wait_for(iot, nxt)["successCount"] == 3


def test_a_sigkill_in_the_middle_registers_no_line_twice(shoal_factory, tmp_path):
    data = tmp_path / "bulk-crash"
    srv = shoal_factory(data)
    iot = srv.client()
    account_id = iot.create_thing(thingName="probe")["thingArn"].split(":")[4]
    iot.delete_thing(thingName="probe")
    n = 3000
    lines = [json.dumps({"ThingName": "k-%05d" % i, "SerialNumber": str(i),
                         "CSR": csr_for("k-%05d" % i)[1]}) for i in range(n)]
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="crash")
    s3.put_object(Bucket="crash", Key="p.json", Body="\n".join(lines).encode())
    task = iot.start_thing_registration_task(
        templateBody=json.dumps(seed_template(account_id)), inputFileBucket="crash",
        inputFileKey="p.json", roleArn=ROLE)["taskId"]
    deadline = time.monotonic() + 120
    while True:
        seen = iot.describe_thing_registration_task(taskId=task)["successCount"]
        if seen >= 200:
            break
        assert time.monotonic() < deadline, "the task did not start"
        time.sleep(0.01)
    os.kill(srv.pid, signal.SIGKILL)
    assert seen < n, "the task ended before the kill: nothing was interrupted"
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL

    srv2 = shoal_factory(data)
    iot = srv2.client()
    d = wait_for(iot, task)
    assert d["status"] == "Completed" and d["successCount"] == n and d["failureCount"] == 0, d
    things = []
    for page in iot.get_paginator("list_things").paginate():
        things.extend(t["thingName"] for t in page["things"])
    assert sorted(things) == ["k-%05d" % i for i in range(n)]
    certs = []
    for page in iot.get_paginator("list_certificates").paginate(PaginationConfig={"PageSize": 250}):
        certs.extend(page["certificates"])
    assert len(certs) == n, "a line was registered twice: %d certificates" % len(certs)
    results = report_lines(iot, task, "RESULTS")
    assert sorted(r["offset"] for r in results) == list(range(n))


def test_registering_existing_things_again_rotates_their_certificates(server, iot, account_id,
                                                                     unique):
    """A second task over the same things (a certificate rotation): the things stay as they
    are (OverrideSettings DO_NOTHING by default) and each gets its new certificate beside the
    old one, which stays ACTIVE until the user retires it."""
    bucket = unique("rot").lower().replace("_", "-")
    s3 = s3_client(server)
    s3.create_bucket(Bucket=bucket)
    names = [unique("rot") for _ in range(3)]
    for round_ in range(2):
        body = "\n".join(json.dumps({"ThingName": n, "SerialNumber": str(round_),
                                     "CSR": csr_for(n)[1]}) for n in names)
        s3.put_object(Bucket=bucket, Key="p%d.json" % round_, Body=body.encode())
        task = iot.start_thing_registration_task(
            templateBody=json.dumps(seed_template(account_id)), inputFileBucket=bucket,
            inputFileKey="p%d.json" % round_, roleArn=ROLE)["taskId"]
        d = wait_for(iot, task)
        assert (d["status"], d["successCount"], d["failureCount"]) == ("Completed", 3, 0)
    for n in names:
        assert iot.describe_thing(thingName=n)["attributes"]["serialNumber"] == "0"
        principals = iot.list_thing_principals(thingName=n)["principals"]
        assert len(principals) == 2
        for p in principals:
            assert iot.describe_certificate(certificateId=p.rsplit("/", 1)[1])[
                "certificateDescription"]["status"] == "ACTIVE"
