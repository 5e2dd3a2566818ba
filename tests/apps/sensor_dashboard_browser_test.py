#!/usr/bin/env python3
"""The sensor dashboard's live page in a real browser, on the fixture's broker.

Starts sensor-gateway and sensor-dashboard as processes, posts readings to
the gateway over HTTP, loads http://127.0.0.1:PORT/ in headless Chromium
(driven through the DevTools protocol over --remote-debugging-pipe), and
checks that the numbers the rendered table shows (text, 2 decimals, and
each cell's exact data-value) equal the REST API's answers, that they change
after more readings are posted, that the throughput is shown, and that the
charts drew their windows. Also: a bad config key stops the dashboard with
exit code 2 naming it.

  sensor_dashboard_browser_test.py GATEWAY DASHBOARD [--screenshot out.png]
  (RUNNEL_KAFKA_DIR: the broker fixture's directory)
"""
import datetime, json, math, os, random, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.request

def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def http(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    fail("timed out waiting for " + what)

class Browser:
    """Headless Chromium over the DevTools protocol (NUL-separated JSON on fds 3/4)."""
    def __init__(self, profile):
        r1, self.w = os.pipe(); self.r, w2 = os.pipe()
        def pre():
            os.dup2(r1, 3); os.dup2(w2, 4)
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--window-size=1280,900", "about:blank"],
            pass_fds=(3, 4), preexec_fn=pre, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r1); os.close(w2)
        self.buf = b""; self.next_id = 0; self.session = None
    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                d = json.loads(raw)
                if d.get("id") == self.next_id:
                    if "error" in d:
                        fail("%s: %s" % (method, d["error"]))
                    return d["result"]
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                fail("chromium went away")
            self.buf += chunk
        fail("chromium did not answer " + method)
    def open(self, url):
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            fail("page script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")
    def screenshot(self, path):
        import base64
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except SystemExit:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

TABLE_JS = """(() => [...document.querySelectorAll('#sensors tbody tr')].map(tr => {
  const row = {};
  for (const td of tr.querySelectorAll('td[data-field]')) row[td.dataset.field] = [td.textContent, td.dataset.value];
  return row; }))()"""

def table_matches_api(browser, base):
    status, body = http("GET", base + "/api/sensors")
    if status != 200:
        return None
    api = {s["sensor_id"]: s for s in json.loads(body)["sensors"]}
    rows = browser.eval(TABLE_JS)
    if not api or len(rows) != len(api):
        return None
    for row in rows:
        s = api.get(row["sensor_id"][0])
        if s is None or row["count"] != [str(s["count"]), str(s["count"])]:
            return None
        for f in ("mean", "min", "max", "last_value"):
            text, exact = row[f]
            if float(exact) != s[f] or abs(float(text) - s[f]) > 0.005 + 1e-9 or len(text.split(".")[1]) != 2:
                return None
    return api

def main():
    gateway, dashboard = sys.argv[1], sys.argv[2]
    shot = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--screenshot" else None
    bootstrap = open(os.path.join(os.environ["RUNNEL_KAFKA_DIR"], "bootstrap")).read().strip()
    work = tempfile.mkdtemp(prefix="dash-browser-")
    suffix = "%d-%d" % (os.getpid(), random.randrange(1 << 30))
    topic, gw_port, dash_port, iq_port = "dash-br-" + suffix, free_port(), free_port(), free_port()
    procs = []
    browser = None
    try:
        # A bad key or value stops start-up with exit code 2 naming it.
        for kv, name in (("no.such.key=1", "no.such.key"), ("http.port=http", "http.port")):
            r = subprocess.run([dashboard, "--set", "bootstrap.servers=" + bootstrap, "--set", kv],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 2 or name not in r.stderr:
                fail("--set %s: exit %d, stderr %r" % (kv, r.returncode, r.stderr))

        procs.append(subprocess.Popen(
            [gateway, "--set", "bootstrap.servers=" + bootstrap, "--set", "topic=" + topic,
             "--set", "listen.address=127.0.0.1", "--set", "listen.port=%d" % gw_port, "--log-level", "warn"],
            stdout=open(os.path.join(work, "gateway.out"), "w"), stderr=subprocess.STDOUT))
        gw = "http://127.0.0.1:%d" % gw_port
        wait_for("the gateway's /readyz", lambda: http("GET", gw + "/readyz")[0] == 200 if _up(gw) else False)
        env = dict(os.environ, RUNNEL_CONF_HTTP_PORT=str(dash_port))
        procs.append(subprocess.Popen(
            [dashboard, "--set", "bootstrap.servers=" + bootstrap, "--set", "input.topic=" + topic,
             "--set", "output.topic=" + topic + "-stats", "--set", "application.id=dash-br-app-" + suffix,
             "--set", "application.server=127.0.0.1:%d" % iq_port, "--set", "http.address=127.0.0.1",
             "--set", "state.dir=" + os.path.join(work, "state"), "--log-level", "warn"],
            env=env, stdout=open(os.path.join(work, "dashboard.out"), "w"), stderr=subprocess.STDOUT))
        base = "http://127.0.0.1:%d" % dash_port
        wait_for("the dashboard's /healthz", lambda: _up(base))

        now = datetime.datetime.now(datetime.timezone.utc)
        def post(sensor, location, value, at):
            body = json.dumps({"sensor_id": sensor, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                               "type": "temperature", "value": value, "unit": "C", "location": location})
            status, text = http("POST", gw + "/sensor", body.encode())
            if status != 202:
                fail("POST /sensor: %d %s" % (status, text))
        sensors = [("br-s%d" % i, "lab" if i < 3 else "roof") for i in range(1, 5)]
        for i in range(80):  # the last 20 minutes
            sid, loc = sensors[i % 4]
            post(sid, loc, round(18 + 6 * math.sin(i / 5) + (i % 4), 2),
                 now - datetime.timedelta(seconds=(80 - i) * 15))
        # A malformed reading is refused (400) and changes nothing.
        if http("POST", gw + "/sensor", b'{"sensor_id":"br-s1","value":"hot"}')[0] != 400:
            fail("a malformed reading was not refused")
        wait_for("the API to count 80 readings",
                 lambda: http("GET", base + "/api/sensors")[0] == 200 and
                 sum(s["count"] for s in json.loads(http("GET", base + "/api/sensors")[1])["sensors"]) == 80)

        browser = Browser(os.path.join(work, "profile"))
        browser.open(base + "/")
        before = wait_for("the table to equal the API", lambda: table_matches_api(browser, base), timeout=30)
        if browser.eval("typeof Chart") != "function":
            fail("Chart.js did not load from the app")
        wait_for("the throughput to show", lambda: browser.eval(
            "document.getElementById('processed').dataset.value") not in (None, "", "0"))
        wait_for("two charts with windows", lambda: browser.eval(
            "[...document.querySelectorAll('#charts .chart')].filter(c => Number(c.dataset.windows) > 0).length") >= 2,
            timeout=30)
        # More readings: the page follows without a reload.
        for i in range(8):
            sid, loc = sensors[i % 4]
            post(sid, loc, 40.0 + i, now + datetime.timedelta(seconds=i))
        after = wait_for("the table to show the new readings", lambda: (
            lambda a: a if a and sum(s["count"] for s in a.values()) == 88 else None)(table_matches_api(browser, base)),
            timeout=30)
        for sid, _ in sensors:
            if after[sid]["count"] != before[sid]["count"] + 2 or after[sid]["max"] < 40:
                fail("%s did not change as posted: %s -> %s" % (sid, before[sid], after[sid]))
        rate = browser.eval("document.getElementById('throughput').textContent")
        if rate in (None, "", "–"):
            fail("no throughput shown")
        if shot:
            time.sleep(6)  # let the charts take the new readings
            browser.screenshot(shot)
            print("screenshot:", shot)
        print("OK: table = API before (%d readings) and after (%d readings); throughput %s records/s"
              % (sum(s["count"] for s in before.values()), sum(s["count"] for s in after.values()), rate))
    finally:
        if browser:
            browser.close()
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        for name in ("gateway.out", "dashboard.out"):
            path = os.path.join(work, name)
            if os.path.exists(path) and os.environ.get("DASH_TEST_VERBOSE"):
                print(open(path).read(), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)

def _up(base):
    try:
        return http("GET", base + "/healthz")[0] == 200
    except OSError:
        return False

if __name__ == "__main__":
    main()
