"""SSH and scp through a secure tunnel: OpenSSH's real server behind a destination local proxy,
OpenSSH's real client in front of a source local proxy, Shoal's wss endpoint in the middle.

What AWS documents, and what is checked here
(https://docs.aws.amazon.com/iot/latest/developerguide/secure-tunneling.html,
https://github.com/aws-samples/aws-iot-securetunneling-localproxy, V2/V3 protocol guides):
  * OpenTunnel with destinationConfig {thingName, services: [SSH]} gives a source and a
    destination access token; a local proxy in destination mode forwards the service to
    127.0.0.1:22-like apps, one in source mode listens for the user's ssh;
  * an ssh session and a large scp (random bytes, SHA-256 compared) cross the tunnel intact;
  * while both proxies are connected DescribeTunnel shows both sides CONNECTED;
  * CloseTunnel closes the WebSocket connections, and a local proxy exits (AWS's with code 0).

Three pairings are driven: Shoal's `shoal-localproxy` on both sides, AWS's localproxy (v3.3.1,
built from source; its tests are skipped where it is absent, e.g. in CI) on both sides, and AWS's
as source with Shoal's as destination. OpenSSH (sshd, ssh, scp, ssh-keygen) is needed; scripts/
test installs it when run as root, otherwise the module is skipped.

No test sleeps to synchronise: sshd and the proxies are waited for on their readiness lines
(read by a thread into a Queue, with a timeout), and exits with Popen.wait(timeout).
"""

import hashlib
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import find_shoal_bin
from test_tunnels import tunnels_client

READY = 30.0  # seconds for sshd or a local proxy to print its readiness line
EXIT = 20.0  # seconds for a local proxy to exit after CloseTunnel
SCP_TIMEOUT = 120  # seconds for one scp
MB = 1024 * 1024

SSHD = "/usr/sbin/sshd"
AWS_LOCALPROXY = Path(os.environ.get("SHOAL_AWS_LOCALPROXY")
                      or Path.home() / ".cache" / "localproxy" / "localproxy")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def require_openssh():
    missing = [t for t in ("ssh", "scp", "ssh-keygen") if shutil.which(t) is None]
    if not (os.path.isfile(SSHD) and os.access(SSHD, os.X_OK)):
        missing.append(SSHD)
    if missing:
        pytest.skip("OpenSSH is not installed (missing %s); scripts/test installs "
                    "openssh-server and openssh-client when run as root" % ", ".join(missing))


def require_aws_localproxy():
    if not (AWS_LOCALPROXY.is_file() and os.access(AWS_LOCALPROXY, os.X_OK)):
        pytest.skip("AWS's localproxy is not built at %s (set SHOAL_AWS_LOCALPROXY)"
                    % AWS_LOCALPROXY)
    if shutil.which("openssl") is None and shutil.which("c_rehash") is None:
        pytest.skip("openssl is not installed (AWS's localproxy needs a hashed CA directory)")


def shoal_localproxy_bin():
    path = Path(find_shoal_bin()).with_name("shoal-localproxy")
    assert path.is_file() and os.access(path, os.X_OK), (
        "shoal-localproxy not found next to the shoal binary: %s" % path)
    return str(path)


def free_port():
    """A port nothing listens on now (for programs that cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def current_user():
    return pwd.getpwuid(os.getuid()).pw_name


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            h.update(chunk)
    return h.hexdigest()


def random_file(path, size_mb):
    with open(path, "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(MB))
    return sha256_of(path)


class Child:
    """A child process whose stdout and stderr (merged) a thread reads line by line, so that a
    test can wait for a line with a timeout and show everything the process said."""

    def __init__(self, name, argv, cwd=None, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.lines = []
        self._queue = queue.Queue()
        self.proc = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
            start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def output(self):
        return "--- %s (pid %d, rc %s): %s\n%s" % (
            self.name, self.proc.pid, self.proc.poll(), " ".join(self.argv),
            "\n".join(self.lines[-200:]))

    def wait_for(self, pattern, timeout=READY, context=()):
        """The first match of `pattern` in a line said from now on; fails on exit or timeout,
        showing this process's output and that of `context` (other Child objects)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%s: no line matching %r within %.0fs\n%s" % (
                    self.name, pattern, timeout, describe(self, *context)))
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=5)
                raise AssertionError("%s exited (rc %s) before printing %r\n%s" % (
                    self.name, self.proc.returncode, pattern, describe(self, *context)))
            m = rx.search(line)
            if m:
                return m

    def wait_exit(self, timeout=EXIT):
        """The exit code, or None if the process is still running after `timeout`."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


def describe(*children):
    return "\n".join(c.output() for c in children)


@pytest.fixture
def children():
    """spawn(name, argv, ...) -> a started Child; every one is killed at teardown."""
    started = []

    def spawn(name, argv, **kw):
        child = Child(name, argv, **kw)
        started.append(child)
        return child

    yield spawn
    for child in started:
        child.kill()


@pytest.fixture
def workdir(tmp_path):
    """A temporary folder; its large files are removed at teardown (pytest keeps tmp_path)."""
    yield tmp_path
    for p in tmp_path.rglob("*.bin"):
        p.unlink(missing_ok=True)


class Sshd:
    """OpenSSH's server on 127.0.0.1 as the current user, with generated host and client keys."""

    def __init__(self, spawn, base):
        self.dir = base / "sshd"
        self.dir.mkdir()
        self.host_key = self.dir / "host_ed25519"
        self.client_key = self.dir / "client_ed25519"
        for key in (self.host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "shoal-e2e",
                            "-f", str(key)], check=True, capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        self.user = current_user()
        if os.getuid() == 0:
            # The privilege-separation directory sshd insists on when it runs as root.
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        self.port = free_port()
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            "ListenAddress 127.0.0.1",
            "Port %d" % self.port,
            "HostKey %s" % self.host_key,
            "AuthorizedKeysFile %s.pub" % self.client_key,
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin %s" % ("yes" if os.getuid() == 0 else "no"),
            "UsePAM no",
            "StrictModes no",
            "PidFile none",
            "Subsystem sftp internal-sftp",
            "LogLevel INFO",
            "",
        ]))
        self.child = spawn("sshd", [SSHD, "-D", "-e", "-f", config, "-p", self.port])
        self.child.wait_for(r"Server listening on 127\.0\.0\.1 port %d" % self.port)

    def ssh_options(self):
        return ["-F", "/dev/null", "-i", str(self.client_key), "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30"]


def client_env():
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)  # the key given with -i, never a developer's agent
    return env


def ssh(sshd, port, command, context):
    proc = subprocess.run(
        ["ssh", "-p", str(port), *sshd.ssh_options(), "%s@127.0.0.1" % sshd.user, command],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=client_env())
    assert proc.returncode == 0, "ssh exited %d\nstdout:\n%s\nstderr:\n%s\n%s" % (
        proc.returncode, proc.stdout, proc.stderr, describe(*context))
    return proc.stdout


def scp(sshd, port, src, dst, context):
    """Copies the local file `src` to `dst` on the server; returns the seconds it took."""
    start = time.monotonic()
    proc = subprocess.run(
        ["scp", "-q", "-P", str(port), *sshd.ssh_options(), str(src),
         "%s@127.0.0.1:%s" % (sshd.user, dst)],
        capture_output=True, text=True, timeout=SCP_TIMEOUT, stdin=subprocess.DEVNULL,
        env=client_env())
    took = time.monotonic() - start
    assert proc.returncode == 0, "scp exited %d\nstdout:\n%s\nstderr:\n%s\n%s" % (
        proc.returncode, proc.stdout, proc.stderr, describe(*context))
    return took


@pytest.fixture
def sshd(children, workdir):
    require_openssh()
    return Sshd(children, workdir)


@pytest.fixture
def aws_localproxy_built():
    """Skips (before anything is started) where AWS's localproxy is not built."""
    require_aws_localproxy()


@pytest.fixture
def tunnels(server):
    return tunnels_client(server)


@pytest.fixture
def ssh_tunnel(tunnels):
    """An open tunnel for thing 'ssh-device' serving SSH; deleted at teardown."""
    resp = tunnels.open_tunnel(destinationConfig={"thingName": "ssh-device",
                                                  "services": ["SSH"]},
                               timeoutConfig={"maxLifetimeTimeoutMinutes": 30})
    yield resp
    try:
        tunnels.close_tunnel(tunnelId=resp["tunnelId"], delete=True)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


# -- the two local proxies ---------------------------------------------------


def shoal_destination(spawn, server, token, app_port):
    return spawn("shoal-localproxy (destination)", [
        shoal_localproxy_bin(), "-e", "localhost:%d" % server.tunnel_port,
        "-c", server.ca_file, "-t", token, "-d", "SSH=127.0.0.1:%d" % app_port])


def shoal_source(spawn, server, token):
    return spawn("shoal-localproxy (source)", [
        shoal_localproxy_bin(), "-e", "localhost:%d" % server.tunnel_port,
        "-c", server.ca_file, "-t", token, "-s", "SSH=0"])


def aws_ca_dir(server, base):
    """An OpenSSL hashed directory holding Shoal's CA (localproxy's -c takes a directory)."""
    ca_dir = base / "aws-ca"
    if not ca_dir.exists():
        ca_dir.mkdir()
        shutil.copy(server.ca_file, ca_dir / "shoal-ca.pem")
        if shutil.which("openssl"):
            cmd = ["openssl", "rehash", str(ca_dir)]
        else:
            cmd = ["c_rehash", str(ca_dir)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return ca_dir


def aws_localproxy(spawn, server, base, token, name, *mode_args):
    """AWS's localproxy, the token in AWSIOT_TUNNEL_ACCESS_TOKEN, run in a folder of its own."""
    home = base / name.replace(" ", "-").replace("(", "").replace(")", "")
    home.mkdir()
    env = {**os.environ, "AWSIOT_TUNNEL_ACCESS_TOKEN": token}
    return spawn(name, [AWS_LOCALPROXY, "-e", "localhost:%d" % server.tunnel_port,
                        "-c", aws_ca_dir(server, base),
                        *mode_args], cwd=str(home), env=env)


def aws_destination(spawn, server, base, token, app_port):
    # At info level it logs nothing once SERVICE_IDS came; at trace it sets up its TCP clients.
    return aws_localproxy(spawn, server, base, token, "aws localproxy (destination)",
                          "-v", "6", "-d", "SSH=127.0.0.1:%d" % app_port)


def aws_source(spawn, server, base, token):
    port = free_port()
    child = aws_localproxy(spawn, server, base, token, "aws localproxy (source)",
                           "-b", "127.0.0.1", "-s", "SSH=%d" % port)
    return child, port


# Readiness lines, all said once SERVICE_IDS arrived: Shoal's proxy prints them on stdout;
# AWS's starts listening only then (source), and sets up its TCP clients then (destination, a
# trace-level line: at info level it says nothing after the WebSocket handshake).
SHOAL_DST_READY = r"^connected$"
SHOAL_SRC_READY = r"^listening on 127\.0\.0\.1:(\d+)$"
AWS_DST_READY = r"Setting up tcp socket for service id: SSH$"
AWS_SRC_READY = r"Listening for new connection on port (\d+)"


# -- the scenario ------------------------------------------------------------


def check_ssh_scp_close(tunnels, tunnel, sshd, src_port, proxies, workdir, size_mb, label):
    """ssh, then scp `size_mb` MB through the tunnel (SHA-256 compared), DescribeTunnel shows
    both sides CONNECTED, CloseTunnel makes both proxies exit with code 0."""
    context = (*proxies, sshd.child)
    out = ssh(sshd, src_port, "echo through-the-tunnel; uname -s", context)
    assert out.splitlines() == ["through-the-tunnel", os.uname().sysname], out

    # Bytes crossed both proxies' WebSockets, so both sides are connected by now.
    t = tunnels.describe_tunnel(tunnelId=tunnel["tunnelId"])["tunnel"]
    assert t["status"] == "OPEN", t
    assert t["sourceConnectionState"]["status"] == "CONNECTED", t
    assert t["destinationConnectionState"]["status"] == "CONNECTED", t

    src = workdir / "random-upload.bin"
    dst = workdir / "received" / "copy.bin"
    dst.parent.mkdir()
    digest = random_file(src, size_mb)
    took = scp(sshd, src_port, src, dst, context)
    assert dst.is_file(), "scp left no file at %s\n%s" % (dst, describe(*context))
    assert dst.stat().st_size == size_mb * MB, dst.stat().st_size
    assert sha256_of(dst) == digest, "the copy differs from the original"
    print("\n%s: scp of %d MB through the tunnel in %.2fs (%.1f MB/s)"
          % (label, size_mb, took, size_mb / took))

    t = tunnels.describe_tunnel(tunnelId=tunnel["tunnelId"])["tunnel"]
    assert t["sourceConnectionState"]["status"] == "CONNECTED", t
    assert t["destinationConnectionState"]["status"] == "CONNECTED", t

    tunnels.close_tunnel(tunnelId=tunnel["tunnelId"])
    codes = {p.name: p.wait_exit() for p in proxies}
    assert all(rc == 0 for rc in codes.values()), (
        "after CloseTunnel the local proxies should exit with 0; got %s\n%s"
        % (codes, describe(*proxies)))
    t = tunnels.describe_tunnel(tunnelId=tunnel["tunnelId"])["tunnel"]
    assert t["status"] == "CLOSED", t
    return took


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_ssh_and_scp_through_a_tunnel_with_shoal_localproxy(
        server, tunnels, ssh_tunnel, sshd, children, workdir):
    """shoal-localproxy on both sides: ssh runs a command, a 100 MB scp arrives intact, both
    proxies exit after CloseTunnel."""
    dst = shoal_destination(children, server, ssh_tunnel["destinationAccessToken"], sshd.port)
    dst.wait_for(SHOAL_DST_READY)
    src = shoal_source(children, server, ssh_tunnel["sourceAccessToken"])
    src_port = int(src.wait_for(SHOAL_SRC_READY, context=(dst,)).group(1))
    check_ssh_scp_close(tunnels, ssh_tunnel, sshd, src_port, (src, dst), workdir, 100,
                        "shoal-localproxy")


@pytest.mark.timeout(300)
def test_ssh_through_a_tunnel_with_awss_localproxy(
        aws_localproxy_built, server, tunnels, ssh_tunnel, sshd, children, workdir):
    """AWS's localproxy v3 on both sides: ssh runs a command, a 20 MB scp arrives intact, both
    processes exit with code 0 after CloseTunnel."""
    dst = aws_destination(children, server, workdir, ssh_tunnel["destinationAccessToken"],
                          sshd.port)
    dst.wait_for(AWS_DST_READY)
    src, port = aws_source(children, server, workdir, ssh_tunnel["sourceAccessToken"])
    src_port = int(src.wait_for(AWS_SRC_READY, context=(dst,)).group(1))
    assert src_port == port, src.output()
    check_ssh_scp_close(tunnels, ssh_tunnel, sshd, src_port, (src, dst), workdir, 20,
                        "aws localproxy")


@pytest.mark.timeout(300)
def test_ssh_with_awss_localproxy_as_source_and_shoal_localproxy_as_destination(
        aws_localproxy_built, server, tunnels, ssh_tunnel, sshd, children, workdir):
    """AWS's localproxy (source) talks to shoal-localproxy (destination) through Shoal."""
    dst = shoal_destination(children, server, ssh_tunnel["destinationAccessToken"], sshd.port)
    dst.wait_for(SHOAL_DST_READY)
    src, port = aws_source(children, server, workdir, ssh_tunnel["sourceAccessToken"])
    src_port = int(src.wait_for(AWS_SRC_READY, context=(dst,)).group(1))
    assert src_port == port, src.output()
    check_ssh_scp_close(tunnels, ssh_tunnel, sshd, src_port, (src, dst), workdir, 20,
                        "aws source, shoal destination")


# --------------------------------------------------------------------------
# Durability: an opened tunnel survives SIGKILL
# --------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_an_acknowledged_tunnel_and_its_tokens_survive_sigkill(shoal_factory, tmp_path, children):
    """OpenTunnel was answered: after kill -9 and a restart on the same data folder the tunnel
    is there, OPEN, with its settings; the destination connected before the kill shows
    DISCONNECTED (nothing is connected to a new process) and comes back with its client token;
    the unused source token still connects."""
    data_dir = tmp_path / "tunnel-crash"
    srv = shoal_factory(data_dir)
    t = tunnels_client(srv).open_tunnel(
        description="before the crash",
        destinationConfig={"thingName": "crash-device", "services": ["SSH"]},
        timeoutConfig={"maxLifetimeTimeoutMinutes": 30})
    app = socket.socket()
    app.bind(("127.0.0.1", 0))
    app.listen(1)
    client_token = "crash-" + "0" * 30

    def destination(server):
        return children("shoal-localproxy (destination)", [
            shoal_localproxy_bin(), "-e", "localhost:%d" % server.tunnel_port,
            "-c", server.ca_file, "-t", t["destinationAccessToken"], "-i", client_token,
            "-d", "SSH=127.0.0.1:%d" % app.getsockname()[1]])

    try:
        dst = destination(srv)
        dst.wait_for(r"^connected$")
        d = tunnels_client(srv).describe_tunnel(tunnelId=t["tunnelId"])["tunnel"]
        assert d["destinationConnectionState"]["status"] == "CONNECTED", d
        os.kill(srv.pid, signal.SIGKILL)
        assert srv.proc.wait(timeout=10) == -signal.SIGKILL
        dst.wait_exit()

        srv2 = shoal_factory(data_dir)
        api = tunnels_client(srv2)
        d = api.describe_tunnel(tunnelId=t["tunnelId"])["tunnel"]
        assert d["status"] == "OPEN"
        assert d["description"] == "before the crash"
        assert d["destinationConfig"] == {"thingName": "crash-device", "services": ["SSH"]}
        assert d["timeoutConfig"] == {"maxLifetimeTimeoutMinutes": 30}
        assert d["destinationConnectionState"]["status"] == "DISCONNECTED", d
        dst2 = destination(srv2)
        dst2.wait_for(r"^connected$")
        src = shoal_source(children, srv2, t["sourceAccessToken"])
        src.wait_for(r"^listening on 127\.0\.0\.1:\d+$", context=(dst2,))
        d = api.describe_tunnel(tunnelId=t["tunnelId"])["tunnel"]
        assert d["sourceConnectionState"]["status"] == "CONNECTED", d
        assert d["destinationConnectionState"]["status"] == "CONNECTED", d
        api.close_tunnel(tunnelId=t["tunnelId"], delete=True)
        assert src.wait_exit() == 0, src.output()
        assert dst2.wait_exit() == 0, dst2.output()
    finally:
        app.close()
