"""Figures of issue 22 (run by scripts/bench-console): the console's pages at THINGS things
(default 1,000,000) and the cost of evaluating ALARMS alarms (default 1,000).

- THINGS things are made with `shoal-load api --op create-thing` and given a reported shadow
  (`--op update-shadow`), then fleet indexing is turned on (`--op rebuild`).
- Server time of each page: the time from sending the request to the last byte of the answer
  on loopback, REPEAT times (p50 / p99), signed in with the admin key; page weight = the HTML
  plus the CSS and script it loads (sent once, then cached).
- In Chromium (Debian's, headless): first contentful paint of the device list and of a device
  page (the Paint Timing API), REPEAT times.
- Alarm evaluation: ALARMS alarms on a fleet metric, then the test clock (SHOAL_TEST_CLOCK=1)
  moved one minute: the time until every alarm's timer has fired, and the server's CPU time.
Shoal is pinned to core 0 and the load (and the browser) to core 1.
"""

import json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from bench_provisioning import LOAD, cpu_seconds, make_client, pin, start  # noqa: E402
from conftest import send_signed  # noqa: E402

THINGS = int(os.environ.get("THINGS", "1000000"))
ALARMS = int(os.environ.get("ALARMS", "1000"))
REPEAT = int(os.environ.get("REPEAT", "20"))


def load(*args):
    cmd = [LOAD, "api", *args]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    print(out.strip().splitlines()[-1] if out.strip() else "")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def sign_in(endpoint, key, secret):
    body = urllib.parse.urlencode({"access_key_id": key, "secret_access_key": secret,
                                   "region": "us-east-1"}).encode()
    opener = urllib.request.build_opener(NoRedirect())
    try:
        opener.open(urllib.request.Request(endpoint + "/console/login", data=body, method="POST"))
    except urllib.error.HTTPError as e:
        cookie = e.headers["Set-Cookie"].split(";")[0]
        return cookie
    raise SystemExit("no session")


def fetch(endpoint, path, cookie):
    req = urllib.request.Request(endpoint + path, headers={"Cookie": cookie})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body = r.read()
        status = r.status
    return (time.perf_counter() - t0) * 1000, status, body


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def pages(endpoint, cookie, mid):
    _, _, first = fetch(endpoint, "/console/devices", cookie)
    m = re.search(rb'id="next-page" href="([^"]+)"', first)
    page2 = m.group(1).decode().replace("&amp;", "&") if m else "/console/devices"
    assets = sum(len(fetch(endpoint, "/console/assets/" + a, cookie)[2])
                 for a in ("console.css", "console.js"))
    return [
        ("device list (ListThings, first page)", "/console/devices"),
        ("device list, a later page", page2),
        ("device list, fleet query (a quarter match)",
         "/console/devices?q=" + urllib.parse.quote("shadow.reported.firmware:1.1.0")),
        ("device list, fleet query with columns",
         "/console/devices?q=" + urllib.parse.quote("shadow.reported.temperature>50")
         + "&cols=" + urllib.parse.quote("shadow.reported.temperature,shadow.reported.firmware")),
        ("device page", "/console/devices/load-%d" % mid),
        ("groups", "/console/groups"),
        ("fleet overview (all things)", "/console/overview"),
        ("jobs", "/console/jobs"),
        ("alarms", "/console/alarms"),
        ("certificates", "/console/certificates"),
        ("tunnels", "/console/tunnels"),
        ("logs", "/console/logs"),
    ], assets


def browser_paint(endpoint, key, secret, paths):
    try:
        from selenium import webdriver
        from selenium.webdriver.common.by import By
    except ImportError:
        return {}
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for f in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--user-data-dir=" + tempfile.mkdtemp()):
        opts.add_argument(f)
    b = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    pin(b.service.process.pid, 1)
    out = {}
    try:
        b.get(endpoint + "/console/login")
        b.find_element(By.NAME, "access_key_id").send_keys(key)
        b.find_element(By.NAME, "secret_access_key").send_keys(secret)
        b.find_element(By.CSS_SELECTOR, "#login button").click()
        for name, path in paths:
            fcp = []
            for _ in range(REPEAT):
                b.get(endpoint + path)
                v = b.execute_script(
                    "var e = performance.getEntriesByName('first-contentful-paint')[0];"
                    "return e ? e.startTime : null;")
                if v is not None:
                    fcp.append(v)
            out[name] = fcp
    finally:
        b.quit()
    return out


def alarms_cost(endpoint, key, secret, pid):
    import boto3
    from botocore.config import Config
    iot = make_client(endpoint, key, secret)
    iot.create_fleet_metric(metricName="bench-connected", queryString="connectivity.connected:true",
                            aggregationType={"name": "Statistics", "values": ["count"]},
                            aggregationField="registry.version", period=60)
    cw = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                               region_name="us-east-1").client(
        "cloudwatch", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1}))
    t0 = time.perf_counter()
    for i in range(ALARMS):
        cw.put_metric_alarm(AlarmName="bench-%04d" % i, Namespace="IoTFleetMetrics",
                            MetricName="bench-connected",
                            Dimensions=[{"Name": "AggregationType", "Value": "count"}],
                            Statistic="Minimum", Period=60, EvaluationPeriods=1, Threshold=i,
                            ComparisonOperator="LessThanThreshold")
    put = time.perf_counter() - t0
    rounds = []
    for _ in range(3):
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        status, _, body = send_signed(endpoint, "POST", "/shoal/test/clock",
                                      body=json.dumps({"advanceSeconds": 60}).encode(),
                                      access_key=key, secret_key=secret)
        wall = time.perf_counter() - t0
        assert status == 200, body
        rounds.append((json.loads(body)["fired"], wall, cpu_seconds(pid) - cpu0))
    states = {}
    token = None
    while True:
        r = cw.describe_alarms(**({"NextToken": token} if token else {}))
        for a in r["MetricAlarms"]:
            states[a["StateValue"]] = states.get(a["StateValue"], 0) + 1
        token = r.get("NextToken")
        if not token:
            break
    return put, rounds, states


def main():
    work = tempfile.mkdtemp(prefix="bench22-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    os.environ["SHOAL_TEST_CLOCK"] = "1"
    try:
        p, env, _ = start(data)
        pin(p.pid, 0)
        endpoint = env["AWS_ENDPOINT_URL"]
        key, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        os.environ.update(env)
        print("== %d things with a reported shadow, then the index" % THINGS)
        t0 = time.time()
        load("--op", "create-thing", "--count", str(THINGS), "--concurrency", "64", "--max-seconds", "3600")
        load("--op", "update-shadow", "--count", str(THINGS), "--things", str(THINGS), "--concurrency", "64",
             "--max-seconds", "3600")
        load("--op", "rebuild", "--body", json.dumps({"thingIndexingConfiguration": {
            "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS"}}))
        print("made in %.0f s" % (time.time() - t0))
        cookie = sign_in(endpoint, key, secret)
        paths, assets = pages(endpoint, cookie, THINGS // 2)
        print("\n== server time per page at %d things (%d requests each), page weight" % (THINGS, REPEAT))
        print("| page | p50 ms | p99 ms | HTML bytes | with CSS and script |")
        print("|---|---|---|---|---|")
        for name, path in paths:
            fetch(endpoint, path, cookie)
            times, size, status = [], 0, 0
            for _ in range(REPEAT):
                ms, status, body = fetch(endpoint, path, cookie)
                times.append(ms)
                size = len(body)
            assert status == 200, (path, status)
            print("| %s | %.1f | %.1f | %d | %d |" % (name, pct(times, 50), pct(times, 99), size, size + assets))
        print("\n== first contentful paint in Chromium (ms, %d loads each)" % REPEAT)
        for name, fcp in browser_paint(endpoint, key, secret, [paths[0], paths[4]]).items():
            if fcp:
                print("| %s | p50 %.0f | p99 %.0f |" % (name[0] if isinstance(name, tuple) else name,
                                                       pct(fcp, 50), pct(fcp, 99)))
        print("\n== %d alarms evaluated by one minute of the test clock" % ALARMS)
        put, rounds, states = alarms_cost(endpoint, key, secret, p.pid)
        print("PutMetricAlarm x %d: %.1f s (%.0f/s)" % (ALARMS, put, ALARMS / put))
        for fired, wall, cpu in rounds:
            print("fired %d timers in %.0f ms (server CPU %.0f ms: %.0f us per alarm)"
                  % (fired, wall * 1000, cpu * 1000, cpu * 1e6 / max(fired, 1)))
        print("states:", states)
        p.terminate()
        p.wait(60)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
