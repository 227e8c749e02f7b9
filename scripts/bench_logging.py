"""Figures of issue 19 (run by scripts/bench-logging).

1. MQTT fan-in (`shoal-load mqtt --scenario fan-in`, CLIENTS publishers at QoS 1 over mutual TLS,
   SECONDS each) with device logging off, with DEBUG for 1 % of the publishers (a CLIENT_ID
   level; the default ERROR, so the others write nothing), and with DEBUG for every device;
   the three modes take turns for ROUNDS rounds (default 3), so drift over the run touches
   them alike, and each mode's median is compared with logging off's. Shoal is pinned to
   core 0, the load tool to core 1.
2. The records written per second while every device logs (the writer's count on /metrics).
3. The seed's Logs Insights query over RECORDS records written into the log store by
   `shoal-load logs-fill` (about 1.2 % ERROR failures), through StartQuery and GetQueryResults
   on the restarted server; beside it, in the same run, `grep -c ERROR` and a plain `cat` of
   the same segment files (what reading the bytes costs on this machine).
"""

import json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_provisioning import BIN, LOAD, cpu_seconds, load_device, make_client, pin, start  # noqa: E402

CLIENTS = int(os.environ.get("CLIENTS", "100"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECONDS = int(os.environ.get("SECONDS", "10"))
RECORDS = int(os.environ.get("RECORDS", "10000000"))
TOKEN = "bench-metrics-token"
ROLE = "arn:aws:iam::123456789012:role/bench"
SEED_QUERY = ("fields @timestamp, @message, @logStream, @log, status | filter @message like /ERROR/"
              " | sort @timestamp desc | limit 10000")


def writer_count(endpoint):
    req = urllib.request.Request(endpoint + "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    text = urllib.request.urlopen(req).read().decode()
    m = re.search(r'shoal_log_records_total\{outcome="written"\} (\d+)', text)
    d = re.search(r'shoal_log_records_total\{outcome="dropped"\} (\d+)', text)
    return int(m.group(1)), int(d.group(1))


def fan_in(mqtt, data, cert, key):
    cmd = [LOAD, "mqtt", "--addr", mqtt, "--ca", os.path.join(data, "ca.pem"), "--cert", cert,
           "--key", key, "--scenario", "fan-in", "--clients", str(CLIENTS), "--qos", "1",
           "--outstanding", "4000", "--seconds", str(SECONDS)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if "deliveries/s" in l)
    rate = float(re.search(r"throughput: (\d+) deliveries/s", line).group(1))
    lat = next((l.strip() for l in out.splitlines() if "latency" in l), "")
    return rate, lat


def main():
    os.environ["SHOAL_METRICS_TOKEN"] = TOKEN
    work = tempfile.mkdtemp(prefix="bench19-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    try:
        p, env, mqtt = start(data)
        pin(p.pid, 0)
        endpoint = env["AWS_ENDPOINT_URL"]
        iot = make_client(endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        cert, key, account = load_device(iot, work)
        print("== fan-in %d -> 1, QoS 1, mutual TLS, %d s per run, %d cores, %s" % (
            CLIENTS, SECONDS, os.cpu_count(), time.strftime("%Y-%m-%d")))
        def off():
            iot.set_v2_logging_options(roleArn=ROLE, disableAllLogs=True)

        def one_percent():
            iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")
            for i in range(max(1, CLIENTS // 100)):
                iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID",
                                                    "targetName": "load-pub-%d" % i},
                                         logLevel="DEBUG")

        def everyone():
            iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="DEBUG")

        modes = [("logging off", off), ("DEBUG for 1 % of devices", one_percent),
                 ("DEBUG for every device", everyone)]
        rates = {label: [] for label, _ in modes}
        for _ in range(ROUNDS):
            for label, configure in modes:
                configure()
                w0, d0 = writer_count(endpoint)
                cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
                rate, line = fan_in(mqtt, data, cert, key)
                cpu1, t1 = cpu_seconds(p.pid), time.monotonic()
                w1, d1 = writer_count(endpoint)
                rates[label].append(rate)
                print("%-26s %8.0f msg/s; %9.0f records/s written, %d dropped; server CPU %.0f %%; %s"
                      % (label, rate, (w1 - w0) / (t1 - t0), d1 - d0,
                         100 * (cpu1 - cpu0) / (t1 - t0), line))
        base = sorted(rates["logging off"])[len(rates["logging off"]) // 2]
        for label, _ in modes:
            med = sorted(rates[label])[len(rates[label]) // 2]
            print("median %-26s %8.0f msg/s (%+.1f %% against logging off)" % (
                label, med, 100 * (med - base) / base))
        p.terminate()
        p.wait(30)

        print("== the seed's query over %d records" % RECORDS)
        subprocess.run([LOAD, "logs-fill", "--data", data, "--records", str(RECORDS),
                        "--account", account], check=True)
        segs = subprocess.run(["bash", "-c", "find %s/logs -name '*.seg' | sort" % data],
                              capture_output=True, text=True).stdout.split()
        size = sum(os.path.getsize(s) for s in segs)
        for name, cmd in (("cat > /dev/null", "cat %s > /dev/null"),
                          ("grep -c ERROR", "cat %s | grep -c ERROR")):
            t = time.monotonic()
            subprocess.run(["bash", "-c", cmd % " ".join(segs)], capture_output=True)
            dt = time.monotonic() - t
            print("%-18s %.2f s (%.0f MB/s over %.0f MB)" % (name, dt, size / dt / 1e6, size / 1e6))
        p, env, mqtt = start(data)
        pin(p.pid, 0)
        session = __import__("boto3").session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1")
        logs = session.client("logs", endpoint_url=env["AWS_ENDPOINT_URL"])
        now = int(time.time())
        for attempt in range(3):
            t = time.monotonic()
            qid = logs.start_query(logGroupName="AWSIotLogsV2", startTime=now - 7200,
                                   endTime=now + 60, queryString=SEED_QUERY)["queryId"]
            while True:
                res = logs.get_query_results(queryId=qid)
                if res["status"] not in ("Running", "Scheduled"):
                    break
                time.sleep(0.01)
            dt = time.monotonic() - t
            st = res["statistics"]
            print("query %d: %s in %.2f s: %d records (%.0f MB) scanned = %.0f records/s "
                  "(%.0f MB/s), %d matched, %d rows" % (
                      attempt + 1, res["status"], dt, st["recordsScanned"], st["bytesScanned"] / 1e6,
                      st["recordsScanned"] / dt, st["bytesScanned"] / dt / 1e6,
                      st["recordsMatched"], len(res["results"])))
        print("(AWS's screen in the seed: 80,821 records (36.0 MB) in 7.2 s = 11,206 records/s)")
        p.terminate()
        p.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
