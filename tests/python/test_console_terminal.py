"""The console's in-browser SSH terminal on a secure tunnel's page, driven in headless Chromium
(Selenium) against OpenSSH's real sshd behind `shoal-localproxy` in destination mode.

What AWS documents
(https://docs.aws.amazon.com/iot/latest/developerguide/tunneling-tutorial-quick-setup.html):
the AWS IoT console opens a tunnel for a thing with the SSH service. A local proxy on the
device connects with the destination access token. The tunnel's page then gives a browser-based
SSH terminal. The console connects to the tunnel as its source, so no local proxy runs at the
user's desk, and the user gives a user name and a password or a private key.

Shoal does the same server-side. It connects to its own tunnel endpoint as the SOURCE, runs an
SSH client over the tunnel's stream and renders the screen. The browser talks to it over a
WebSocket at /console/tunnels/{id}/terminal. Checked here:
  * a tunnel opened from the console's form: its page's terminal form already holds the
    source token; with the current user and sshd's authorized key the shell starts
    ("Connected as USER"). The host key's SHA256 fingerprint that the status line shows is
    `ssh-keygen -lf` of sshd's host key, and sshd logs the key used. Typed keys reach the
    shell: letters, digits and symbols, Enter, Backspace, an arrow and Ctrl+C. While the
    terminal is connected, DescribeTunnel shows both sides CONNECTED. `exit` ends the session
    ("Closed ... The session ended");
  * from a tunnel's own page (the token field is empty, so Shoal rotates the source token
    itself) with the right host-key fingerprint given, twice in a row;
  * a PEM (PKCS#1) RSA key and a passphrase-protected OpenSSH key log in too;
  * a wrong password or an unknown key: "Authentication failed"; a wrong expected fingerprint:
    "does not match", and sshd accepts no key for any of them;
  * a read-only key's session gets no terminal form (the section says read-only), and neither
    does a closed tunnel;
  * the WebSocket endpoint answers before upgrading: 403 for another site's Origin or no
    session, 404 for an unknown tunnel, 400 for a GET that is not an upgrade. A good request
    gets 101 with the right Sec-WebSocket-Accept.

OpenSSH (sshd, ssh-keygen) is needed, so the module is skipped without it, as
test_tunnel_ssh.py is. No test sleeps to synchronise: waits are on what the page shows
(WebDriverWait on the status line or the screen), on sshd's and the proxy's output lines, and
on polled API answers. Screenshots go to tests/python/artifacts/console/terminal-*.png.
"""

import base64
import hashlib
import http.client
import os
import re
import subprocess
import types
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError

pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import run_shoal  # noqa: E402
from test_console import (  # noqa: E402,F401  (srv, iot and browser are module fixtures)
    CHROMEDRIVER, CHROMIUM, WAIT, browser, fill, iot, open_page, session_cookie, shot, sign_in,
    srv, until)
from test_tunnel_ssh import (  # noqa: E402,F401  (children and workdir are fixtures)
    SHOAL_DST_READY, Sshd, children, describe, require_openssh, shoal_destination, workdir)
from test_tunnels import tunnels_client  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian's chromium and chromium-driver are not installed (scripts/test installs them as root)")

SSH_TEST_TIMEOUT = 300  # seconds per test: the first one also starts Shoal and Chromium
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's handshake constant
# A host-key fingerprint in OpenSSH's form: SHA256: and unpadded base64. The pattern takes "="
# too, so that a padded fingerprint shows up as a mismatch.
HOST_KEY = re.compile(r"Host key (SHA256:[A-Za-z0-9+/=]+)")
# The Up arrow as `cat -v` prints it (and the tty echoes it): ESC [ A, or ESC O A in
# application cursor mode.
UP_ARROW = re.compile(r"\^\[\[A|\^\[OA")

# Keeps every text the status line shows from now on, in order. A WebDriverWait poll could miss
# a status that shows only briefly, such as "Host key SHA256:..." before "Connected as".
RECORD_STATUS = """
const seen = window.__shoalTestStatuses = [];
const note = () => {
  const el = document.getElementById('term-status');
  const text = el ? el.textContent.trim() : '';
  if (seen[seen.length - 1] !== text) seen.push(text);
};
note();
if (window.__shoalTestObserver) window.__shoalTestObserver.disconnect();
window.__shoalTestObserver = new MutationObserver(note);
window.__shoalTestObserver.observe(document.body,
                                  {subtree: true, childList: true, characterData: true});
"""


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def keygen(path, *args, passphrase=""):
    """`ssh-keygen` makes a key pair at `path` (and `path`.pub) -> the private key's text."""
    subprocess.run(["ssh-keygen", "-q", *args, "-N", passphrase, "-C", "shoal-console",
                    "-f", str(path)], check=True, capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)
    return path.read_text()


def fingerprint(public_key_path):
    """OpenSSH's SHA256 fingerprint of a public key file (`ssh-keygen -lf`)."""
    out = subprocess.run(["ssh-keygen", "-lf", str(public_key_path)], check=True,
                         capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL).stdout.split()
    assert len(out) >= 2 and out[1].startswith("SHA256:"), out
    return out[1]


def pub(key_path):
    return key_path.with_name(key_path.name + ".pub")


def accepted(sshd, key_fingerprint=None):
    """sshd's "Accepted publickey for USER ..." lines (for the key with this fingerprint)."""
    return [line for line in sshd.child.lines
            if "Accepted publickey for %s " % sshd.user in line
            and (key_fingerprint is None or key_fingerprint in line)]


def any_accepted(sshd):
    return [line for line in sshd.child.lines if "Accepted " in line]


class Terminal:
    """The terminal section of a tunnel's page, used as a person would: fill in the form, press
    Connect, read the status line and the screen, type into the screen."""

    def __init__(self, browser, context=()):
        self.browser = browser
        self.context = tuple(context)  # Child processes whose output explains a failure
        self.initial = None

    def el(self, element_id):
        return self.browser.find_element(By.ID, element_id)

    def form(self):
        return self.el("terminal-form")

    def services(self):
        form = self.form()
        return [o.get_attribute("value")
                for o in form.find_elements(By.CSS_SELECTOR, "#term-service option")]

    def token(self):
        return self.form().find_element(By.ID, "term-token").get_attribute("value")

    def connect(self, user, key="", password="", passphrase="", fingerprint="", token=None):
        """Fills in the form (the token only when given) and presses Connect."""
        form = self.form()
        values = {"term-user": user, "term-key": key, "term-password": password,
                  "term-passphrase": passphrase, "term-fingerprint": fingerprint}
        if token is not None:
            values["term-token"] = token
        for element_id, value in values.items():
            field = form.find_element(By.ID, element_id)
            field.clear()
            if value:
                field.send_keys(value)
        self.browser.execute_script(RECORD_STATUS)
        self.initial = self.status()
        self.el("term-connect").click()

    def status(self):
        return self.el("term-status").text.strip()

    def statuses(self):
        """Every text the status line showed since Connect, and the current one last."""
        seen = list(self.browser.execute_script("return window.__shoalTestStatuses || []"))
        now = self.status()
        if not seen or seen[-1] != now:
            seen.append(now)
        return seen

    def ever(self, text):
        return [s for s in self.statuses() if text in s]

    def host_keys(self):
        return sorted({m.group(1) for s in self.statuses() for m in HOST_KEY.finditer(s)})

    def screen(self):
        return self.el("term-screen").text

    def details(self):
        try:
            statuses, screen = self.statuses(), self.screen()
        except Exception as e:  # the page itself is broken; say so rather than hide the cause
            statuses, screen = "(unreadable: %s)" % e, ""
        return "status line so far: %r\nscreen:\n%s\n%s" % (
            statuses, screen, describe(*self.context))

    def _closed_early(self, status, want):
        return (status.startswith("Closed") and status != self.initial
                and want not in status)

    def wait_status(self, want, what, timeout=WAIT):
        """The status text once it contains `want`. Fails at once if the session closes for
        another reason."""
        def check(_):
            s = self.status()
            if want in s:
                return s
            if self._closed_early(s, want):
                raise AssertionError("the terminal closed while waiting for %r (%s)\n%s"
                                     % (want, what, self.details()))
            return False
        try:
            return WebDriverWait(self.browser, timeout, poll_frequency=0.2).until(check)
        except TimeoutException:
            raise AssertionError("no %r in the terminal's status within %ss (%s)\n%s"
                                 % (want, timeout, what, self.details())) from None

    def wait_screen(self, want, what, timeout=WAIT):
        """The screen's text once it contains `want` (a string, or a compiled pattern)."""
        def check(_):
            text = self.screen()
            found = want.search(text) if isinstance(want, re.Pattern) else want in text
            if found:
                return text
            s = self.status()
            if self._closed_early(s, "\0"):
                raise AssertionError("the terminal closed while waiting for %r on the screen "
                                     "(%s)\n%s" % (want, what, self.details()))
            return False
        try:
            return WebDriverWait(self.browser, timeout, poll_frequency=0.2).until(check)
        except TimeoutException:
            raise AssertionError("no %r on the terminal's screen within %ss (%s)\n%s"
                                 % (want, timeout, what, self.details())) from None

    def focus(self):
        """Waits for the shell's first output (its prompt), then clicks the screen."""
        self.wait_screen(re.compile(r"\S"), "the shell's prompt")
        self.el("term-screen").click()

    def type(self, *keys):
        self.el("term-screen").send_keys(*keys)

    def run(self, command, output, what):
        """Types `command` and Enter; waits until `output` is on the screen."""
        self.type(command, Keys.ENTER)
        return self.wait_screen(output, what)

    def exit_shell(self):
        self.type("exit", Keys.ENTER)
        status = self.wait_status("The session ended", "the shell to exit")
        assert status.startswith("Closed"), status
        return status


def connected_as(term, user):
    return term.wait_status("Connected as %s" % user, "the shell to start")


def assert_both_sides_connected(tunnels, tunnel_id, term):
    t = tunnels.describe_tunnel(tunnelId=tunnel_id)["tunnel"]
    assert t["status"] == "OPEN", t
    assert t["sourceConnectionState"]["status"] == "CONNECTED", (t, term.details())
    assert t["destinationConnectionState"]["status"] == "CONNECTED", (t, term.details())


def upgrade_request(srv, path, headers):
    """A raw GET with these headers -> (status, lower-cased headers). The connection is closed
    without reading further, even after a 101."""
    u = urllib.parse.urlsplit(srv.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def openssh():
    """Every test of this module is skipped without OpenSSH, before Shoal or Chromium start."""
    require_openssh()


@pytest.fixture(scope="module")
def tunnels(srv):
    return tunnels_client(srv)


@pytest.fixture
def cleanup(tunnels):
    """cleanup(tunnel_id): the tunnel is closed and deleted at teardown."""
    ids = []
    yield ids.append
    for tunnel_id in ids:
        try:
            tunnels.close_tunnel(tunnelId=tunnel_id, delete=True)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise


@pytest.fixture
def sshd(children, workdir):
    """OpenSSH's server as the current user, with its host key and one authorized client key."""
    return Sshd(children, workdir)


@pytest.fixture
def ssh_tunnel(srv, iot, tunnels, sshd, children, cleanup):
    """A tunnel opened with OpenTunnel for a new thing serving SSH. shoal-localproxy is
    connected as its destination and forwards to sshd."""
    thing = "term-" + uuid.uuid4().hex[:10]
    iot.create_thing(thingName=thing)
    opened = tunnels.open_tunnel(destinationConfig={"thingName": thing, "services": ["SSH"]},
                                 timeoutConfig={"maxLifetimeTimeoutMinutes": 30})
    cleanup(opened["tunnelId"])
    dst = shoal_destination(children, srv, opened["destinationAccessToken"], sshd.port)
    dst.wait_for(SHOAL_DST_READY, context=(sshd.child,))
    return types.SimpleNamespace(id=opened["tunnelId"], thing=thing, destination=dst,
                                 context=(sshd.child, dst),
                                 page="/console/tunnels/" + opened["tunnelId"])


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


@pytest.mark.timeout(SSH_TEST_TIMEOUT)
def test_a_shell_in_the_browser_through_a_tunnel_opened_from_the_console(
        srv, iot, browser, tunnels, sshd, children, cleanup):
    """The quick-setup path: open the tunnel from the console's form, start the device's local
    proxy with the destination token it shows, then log in from the same page with a key."""
    thing = "term-" + uuid.uuid4().hex[:10]
    iot.create_thing(thingName=thing)
    sign_in(browser, srv)
    open_page(browser, srv, "/console/tunnels")
    fill(browser, "form#open", {"thing_name": thing, "services": "SSH", "timeout_minutes": "30"})
    browser.find_element(By.CSS_SELECTOR, "form#open button[type=submit]").click()
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_elements(By.ID, "destination-token"), "the opened tunnel's page")
    listed = tunnels.list_tunnels(thingName=thing)["tunnelSummaries"]
    assert len(listed) == 1, listed
    tunnel_id = listed[0]["tunnelId"]
    cleanup(tunnel_id)
    assert listed[0]["status"] == "OPEN", listed
    source_token = browser.find_element(By.ID, "source-token").text.strip()
    destination_token = browser.find_element(By.ID, "destination-token").text.strip()
    assert source_token and destination_token and source_token != destination_token

    # The terminal's form is on this same page. It offers the tunnel's service and already
    # holds the source token: this is the only page that shows the token.
    assert browser.find_elements(By.CSS_SELECTOR, "section#terminal form#terminal-form")
    term = Terminal(browser, (sshd.child,))
    assert term.services() == ["SSH"]
    assert term.token() == source_token
    shot(browser, "terminal-opened")

    # The device's side: shoal-localproxy in destination mode, forwarding SSH to sshd.
    dst = shoal_destination(children, srv, destination_token, sshd.port)
    dst.wait_for(SHOAL_DST_READY, context=(sshd.child,))
    term.context = (sshd.child, dst)

    # Log in with sshd's authorized key, from this page (not reloaded: that would post again).
    term.connect(user=sshd.user, key=sshd.client_key.read_text())
    connected_as(term, sshd.user)
    assert term.host_keys() == [fingerprint(pub(sshd.host_key))], term.details()
    client_fp = fingerprint(pub(sshd.client_key))
    until(lambda: accepted(sshd, client_fp), WAIT, "sshd to log the key it accepted")
    shot(browser, "terminal-connected")

    # Keys reach the shell. The command line shows `$((6*7))`, so only the shell's output can
    # put shoal-42 on the screen.
    term.focus()
    term.run("echo shoal-$((6*7))", "shoal-42", "the echo's output")
    # Backspace: "2+X", Backspace, "3" is 2+3, so the output is back-5. If the Backspace is
    # lost or not understood, $((2+X3)) is 2 (an unset variable counts as 0).
    term.type("echo back-$((2+X", Keys.BACKSPACE, "3))", Keys.ENTER)
    term.wait_screen("back-5", "Backspace to delete the X")
    # An arrow reaches `cat -v` as an escape sequence. Ctrl+C stops cat; otherwise the next
    # line would go to cat and the shell would never print ctrl-c-9.
    term.run("echo arrows-$((1+2)); cat -v", "arrows-3", "cat -v to start")
    term.type(Keys.ARROW_UP, Keys.ENTER)
    term.wait_screen(UP_ARROW, "the Up arrow's escape sequence")
    term.type(Keys.CONTROL, "c")
    term.run("echo ctrl-c-$((3*3))", "ctrl-c-9", "Ctrl+C to stop cat")
    shot(browser, "terminal-typed")

    # Bytes crossed both sides of the tunnel, so both are connected.
    assert_both_sides_connected(tunnels, tunnel_id, term)

    term.exit_shell()
    shot(browser, "terminal-ended")


@pytest.mark.timeout(SSH_TEST_TIMEOUT)
def test_connecting_from_the_tunnels_page_rotates_the_source_token(
        srv, browser, tunnels, sshd, ssh_tunnel):
    """The tunnel's own page cannot show the source token (Shoal keeps only its hash). With the
    field left empty, Shoal gets a new one by rotating it, and a second connection from the
    page works the same way. The right expected fingerprint is accepted."""
    host_fp = fingerprint(pub(sshd.host_key))
    sign_in(browser, srv)
    for attempt, (command, output) in enumerate((("echo again-$((5*5))", "again-25"),
                                                 ("echo twice-$((7*3))", "twice-21"))):
        open_page(browser, srv, ssh_tunnel.page)
        term = Terminal(browser, ssh_tunnel.context)
        assert term.services() == ["SSH"]
        assert term.token() == "", "the tunnel's page must not show a source token"
        term.connect(user=sshd.user, key=sshd.client_key.read_text(), fingerprint=host_fp)
        connected_as(term, sshd.user)
        assert term.host_keys() in ([], [host_fp]), term.details()
        term.focus()
        term.run(command, output, "the echo's output (connection %d)" % (attempt + 1))
        assert_both_sides_connected(tunnels, ssh_tunnel.id, term)
        if attempt == 0:
            shot(browser, "terminal-reconnect")
        term.exit_shell()
    assert len(accepted(sshd, fingerprint(pub(sshd.client_key)))) >= 2, describe(sshd.child)


@pytest.mark.timeout(SSH_TEST_TIMEOUT)
def test_a_pem_key_and_a_passphrase_protected_key_log_in(srv, browser, sshd, ssh_tunnel, workdir):
    """The key field takes PEM (here PKCS#1 RSA, `ssh-keygen -m PEM`) as well as OpenSSH's
    format. A key encrypted with a passphrase is opened with the passphrase field."""
    pem_path, locked_path = workdir / "pem_rsa", workdir / "locked_ed25519"
    pem_key = keygen(pem_path, "-t", "rsa", "-b", "2048", "-m", "PEM")
    assert pem_key.startswith("-----BEGIN RSA PRIVATE KEY-----"), pem_key[:40]
    locked_key = keygen(locked_path, "-t", "ed25519", passphrase="open sesame")
    assert locked_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----"), locked_key[:40]
    # sshd reads its AuthorizedKeysFile (the client key's .pub) at every login.
    with open(pub(sshd.client_key), "a") as authorized:
        for p in (pem_path, locked_path):
            authorized.write(pub(p).read_text())

    sign_in(browser, srv)
    for label, path, key, passphrase in (("pem", pem_path, pem_key, ""),
                                         ("passphrase", locked_path, locked_key, "open sesame")):
        open_page(browser, srv, ssh_tunnel.page)
        term = Terminal(browser, ssh_tunnel.context)
        term.connect(user=sshd.user, key=key, passphrase=passphrase)
        connected_as(term, sshd.user)
        key_fp = fingerprint(pub(path))
        until(lambda: accepted(sshd, key_fp), WAIT, "sshd to accept the %s key" % label)
        term.focus()
        term.run("echo %s-$((10+1))" % label, "%s-11" % label, "the echo's output (%s)" % label)
        term.exit_shell()


@pytest.mark.timeout(SSH_TEST_TIMEOUT)
def test_a_wrong_password_key_or_host_key_is_refused(srv, browser, sshd, ssh_tunnel, workdir):
    """Authentication fails for a wrong password or an unknown key. An expected host-key
    fingerprint that differs stops Shoal before it logs in."""
    stranger = keygen(workdir / "stranger_ed25519", "-t", "ed25519")
    sign_in(browser, srv)
    attempts = (
        ("password", dict(password="wrong"), "Authentication failed"),
        ("unknown-key", dict(key=stranger), "Authentication failed"),
        ("fingerprint", dict(key=sshd.client_key.read_text(), fingerprint="SHA256:" + "A" * 43),
         "does not match"),
    )
    for label, fields, reason in attempts:
        open_page(browser, srv, ssh_tunnel.page)
        term = Terminal(browser, ssh_tunnel.context)
        term.connect(user=sshd.user, **fields)
        status = term.wait_status(reason, "the refusal (%s)" % label)
        assert status.startswith("Closed"), (label, status)
        assert not term.ever("Connected as"), (label, term.details())
        shot(browser, "terminal-refused-" + label)
    assert any_accepted(sshd) == [], describe(sshd.child)


def test_no_terminal_for_a_read_only_key_or_a_closed_tunnel(srv, browser, tunnels, cleanup):
    """A read-only key's session sees the section without its form. A closed tunnel has no
    form. An admin sees the form on an open tunnel: that shows the form exists at all."""
    thing = "term-ro-" + uuid.uuid4().hex[:8]
    opened = tunnels.open_tunnel(destinationConfig={"thingName": thing, "services": ["SSH"]},
                                 timeoutConfig={"maxLifetimeTimeoutMinutes": 30})
    cleanup(opened["tunnelId"])
    page = "/console/tunnels/" + opened["tunnelId"]

    sign_in(browser, srv)
    open_page(browser, srv, page)
    assert browser.find_elements(By.CSS_SELECTOR, "section#terminal #terminal-form")

    out = run_shoal("key", "create", "--read-only", "--data", srv.data_dir).stdout
    line = next(l for l in out.splitlines() if l.startswith("export "))
    kv = dict(p.split("=", 1) for p in line[len("export "):].split())
    try:
        sign_in(browser, srv, kv["AWS_ACCESS_KEY_ID"], kv["AWS_SECRET_ACCESS_KEY"])
        assert "read-only" in browser.find_element(By.CSS_SELECTOR, ".who").text
        open_page(browser, srv, page, "terminal-read-only")
        sections = browser.find_elements(By.CSS_SELECTOR, "section#terminal")
        assert sections, "no terminal section for a read-only session"
        assert browser.find_elements(By.ID, "terminal-form") == []
        assert "read-only" in sections[0].text.lower(), sections[0].text
    finally:
        sign_in(browser, srv)

    tunnels.close_tunnel(tunnelId=opened["tunnelId"])
    open_page(browser, srv, page, "terminal-closed-tunnel")
    assert browser.find_element(By.ID, "status").text.strip() == "CLOSED"
    assert browser.find_elements(By.CSS_SELECTOR, "section#terminal")
    assert browser.find_elements(By.ID, "terminal-form") == []


def test_the_terminal_websocket_refuses_before_upgrading(srv, browser, tunnels, cleanup):
    """Plain HTTP answers before any upgrade: another site's Origin, no session, an unknown
    tunnel, a GET that is not an upgrade. The same request done right gets 101."""
    thing = "term-ws-" + uuid.uuid4().hex[:8]
    opened = tunnels.open_tunnel(destinationConfig={"thingName": thing, "services": ["SSH"]},
                                 timeoutConfig={"maxLifetimeTimeoutMinutes": 30})
    cleanup(opened["tunnelId"])
    sign_in(browser, srv)
    cookie = session_cookie(browser)
    u = urllib.parse.urlsplit(srv.endpoint)
    own_origin = "http://%s:%d" % (u.hostname, u.port)
    path = "/console/tunnels/%s/terminal" % opened["tunnelId"]
    key = base64.b64encode(os.urandom(16)).decode()
    ws = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": key}
    session = {"Cookie": cookie, "Origin": own_origin}

    status, _ = upgrade_request(srv, path, {**ws, "Cookie": cookie,
                                            "Origin": "http://evil.example"})
    assert status == 403, "another site's Origin: %s" % status
    status, _ = upgrade_request(srv, path, {**ws, "Origin": own_origin})
    assert status == 403, "no session cookie: %s" % status
    status, _ = upgrade_request(srv, "/console/tunnels/%s/terminal" % uuid.uuid4(),
                                {**ws, **session})
    assert status == 404, "an unknown tunnel: %s" % status
    status, _ = upgrade_request(srv, path, session)
    assert status == 400, "not an upgrade: %s" % status

    status, headers = upgrade_request(srv, path, {**ws, **session})
    assert status == 101, (status, headers)
    assert headers.get("upgrade", "").lower() == "websocket", headers
    expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    assert headers.get("sec-websocket-accept") == expected, headers
