"""Just-in-time registration (JITR) and provisioning (JITP) with a CA made here by openssl, as
AWS's guides do it: the CA is registered with the AWS CLI (`--allow-auto-registration`, and a
`--registration-config` template for JITP); a device presents its certificate and the CA's
(the chain AWS asks for) with paho-mqtt. Its first connection is refused and registers it;
with JITP the next one succeeds
(https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html,
https://docs.aws.amazon.com/iot/latest/developerguide/jit-provisioning.html)."""

import json
import shutil
import subprocess

import pytest

from test_mqtt_gateway import V311, WAIT, Paho, make_device  # noqa: F401  (fixture)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)


class OpenSslCa:
    """A CA, its verification certificate for an account's registration code, and device
    certificates it signs — every one made by the openssl command line."""

    def __init__(self, path, code):
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed")
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=path)
        openssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "365",
                "-subj", "/CN=JIT test CA/O=Shoal", "-addext", "basicConstraints=critical,CA:TRUE",
                "-out", "ca.pem", cwd=path)
        self.sign("verification", code)
        self.ca_pem = (path / "ca.pem").read_text()

    def sign(self, name, cn, country="JP"):
        """A device key and certificate signed by the CA; returns (cert path, key path) with
        the certificate file holding the chain (device, then CA)."""
        p = self.path
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key", cwd=p)
        openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=%s/C=%s" % (cn, country),
                "-out", name + ".csr", cwd=p)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "30", "-sha256", "-out", name + ".crt", cwd=p)
        chain = p / (name + ".chain.pem")
        chain.write_text((p / (name + ".crt")).read_text() + (p / "ca.pem").read_text())
        return chain, p / (name + ".key")


class Creds:
    def __init__(self, cert, key):
        self.cert, self.key = str(cert), str(key)


def register_ca(aws_cli, ca, *extra):
    return aws_cli("iot", "register-ca-certificate", "--ca-certificate",
                   "file://%s" % (ca.path / "ca.pem"), "--verification-cert",
                   "file://%s" % (ca.path / "verification.crt"), "--set-as-active",
                   "--allow-auto-registration", *extra)["certificateId"]


def first_connection_refused(server, chain, key, client_id):
    dev = Paho(server, Creds(chain, key), client_id, protocol=V311)
    assert dev.start().outcome() in ("closed", None) or dev.connack.empty()
    dev.stop()


def test_jitr_registers_pending_activation_and_publishes_the_event(
        server, iot, aws_cli, account_id, make_device, tmp_path, unique):
    ca = OpenSslCa(tmp_path / "ca", iot.get_registration_code()["registrationCode"])
    ca_id = register_ca(aws_cli, ca)
    events = "$aws/events/certificates/registered/%s" % ca_id
    watcher_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": "arn:aws:iot:us-east-1:%s:topicfilter/$aws/events/certificates/*" % account_id},
        {"Effect": "Allow", "Action": "iot:Receive",
         "Resource": "arn:aws:iot:us-east-1:%s:topic/$aws/events/certificates/*" % account_id}]}
    creds, _ = make_device(watcher_policy, things=0)
    watcher = Paho(server, creds, unique("watch"), protocol=V311)
    watcher.connect()
    try:
        assert watcher.subscribe((events, 1)) == [1]
        chain, key = ca.sign("dev1", unique("jitr"))
        first_connection_refused(server, chain, key, "jitr-device")
        topic, body, _, _ = watcher.messages.get(timeout=WAIT)
    finally:
        watcher.stop()
    event = json.loads(body)
    assert topic == events
    assert event["caCertificateId"] == ca_id and event["awsAccountId"] == account_id
    assert event["certificateStatus"] == "PENDING_ACTIVATION"
    cert = iot.describe_certificate(certificateId=event["certificateId"])["certificateDescription"]
    assert cert["status"] == "PENDING_ACTIVATION" and cert["caCertificateId"] == ca_id
    # PENDING_ACTIVATION does not connect; activated (what the user's rule would do), it does.
    first_connection_refused(server, chain, key, "jitr-device")
    iot.update_certificate(certificateId=event["certificateId"], newStatus="ACTIVE")
    iot.create_policy(policyName=unique("jitr"), policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    iot.attach_policy(policyName=iot.list_policies()["policies"][-1]["policyName"],
                      target=cert["certificateArn"])
    dev = Paho(server, Creds(chain, key), "jitr-device", protocol=V311)
    dev.connect()
    dev.stop()


def test_jitp_provisions_on_the_first_connection_and_the_next_one_succeeds(
        server, iot, aws_cli, account_id, tmp_path, unique):
    ca = OpenSslCa(tmp_path / "ca", iot.get_registration_code()["registrationCode"])
    template = {
        "Parameters": {
            "AWS::IoT::Certificate::CommonName": {"Type": "String"},
            "AWS::IoT::Certificate::Country": {"Type": "String"},
            "AWS::IoT::Certificate::Id": {"Type": "String"},
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                "AttributePayload": {"version": "v1",
                                     "country": {"Ref": "AWS::IoT::Certificate::Country"}}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "iot:Connect",
                    "Resource": "arn:aws:iot:us-east-1:%s:client/${iot:Connection.Thing.ThingName}"
                    % account_id}]})}},
        },
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"templateBody": json.dumps(template),
                                  "roleArn": "arn:aws:iam::123456789012:role/JITPRole"}))
    ca_id = register_ca(aws_cli, ca, "--registration-config", "file://%s" % config)
    assert iot.describe_ca_certificate(certificateId=ca_id)["registrationConfig"][
        "templateBody"]
    name = unique("jitp")
    chain, key = ca.sign("dev2", name, country="JP")
    first_connection_refused(server, chain, key, name)
    thing = iot.describe_thing(thingName=name)
    assert thing["attributes"] == {"version": "v1", "country": "JP"}
    principals = iot.list_thing_principals(thingName=name)["principals"]
    assert len(principals) == 1
    cert = iot.describe_certificate(
        certificateId=principals[0].rsplit("/", 1)[1])["certificateDescription"]
    assert cert["status"] == "ACTIVE" and cert["caCertificateId"] == ca_id
    assert len(iot.list_attached_policies(target=principals[0])["policies"]) == 1
    # The next connection is the device's own.
    dev = Paho(server, Creds(chain, key), name, protocol=V311)
    dev.connect()
    dev.stop()
