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
  - measured for docs/deploy.md (printed, not asserted): a rolling restart
    of one instance (same name and state), scale out to 3, scale in to 1
    (the removed static members' tasks move after the session timeout);
    after each, the instances answer every sensor again;
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


def counter(metrics_text, name):
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics_text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


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
            if name in logs:
                logs[name].close()
            logs[name] = open(os.path.join(work, f"{name}.log"), "a")
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

        gateway_port = free_port()
        start("sensor-gateway", ["sensor-gateway"],
              configmap_properties(docs, ["runnel-kafka", "sensor-gateway-config"],
                                   {"bootstrap.servers": bootstrap, "listen.address": "127.0.0.1",
                                    "listen.port": gateway_port}, prefix_dir))
        gateway = f"http://127.0.0.1:{gateway_port}"
        wait_for("the gateway's /readyz", lambda: http(gateway + "/readyz")[0] == 200, processes)
        log("gateway ready")

        dashboards = {}

        def start_dashboard(pod):
            if pod not in dashboards:
                dashboards[pod] = {"http": free_port(), "query": free_port(), "metrics": free_port()}
            ports = dashboards[pod]
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

        def metrics(pod):
            status, text = http(f"http://127.0.0.1:{dashboards[pod]['metrics']}/metrics")
            return text if status == 200 else ""

        def ready(pods):
            return all(http(f"http://127.0.0.1:{dashboards[p]['metrics']}/readyz")[0] == 200 for p in pods)

        def answers_all(pod):
            for sensor in sensors:
                status, body = http(f"http://127.0.0.1:{dashboards[pod]['http']}/api/sensors/{sensor}")
                if status != 200 or json.loads(body).get("count") != 3:
                    return False
            return True

        started = time.monotonic()
        for pod in ("sensor-dashboard-0", "sensor-dashboard-1"):
            start_dashboard(pod)
        for pod, ports in dashboards.items():
            wait_for(f"{pod} /readyz", lambda: ready([pod]), processes)
            status, body = http(f"http://127.0.0.1:{ports['metrics']}/healthz")
            assert status == 200, f"{pod} /healthz: {status} {body}"
            status, body = http(f"http://127.0.0.1:{ports['http']}/healthz")
            assert status == 200, f"{pod} dashboard /healthz: {status} {body}"
        log(f"both dashboards: /healthz and /readyz 200, {time.monotonic() - started:.1f} s after they started")

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

        wait_for("both dashboards to answer every sensor with its 3 readings",
                 lambda: all(answers_all(p) for p in dashboards), processes)
        tasks = {pod: running_tasks(metrics(pod)) for pod in dashboards}
        log(f"running tasks per instance: {tasks}")
        # Each instance runs part of the tasks, yet answered all 12 sensors:
        # the others' came through the other instance.
        assert all(t > 0 for t in tasks.values()), f"an instance runs no task: {tasks}"
        total = sum(tasks.values())
        log("every sensor answered by both instances (routed for the tasks the other one runs)")

        # The rest is measured for docs/deploy.md, not asserted on time.
        # A rolling restart: the same pod name (static member) and volume.
        rebalances = counter(metrics("sensor-dashboard-0"), "runnel_rebalances_total")
        stop("sensor-dashboard-1")
        t0 = time.monotonic()
        start_dashboard("sensor-dashboard-1")
        wait_for("the restarted sensor-dashboard-1 to be ready with its tasks",
                 lambda: ready(["sensor-dashboard-1"]) and running_tasks(metrics("sensor-dashboard-1")) > 0, processes)
        moved = counter(metrics("sensor-dashboard-0"), "runnel_rebalances_total") - rebalances
        log(f"restart: sensor-dashboard-1 ready again {time.monotonic() - t0:.1f} s after it started; "
            f"sensor-dashboard-0 went through {moved:.0f} rebalances meanwhile")
        wait_for("both dashboards to answer every sensor after the restart",
                 lambda: all(answers_all(p) for p in dashboards), processes)

        # Scale out to 3.
        t0 = time.monotonic()
        start_dashboard("sensor-dashboard-2")
        wait_for("3 instances ready, each running tasks",
                 lambda: ready(dashboards) and all(running_tasks(metrics(p)) > 0 for p in dashboards), processes)
        log(f"scale out to 3: all ready, tasks {[running_tasks(metrics(p)) for p in dashboards]}, "
            f"{time.monotonic() - t0:.1f} s after the third started")
        wait_for("3 dashboards to answer every sensor", lambda: all(answers_all(p) for p in dashboards), processes)

        # Scale in to 1: pods removed for good. They are static members, so
        # they do not leave the group on SIGTERM; their tasks move once the
        # broker gives up on them (consumer.session.timeout.ms).
        session_timeout_ms = next(d for d in docs if d["metadata"]["name"] == "sensor-dashboard-config")[
            "data"]["RUNNEL_CONF_CONSUMER_SESSION_TIMEOUT_MS"]
        stop("sensor-dashboard-2")
        stop("sensor-dashboard-1")
        t0 = time.monotonic()
        wait_for("sensor-dashboard-0 to run every task",
                 lambda: running_tasks(metrics("sensor-dashboard-0")) == total and ready(["sensor-dashboard-0"]),
                 processes)
        log(f"scale in to 1: sensor-dashboard-0 runs all {total:.0f} tasks {time.monotonic() - t0:.1f} s after the "
            f"others stopped (consumer.session.timeout.ms={session_timeout_ms})")
        wait_for("sensor-dashboard-0 to answer every sensor alone", lambda: answers_all("sensor-dashboard-0"),
                 processes)

        for name in list(processes)[::-1]:
            stop(name)
        ok = True
        print("local run: 3 brokers, the gateway and the dashboards with the prod ConfigMaps: healthy, ready, "
              "routed; restarted, scaled out and in")
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
