#!/usr/bin/env python3
"""tools/check-metric-names on inputs whose answer is known: PromQL that
hides label names, functions, durations and strings among the metric names;
a dashboard and a rules file against an exposition that has all their
metrics (exit 0) and one that lacks some (exit 1, each named with where it
is used); and the repository's own dashboards and rules parse to metric
names only.

  check_metric_names_test.py TOOL REPO_ROOT
"""
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL, ROOT = sys.argv[1], sys.argv[2]
loader = importlib.machinery.SourceFileLoader("check_metric_names", TOOL)
spec = importlib.util.spec_from_loader("check_metric_names", loader)
cmn = importlib.util.module_from_spec(spec)
loader.exec_module(cmn)

DASHBOARD = {
    "panels": [
        {"type": "row", "title": "r", "panels": [
            {"title": "nested", "targets": [{"expr": 'sum(rate(app_nested_total{job=~"$job"}[$__rate_interval]))'}]}]},
        {"title": "latency", "targets": [
            {"expr": 'histogram_quantile(0.99, sum by (le, task) (rate(app_latency_seconds_bucket[5m])))'},
            {"expr": 'app_latency_seconds_sum / app_latency_seconds_count'}]},
        {"title": "per type", "targets": [{"expr": 'sum by (type) (increase(app_events_total{type!="x"}[1h]))'}]},
    ],
    "templating": {"list": [
        {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
        {"name": "instance", "type": "query", "query": {"query": 'label_values(app_state{job=~"$job"}, instance)'}}]},
}
RULES = """groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
      - alert: Inline
        expr: "app_queue_records > 10"
      - alert: Block
        expr: |
          sum by (job) (rate(app_errors_total[5m]))
            / on (job) group_left
          sum by (job) (rate(app_nested_total[5m])) > 0.1
        for: 5m
      - record: job:app_events:rate5m
        expr: >-
          sum without (instance) (rate(app_events_total[5m] offset 1m))
"""
GOOD = """# HELP app_nested_total n
# TYPE app_nested_total counter
app_nested_total 1
# HELP app_latency_seconds l
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="+Inf"} 0
app_latency_seconds_sum 0
app_latency_seconds_count 0
# HELP app_events_total e
# TYPE app_events_total counter
# HELP app_state s
# TYPE app_state gauge
app_state{state="RUNNING"} 1
app_queue_records 3
# TYPE app_errors_total counter
app_errors_total{kind="a \\"quoted\\" {x}"} 2
"""


class MetricNamesTest(unittest.TestCase):
    def test_finds_only_metric_names(self):
        cases = {
            'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{le!="1e3", x="y(z)"}[5m])))': ["a_bucket"],
            'sum without (instance) (b) / on (job) group_left (team) c * 1e3 > bool 0x1F': ["b", "c"],
            'rate(d[$__rate_interval] offset 5m) + ${e}f': ["d", "f"],
            'absent(g{job="runnel"}) or vector(0) and on() h:recorded:rate5m unless inf': ["g", "h:recorded:rate5m"],
            'label_values(i{job=~"$job"}, instance)': ["i"],
            "topk(3, sum by (type) (j)) - count_values('v', k)": ["j", "k"],
        }
        for expr, names in cases.items():
            self.assertEqual(cmn.metric_names(expr), names, expr)

    def test_histogram_suffixes_need_the_family(self):
        families = cmn.exposed_families(GOOD)
        self.assertTrue(cmn.present("app_latency_seconds_bucket", families))
        self.assertTrue(cmn.present("app_latency_seconds_count", families))
        self.assertFalse(cmn.present("app_nested_bucket", families))
        self.assertFalse(cmn.present("app_state_count", families))
        self.assertTrue(cmn.present("app_events_total", families))  # TYPE without samples
        self.assertTrue(cmn.present("app_queue_records", families))  # sample without TYPE
        self.assertTrue(cmn.present("up", families))

    def run_tool(self, metrics_text, *flags):
        with tempfile.TemporaryDirectory() as d:
            paths = {}
            for name, content in (("d.json", json.dumps(DASHBOARD)), ("r.yml", RULES), ("m.txt", metrics_text)):
                paths[name] = os.path.join(d, name)
                with open(paths[name], "w") as f:
                    f.write(content)
            r = subprocess.run([TOOL, "--metrics", paths["m.txt"], *flags, paths["d.json"], paths["r.yml"]],
                               capture_output=True, text=True)
            return r.returncode, (r.stdout + r.stderr).replace(d + "/", "")

    def test_known_good_passes(self):
        code, out = self.run_tool(GOOD)
        self.assertEqual(code, 0, out)
        self.assertIn("9 metric names used, 0 missing", out)

    def test_known_bad_names_each_missing_metric_and_where(self):
        # The histogram exposed as a gauge of that name; app_queue_records and app_errors_total gone.
        bad = GOOD.replace("# TYPE app_latency_seconds histogram", "# TYPE app_latency_seconds gauge")
        gone = ("app_latency_seconds_", "app_queue", "# TYPE app_errors", "app_errors")
        bad = "\n".join(line for line in bad.split("\n") if not line.startswith(gone))
        code, out = self.run_tool(bad)
        self.assertEqual(code, 1, out)
        self.assertIn("app_latency_seconds_bucket (used in d.json: panel 'latency')", out)
        self.assertIn("app_latency_seconds_sum", out)
        self.assertIn("app_queue_records (used in r.yml: rule Inline)", out)
        self.assertIn("app_errors_total (used in r.yml: rule Block)", out)
        self.assertIn("9 metric names used, 5 missing", out)

    def test_absent_ok_lets_only_the_named_metric_be_missing(self):
        bad = "\n".join(line for line in GOOD.split("\n") if not line.startswith(("app_queue", "# TYPE app_errors", "app_errors")))
        code, out = self.run_tool(bad, "--absent-ok", "app_queue_records", "--absent-ok", "app_unused_total")
        self.assertEqual(code, 1, out)
        self.assertIn("allowed by --absent-ok: app_queue_records (used in r.yml: rule Inline)", out)
        self.assertIn("missing from m.txt: app_errors_total", out)
        self.assertIn("9 metric names used, 1 missing", out)
        code, out = self.run_tool(bad, "--absent-ok", "app_queue_records", "--absent-ok", "app_errors_total")
        self.assertEqual(code, 0, out)

    def test_unreadable_metrics_is_a_usage_error(self):
        r = subprocess.run([TOOL, "--metrics", "/nonexistent/metrics.txt",
                            os.path.join(ROOT, "deploy/prometheus/alerts.yml")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("/nonexistent/metrics.txt", r.stderr)

    def test_repository_dashboards_and_rules_parse_to_metric_names(self):
        files = [os.path.join(ROOT, "deploy/grafana/dashboards", f) for f in ("clickstream.json", "runnel.json")]
        files.append(os.path.join(ROOT, "deploy/prometheus/alerts.yml"))
        r = subprocess.run([TOOL, "--list"] + files, capture_output=True, text=True, check=True)
        names = r.stdout.split()
        self.assertGreaterEqual(len(names), 30)
        for name in names:
            self.assertRegex(name, r"^(runnel_|clickstream_|up$)")
        self.assertIn("clickstream_events_total", names)
        self.assertIn("runnel_sink_connected", names)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
