#!/usr/bin/env python3
"""The clickstream app watched by a real Prometheus, on the fixtures' broker
and PostgreSQL: generates events (some malformed) to a fresh topic, runs
`runnel-clickstream run` with metrics.server on a free port, starts
Prometheus from deploy/prometheus/prometheus.yml (pointed at the app,
scraping every second, the alert rules loaded) and, through Prometheus'
HTTP API, finds the app's series with the values the generator implies:
every produced record consumed, clickstream_events_total per type equal to
the generator's well-formed events, deserialization errors and dead-lettered
records equal to the malformed ones, the sink connected and writing, the
latency histograms filled. Then: `promtool check metrics` passes on the
app's /metrics without findings, every metric the dashboards and the alert
rules name exists there (tools/check-metric-names), and Prometheus reports
every alert rule healthy.

  clickstream_prometheus_test.py APP PROMETHEUS PROMTOOL REPO_ROOT [--png FILE]
  (RUNNEL_KAFKA_DIR, RUNNEL_PG_DIR: the fixtures' directories)
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

EVENTS = 4000
USERS = 2000  # about 7 minutes of event time from now (apps/clickstream/generator.h)
MALFORMED_SHARE = 0.05
SEED = 16


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.5)
    fail("timed out after %d s waiting for %s; last: %s" % (timeout, what, last))


class Prometheus:
    def __init__(self, binary, template, rules, target, work):
        self.port = free_port()
        with open(template) as f:
            config = f.read()
        replacements = [("'127.0.0.1:9464'", "'%s'" % target), ("  - alerts.yml", "  - " + rules),
                        ("scrape_interval: 15s", "scrape_interval: 1s"), ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                        ("evaluation_interval: 15s", "evaluation_interval: 1s")]
        for old, new in replacements:
            if old not in config:
                fail("deploy/prometheus/prometheus.yml no longer has %r for the test to replace" % old)
            config = config.replace(old, new)
        path = os.path.join(work, "prometheus.yml")
        with open(path, "w") as f:
            f.write(config)
        self.log = open(os.path.join(work, "prometheus.log"), "w")
        self.proc = subprocess.Popen([binary, "--config.file=" + path, "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.url = "http://127.0.0.1:%d" % self.port
        wait_for("Prometheus to be ready", lambda: (get(self.url + "/-/ready")[0] == 200, None), 60)

    def api(self, path):
        status, body = get(self.url + path)
        if status != 200:
            fail("Prometheus %s answered %d: %s" % (path, status, body[:500]))
        answer = json.loads(body)
        if answer.get("status") != "success":
            fail("Prometheus %s: %s" % (path, answer))
        return answer["data"]

    def query(self, expr):
        """{tuple(sorted labels): value} of an instant query."""
        result = self.api("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["result"]
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in result}

    def scalar(self, expr):
        values = self.query(expr)
        return next(iter(values.values())) if len(values) == 1 else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def generate(app, bootstrap, topic, work):
    """Runs the generator; its report as {"total": n, "malformed": m, <type>: k}
    ("generated N events to 'T' in S s (R/s): click=.. malformed=.. ...")."""
    command = [app, "generate", "--bootstrap", bootstrap, "--topic", topic, "--rate", "0", "--count", str(EVENTS),
               "--users", str(USERS), "--malformed-share", str(MALFORMED_SHARE), "--seed", str(SEED)]
    r = subprocess.run(command, capture_output=True, text=True, timeout=120)
    output = r.stdout + r.stderr
    with open(os.path.join(work, "generator.log"), "w") as f:
        f.write(output)
    if r.returncode != 0:
        fail("generate exited %d: %s" % (r.returncode, output[-2000:]))
    m = re.search(r"generated (\d+) events to '[^']*'[^:]*:((?: \w+=\d+)+)", output)
    if not m:
        fail("the generator's report is not 'generated N events to ...: type=n ...': %s" % output)
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    counts["total"] = int(m.group(1))
    for key in ("malformed", "page_view", "click", "purchase"):
        counts.setdefault(key, 0)
    if counts["total"] != EVENTS or sum(v for k, v in counts.items() if k != "total") != EVENTS:
        fail("the generator's counts do not add up to %d: %s" % (EVENTS, counts))
    if counts["malformed"] == 0:
        fail("no malformed event generated: %s" % counts)
    return counts


def psql(conninfo, sql):
    r = subprocess.run(["psql", conninfo, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True)
    if r.returncode != 0:
        fail("psql %r: %s" % (sql, r.stderr))
    return r.stdout.strip()


def main():
    args = sys.argv[1:]
    png = None
    if "--png" in args:
        i = args.index("--png")
        png = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    if len(args) != 4:
        fail("usage: clickstream_prometheus_test.py APP PROMETHEUS PROMTOOL REPO_ROOT [--png FILE]")
    app, prometheus_bin, promtool, root = args
    for tool in (app, prometheus_bin, promtool):
        if not os.path.exists(tool):
            fail("%s is missing (promtool and prometheus: Debian's prometheus package, tools/setup)" % tool)
    with open(os.path.join(os.environ["RUNNEL_KAFKA_DIR"], "bootstrap")) as f:
        bootstrap = f.read().strip()
    with open(os.path.join(os.environ["RUNNEL_PG_DIR"], "conninfo")) as f:
        conninfo = f.read().strip()

    work = tempfile.mkdtemp(prefix="clickstream-prometheus-")
    name = "deploy-prom-%d-%d" % (os.getpid(), int(time.time()))
    topic = name + "-events"
    counts = generate(app, bootstrap, topic, work)
    print("generated:", counts)

    # Its own database and topics: the clickstream system test may run
    # beside this one on the same fixtures, with the same table names.
    database = name.replace("-", "_")
    psql(conninfo, "CREATE DATABASE " + database)
    own_conninfo = re.sub(r"dbname=\S+", "dbname=" + database, conninfo)
    metrics_port = free_port()
    app_log = open(os.path.join(work, "app.log"), "w")
    settings = {"bootstrap.servers": bootstrap, "application.id": name, "input.topic": topic,
                "errors.dead.letter.queue.topic.name": name + "-dead-letter",
                "topic.events.per.minute": name + "-events-per-minute",
                "topic.revenue.per.minute": name + "-revenue-per-minute",
                "topic.active.users.5m": name + "-active-users-5m", "topic.user.sessions": name + "-user-sessions",
                "sink.name": name + "-postgres", "postgres.conninfo": own_conninfo,
                "metrics.server": "127.0.0.1:%d" % metrics_port, "state.dir": os.path.join(work, "state")}
    command = [app, "run", "--config", os.path.join(root, "apps/clickstream/demo.properties")]
    for key, value in settings.items():
        command += ["--set", "%s=%s" % (key, value)]
    run = subprocess.Popen(command, stdout=app_log, stderr=subprocess.STDOUT)
    prometheus = None
    try:
        metrics_url = "http://127.0.0.1:%d/metrics" % metrics_port

        def app_up():
            if run.poll() is not None:
                fail("runnel-clickstream run exited %d; log in %s" % (run.returncode, app_log.name))
            return get(metrics_url)[0] == 200, None

        wait_for("the app's /metrics", app_up, 60)
        prometheus = Prometheus(prometheus_bin, os.path.join(root, "deploy/prometheus/prometheus.yml"),
                                os.path.join(root, "deploy/prometheus/alerts.yml"), "127.0.0.1:%d" % metrics_port, work)
        well_formed = EVENTS - counts["malformed"]

        def caught_up():
            if run.poll() is not None:
                fail("runnel-clickstream run exited %d; log in %s" % (run.returncode, app_log.name))
            seen = prometheus.scalar("sum(clickstream_events_total)")
            dead = prometheus.scalar("sum(runnel_dead_letter_records_total)")
            return seen == well_formed and dead == counts["malformed"], (seen, dead)

        wait_for("Prometheus to see every event processed", caught_up, 180)
        time.sleep(3)  # a few more scrapes: nothing may move past the expected values

        checks = []

        def check(what, got, want):
            checks.append((what, got, want, got == want))

        check("up", prometheus.scalar('up{job="runnel"}'), 1.0)
        for kind in ("page_view", "click", "purchase"):
            check("clickstream_events_total{type=%s}" % kind,
                  prometheus.scalar('sum(clickstream_events_total{type="%s"})' % kind), float(counts[kind]))
        check("records consumed from the input topic",
              prometheus.scalar('sum(runnel_task_records_consumed_total{topic="%s"})' % topic), float(EVENTS))
        check("deserialization errors", prometheus.scalar("sum(runnel_deserialization_errors_total)"),
              float(counts["malformed"]))
        check("dead-lettered records", prometheus.scalar("sum(runnel_dead_letter_records_total)"),
              float(counts["malformed"]))
        # The input's sub-topology (tasks 0_*) processed every produced record
        # (a malformed one is processed by the dead-letter handler); the
        # threads also process the repartition topics' records.
        check("records processed by the input's tasks",
              prometheus.scalar('sum(runnel_task_records_processed_total{task=~"0_.*"})'), float(EVENTS))
        check("records processed by the threads = records consumed from every topic",
              prometheus.scalar("sum(runnel_records_processed_total)"),
              prometheus.scalar("sum(runnel_task_records_consumed_total)"))
        check("instance RUNNING", prometheus.scalar('sum(runnel_instance_state{state="RUNNING"})'), 1.0)
        check("sink connected", prometheus.scalar("min(runnel_sink_connected)"), 1.0)
        check("consumer lag", prometheus.scalar("sum(runnel_consumer_lag_records)"), 0.0)
        rows = prometheus.scalar("sum(runnel_sink_records_total)") or 0
        check("sink rows committed > 0", rows > 0, True)
        e2e_count = prometheus.scalar("sum(runnel_record_e2e_latency_seconds_count)") or 0
        check("e2e latency observations > 0", e2e_count > 0, True)
        p99 = prometheus.scalar("histogram_quantile(0.99, sum by (le) (runnel_record_e2e_latency_seconds_bucket))")
        sink_p99 = prometheus.scalar("histogram_quantile(0.99, sum by (le) (runnel_sink_e2e_latency_seconds_bucket))")
        check("e2e latency p99 finite", p99 is not None and p99 == p99 and p99 < 3600, True)
        check("sink e2e latency p99 finite", sink_p99 is not None and sink_p99 == sink_p99 and sink_p99 < 3600, True)
        print("e2e latency p99: %s s, into PostgreSQL p99: %s s, sink rows: %d" % (p99, sink_p99, rows))

        status, text = get(metrics_url)
        metrics_file = os.path.join(work, "metrics.txt")
        with open(metrics_file, "w") as f:
            f.write(text)
        with open(metrics_file) as f:
            r = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True, text=True)
        check("promtool check metrics exit (findings: %r)" % (r.stdout + r.stderr).strip()[:1000], r.returncode, 0)
        check("promtool check metrics findings", (r.stdout + r.stderr).strip(), "")

        files = [os.path.join(root, "deploy/grafana/dashboards/clickstream.json"),
                 os.path.join(root, "deploy/grafana/dashboards/runnel.json"),
                 os.path.join(root, "deploy/prometheus/alerts.yml")]
        # runnel_processing_errors_total{handler,node,topic} exists from the
        # first processing error on; this topology has none on these events.
        r = subprocess.run([os.path.join(root, "tools/check-metric-names"), "--metrics", metrics_url,
                            "--absent-ok", "runnel_processing_errors_total"] + files, capture_output=True, text=True)
        print(r.stdout + r.stderr, end="")
        check("tools/check-metric-names on the dashboards and rules", r.returncode, 0)

        groups = prometheus.api("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        check("alert rules loaded", len(rules), 10)
        check("alert rules unhealthy", [(x["name"], x.get("lastError")) for x in rules if x.get("health") != "ok"], [])
        firing = [x["name"] for x in rules if x.get("state") == "firing"]
        print("alert rules: %d loaded, firing now: %s" % (len(rules), firing or "none"))

        if png:
            r = subprocess.run([sys.executable, os.path.join(root, "tools/render-dashboard"), "--prometheus",
                                prometheus.url, "--dashboard", files[0], "--out", png, "--minutes", "3", "--step", "2",
                                "--rate-interval", "10s"], capture_output=True, text=True)
            print(r.stdout + r.stderr, end="")
            check("render-dashboard", r.returncode, 0)

        failed = [c for c in checks if not c[3]]
        for what, got, want, ok in checks:
            print("%s %s: %r%s" % ("ok  " if ok else "FAIL", what, got, "" if ok else " (want %r)" % (want,)))
        if failed:
            fail("%d of %d checks failed; logs in %s" % (len(failed), len(checks), work))
        print("PASS: %d checks" % len(checks))
    finally:
        if prometheus:
            prometheus.stop()
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            run.kill()
            fail("runnel-clickstream run did not stop within 60 s of SIGTERM")
        app_log.close()
    if run.returncode != 0:
        fail("runnel-clickstream run exited %d after SIGTERM; log in %s" % (run.returncode, app_log.name))
    psql(conninfo, "DROP DATABASE " + database)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
