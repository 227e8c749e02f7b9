"""Durability: a create that was answered with HTTP 200 survives SIGKILL.

Eight threads stream CreateThing calls at a dedicated server. Once enough of
them have been acknowledged the server is killed with SIGKILL while the other
requests are still in flight, then restarted on the same data directory.
Every acknowledged thing must be there and the store must open cleanly.
"""

import os
import signal
import threading
import uuid

from botocore.exceptions import ClientError

THREADS = 8
PER_THREAD = 60  # at most 480 creates in total
KILL_AFTER = 120  # acknowledged creates before the kill


def test_acknowledged_creates_survive_sigkill(shoal_factory, tmp_path):
    data_dir = tmp_path / "crash-data"
    srv = shoal_factory(data_dir)
    run_id = uuid.uuid4().hex[:8]

    lock = threading.Lock()
    acked = []
    errors_before_kill = []
    cut_off = []  # calls that failed because of the kill (in flight or refused)
    enough = threading.Event()
    killed = threading.Event()

    def worker(t):
        client = srv.client(connect_timeout=5, read_timeout=15)
        for i in range(PER_THREAD):
            name = "crash-%s-%d-%d" % (run_id, t, i)
            try:
                resp = client.create_thing(thingName=name,
                                           attributePayload={"attributes": {"i": str(i)}})
            except Exception as e:  # connection refused / reset once the server is gone
                if not killed.is_set():
                    errors_before_kill.append("%s: %r" % (name, e))
                    enough.set()  # wake the main thread; it reports the error
                else:
                    cut_off.append(name)
                return
            if resp["ResponseMetadata"]["HTTPStatusCode"] == 200:
                with lock:
                    acked.append(name)
                    if len(acked) >= KILL_AFTER:
                        enough.set()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(THREADS)]
    for th in threads:
        th.start()
    assert enough.wait(timeout=60), "too few creates acknowledged within 60 s"
    assert not errors_before_kill, errors_before_kill[:5]

    killed.set()
    os.kill(srv.pid, signal.SIGKILL)
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL
    for th in threads:
        th.join(timeout=60)
        assert not th.is_alive(), "worker still blocked after the server died"
    with lock:
        acknowledged = list(acked)
    assert len(acknowledged) >= KILL_AFTER
    print("acknowledged: %d, cut off by the kill: %d" % (len(acknowledged), len(cut_off)))

    # Restart on the same directory: same admin key, every acked thing present.
    srv2 = shoal_factory(data_dir)
    assert srv2.access_key == srv.access_key
    assert srv2.secret_key == srv.secret_key
    client = srv2.client()
    missing = []
    for name in acknowledged:
        try:
            d = client.describe_thing(thingName=name)
            assert d["thingName"] == name
            assert d["attributes"] == {"i": name.rsplit("-", 1)[1]}
        except ClientError as e:
            missing.append((name, e.response["Error"]["Code"]))
    assert not missing, "%d acknowledged things lost, e.g. %s" % (len(missing), missing[:5])

    # The store lists cleanly, without duplicates, and takes new writes.
    listed = []
    for page in client.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 100}):
        listed.extend(t["thingName"] for t in page["things"])
    assert len(listed) == len(set(listed))
    assert set(acknowledged) <= set(listed)
    after = "after-crash-" + run_id
    client.create_thing(thingName=after)
    assert client.describe_thing(thingName=after)["version"] == 1

    # A thing whose create may have been in flight is either fully there or absent:
    # anything listed must also be describable.
    for name in set(listed) - set(acknowledged):
        assert client.describe_thing(thingName=name)["thingName"] == name
