"""Figures of issue 18 (run by scripts/bench-provisioning): one bulk registration task of LINES
devices (default 1,000,000) with CSR-based certificates (time, things/s, the server's peak
memory), and fleet provisioning by claim over MQTT with `shoal-load provision` (DEVICES at once,
default 100; p50/p99 from the claim connection to the new certificate's CONNACK). Runs the release
binary in SHOAL_BIN on a fresh data folder. The bulk file cycles through DISTINCT CSRs (default
1,000; each line still gets its own certificate: the CA signs every request anew), so that making
the file does not take longer than registering it. CLAIMS devices are provisioned by claim
(default 2,000), then a tenth as many with keys made by Shoal unless KEYS=0.
"""

import json, os, shutil, subprocess, sys, time, tempfile, threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
import boto3
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from conftest import make_client

BIN = os.environ["SHOAL_BIN"]
LOAD = os.environ["SHOAL_LOAD"]
LINES = int(os.environ.get("LINES", "1000000"))
DISTINCT = int(os.environ.get("DISTINCT", "1000"))
DEVICES = int(os.environ.get("DEVICES", "100"))
CLAIMS = int(os.environ.get("CLAIMS", "2000"))
ROLE = "arn:aws:iam::123456789012:role/bench"


def start(data):
    p = subprocess.Popen([BIN, "serve", "--data", data, "--api", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
                          "--device-https", "127.0.0.1:0", "--tunnel", "127.0.0.1:0"], stdout=subprocess.PIPE,
                         stderr=open(os.path.join(data, "shoal.log"), "ab"),
                         text=True, env={**os.environ, "SHOAL_DEVICE_ALPN_LISTEN": ""})
    exports, mqtt = None, None
    for line in p.stdout:
        if line.strip().startswith("mqtt "):
            mqtt = line.split()[1].split("://")[-1]
        if line.startswith("export AWS_ENDPOINT_URL="):
            exports = dict(kv.split("=", 1) for kv in line.split()[1:])
            break
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, exports, mqtt


def peak_rss_mb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0


def rss_parts_mb(pid):
    parts = {}
    for line in open("/proc/%d/status" % pid):
        if line.startswith(("RssAnon:", "RssFile:")):
            parts[line.split(":")[0]] = round(int(line.split()[1]) / 1024)
    return parts.get("RssAnon"), parts.get("RssFile")


def pin(pid, core):
    """Pins every thread of a process to one core (when taskset is there)."""
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-cp", str(core), str(pid)], capture_output=True)


def load_device(iot, work):
    """A device certificate (files in `work`) with the `load` policy shoal-load's MQTT scenarios
    need (client ids load-*, topics load/*) -> (cert path, key path, account id)."""
    c = iot.create_keys_and_certificate(setAsActive=True)
    cert, key = os.path.join(work, "device.pem"), os.path.join(work, "device.key")
    open(cert, "w").write(c["certificatePem"])
    open(key, "w").write(c["keyPair"]["PrivateKey"])
    account = c["certificateArn"].split(":")[4]
    r = "arn:aws:iot:us-east-1:%s" % account
    iot.create_policy(policyName="load", policyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": r + ":client/load-*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": r + ":topic/load/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": r + ":topicfilter/load/*"}]}))
    iot.attach_policy(policyName="load", target=c["certificateArn"])
    return cert, key, account


def cpu_seconds(pid):
    """The user and system CPU time the process has used."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def csr(i):
    key = ec.generate_private_key(ec.SECP256R1())
    req = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-%d" % i)]))
           .sign(key, hashes.SHA256()))
    return req.public_bytes(serialization.Encoding.PEM).decode()


TEMPLATE = {
    "Parameters": {"ThingName": {"Type": "String"}, "SerialNumber": {"Type": "String"},
                   "CSR": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Ref": "ThingName"},
            "AttributePayload": {"serialNumber": {"Ref": "SerialNumber"}}}},
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
            "CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"}},
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]})}},
    },
}

def main():
    data = tempfile.mkdtemp(prefix="bench18-")
    p, e, mqtt = start(data)
    iot = make_client(e["AWS_ENDPOINT_URL"], e["AWS_ACCESS_KEY_ID"], e["AWS_SECRET_ACCESS_KEY"])
    s3 = boto3.session.Session(aws_access_key_id=e["AWS_ACCESS_KEY_ID"],
                               aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"],
                               region_name="us-east-1").client(
        "s3", endpoint_url=e["AWS_ENDPOINT_URL"], config=Config(retries={"mode": "standard"}))
    res = {}

    # 1. Bulk registration.
    csrs = [json.dumps(csr(i))[1:-1] for i in range(DISTINCT)]
    path = os.path.join(data, "..", "bench18-params.json")
    with open(path, "w") as f:
        for i in range(LINES):
            f.write('{"ThingName": "b-%07d", "SerialNumber": "%d", "CSR": "%s"}\n' % (i, i, csrs[i % DISTINCT]))
    s3.create_bucket(Bucket="bulk")
    s3.upload_file(path, "bulk", "params.json")
    os.remove(path)
    t0 = time.monotonic()
    task = iot.start_thing_registration_task(templateBody=json.dumps(TEMPLATE), inputFileBucket="bulk",
                                             inputFileKey="params.json", roleArn=ROLE)["taskId"]
    while True:
        if p.poll() is not None:
            sys.exit("shoal exited with %s during the bulk task" % p.returncode)
        d = iot.describe_thing_registration_task(taskId=task)
        if d["status"] != "InProgress":
            break
        time.sleep(1)
    took = time.monotonic() - t0
    res["bulk task: lines, status, ok, failed"] = (LINES, d["status"], d["successCount"], d["failureCount"])
    res["bulk task: seconds, things/s"] = (round(took, 1), round(d["successCount"] / took))
    res["server peak RSS after the bulk task (MB)"] = round(peak_rss_mb(p.pid))
    # The peak counts the database pages the store reads through its memory map (file-backed,
    # reclaimable); what the process itself holds is the anonymous part.
    res["server RSS after the bulk task: anonymous, file-backed (MB)"] = rss_parts_mb(p.pid)
    res["data folder after the bulk task (MB)"] = round(sum(
        os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(data) for fn in fns) / 1e6)

    # 2. Fleet provisioning by claim over MQTT.
    iot.create_provisioning_template(templateName="claim-bench", provisioningRoleArn=ROLE, enabled=True,
        templateBody=json.dumps({
            "Parameters": {"SerialNumber": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
            "Resources": {
                "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "SerialNumber"}}},
                "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                    "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
                "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "bench-device"}}}}))
    iot.create_policy(policyName="bench-device", policyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    claim = iot.create_provisioning_claim(templateName="claim-bench")
    cdir = tempfile.mkdtemp(prefix="bench18c-")
    open(os.path.join(cdir, "claim.crt"), "w").write(claim["certificatePem"])
    open(os.path.join(cdir, "claim.key"), "w").write(claim["keyPair"]["PrivateKey"])
    for mode in ([], ["--keys"]) if os.environ.get("KEYS", "1") != "0" else ([],):
        count = CLAIMS if not mode else max(CLAIMS // 10, DEVICES)
        cpu0 = cpu_seconds(p.pid)
        out = subprocess.run([LOAD, "provision", "--mqtt", mqtt, "--ca", os.path.join(data, "ca.pem"),
                              "--claim-cert", os.path.join(cdir, "claim.crt"),
                              "--claim-key", os.path.join(cdir, "claim.key"), "--template", "claim-bench",
                              "--devices", str(DEVICES), "--count", str(count),
                              "--prefix", "m%s" % ("k" if mode else "c"), *mode],
                             capture_output=True, text=True, timeout=1800)
        res["shoal-load provision %s" % (mode or "")] = (out.stdout + out.stderr).strip()
        res["server CPU per provisioning %s(ms)" % (mode or "")] = round(
            (cpu_seconds(p.pid) - cpu0) * 1000 / count, 2)
    p.send_signal(2)
    p.wait(timeout=60)
    for k, v in res.items():
        print("%s: %s" % (k, v))


if __name__ == "__main__":
    main()
