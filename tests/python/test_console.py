"""The fleet console in headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium): the seed's Fleet Hub demo end to end, and its sign-in, CSRF and read-only rules.

The seed's four steps (AWS ended Fleet Hub on 2025-10-18;
https://docs.aws.amazon.com/iot/latest/fleethubuserguide/what-is-aws-iot-monitor.html):
  1. see the state of every device at a glance: a simulated fleet (`shoal-load jobs --scenario
     simulate`) connects, and the device list filtered by `connectivity.connected:true` shows it;
  2. see the members of a dynamic group made from that query;
  3. run a job on that group: the job page's progress reaches 100 % as the devices succeed;
  4. an alarm that fires when connected devices drop: made in one click from the overview, it
     goes to ALARM once half of the devices disconnect (the server's test clock moves the fleet
     metric and the alarm's evaluation on, instead of waiting minutes).

Every page visited is saved as a screenshot under tests/python/artifacts/console/. Waits are
on what the page shows (WebDriverWait on an element's text), never sleeps.
"""

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import DEFAULT_REGION, ShoalServer, run_shoal, send_signed

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts" / "console"
WAIT = 60
DEVICES = 6

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian's chromium and chromium-driver are not installed (scripts/test installs them as root)")


def load_bin():
    """The shoal-load binary beside the shoal one (scripts/test builds both)."""
    env = os.environ.get("SHOAL_LOAD_BIN")
    if env:
        return env
    shoal = os.environ.get("SHOAL_BIN", "")
    cand = Path(shoal).with_name("shoal-load") if shoal else None
    if cand and cand.exists():
        return str(cand)
    return shutil.which("shoal-load") or pytest.skip("shoal-load is not built")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ShoalServer(tmp_path_factory.mktemp("shoal-console") / "data",
                    env={"SHOAL_TEST_CLOCK": "1"}).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def iot(srv):
    return srv.client()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 "--user-data-dir=%s" % tmp_path_factory.mktemp("chromium")):
        opts.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    b = webdriver.Chrome(options=opts, service=service)
    b.set_page_load_timeout(30)
    yield b
    b.quit()


def shot(browser, name):
    """Keeps a screenshot of the page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / ("%s.png" % name)))


def open_page(browser, srv, path, name=None):
    browser.get(srv.endpoint.rstrip("/") + path)
    if name:
        shot(browser, name)


def sign_in(browser, srv, key=None, secret=None):
    browser.delete_all_cookies()
    open_page(browser, srv, "/console/login")
    browser.find_element(By.NAME, "access_key_id").send_keys(key or srv.access_key)
    browser.find_element(By.NAME, "secret_access_key").send_keys(secret or srv.secret_key)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    # The answer is either the console's frame (signed in) or the form with its refusal.
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".who, #login .notice.error, main .notice.error"),
        "the sign-in's answer")


def wait_text(browser, css, predicate, what, timeout=WAIT):
    """Waits until the element's text satisfies `predicate` (reloading is the page's own
    live refresh, or the caller's)."""
    def check(b):
        try:
            t = b.find_element(By.CSS_SELECTOR, css).text
        except Exception:
            return False
        return t if predicate(t) else False
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(check, what)


def fill(browser, form_css, fields):
    form = browser.find_element(By.CSS_SELECTOR, form_css)
    for name, value in fields.items():
        el = form.find_element(By.NAME, name)
        if el.tag_name == "select":
            from selenium.webdriver.support.ui import Select
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)
    return form


def advance(srv, seconds):
    status, _, body = send_signed(srv.endpoint, "POST", "/shoal/test/clock",
                                  body=json.dumps({"advanceSeconds": seconds}).encode(),
                                  access_key=srv.access_key, secret_key=srv.secret_key)
    assert status == 200, (status, body)
    return json.loads(body)


def until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Fleet:
    """`shoal-load jobs --scenario simulate`: devices that stay connected and succeed every
    job, disconnected on command."""

    def __init__(self, srv, prefix, n):
        env = {**os.environ, "AWS_ENDPOINT_URL": srv.endpoint,
               "AWS_ACCESS_KEY_ID": srv.access_key, "AWS_SECRET_ACCESS_KEY": srv.secret_key,
               "AWS_REGION": DEFAULT_REGION}
        mqtt = "127.0.0.1:%d" % srv.mqtt_plain_port
        common = ["jobs", "--prefix", prefix, "--devices", str(n), "--mqtt", mqtt]
        subprocess.run([load_bin()] + common + ["--scenario", "setup"], env=env, check=True,
                       capture_output=True, timeout=120)
        self.proc = subprocess.Popen([load_bin()] + common + ["--scenario", "simulate"],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.expect("devices connected")

    def expect(self, what):
        out = []

        def read():
            for line in self.proc.stdout:
                out.append(line)
                if what in line:
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(WAIT)
        assert out and what in out[-1], (out, self.proc.stderr.read() if self.proc.poll() is not None else "")
        return out[-1]

    def disconnect(self, k):
        self.proc.stdin.write("disconnect %d\n" % k)
        self.proc.stdin.flush()
        return self.expect("devices disconnected")

    def stop(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


def search_names(iot, query):
    names, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        r = iot.search_index(indexName="AWS_Things", queryString=query, maxResults=100, **kw)
        names += [t["thingName"] for t in r.get("things", [])]
        token = r.get("nextToken")
        if not token:
            return sorted(names)


def test_the_seed_fleet_hub_demo(srv, iot, browser):
    prefix = "demo%s" % uuid.uuid4().hex[:6]
    iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS"})
    fleet = Fleet(srv, prefix, DEVICES)
    try:
        things = ["%s-%d" % (prefix, i) for i in range(DEVICES)]
        online = "connectivity.connected:true AND thingName:%s-*" % prefix
        until(lambda: search_names(iot, online) == sorted(things), WAIT, "the index to see the fleet")

        # 1. The state of every device at a glance.
        sign_in(browser, srv)
        open_page(browser, srv, "/console/devices?q=" + urllib.parse.quote(online), "devices")
        rows = browser.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
        assert sorted(r.find_element(By.TAG_NAME, "a").text for r in rows) == sorted(things)
        open_page(browser, srv, "/console/devices/" + things[0], "device")
        assert browser.find_element(By.ID, "connectivity").text.startswith("Connected since")

        # 2. A dynamic group of the query, and its members.
        group = prefix + "-online"
        open_page(browser, srv, "/console/groups")
        fill(browser, "form[action='/console/groups/dynamic']",
             {"name": group, "queryString": online}).submit()
        open_page(browser, srv, "/console/groups", "groups")
        assert group in browser.find_element(By.ID, "groups").text
        open_page(browser, srv, "/console/groups/" + group)
        members = until(lambda: (lambda t: t if all(n in t for n in things) else
                                 (browser.refresh() or None))(
            browser.find_element(By.ID, "members").text), WAIT, "the dynamic group's members")
        shot(browser, "group")
        assert all(n in members for n in things)

        # 3. A job on the group; its progress bars reach 100 %.
        job = prefix + "-job"
        # The group is chosen from the form's list (pre-selected by ?group=); a job on a
        # dynamic group is CONTINUOUS, as AWS requires.
        open_page(browser, srv, "/console/jobs/new?group=" + urllib.parse.quote(group))
        form = fill(browser, "form#job-form", {
            "job_id": job, "document": json.dumps({"operation": "update", "version": "2.0"}),
            "target_selection": "CONTINUOUS"})
        selected = [o.text for o in form.find_elements(By.CSS_SELECTOR, "select[name=group] option")
                    if o.is_selected()]
        assert selected == [group + " (dynamic)"], selected
        shot(browser, "job-new")
        form.submit()
        wait_text(browser, "#job-percent", lambda t: "100" in t, "the job to reach 100 %")
        shot(browser, "job")
        progress = browser.find_element(By.ID, "job-progress").get_attribute("data-total")
        assert progress == str(DEVICES)
        described = iot.describe_job(jobId=job)["job"]
        assert described["jobProcessDetails"]["numberOfSucceededThings"] == DEVICES
        open_page(browser, srv, "/console/jobs", "jobs")
        assert job in browser.find_element(By.ID, "jobs").text

        # 4. The "connected devices dropped" alarm in one click, then half of the fleet goes.
        open_page(browser, srv, "/console/overview?q=" + urllib.parse.quote("thingName:%s-*" % prefix),
                  "overview")
        assert browser.find_element(By.ID, "count").text.strip().startswith(str(DEVICES)) or \
            str(DEVICES) in browser.find_element(By.ID, "count").text
        browser.find_element(By.CSS_SELECTOR, "form[action='/console/alarms/connected-drop']").submit()
        alarm_page = browser.current_url
        assert "/console/alarms/" in alarm_page, alarm_page
        shot(browser, "alarm-new")
        for _ in range(3):
            advance(srv, 60)
            browser.get(alarm_page)
            if "OK" in browser.find_element(By.CSS_SELECTOR, "[class^='state-']").text:
                break
        assert browser.find_element(By.CSS_SELECTOR, "[class^='state-']").text.strip() == "OK"
        fleet.disconnect(DEVICES // 2)
        until(lambda: len(search_names(iot, online)) == DEVICES - DEVICES // 2, WAIT,
              "the index to see half of the fleet gone")
        for _ in range(4):
            advance(srv, 60)
            browser.get(alarm_page)
            if browser.find_element(By.CSS_SELECTOR, "[class^='state-']").text.strip() == "ALARM":
                break
        assert browser.find_element(By.CSS_SELECTOR, "[class^='state-']").text.strip() == "ALARM"
        shot(browser, "alarm")
        history = browser.find_element(By.ID, "history").text
        assert "Alarm updated from OK to ALARM" in history
        open_page(browser, srv, "/console/alarms", "alarms")
        assert "ALARM" in browser.find_element(By.ID, "alarms").text

        # The other pages render for this account.
        for path, name, element in (("/console/logs", "logs", "query"),
                                    ("/console/certificates", "certificates", "cas"),
                                    ("/console/tunnels", "tunnels", "tunnels")):
            open_page(browser, srv, path, name)
            assert browser.find_element(By.ID, element) is not None
    finally:
        fleet.stop()


def form_post(srv, path, fields, cookie=None):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(srv.endpoint.rstrip("/") + path, data=data, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          **({"Cookie": cookie} if cookie else {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session_cookie(browser):
    c = browser.get_cookie("shoal_console")
    assert c is not None, browser.get_cookies()
    assert c["httpOnly"] is True and c.get("sameSite") == "Strict", c
    return "shoal_console=" + c["value"]


def test_sign_in_refusals_and_csrf(srv, iot, browser):
    sign_in(browser, srv, secret="not-the-secret")
    assert "/console/login" in browser.current_url
    assert "not right" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    shot(browser, "login-refused")
    assert browser.get_cookie("shoal_console") is None

    sign_in(browser, srv)
    assert browser.current_url.endswith("/console/devices")
    cookie = session_cookie(browser)
    thing = "csrf-" + uuid.uuid4().hex[:8]
    iot.create_thing(thingName=thing)
    # A change without the session's CSRF token (as a cross-site form would send it) is refused
    # and changes nothing.
    status, body = form_post(srv, "/console/devices/%s/attributes" % thing,
                             {"name": "owner", "value": "mallory"}, cookie)
    assert status == 403 and "CSRF" in body, (status, body)
    status, body = form_post(srv, "/console/devices/%s/attributes" % thing,
                             {"name": "owner", "value": "mallory", "csrf": "0" * 64}, cookie)
    assert status == 403, (status, body)
    assert "owner" not in iot.describe_thing(thingName=thing).get("attributes", {})
    # Without a session, nothing at all.
    status, _ = form_post(srv, "/console/devices/%s/attributes" % thing,
                          {"name": "owner", "value": "mallory"})
    assert status == 403
    # Through the page's own form, the change is made.
    open_page(browser, srv, "/console/devices/" + thing)
    fill(browser, "form[action$='/attributes']", {"name": "owner", "value": "alice"}).submit()
    until(lambda: iot.describe_thing(thingName=thing).get("attributes", {}).get("owner") == "alice",
          10, "the attribute to be written")
    shot(browser, "device-edited")


def test_a_read_only_key_changes_nothing(srv, iot, browser):
    out = run_shoal("key", "create", "--read-only", "--data", srv.data_dir).stdout
    line = next(l for l in out.splitlines() if l.startswith("export "))
    kv = dict(p.split("=", 1) for p in line[len("export "):].split())
    thing = "ro-" + uuid.uuid4().hex[:8]
    iot.create_thing(thingName=thing, attributePayload={"attributes": {"owner": "alice"}})
    # The APIs do not tell reads from changes by key yet: they refuse a read-only key outright.
    ro_api = srv.client(access_key=kv["AWS_ACCESS_KEY_ID"], secret_key=kv["AWS_SECRET_ACCESS_KEY"])
    with pytest.raises(Exception) as refused:
        ro_api.delete_thing(thingName=thing)
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    sign_in(browser, srv, kv["AWS_ACCESS_KEY_ID"], kv["AWS_SECRET_ACCESS_KEY"])
    assert "read-only" in browser.find_element(By.CSS_SELECTOR, ".who").text
    # The pages offer no forms that change anything...
    open_page(browser, srv, "/console/devices/" + thing, "read-only")
    assert browser.find_elements(By.CSS_SELECTOR, "form[action$='/attributes']") == []
    # ...and a change posted anyway, with the session's own CSRF token, is refused.
    cookie = session_cookie(browser)
    for path, fields in (("/console/devices/%s/attributes" % thing, {"name": "owner", "value": "mallory"}),
                         ("/console/groups/static", {"name": "ro-group"}),
                         ("/console/alarms/connected-drop", {}),
                         ("/console/tunnels", {"thing": thing})):
        open_page(browser, srv, "/console/devices")
        csrf = browser.find_element(By.NAME, "csrf").get_attribute("value")
        status, body = form_post(srv, path, {**fields, "csrf": csrf}, cookie)
        assert status == 403 and "read-only" in body, (path, status, body)
    assert not any(g["groupName"] == "ro-group" for g in iot.list_thing_groups()["thingGroups"])
    assert iot.describe_thing(thingName=thing)["attributes"]["owner"] == "alice"


def test_a_form_over_64_kib_is_refused(srv):
    """The console reads at most 64 KiB of a form (its largest, a job document, is far less)."""
    status, _ = form_post(srv, "/console/login", {"access_key_id": "x" * (65 * 1024)})
    assert status == 413
