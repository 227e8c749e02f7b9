"""Figures of issue 17 (run by scripts/bench-iotcore): a fresh server's start (what restarting
per test costs), a fleet search right after CreateThing (read-your-writes) beside one with
nothing pending, and the admin reset of accounts of 100, 1,000 and 10,000 things. Uses the
Python suite's helpers (boto3, hand-signed requests) against the release binary in SHOAL_BIN.
"""

import json, os, subprocess, sys, time, statistics, threading, shutil, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from conftest import send_signed, make_client
from fleet_support import Fleet

BIN = os.environ["SHOAL_BIN"]

def start(data):
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "serve", "--data", data, "--api", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
                          "--device-https", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env={**os.environ, "SHOAL_DEVICE_ALPN_LISTEN": ""})
    exports = None
    for line in p.stdout:
        if line.startswith("export AWS_ENDPOINT_URL="):
            exports = dict(kv.split("=", 1) for kv in line.split()[1:])
            break
    ready = time.monotonic() - t0
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, exports, ready

def stop(p):
    p.send_signal(2); p.wait(timeout=30)

class Srv:
    def __init__(self, e, data):
        self.endpoint = e["AWS_ENDPOINT_URL"]; self.access_key = e["AWS_ACCESS_KEY_ID"]; self.secret_key = e["AWS_SECRET_ACCESS_KEY"]
        self.data = data
    def client(self, access_key=None, secret_key=None):
        return make_client(self.endpoint, access_key or self.access_key, secret_key or self.secret_key)
    def create_account(self):
        out = subprocess.run([BIN, "account", "create", "--data", self.data], capture_output=True, text=True).stdout
        acct = out.split()[1]
        ex = dict(kv.split("=",1) for kv in out.splitlines()[1].split()[1:])
        return acct, ex["AWS_ACCESS_KEY_ID"], ex["AWS_SECRET_ACCESS_KEY"]

def pct(xs, q):
    xs = sorted(xs); return xs[min(len(xs)-1, int(q*len(xs)))]

data = tempfile.mkdtemp(prefix="m17-")
p, e, ready = start(data)
srv = Srv(e, data)
res = {}
# 1. start-up time of a fresh server (what restart-per-test costs)
starts = []
for i in range(5):
    d = tempfile.mkdtemp(prefix="m17s-")
    q, _, r = start(d); starts.append(r); stop(q); shutil.rmtree(d, ignore_errors=True)
res["fresh start to ready (s), median of 5"] = round(statistics.median(starts), 3)

# 2. read-your-writes search
acct, k, s = srv.create_account()
fleet = Fleet(srv, k, s, acct)
fleet.configure(things="REGISTRY", groups="OFF")
after, plain = [], []
for i in range(500):
    fleet.iot.create_thing(thingName="ryw-%d" % i)
    t = time.monotonic(); r = fleet.iot.search_index(queryString="thingName:ryw-%d" % i); after.append((time.monotonic()-t)*1000)
    assert len(r["things"]) == 1
for i in range(500):
    t = time.monotonic(); fleet.iot.search_index(queryString="thingName:ryw-%d" % i); plain.append((time.monotonic()-t)*1000)
res["search right after CreateThing ms p50/p99"] = (round(pct(after,.5),2), round(pct(after,.99),2))
res["search with nothing pending ms p50/p99"] = (round(pct(plain,.5),2), round(pct(plain,.99),2))

# 3. reset of accounts of several sizes
def fill(n):
    acct, k, s = srv.create_account()
    iot = srv.client(k, s)
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    def work(lo, hi):
        c = srv.client(k, s)
        for i in range(lo, hi):
            c.create_thing(thingName="t-%d" % i, attributePayload={"attributes": {"a": str(i)}})
    th = [threading.Thread(target=work, args=(j*n//8, (j+1)*n//8)) for j in range(8)]
    [t.start() for t in th]; [t.join() for t in th]
    for g in range(min(n, 50)):
        iot.create_thing_group(thingGroupName="g-%d" % g)
    iot.create_policy(policyName="p", policyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}')
    return acct
for n in (100, 1000, 10000):
    acct = fill(n)
    t = time.monotonic()
    st, _, body = send_signed(srv.endpoint, "POST", "/shoal/reset", body=json.dumps({"accountId": acct}).encode(),
                              access_key=srv.access_key, secret_key=srv.secret_key)
    ms = (time.monotonic()-t)*1000
    assert st == 200, body
    res["reset of an account with %d things (ms)" % n] = round(ms, 1)
stop(p)
print(json.dumps(res, indent=1))
