"""Figures of issue 20 (run by scripts/bench-tunnels): a bulk copy of BYTES (default 1 GB)
through a tunnel beside a direct TCP copy on loopback in the same run, small request/response
round trips through a tunnel beside direct ones, and IDLE tunnels (default 10,000) held open at
once with their destination connected, with the server's memory before and after. The local
proxies are `shoal-load tunnel`'s (shoal-localproxy, written from AWS's protocol guides)."""

import os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_provisioning import BIN, LOAD, make_client, start  # noqa: E402
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

BYTES = int(os.environ.get("BYTES", str(1_000_000_000)))
IDLE = int(os.environ.get("IDLE", "10000"))


def rss_mb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0


def main():
    os.environ["SHOAL_TUNNELS_MAX_OPEN"] = str(IDLE + 10)
    os.environ["SHOAL_TUNNELS_MAX_CONNECTIONS"] = str(IDLE + 100)
    work = tempfile.mkdtemp(prefix="bench20-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    p, env, _ = start(data)
    try:
        port = open(os.path.join(data, "tunnel.addr")).read().strip().rsplit(":", 1)[1]
        endpoint = "localhost:" + port
        ca = os.path.join(data, "ca.pem")
        tun = boto3.session.Session().client(
            "iotsecuretunneling", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 0}, max_pool_connections=4))
        print("== secure tunneling, %d cores, %s" % (os.cpu_count(), time.strftime("%Y-%m-%d")))
        bulk = tun.open_tunnel(destinationConfig={"services": ["BULK"]})
        echo = tun.open_tunnel(destinationConfig={"services": ["ECHO"]})
        out = subprocess.run(
            [LOAD, "tunnel", "--scenario", "copy", "--endpoint", endpoint, "--ca", ca,
             "--source", bulk["sourceAccessToken"], "--destination", bulk["destinationAccessToken"],
             "--echo-source", echo["sourceAccessToken"],
             "--echo-destination", echo["destinationAccessToken"], "--bytes", str(BYTES)],
            capture_output=True, text=True, timeout=900)
        print(out.stdout.strip() or out.stderr.strip())
        for t in (bulk, echo):
            tun.close_tunnel(tunnelId=t["tunnelId"], delete=True)

        before = rss_mb(p.pid)
        tokens = os.path.join(work, "tokens")
        t0 = time.monotonic()
        with open(tokens, "w") as f:
            for _ in range(IDLE):
                f.write(tun.open_tunnel(destinationConfig={"services": ["SSH"]})["destinationAccessToken"] + "\n")
        opened = time.monotonic() - t0
        print("opened %d tunnels in %.1f s (%.0f OpenTunnel/s)" % (IDLE, opened, IDLE / opened))
        hold = subprocess.Popen([LOAD, "tunnel", "--scenario", "idle", "--endpoint", endpoint, "--ca", ca,
                                 "--tokens", tokens], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = hold.stdout.readline().strip()
        print(line)
        after = rss_mb(p.pid)
        print("server memory: %.0f MB before, %.0f MB with %d idle tunnels connected: %.1f KB per tunnel"
              % (before, after, IDLE, (after - before) * 1024 / IDLE))
        hold.stdin.close()
        hold.wait(60)
    finally:
        p.terminate()
        p.wait(30)


if __name__ == "__main__":
    main()
