"""Figures of the console's terminal (run by scripts/bench-console-terminal): the in-browser SSH
terminal on a tunnel's page, driven over its WebSocket as the page's script drives it, beside
OpenSSH's own client through the same tunnel and directly.

- Setup: OpenSSH's sshd on loopback (tests/python/test_tunnel_ssh.py's `Sshd`: generated host
  key, an authorised ed25519 client key), a tunnel opened with boto3 (thing + service SSH) and
  `shoal-localproxy` in destination mode forwarding SSH to sshd.
- Login: from sending `start` to the status `Connected as USER` (tunnel connection, SSH
  handshake, public-key authentication, pty and shell), LOGINS times (default 10), each on a new
  WebSocket. A source token connects once (without a client token, as on AWS), so each login
  is given a fresh one from RotateTunnelAccessToken (not timed); the same again with an empty
  token, where Shoal rotates it itself (timed). A login the terminal closes is retried with a
  new token and counted (the table shows how many, the reasons follow it).
- Keystroke echo: at a `bench> ` prompt (bash), one printable key, timed until a `screen`
  message whose cursor line (tags stripped, HTML unescaped) shows it appended; REPEAT keys
  (default 200), distinct characters in a cycle, Ctrl+U every LINE keys (default 40; waited
  for, not timed). Shoal's CPU time over the keys, per key.
- Reference in the same run: the same echo with OpenSSH's `ssh -tt` under a pty, through a
  `shoal-localproxy` in source mode on the same tunnel (after a source token rotation), from
  writing a byte to the pty's master to reading its echo there; and with `ssh` directly to
  sshd (the floor).
Shoal is pinned to core 0; this script, sshd, ssh and the local proxies to core 1.
No sleeps: every wait is for a condition (a message, a line, a byte) with a timeout.
"""

import base64, fcntl, hashlib, html as htmlmod, json, os, re, select, shutil, socket, struct
import subprocess, sys, tempfile, termios, time, types, urllib.parse, urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from bench_provisioning import cpu_seconds, pin, start  # noqa: E402
from bench_console import pct, sign_in  # noqa: E402
from test_tunnel_ssh import (SHOAL_DST_READY, SHOAL_SRC_READY, Child, Sshd, client_env,  # noqa: E402
                             describe, shoal_destination, shoal_source)
from test_tunnels import tunnels_client  # noqa: E402

REPEAT = int(os.environ.get("REPEAT", "200"))
LOGINS = int(os.environ.get("LOGINS", "10"))
LINE = int(os.environ.get("LINE", "40"))
# Keys are typed PACE_MS apart (default 50: 20 keys a second, a fast typist); the console's
# terminal is also driven back to back (each key as soon as the previous one's screen came),
# where its frame interval, not the path, sets the pace.
PACE = float(os.environ.get("PACE_MS", "50")) / 1000
KEY_TIMEOUT = float(os.environ.get("KEY_TIMEOUT", "5"))
WAIT = 30.0  # seconds for a login, a prompt, a close
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
PROMPT = "bench> "
SETUP = "unset HISTFILE PROMPT_COMMAND; PS1='%s'" % PROMPT
COLS, ROWS = 80, 24


# -- a minimal RFC 6455 client -----------------------------------------------------------------


class WsClosed(Exception):
    pass


def xor(data, key):
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


class WebSocket:
    """Client side of RFC 6455 over plain TCP: the opening handshake, masked client frames,
    the server's text/binary (fragments joined), ping answered with pong, close."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host, port, path, headers=(), timeout=WAIT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13",
                 *headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline, "during the handshake")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, *fields = head.decode("latin-1").split("\r\n")
        if status.split(" ")[1:2] != ["101"]:
            raise WsClosed("upgrade refused: %s %s" % (status, self.buf[:300].decode("latin-1")))
        got = dict((k.strip().lower(), v.strip()) for k, v in (f.split(":", 1) for f in fields))
        want = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if got.get("sec-websocket-accept") != want:
            raise WsClosed("bad Sec-WebSocket-Accept: %r" % got.get("sec-websocket-accept"))
        self.closed = False
        self.fragments = None

    def _fill(self, deadline, what="waiting for a frame"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(what)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(what) from None
        if not chunk:
            raise WsClosed("the connection ended %s" % what)
        self.buf += chunk

    def _send(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + xor(payload, mask))

    def send_text(self, text):
        self._send(0x1, text.encode())

    def _frame(self):
        """One whole frame from the buffer (fin, opcode, payload), or None (not all here)."""
        b = self.buf
        if len(b) < 2:
            return None
        fin, op, masked, n, i = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x80, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack("!Q", b[2:10])[0], 10
        mask = None
        if masked:
            if len(b) < i + 4:
                return None
            mask, i = b[i:i + 4], i + 4
        if len(b) < i + n:
            return None
        payload = b[i:i + n]
        self.buf = b[i + n:]
        return fin, op, (xor(payload, mask) if mask else payload)

    def recv(self, timeout):
        """The next message's text (binary is decoded too); WsClosed on close or end."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._frame()
            if f is None:
                self._fill(deadline)
                continue
            fin, op, payload = f
            if op == 0x9:
                self._send(0xA, payload)
            elif op == 0xA:
                pass
            elif op == 0x8:
                if not self.closed:
                    self.closed = True
                    try:
                        self._send(0x8, payload[:2])
                    except OSError:
                        pass
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WsClosed("close frame %s %s" % (code, payload[2:].decode(errors="replace")))
            elif op in (0x1, 0x2):
                if fin:
                    return payload.decode()
                self.fragments = payload
            elif op == 0x0 and self.fragments is not None:
                self.fragments += payload
                if fin:
                    text, self.fragments = self.fragments.decode(), None
                    return text

    def close(self, timeout=WAIT):
        """Our close frame, then the server's (or the end of the connection)."""
        try:
            if not self.closed:
                self.closed = True
                self._send(0x8, struct.pack("!H", 1000))
            while True:
                self.recv(timeout)
        except (WsClosed, TimeoutError, OSError):
            pass
        finally:
            self.sock.close()


# -- the console's terminal ---------------------------------------------------------------------

TAG = re.compile(r"<[^>]*>")
CURSOR = re.compile(r'<span class="[^"]*\bcur\b')


def plain(line):
    return htmlmod.unescape(TAG.sub("", line))


def cursor_line(screen):
    """The text of the row holding the cursor (trailing blanks removed)."""
    for line in screen.split("\n"):
        if CURSOR.search(line):
            return plain(line).rstrip()
    return None


class Terminal:
    """One WebSocket to /console/tunnels/ID/terminal, as console.js opens it."""

    def __init__(self, api, tunnel_id, cookie):
        host, port = api
        self.ws = WebSocket(host, port, "/console/tunnels/%s/terminal" % urllib.parse.quote(tunnel_id),
                            ["Origin: http://%s:%d" % (host, port), "Cookie: " + cookie])
        self.statuses, self.closed_text, self.screen = [], None, ""
        self.screens = 0
        self.screen_bytes = 0

    def send(self, **m):
        self.ws.send_text(json.dumps(m))

    def key(self, k, ctrl=False):
        self.send(t="key", k=k, ctrl=ctrl, alt=False)

    def message(self, timeout):
        try:
            raw = self.ws.recv(timeout)
        except WsClosed as e:
            raise WsClosed("%s; statuses %s; %s" % (e, self.statuses, self.closed_text)) from None
        m = json.loads(raw)
        if m.get("t") == "screen":
            self.screen = m["html"]
            self.screens += 1
            self.screen_bytes += len(raw)
        elif m.get("t") == "status":
            self.statuses.append(m["text"])
        elif m.get("t") == "closed":
            self.closed_text = m["text"]
        return m

    def wait_status(self, text, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            m = self.message(deadline - time.monotonic())
            if m["t"] == "status" and m["text"] == text:
                return
            if m["t"] == "closed":
                raise WsClosed("%s (statuses %s)" % (m["text"], self.statuses))

    def wait_line(self, want, timeout, unexpected=None):
        """Screens until the cursor's line reads `want`; other screens' lines go to
        `unexpected`. False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                m = self.message(deadline - time.monotonic())
            except TimeoutError:
                return False
            if m["t"] == "closed":
                raise WsClosed(m["text"])
            if m["t"] == "screen":
                line = cursor_line(m["html"])
                if line == want:
                    return True
                if unexpected is not None:
                    unexpected.append((want, line))

    def close(self):
        self.ws.close()


def start_message(csrf, user, key, token):
    return dict(t="start", csrf=csrf, service="SSH", user=user, key=key, token=token,
                cols=COLS, rows=ROWS)


def shell_ready(term):
    """After login: the first prompt, then PS1 set to PROMPT (a paste, then Enter)."""
    deadline = time.monotonic() + WAIT
    while not cursor_line(term.screen):
        m = term.message(deadline - time.monotonic())
        if m["t"] == "closed":
            raise WsClosed(m["text"])
    term.send(t="paste", d=SETUP)
    term.key("Enter")
    if not term.wait_line(PROMPT.rstrip(), WAIT):
        raise SystemExit("the console's shell never showed %r; last screen:\n%s"
                         % (PROMPT, plain(term.screen)))


def paced(last, pace):
    """Waits until `pace` seconds after `last` (the typing rhythm: a workload, not a wait for
    anything)."""
    left = last + pace - time.perf_counter()
    if left > 0:
        time.sleep(left)


def console_echo(term, pid, pace):
    """REPEAT keys through the console's terminal -> (ms samples, dropped, unexpected, cpu s)."""
    times, dropped, unexpected = [], [], []
    typed = ""
    # An empty line to start from (a previous run may have left keys on it).
    if cursor_line(term.screen) != PROMPT.rstrip():
        term.key("u", ctrl=True)
        if not term.wait_line(PROMPT.rstrip(), WAIT):
            raise SystemExit("Ctrl+U did not clear the line; screen:\n" + plain(term.screen))
    cpu0 = cpu_seconds(pid)
    last = 0.0
    for i in range(REPEAT):
        paced(last, pace)
        if typed and i % LINE == 0:
            term.key("u", ctrl=True)
            if not term.wait_line(PROMPT.rstrip(), WAIT):
                raise SystemExit("Ctrl+U did not clear the line; screen:\n" + plain(term.screen))
            typed = ""
        c = CHARS[i % len(CHARS)]
        want = PROMPT + typed + c
        t0 = last = time.perf_counter()
        term.key(c)
        if term.wait_line(want, KEY_TIMEOUT, unexpected):
            times.append((time.perf_counter() - t0) * 1000)
            typed += c
        else:
            dropped.append((i, c, cursor_line(term.screen)))
            term.key("u", ctrl=True)
            if not term.wait_line(PROMPT.rstrip(), WAIT):
                raise SystemExit("no prompt after a lost key; screen:\n" + plain(term.screen))
            typed = ""
    cpu = cpu_seconds(pid) - cpu0
    return times, dropped, unexpected, cpu


# -- OpenSSH's client under a pty ---------------------------------------------------------------


class PtySsh:
    """`ssh -tt` with a pty as its terminal (raw mode, as in a terminal emulator)."""

    def __init__(self, argv):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=client_env(), start_new_session=True)
        os.close(slave)
        self.out = b""

    def read(self, timeout):
        r, _, _ = select.select([self.master], [], [], max(0, timeout))
        if not r:
            return b""
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            raise EOFError("ssh ended (rc %s): %r" % (self.proc.poll(), self.out[-500:]))
        self.out = (self.out + data)[-65536:]
        return data

    def drain(self):
        while self.read(0):
            pass

    def wait_for(self, pattern, timeout=WAIT, since=b""):
        """Reads until `pattern` (bytes, a regex) matches what came since the call."""
        seen = since
        deadline = time.monotonic() + timeout
        while not re.search(pattern, seen):
            if time.monotonic() >= deadline:
                return False
            seen += self.read(deadline - time.monotonic())
        return True

    def write(self, data):
        os.write(self.master, data)

    def close(self):
        try:
            self.write(b"\x15exit\r")
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)


def ssh_argv(sshd, port):
    return ["ssh", "-tt", "-e", "none", "-p", str(port), *sshd.ssh_options(),
            "%s@127.0.0.1" % sshd.user]


def pty_echo(sshd, port, pid=None):
    """REPEAT keys through `ssh` -> (ms samples, dropped, cpu seconds of `pid` or None)."""
    s = PtySsh(ssh_argv(sshd, port))
    try:
        # Any output: the session is up and ssh has put the pty in raw mode.
        if not s.wait_for(rb"[\s\S]"):
            raise SystemExit("ssh said nothing: %r" % s.out)
        s.write(SETUP.encode() + b"; echo RE''ADY\r")
        if not s.wait_for(rb"READY[\s\S]*" + re.escape(PROMPT.encode())):
            raise SystemExit("no %r prompt from ssh: %r" % (PROMPT, s.out[-500:]))
        times, dropped = [], []
        cpu0 = cpu_seconds(pid) if pid else None
        last = 0.0
        for i in range(REPEAT):
            paced(last, PACE)
            if i % LINE == 0:
                # Ctrl+U, then a marker: its echo comes after the line was redrawn.
                s.drain()
                s.write(b"\x15.")
                if not s.wait_for(rb"\."):
                    raise SystemExit("no echo after Ctrl+U: %r" % s.out[-500:])
            c = CHARS[i % len(CHARS)].encode()
            s.drain()
            t0 = last = time.perf_counter()
            s.write(c)
            if s.wait_for(re.escape(c), KEY_TIMEOUT):
                times.append((time.perf_counter() - t0) * 1000)
            else:
                dropped.append(i)
        cpu = cpu_seconds(pid) - cpu0 if pid else None
        return times, dropped, cpu
    finally:
        s.close()


# -- the run -------------------------------------------------------------------------------------


def machine():
    model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                  if ln.startswith("model name")), "?")
    mem = next((int(ln.split()[1]) / 1024 / 1024 for ln in open("/proc/meminfo")
                if ln.startswith("MemTotal:")), 0)
    ssh_v = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    return "%d cores (%s), %.0f GiB, Linux %s, %s, %s" % (
        os.cpu_count(), model, mem, os.uname().release, ssh_v, time.strftime("%Y-%m-%d"))


def ms(xs, *ps):
    return ", ".join("%s %.2f ms" % (p if isinstance(p, str) else "p%d" % p,
                                     max(xs) if p == "max" else pct(xs, p)) for p in ps)


def main():
    for tool in ("ssh", "ssh-keygen", "/usr/sbin/sshd"):
        if not shutil.which(tool):
            raise SystemExit("OpenSSH is needed (%s): apt-get install openssh-server openssh-client"
                             % tool)
    if (os.cpu_count() or 1) >= 2:
        pin(os.getpid(), 1)  # what this starts (sshd, ssh, the proxies) inherits core 1
    work = Path(tempfile.mkdtemp(prefix="bench-terminal-"))
    data = work / "data"
    data.mkdir()
    children = []

    def spawn(name, argv, **kw):
        child = Child(name, argv, **kw)
        children.append(child)
        return child

    p = None
    try:
        p, env, _ = start(str(data))
        if (os.cpu_count() or 1) >= 2:
            pin(p.pid, 0)
        endpoint = env["AWS_ENDPOINT_URL"]
        u = urllib.parse.urlsplit(endpoint)
        api = (u.hostname, u.port)
        srv = types.SimpleNamespace(
            endpoint=endpoint, access_key=env["AWS_ACCESS_KEY_ID"], secret_key=env["AWS_SECRET_ACCESS_KEY"],
            tunnel_port=int((data / "tunnel.addr").read_text().strip().rsplit(":", 1)[1]),
            ca_file=str(data / "ca.pem"))
        print("== the console's terminal, %s" % machine())

        sshd = Sshd(spawn, work)
        user, key = sshd.user, sshd.client_key.read_text()
        tun = tunnels_client(srv)
        t = tun.open_tunnel(destinationConfig={"thingName": "bench-device", "services": ["SSH"]},
                            timeoutConfig={"maxLifetimeTimeoutMinutes": 60})
        tid = t["tunnelId"]
        dst = shoal_destination(spawn, srv, t["destinationAccessToken"], sshd.port)
        dst.wait_for(SHOAL_DST_READY, context=(sshd.child,))
        cookie = sign_in(endpoint, srv.access_key, srv.secret_key)
        page = urllib.request.urlopen(urllib.request.Request(
            endpoint + "/console/tunnels/" + urllib.parse.quote(tid), headers={"Cookie": cookie})).read()
        csrf = htmlmod.unescape(re.search(rb'name="csrf" value="([^"]*)"', page).group(1).decode())
        assert b'id="terminal-form"' in page, "the tunnel's page has no terminal form"

        def rotate():
            return tun.rotate_tunnel_access_token(tunnelId=tid, clientMode="SOURCE")["sourceAccessToken"]

        def login(token):
            term = Terminal(api, tid, cookie)
            try:
                t0 = time.perf_counter()
                term.send(**start_message(csrf, user, key, token))
                term.wait_status("Connected as " + user)
            except BaseException:
                term.close()
                raise
            return term, (time.perf_counter() - t0) * 1000

        failed = []  # logins refused on the way (the reason), each retried with a new token

        def login_retrying(token):
            for _ in range(5):
                try:
                    return login(token)
                except WsClosed as e:
                    failed.append(str(e).split(" (statuses")[0].split("; statuses")[0])
                    token = rotate() if token else ""
            raise SystemExit("5 logins in a row failed: %s" % failed[-5:])

        # 1. Logins: a fresh source token each time, then an empty one (Shoal rotates it).
        given, rotating, notes = [], [], []
        token = t["sourceAccessToken"]
        statuses = None
        for i in range(LOGINS):
            term, took = login_retrying(token if i == 0 else rotate())
            given.append(took)
            statuses = statuses or list(term.statuses)
            term.close()
        # A source token that connected once, again: refused, as AWS does without a client
        # token (the page keeps the token in its form after Connect).
        token = rotate()
        for attempt in ("first", "again"):
            try:
                login(token)[0].close()
                notes.append("a source token used %s: connected" % attempt)
            except WsClosed as e:
                notes.append("a source token used %s: %s" % (attempt, str(e).split(" (statuses")[0]))
        for _ in range(LOGINS):
            term, took = login_retrying("")
            rotating.append(took)
            term.close()
        print("login statuses:", statuses)

        # 2. Keystroke echo through the console's terminal, and Shoal's CPU per key.
        term, _ = login_retrying(rotate())
        shell_ready(term)
        screens0, bytes0 = term.screens, term.screen_bytes
        console, dropped, unexpected, cpu = console_echo(term, p.pid, PACE)
        screens, screen_bytes = term.screens - screens0, term.screen_bytes - bytes0
        burst, burst_dropped, _, _ = console_echo(term, p.pid, 0)
        dropped += burst_dropped
        term.close()

        # 3. OpenSSH's ssh through a source local proxy on the same tunnel, then directly.
        ssh_failed = []
        for attempt in range(5):
            src = shoal_source(spawn, srv, rotate())
            src_port = int(src.wait_for(SHOAL_SRC_READY, context=(dst, sshd.child)).group(1))
            try:
                tunnel, tunnel_dropped, tunnel_cpu = pty_echo(sshd, src_port, p.pid)
                break
            except (SystemExit, EOFError) as e:
                ssh_failed.append(str(e)[:300])
                src.kill()
        else:
            raise SystemExit("ssh through the tunnel failed 5 times: %s\n%s"
                             % (ssh_failed, describe(src, dst, sshd.child)))
        direct, direct_dropped, _ = pty_echo(sshd, sshd.port)
        tun.close_tunnel(tunnelId=tid, delete=True)

        print("\n| figure | value |")
        print("|---|---|")
        print("| console terminal login, `start` to `Connected as` (source token given, %d logins) | %s |"
              % (LOGINS, ms(given, 50, "max")))
        print("| console terminal login, empty token (Shoal rotates the source token, %d logins) | %s |"
              % (LOGINS, ms(rotating, 50, "max")))
        print("| keystroke echo, console terminal (key message to the screen showing it, %d keys %.0f ms apart) | %s |"
              % (len(console), PACE * 1000, ms(console, 50, 99)))
        print("| keystroke echo, console terminal, keys back to back (%d keys; at most one screen per frame interval) | %s |"
              % (len(burst), ms(burst, 50, 99)))
        print("| keystroke echo, OpenSSH `ssh` through `shoal-localproxy` (source) and the tunnel, %.0f ms apart | %s |"
              % (PACE * 1000, ms(tunnel, 50, 99)))
        print("| keystroke echo, OpenSSH `ssh` directly to sshd (no tunnel) | %s |" % ms(direct, 50, 99))
        print("| Shoal CPU per keystroke, console terminal (%d keys, Ctrl+U included) | %.2f ms |"
              % (REPEAT, cpu * 1000 / REPEAT))
        print("| Shoal CPU per keystroke, `ssh` through the tunnel (relay only) | %.2f ms |"
              % (tunnel_cpu * 1000 / REPEAT))
        print("| screen messages per key (console), mean size | %.2f, %.0f bytes |"
              % (screens / max(1, REPEAT), screen_bytes / max(1, screens)))
        print("| keys without their echo within %.0f s: console, ssh via tunnel, ssh direct | %d, %d, %d |"
              % (KEY_TIMEOUT, len(dropped), len(tunnel_dropped), len(direct_dropped)))
        print("| console logins that failed and were retried with a new token | %d of %d |"
              % (len(failed), 2 * LOGINS + 1 + len(failed)))
        print("\nCPU time is read from /proc in clock ticks (%d per second)." % os.sysconf("SC_CLK_TCK"))
        for n in notes:
            print("note:", n)
        for reason in sorted(set(failed)):
            print("failed login (%d): %s" % (failed.count(reason), reason))
        for reason in ssh_failed:
            print("ssh through the tunnel failed at first (retried): %s" % reason)
        if dropped:
            print("console keys lost (index, key, cursor line after):", dropped[:10])
        if unexpected:
            print("console screens with another cursor line than the one awaited: %d, e.g. %s"
                  % (len(unexpected), unexpected[:5]))
        slow = sorted(console)[-5:]
        print("slowest console echoes (ms): %s" % ", ".join("%.1f" % x for x in slow))
    finally:
        for c in children:
            c.kill()
        if p is not None:
            p.terminate()
            p.wait(60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
