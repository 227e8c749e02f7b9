"""Figures of issue 21 (run by scripts/bench-rules): what the rules engine costs MQTT fan-in.

`shoal-load mqtt --scenario fan-in` (CLIENTS publishers -> 1 subscriber, 64-byte JSON payloads
`{"t":..,"n":0..9999,"p":".."}`, at most 4,000 deliveries outstanding, SECONDS per run) against
one Shoal pinned to core 0 (the load tool on core 1), over mutual TLS at QoS 1 and on the
plain-TCP listener at QoS 0, with:
  - no rules;
  - 10 and 100 enabled rules on the publishers' topic filter whose WHERE clauses are ranges
    (`n >= a AND n < b`) that together match 1 % of the messages (each matching message one
    rule), the matching rule republishing it to a topic nobody subscribed to;
  - one rule republishing every message (`SELECT * ... ` to `load/rep/${topic(3)}`), the
    subscriber then counting the republished messages only.
The modes take turns for ROUNDS rounds; each mode's median is compared with no rules'. The
rules engine's own count of messages evaluated comes from /metrics.
"""

import json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_provisioning import LOAD, cpu_seconds, load_device, make_client, pin, start  # noqa: E402

CLIENTS = int(os.environ.get("CLIENTS", "50"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECONDS = int(os.environ.get("SECONDS", "10"))
TOKEN = "bench-metrics-token"
ROLE = "arn:aws:iam::123456789012:role/bench"


def evaluated(endpoint):
    req = urllib.request.Request(endpoint + "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    text = urllib.request.urlopen(req).read().decode()
    return sum(int(n) for n in re.findall(
        r'shoal_rule_messages_total\{[^}]*outcome="evaluated"\} (\d+)', text))


def fan_in(target, qos, subscribe=None):
    cmd = [LOAD, "mqtt", *target, "--scenario", "fan-in", "--clients", str(CLIENTS),
           "--qos", str(qos), "--outstanding", "4000", "--seconds", str(SECONDS), "--json"]
    if subscribe:
        cmd += ["--subscribe", subscribe]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if "deliveries/s" in l)
    return float(re.search(r"throughput: (\d+) deliveries/s", line).group(1))


def main():
    os.environ["SHOAL_METRICS_TOKEN"] = TOKEN
    work = tempfile.mkdtemp(prefix="bench21-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    try:
        os.environ["SHOAL_MQTT_PLAIN_LISTEN"] = "127.0.0.1:18841"
        p, env, mqtt = start(data)
        pin(p.pid, 0)
        endpoint = env["AWS_ENDPOINT_URL"]
        key, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        iot = make_client(endpoint, key, secret)
        cert, pem_key, _ = load_device(iot, work)
        targets = [
            ("QoS 1, mutual TLS", 1, ["--addr", mqtt, "--ca", os.path.join(data, "ca.pem"),
                                      "--cert", cert, "--key", pem_key]),
            ("QoS 0, plain TCP", 0, ["--addr", "127.0.0.1:18841", "--username", key,
                                     "--password", secret]),
        ]

        def clear():
            for rule in iot.list_topic_rules(maxResults=1000).get("rules", []):
                iot.delete_topic_rule(ruleName=rule["ruleName"])

        def thresholds(n):
            def make():
                clear()
                step = 100 // n
                for k in range(n):
                    iot.create_topic_rule(ruleName="threshold_%d" % k, topicRulePayload={
                        "sql": "SELECT * FROM 'load/in/+' WHERE n >= %d AND n < %d" % (
                            9900 + k * step, 9900 + (k + 1) * step),
                        "actions": [{"republish": {"topic": "load/alert/%d" % k, "roleArn": ROLE}}]})
            return make

        def republish_all():
            clear()
            iot.create_topic_rule(ruleName="republish_all", topicRulePayload={
                "sql": "SELECT * FROM 'load/in/+'",
                "actions": [{"republish": {"topic": "load/rep/${topic(3)}", "roleArn": ROLE,
                                           "qos": 1}}]})

        modes = [("no rules", clear, None), ("10 rules, 1 % match", thresholds(10), None),
                 ("100 rules, 1 % match", thresholds(100), None),
                 ("republish every message", republish_all, "load/rep/+")]
        print("== fan-in %d -> 1, 64-byte JSON payloads, %d s per run, %d rounds, %d cores, %s" % (
            CLIENTS, SECONDS, ROUNDS, os.cpu_count(), time.strftime("%Y-%m-%d")))
        for label, qos, target in targets:
            print("-- %s" % label)
            rates = {m[0]: [] for m in modes}
            for _ in range(ROUNDS):
                for name, configure, subscribe in modes:
                    configure()
                    e0, cpu0, t0 = evaluated(endpoint), cpu_seconds(p.pid), time.monotonic()
                    rate = fan_in(target, qos, subscribe)
                    e1, cpu1, t1 = evaluated(endpoint), cpu_seconds(p.pid), time.monotonic()
                    rates[name].append(rate)
                    print("%-26s %9.0f deliveries/s; %9.0f messages evaluated/s; server CPU %.0f %%"
                          % (name, rate, (e1 - e0) / SECONDS, 100 * (cpu1 - cpu0) / (t1 - t0)))
            base = sorted(rates["no rules"])[len(rates["no rules"]) // 2]
            for name, _, _ in modes:
                med = sorted(rates[name])[len(rates[name]) // 2]
                print("median %-26s %9.0f deliveries/s (%.0f %% of no rules)" % (
                    name, med, 100 * med / base))
        clear()
        p.terminate()
        p.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
