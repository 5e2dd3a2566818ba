"""The Kubernetes configuration, run without containers: 3 brokers from
tools/kafka-local (own directory), the sensor gateway and 2 sensor-dashboard
instances from the installed tree (cmake --install of this build, as the
image has it), each configured with the prod overlay's ConfigMaps rendered
into a properties file. Only what a pod gets from its name and its node is
replaced: bootstrap.servers (the local brokers), state.dir (one directory
per instance, as each pod has its volume), the ports (both instances share
127.0.0.1) and /opt/runnel (the install prefix). Then:
  - /healthz and /readyz answer 200 on both instances (the probes' paths);
  - readings posted to the gateway are answered by BOTH dashboards for every
    sensor while each instance runs only some of the tasks: the other
    sensors' answers were routed through the other instance (application.
    server, static membership ids from the "pod" names);
  - scale in: one dashboard stopped for good (SIGTERM, exit 0); the other
    takes every task over once the static member's session times out (the
    time is printed, for docs/deploy.md, not asserted) and answers alone;
  - SIGTERM stops the rest cleanly (exit 0), then everything is removed.

  local_run_test.py <repository root> <build dir> <kafka-local>
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import deploy_files

PREFIX = "/opt/runnel"
DEADLINE_S = 240


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, timeout=10):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
        return None, str(e)


def wait_for(what, condition, processes, deadline_s=DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for name, p in processes.items():
            if p.poll() is not None:
                raise AssertionError(f"{name} exited with {p.returncode} while waiting for {what}")
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")


def configmap_properties(docs, names, overrides, prefix_dir):
    """The ConfigMaps' RUNNEL_CONF_* data as properties (later wins), /opt/runnel mapped."""
    by_name = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    values = {}
    for name in names:
        for env, value in by_name[name]["data"].items():
            value = str(value)
            if value.startswith(PREFIX + "/"):
                value = prefix_dir + value[len(PREFIX):]
            values[deploy_files.env_name_to_key(env)] = value
    values.update(overrides)
    return "".join(f"{k}={v}\n" for k, v in sorted(values.items()))


def running_tasks(metrics_text):
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("runnel_tasks{") and 'state="running"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def main(root, build_dir, kafka_local):
    work = tempfile.mkdtemp(prefix="deploy-local-run-")
    kafka_dir = os.path.join(work, "kafka")
    processes = {}
    logs = {}
    ok = False
    try:
        prefix_dir = os.path.join(work, "prefix")
        subprocess.run(["cmake", "--install", build_dir, "--prefix", prefix_dir], check=True, capture_output=True)
        log("starting 3 brokers")
        bootstrap = subprocess.run([kafka_local, "start", "--brokers", "3", "--dir", kafka_dir], check=True,
                                   capture_output=True, text=True).stdout.strip().splitlines()[-1]
        log(f"brokers at {bootstrap}")
        docs = deploy_files.render(deploy_files.overlays(root)["prod"])

        def start(name, argv, properties):
            path = os.path.join(work, f"{name}.properties")
            with open(path, "w") as f:
                f.write(f"# {name}: the prod overlay's ConfigMaps, with the pod-specific values replaced\n")
                f.write(properties)
            logs[name] = open(os.path.join(work, f"{name}.log"), "w")
            env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNEL_CONF_")}
            processes[name] = subprocess.Popen([os.path.join(prefix_dir, "bin", argv[0])] + argv[1:] +
                                               ["--config", path, "--log-level", "warn"],
                                               stdout=logs[name], stderr=subprocess.STDOUT, env=env)

        def stop(name):
            p = processes.pop(name)
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            try:
                code = p.wait(timeout=90)
            except subprocess.TimeoutExpired:
                p.kill()
                raise AssertionError(f"{name} did not stop within 90 s of SIGTERM")
            assert code == 0, f"{name} exited with {code} after SIGTERM"
            log(f"{name} stopped cleanly in {time.monotonic() - t0:.1f} s")

        session_timeout_ms = next(d for d in docs if d["metadata"]["name"] == "sensor-dashboard-config")[
            "data"]["RUNNEL_CONF_CONSUMER_SESSION_TIMEOUT_MS"]
        gateway_port = free_port()
        start("sensor-gateway", ["sensor-gateway"],
              configmap_properties(docs, ["runnel-kafka", "sensor-gateway-config"],
                                   {"bootstrap.servers": bootstrap, "listen.address": "127.0.0.1",
                                    "listen.port": gateway_port}, prefix_dir))
        gateway = f"http://127.0.0.1:{gateway_port}"
        wait_for("the gateway's /readyz", lambda: http(gateway + "/readyz")[0] == 200, processes)
        log("gateway ready")

        dashboards = {}
        for i in (0, 1):
            pod = f"sensor-dashboard-{i}"
            ports = {"http": free_port(), "query": free_port(), "metrics": free_port()}
            dashboards[pod] = ports
            start(pod, ["sensor-dashboard"],
                  configmap_properties(docs, ["runnel-kafka", "sensor-dashboard-config"], {
                      "bootstrap.servers": bootstrap,
                      "state.dir": os.path.join(work, pod, "state"),
                      "http.address": "127.0.0.1",
                      "http.port": ports["http"],
                      "metrics.server": f"127.0.0.1:{ports['metrics']}",
                      # What the StatefulSet derives from the pod name.
                      "application.server": f"127.0.0.1:{ports['query']}",
                      "consumer.group.instance.id": pod,
                  }, prefix_dir))
        for pod, ports in dashboards.items():
            metrics = f"http://127.0.0.1:{ports['metrics']}"
            wait_for(f"{pod} /readyz", lambda: http(metrics + "/readyz")[0] == 200, processes)
            status, body = http(metrics + "/healthz")
            assert status == 200, f"{pod} /healthz: {status} {body}"
            status, body = http(f"http://127.0.0.1:{ports['http']}/healthz")
            assert status == 200, f"{pod} dashboard /healthz: {status} {body}"
            log(f"{pod}: /healthz and /readyz 200")

        sensors = [f"sensor{n:02d}" for n in range(1, 13)]
        now = datetime.now(timezone.utc)
        readings = []
        for round_ in range(3):
            for n, sensor in enumerate(sensors):
                readings.append({"sensor_id": sensor, "type": "temperature", "unit": "C", "location": f"loc{n % 3}",
                                 "value": 20.0 + n + round_,
                                 "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{round_:03d}Z"})
        status, body = http(gateway + "/sensors", json.dumps(readings).encode())
        assert status == 202, f"POST /sensors: {status} {body}"
        log(f"posted {len(readings)} readings for {len(sensors)} sensors")

        def all_answered():
            for pod, ports in dashboards.items():
                for sensor in sensors:
                    status, body = http(f"http://127.0.0.1:{ports['http']}/api/sensors/{sensor}")
                    if status != 200 or json.loads(body).get("count") != 3:
                        return False
            return True

        wait_for("both dashboards to answer every sensor with its 3 readings", all_answered, processes)
        tasks = {}
        for pod, ports in dashboards.items():
            status, text = http(f"http://127.0.0.1:{ports['metrics']}/metrics")
            assert status == 200, f"{pod} /metrics: {status}"
            tasks[pod] = running_tasks(text)
        log(f"running tasks per instance: {tasks}")
        # Each instance runs part of the tasks, yet answered all 12 sensors:
        # the others' came through the other instance.
        assert all(t > 0 for t in tasks.values()), f"an instance runs no task: {tasks}"
        log("every sensor answered by both instances (routed for the tasks the other one runs)")

        # Scale in: a pod removed for good. It is a static member, so it does
        # not leave the group on SIGTERM; its tasks move once the broker
        # gives up on it (consumer.session.timeout.ms). Measured, not asserted.
        total = sum(tasks.values())
        stop("sensor-dashboard-1")
        t0 = time.monotonic()
        survivor = dashboards["sensor-dashboard-0"]

        def took_over():
            status, text = http(f"http://127.0.0.1:{survivor['metrics']}/metrics")
            return status == 200 and running_tasks(text) == total and \
                http(f"http://127.0.0.1:{survivor['metrics']}/readyz")[0] == 200

        wait_for("sensor-dashboard-0 to run every task", took_over, processes)
        log(f"scale in: sensor-dashboard-0 runs all {total:.0f} tasks {time.monotonic() - t0:.1f} s after "
            f"sensor-dashboard-1 stopped (session timeout {session_timeout_ms} ms)")
        wait_for("sensor-dashboard-0 to answer every sensor alone",
                 lambda: all(http(f"http://127.0.0.1:{survivor['http']}/api/sensors/{s}")[0] == 200 for s in sensors),
                 processes)

        for name in list(processes)[::-1]:
            stop(name)
        ok = True
        print("local run: 3 brokers, gateway and 2 dashboards with the prod ConfigMaps: healthy, ready, routed, "
              "scaled in")
        return 0
    finally:
        for name, p in processes.items():
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in logs.values():
            f.close()
        if not ok:
            for name in logs:
                with open(os.path.join(work, f"{name}.log")) as f:
                    tail = f.read()[-3000:]
                print(f"--- {name}.log (tail)\n{tail}")
        subprocess.run([kafka_local, "stop", "--wipe", "--dir", kafka_dir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
