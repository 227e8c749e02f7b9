"""Fleet provisioning by claim (https://docs.aws.amazon.com/iot/latest/developerguide/provision-wo-cert.html):
a device holding a claim certificate asks for its own certificate over the MQTT API and
registers itself with a fleet provisioning template — with the AWS IoT Device SDK's identity
client, as AWS's fleet-provisioning sample does, and with paho-mqtt. The pre-provisioning
hook is a small HTTP server here (`[functions]` maps its ARN to it)."""

import http.server
import json
import queue
import threading

import pytest

from test_mqtt_gateway import (  # noqa: F401  (make_device: a fixture)
    HOST, V311, V5, WAIT, Creds, Paho, make_device, write_creds)

iotidentity = pytest.importorskip("awsiot.iotidentity")
builder311 = pytest.importorskip("awsiot.mqtt_connection_builder")
mqtt_crt = pytest.importorskip("awscrt.mqtt")

HOOK = "arn:aws:lambda:us-east-1:123456789012:function:pre-provisioning"
ROLE = "arn:aws:iam::123456789012:role/provisioning"


def claim_policy(account_id, template):
    """The claim certificate's policy as the fleet-provisioning guide writes it: connect,
    and the certificate and template topics only."""
    def arn(kind, rest):
        return "arn:aws:iot:us-east-1:%s:%s/%s" % (account_id, kind, rest)
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
            arn("topic", "$aws/certificates/create/*"),
            arn("topic", "$aws/certificates/create-from-csr/*"),
            arn("topic", "$aws/provisioning-templates/%s/provision/*" % template)]},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
            arn("topicfilter", "$aws/certificates/create/*"),
            arn("topicfilter", "$aws/certificates/create-from-csr/*"),
            arn("topicfilter", "$aws/provisioning-templates/%s/provision/*" % template)]},
    ]}


def device_policy(account_id):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:us-east-1:%s:client/${iot:Connection.Thing.ThingName}"
         % account_id}]}


def fleet_template(policy_name):
    return json.dumps({
        "Parameters": {
            "SerialNumber": {"Type": "String"},
            "AWS::IoT::Certificate::Id": {"Type": "String"},
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Join": ["", ["sensor-", {"Ref": "SerialNumber"}]]},
                "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": policy_name}},
        },
        "DeviceConfiguration": {"Fallback": "https://example.com/fw",
                                "Serial": {"Ref": "SerialNumber"}},
    })


@pytest.fixture
def fleet(iot, unique, account_id, make_device):
    """A template, its device policy, and a claim certificate allowed to use it."""
    template, policy = unique("fleet"), unique("devpol")
    iot.create_policy(policyName=policy, policyDocument=json.dumps(device_policy(account_id)))
    iot.create_provisioning_template(templateName=template, templateBody=fleet_template(policy),
                                     provisioningRoleArn=ROLE, enabled=True)
    claim, _ = make_device(claim_policy(account_id, template), things=0)
    return template, policy, claim


def sdk_connection(server, creds, client_id):
    conn = builder311.mtls_from_path(
        endpoint=HOST, port=server.mqtt_port, cert_filepath=str(creds.cert),
        pri_key_filepath=str(creds.key), ca_filepath=str(server.ca_file), client_id=client_id,
        clean_session=True, keep_alive_secs=30)
    conn.connect().result(WAIT)
    return conn


def test_the_sdk_fleet_provisioning_sample_flow(server, iot, fleet, unique, tmp_path):
    """fleetprovisioning.py: CreateKeysAndCertificate, then RegisterThing with the ownership
    token; the device then connects with its new certificate as its new thing."""
    template, policy, claim = fleet
    serial = unique("sn")
    conn = sdk_connection(server, claim, unique("claim"))
    try:
        identity = iotidentity.IotIdentityClient(conn)
        qos = mqtt_crt.QoS.AT_LEAST_ONCE
        created, registered, rejected = queue.Queue(), queue.Queue(), queue.Queue()
        for fut in (
            identity.subscribe_to_create_keys_and_certificate_accepted(
                iotidentity.CreateKeysAndCertificateSubscriptionRequest(), qos, created.put)[0],
            identity.subscribe_to_create_keys_and_certificate_rejected(
                iotidentity.CreateKeysAndCertificateSubscriptionRequest(), qos, rejected.put)[0],
            identity.subscribe_to_register_thing_accepted(
                iotidentity.RegisterThingSubscriptionRequest(template_name=template), qos,
                registered.put)[0],
            identity.subscribe_to_register_thing_rejected(
                iotidentity.RegisterThingSubscriptionRequest(template_name=template), qos,
                rejected.put)[0],
        ):
            fut.result(WAIT)
        identity.publish_create_keys_and_certificate(
            iotidentity.CreateKeysAndCertificateRequest(), qos).result(WAIT)
        keys = created.get(timeout=WAIT)
        assert keys.certificate_id and keys.certificate_ownership_token
        assert "BEGIN CERTIFICATE" in keys.certificate_pem
        assert "PRIVATE KEY" in keys.private_key
        cert = iot.describe_certificate(certificateId=keys.certificate_id)["certificateDescription"]
        assert cert["status"] == "PENDING_ACTIVATION"

        identity.publish_register_thing(iotidentity.RegisterThingRequest(
            template_name=template,
            certificate_ownership_token=keys.certificate_ownership_token,
            parameters={"SerialNumber": serial}), qos).result(WAIT)
        done = registered.get(timeout=WAIT)
        assert rejected.empty()
        assert done.thing_name == "sensor-" + serial
        assert done.device_configuration == {"Fallback": "https://example.com/fw",
                                             "Serial": serial}

        # The token is spent.
        identity.publish_register_thing(iotidentity.RegisterThingRequest(
            template_name=template,
            certificate_ownership_token=keys.certificate_ownership_token,
            parameters={"SerialNumber": serial}), qos).result(WAIT)
        refusal = rejected.get(timeout=WAIT)
        assert refusal.status_code == 401 and refusal.error_code == "UnauthorizedException"
    finally:
        conn.disconnect().result(WAIT)

    thing = iot.describe_thing(thingName=done.thing_name)
    assert thing["attributes"] == {"serial": serial}
    cert_arn = iot.describe_certificate(
        certificateId=keys.certificate_id)["certificateDescription"]
    assert cert_arn["status"] == "ACTIVE"
    assert iot.list_thing_principals(thingName=done.thing_name)["principals"] == [
        cert_arn["certificateArn"]]
    assert [p["policyName"] for p in iot.list_attached_policies(
        target=cert_arn["certificateArn"])["policies"]] == [policy]

    # The new certificate connects as its thing (the policy names the thing).
    path = tmp_path / "new"
    (path.with_suffix(".crt")).write_text(keys.certificate_pem)
    (path.with_suffix(".key")).write_text(keys.private_key)
    creds = Creds(path.with_suffix(".crt"), path.with_suffix(".key"), keys.certificate_id,
                  cert_arn["certificateArn"])
    device = sdk_connection(server, creds, done.thing_name)
    device.disconnect().result(WAIT)


def paho_request(dev, topic, payload):
    dev.publish(topic, json.dumps(payload), qos=1)
    got, body, _, _ = dev.messages.get(timeout=WAIT)
    return got, json.loads(body)


def test_create_from_csr_and_refusals_with_paho(server, iot, fleet, unique, pki, aws_error):
    template, policy, claim = fleet
    dev = Paho(server, claim, unique("claim"), protocol=V5)
    dev.connect()
    try:
        assert dev.subscribe(("$aws/certificates/create-from-csr/json/+", 1),
                             ("$aws/provisioning-templates/%s/provision/json/+" % template, 1)) \
            == [1, 1]
        key = pki.key()
        topic, made = paho_request(dev, "$aws/certificates/create-from-csr/json",
                                   {"certificateSigningRequest": pki.csr(key, "dev")})
        assert topic == "$aws/certificates/create-from-csr/json/accepted"
        assert set(made) == {"certificateId", "certificatePem", "certificateOwnershipToken"}
        assert pki.cert_id(made["certificatePem"]) == made["certificateId"]

        provision = "$aws/provisioning-templates/%s/provision/json" % template
        for bad, status in (({"certificateOwnershipToken": "x" * 64 + ".nope",
                              "parameters": {"SerialNumber": "1"}}, 401),
                            ({"parameters": {"SerialNumber": "1"}}, 400)):
            topic, refusal = paho_request(dev, provision, bad)
            assert topic == provision + "/rejected"
            assert refusal["statusCode"] == status and refusal["errorMessage"]
        # A parameter the template needs is missing: nothing is registered and the token
        # still counts.
        topic, refusal = paho_request(dev, provision, {
            "certificateOwnershipToken": made["certificateOwnershipToken"], "parameters": {}})
        assert topic == provision + "/rejected" and refusal["statusCode"] == 400
        assert iot.describe_certificate(certificateId=made["certificateId"])[
            "certificateDescription"]["status"] == "PENDING_ACTIVATION"
        serial = unique("sn")
        topic, done = paho_request(dev, provision, {
            "certificateOwnershipToken": made["certificateOwnershipToken"],
            "parameters": {"SerialNumber": serial}})
        assert topic == provision + "/accepted" and done["thingName"] == "sensor-" + serial
        # A disabled template refuses.
        iot.update_provisioning_template(templateName=template, enabled=False)
        _, again = paho_request(dev, "$aws/certificates/create-from-csr/json",
                                {"certificateSigningRequest": pki.csr(pki.key(), "dev2")})
        topic, refusal = paho_request(dev, provision, {
            "certificateOwnershipToken": again["certificateOwnershipToken"],
            "parameters": {"SerialNumber": unique("sn")}})
        assert topic == provision + "/rejected" and "disabled" in refusal["errorMessage"]
    finally:
        dev.stop()


def test_the_cbor_payload_format(server, iot, fleet, unique):
    """The same API with CBOR bodies: the answers come back in CBOR."""
    cbor2 = pytest.importorskip("cbor2")
    template, policy, claim = fleet
    dev = Paho(server, claim, unique("claim"), protocol=V311)
    dev.connect()
    try:
        provision = "$aws/provisioning-templates/%s/provision/cbor" % template
        dev.subscribe(("$aws/certificates/create/cbor/+", 1), (provision + "/+", 1))
        dev.publish("$aws/certificates/create/cbor", cbor2.dumps({}), qos=1)
        topic, body, _, _ = dev.messages.get(timeout=WAIT)
        made = cbor2.loads(body)
        assert topic == "$aws/certificates/create/cbor/accepted"
        assert "PRIVATE KEY" in made["privateKey"]
        serial = unique("sn")
        dev.publish(provision, cbor2.dumps({
            "certificateOwnershipToken": made["certificateOwnershipToken"],
            "parameters": {"SerialNumber": serial}}), qos=1)
        topic, body, _, _ = dev.messages.get(timeout=WAIT)
        assert topic == provision + "/accepted"
        assert cbor2.loads(body)["thingName"] == "sensor-" + serial
        dev.publish(provision, b"\xff\xff", qos=1)
        topic, body, _, _ = dev.messages.get(timeout=WAIT)
        assert topic == provision + "/rejected" and cbor2.loads(body)["statusCode"] == 400
    finally:
        dev.stop()
    assert iot.describe_certificate(certificateId=made["certificateId"])[
        "certificateDescription"]["status"] == "ACTIVE"


class Hook:
    """The pre-provisioning hook: allows serial numbers starting with "ok", and overrides
    the SerialNumber parameter to upper case."""

    def __init__(self):
        self.events = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.events.append(event)
                serial = event["parameters"].get("SerialNumber", "")
                body = json.dumps({"allowProvisioning": serial.startswith("ok"),
                                   "parameterOverrides": {"SerialNumber": serial.upper()}})
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_the_pre_provisioning_hook_decides_and_overrides(shoal_factory, tmp_path):
    hook = Hook()
    try:
        srv = shoal_factory(env={"SHOAL_FUNCTIONS": "%s=%s" % (HOOK, hook.url)})
        iot = srv.client()
        policy = "devpol"
        account_id = iot.create_thing(thingName="probe")["thingArn"].split(":")[4]
        iot.create_policy(policyName=policy,
                          policyDocument=json.dumps(device_policy(account_id)))
        iot.create_provisioning_template(
            templateName="hooked", templateBody=fleet_template(policy),
            provisioningRoleArn=ROLE, enabled=True, preProvisioningHook={"targetArn": HOOK})
        resp = iot.create_keys_and_certificate(setAsActive=True)
        iot.create_policy(policyName="claim",
                          policyDocument=json.dumps(claim_policy(account_id, "hooked")))
        iot.attach_policy(policyName="claim", target=resp["certificateArn"])
        claim = write_creds(tmp_path, "claim", resp)
        dev = Paho(srv, claim, "claim-1", protocol=V311)
        dev.connect()
        try:
            dev.subscribe(("$aws/certificates/create/json/+", 1),
                          ("$aws/provisioning-templates/hooked/provision/json/+", 1))
            provision = "$aws/provisioning-templates/hooked/provision/json"
            _, made = paho_request(dev, "$aws/certificates/create/json", {})
            topic, refusal = paho_request(dev, provision, {
                "certificateOwnershipToken": made["certificateOwnershipToken"],
                "parameters": {"SerialNumber": "bad-1"}})
            assert topic == provision + "/rejected" and refusal["statusCode"] == 401
            topic, done = paho_request(dev, provision, {
                "certificateOwnershipToken": made["certificateOwnershipToken"],
                "parameters": {"SerialNumber": "ok-7"}})
            assert topic == provision + "/accepted", done
            assert done["thingName"] == "sensor-OK-7"
        finally:
            dev.stop()
        event = hook.events[-1]
        assert event["certificateId"] == made["certificateId"]
        assert event["claimCertificateId"] == resp["certificateId"]
        assert event["clientId"] == "claim-1"
        assert event["templateArn"].endswith(":provisioningtemplate/hooked")
        assert event["parameters"] == {"SerialNumber": "ok-7"}
        assert "BEGIN CERTIFICATE" in event["certificatePem"]
    finally:
        hook.httpd.shutdown()
