#!/usr/bin/env python3
"""Writes the Grafana dashboards dashboards/clickstream.json and
dashboards/runnel.json (Grafana's JSON model, schemaVersion 39) from one
list of panels, so the two cannot differ where they should not:
runnel.json is every Runnel application's dashboard, clickstream.json the
same plus the clickstream app's per-type events.

  deploy/grafana/dashboards.py           rewrite the JSON files
  deploy/grafana/dashboards.py --check   exit 1 if they differ from this script's output

Panels select on the variables $job and $instance and use the datasource
variable DS_PROMETHEUS; every metric name here must exist in the apps'
/metrics (tools/check-metric-names, run by the tests).
"""
import json, os, sys
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SEL = 'job=~"$job", instance=~"$instance"'
RI = "$__rate_interval"

def sel(extra=""):
    return "{" + SEL + (", " + extra if extra else "") + "}"

class Builder:
    """Lays panels out left to right on Grafana's 24-column grid, a new line
    when a panel does not fit, and numbers them."""

    def __init__(self):
        self.panels = []
        self.x = self.y = 0
        self.line_height = 0

    def _newline(self):
        self.y += self.line_height
        self.x = self.line_height = 0

    def row(self, title):
        if self.x:
            self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "id": len(self.panels) + 1,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def add(self, kind, title, desc, unit, targets, w=12, h=8, stacking=False, extra_defaults=None):
        if self.x + w > 24:
            self._newline()
        t = [{"refId": chr(65 + i), "expr": e, "legendFormat": l, "datasource": DS, "range": True}
             for i, (e, l) in enumerate(targets)]
        defaults = {"unit": unit}
        if kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                                  "spanNulls": False,
                                  "stacking": {"mode": "normal" if stacking else "none", "group": "A"}}
            opts = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}}
        else:
            defaults["color"] = {"mode": "thresholds"}
            defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
            opts = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "textMode": "auto",
                    "orientation": "auto"}
        defaults.update(extra_defaults or {})
        self.panels.append({"type": kind, "title": title, "description": desc, "id": len(self.panels) + 1,
                            "datasource": DS, "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
                            "fieldConfig": {"defaults": defaults, "overrides": []},
                            "options": opts, "targets": t})
        self.x += w
        self.line_height = max(self.line_height, h)
        if self.x >= 24:
            self._newline()


def rate(family, by=""):
    """Per-second rate of a counter family, summed (by the labels `by`)."""
    return "%s(rate(%s%s[%s]))" % ("sum by (%s) " % by if by else "sum", family, sel(), RI)


def total(family, by="", agg="sum"):
    """A gauge family aggregated (by the labels `by`)."""
    return "%s(%s%s)" % ("%s by (%s) " % (agg, by) if by else agg, family, sel())


def q(p, fam, by="le", extra=""):
    return f'histogram_quantile({p}, sum by ({by}) (rate({fam}_bucket{sel(extra)}[{RI}])))'

def build(clickstream):
    b = Builder()
    def red(v):  # red from v up
        return {"thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                             {"color": "red", "value": v}]}}

    b.row("Overview")
    b.add("stat", "Records processed/s", "rate of runnel_records_processed_total, all stream threads", "ops",
          [(rate("runnel_records_processed_total"), "processed/s")], w=6, h=4)
    b.add("stat", "End-to-end latency p99", "record timestamp to processing (runnel_record_e2e_latency_seconds)", "s",
          [(q(0.99, "runnel_record_e2e_latency_seconds"), "p99")], w=6, h=4, extra_defaults=red(10))
    b.add("stat", "Malformed records/s", "deserialization errors (runnel_deserialization_errors_total)", "ops",
          [(rate("runnel_deserialization_errors_total"), "malformed/s")], w=6, h=4, extra_defaults=red(1))
    b.add("stat", "Consumer lag", "records behind the input partitions' ends (runnel_consumer_lag_records)", "short",
          [(total("runnel_consumer_lag_records"), "lag")], w=6, h=4, extra_defaults=red(1000))
    b.row("Throughput")
    b.add("timeseries", "Records processed/s", "runnel_records_processed_total per instance", "ops",
          [(rate("runnel_records_processed_total", "instance"), "{{instance}}")])
    if clickstream:
        b.add("timeseries", "Events per type/s", "well-formed clickstream events (clickstream_events_total)", "ops",
              [(rate("clickstream_events_total", "type"), "{{type}}")], stacking=True)
    b.add("timeseries", "Records consumed and produced/s by topic",
          "runnel_task_records_consumed_total / runnel_task_records_produced_total (changelogs not counted)", "ops",
          [(rate("runnel_task_records_consumed_total", "topic"), "in {{topic}}"),
           (rate("runnel_task_records_produced_total", "topic"), "out {{topic}}")])
    b.add("timeseries", "Commits/s and aborted transactions/s", "runnel_commits_total, runnel_transactions_aborted_total", "ops",
          [(rate("runnel_commits_total"), "commits"),
           (rate("runnel_transactions_aborted_total"), "aborted")])
    b.row("Latency")
    b.add("timeseries", "End-to-end latency (processing)",
          "record timestamp to the start of its processing, at the sinks (runnel_record_e2e_latency_seconds)", "s",
          [(q(0.5, "runnel_record_e2e_latency_seconds"), "p50"), (q(0.99, "runnel_record_e2e_latency_seconds"), "p99")])
    b.add("timeseries", "End-to-end latency (into PostgreSQL)",
          "record timestamp to its PostgreSQL commit (runnel_sink_e2e_latency_seconds)", "s",
          [(q(0.5, "runnel_sink_e2e_latency_seconds", "sink, le"), "p50 {{sink}}"),
           (q(0.99, "runnel_sink_e2e_latency_seconds", "sink, le"), "p99 {{sink}}")])
    b.add("timeseries", "Process and commit latency p99",
          "one record through a task (runnel_process_latency_seconds); one commit (runnel_commit_latency_seconds)", "s",
          [(q(0.99, "runnel_process_latency_seconds"), "process p99"),
           (q(0.99, "runnel_commit_latency_seconds"), "commit p99")])
    b.add("timeseries", "PostgreSQL batch latency p99", "one batch's write and commit (runnel_sink_batch_latency_seconds)", "s",
          [(q(0.99, "runnel_sink_batch_latency_seconds", "sink, le"), "{{sink}}")])
    b.row("Malformed and dropped records")
    b.add("timeseries", "Malformed events/s", "records that failed to deserialize, and records written to the dead-letter topic", "ops",
          [(rate("runnel_deserialization_errors_total", "topic"), "deserialization errors {{topic}}"),
           (rate("runnel_dead_letter_records_total", "topic"), "dead-lettered -> {{topic}}"),
           (rate("runnel_processing_errors_total"), "processing errors")])
    b.add("timeseries", "Dropped records/s by reason", "runnel_dropped_records_total (late: after the window's grace)", "ops",
          [(rate("runnel_dropped_records_total", "reason"), "{{reason}}")])
    b.row("Lag and restore")
    b.add("timeseries", "Consumer lag by topic", "end offset minus position, per input topic (runnel_consumer_lag_records)", "short",
          [(total("runnel_consumer_lag_records", "topic"), "{{topic}}")])
    b.add("timeseries", "Restore progress", "changelog records still to restore (runnel_restore_remaining_records) and restored/s (runnel_store_restored_records_total)", "short",
          [(total("runnel_restore_remaining_records", "store"), "remaining {{store}}"),
           (rate("runnel_store_restored_records_total", "store"), "restored/s {{store}}")])
    b.row("PostgreSQL sink")
    b.add("timeseries", "Sink rows/s by table", "rows committed in PostgreSQL (runnel_sink_records_total)", "ops",
          [(rate("runnel_sink_records_total", "table, op"), "{{table}} {{op}}")], stacking=True)
    b.add("stat", "Sink connected", "1 while the sink holds a PostgreSQL connection (runnel_sink_connected)", "none",
          [(total("runnel_sink_connected", "sink", "min"), "{{sink}}")], w=4,
          extra_defaults={"thresholds": {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]},
                          "mappings": [{"type": "value", "options": {"0": {"text": "disconnected"}, "1": {"text": "connected"}}}]})
    b.add("timeseries", "Sink lag", "records not yet committed in PostgreSQL (runnel_sink_lag_records)", "short",
          [(total("runnel_sink_lag_records", "sink"), "{{sink}}")], w=8)
    b.add("timeseries", "Sink retries, errors and dead letters/s",
          "runnel_sink_retries_total, runnel_sink_errors_total, runnel_sink_dead_letter_records_total", "ops",
          [(rate("runnel_sink_retries_total", "sink"), "retries {{sink}}"),
           (rate("runnel_sink_errors_total", "sink, kind"), "errors {{kind}}"),
           (rate("runnel_sink_dead_letter_records_total", "sink"), "dead-lettered {{sink}}")])
    b.add("timeseries", "Sink batches/s", "PostgreSQL transactions committed (runnel_sink_batches_total)", "ops",
          [(rate("runnel_sink_batches_total", "sink"), "{{sink}}")])
    b.row("Instances and stores")
    b.add("timeseries", "Instance state", "1 for each instance's current state (runnel_instance_state)", "none",
          [(total("runnel_instance_state", "state"), "{{state}}")], w=8)
    b.add("timeseries", "Tasks by state, stream threads, rebalances",
          "runnel_tasks, runnel_stream_threads, runnel_rebalances_total", "short",
          [(total("runnel_tasks", "state"), "tasks {{state}}"),
           (total("runnel_stream_threads"), "stream threads"),
           (f"sum(increase(runnel_rebalances_total{sel()}[{RI}]))", "rebalances")], w=8)
    b.add("timeseries", "RocksDB memory and disk", "runnel_store_sst_files_bytes, runnel_store_memtable_bytes, runnel_rocksdb_block_cache_usage_bytes", "bytes",
          [(total("runnel_store_sst_files_bytes", "store"), "sst {{store}}"),
           (total("runnel_store_memtable_bytes"), "memtables"),
           (total("runnel_rocksdb_block_cache_usage_bytes"), "block cache")], w=8)
    uid = "runnel-clickstream" if clickstream else "runnel-overview"
    title = "Runnel: clickstream analytics" if clickstream else "Runnel"
    desc = ("The clickstream app (apps/clickstream): events in, windowed aggregates upserted into PostgreSQL."
            if clickstream else "Any Runnel application: throughput, latency, errors, lag, restore, sinks, stores.")
    var = lambda name, label, q: {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "query": {"query": q, "refId": "V"}, "definition": q, "refresh": 2, "includeAll": True,
        "multi": True, "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1, "hide": 0}
    return {
        "uid": uid, "title": title, "description": desc, "tags": ["runnel"] + (["clickstream"] if clickstream else []),
        "timezone": "browser", "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
        "refresh": "10s", "time": {"from": "now-30m", "to": "now"}, "timepicker": {}, "fiscalYearStartMonth": 0,
        "liveNow": False, "weekStart": "", "links": [],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [
            {"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False, "options": []},
            var("job", "job", "label_values(runnel_instance_state, job)"),
            var("instance", "instance", 'label_values(runnel_instance_state{job=~"$job"}, instance)')]},
        "panels": b.panels,
    }

def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
    stale = []
    for name, clickstream in (("clickstream.json", True), ("runnel.json", False)):
        text = json.dumps(build(clickstream), indent=2) + "\n"
        path = os.path.join(here, name)
        if "--check" in sys.argv[1:]:
            with open(path) as f:
                if f.read() != text:
                    stale.append(path)
        else:
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("stale (run deploy/grafana/dashboards.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
