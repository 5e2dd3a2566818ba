"""deploy/compose: compose.yaml validated against the compose specification's
JSON schema (vendored in compose-spec/, with its license), its Prometheus
config through `promtool check config` (with deploy/prometheus/alerts.yml
beside it, as mounted), and what the file must get right for Runnel, which
the schema cannot see: 3 KRaft brokers with replication 3, 2 instances of each
stateful app with their own application.server, group instance id and state
volume, health checks on /readyz, every instance scraped, every mounted file
present.

  compose_validate_test.py <repository root> <promtool>   (the deploy venv's python)
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

import deploy_files

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def main(root, promtool):
    path, compose = deploy_files.load_compose(root)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "compose-spec", "compose-spec.json")) as f:
        schema = json.load(f)
    for error in jsonschema.Draft7Validator(schema).iter_errors(compose):
        failures.append(f"compose.yaml does not follow the compose specification: {error.message} at "
                        f"{'.'.join(str(p) for p in error.path)}")
    services = compose["services"]
    compose_dir = os.path.dirname(path)

    brokers = {n: s for n, s in services.items() if s.get("image", "").startswith("apache/kafka:")}
    check(len(brokers) == 3, f"{len(brokers)} Kafka brokers, want 3")
    node_ids = set()
    for name, broker in brokers.items():
        check(broker["image"] == "apache/kafka:4.1.1", f"{name}: image {broker['image']}, want apache/kafka:4.1.1")
        env = deploy_files.compose_service_env(root, broker)
        node_ids.add(env["KAFKA_NODE_ID"])
        check(env.get("KAFKA_PROCESS_ROLES") == "broker,controller", f"{name}: not a KRaft broker+controller")
        check(f"{env['KAFKA_NODE_ID']}@{name}:9093" in env["KAFKA_CONTROLLER_QUORUM_VOTERS"],
              f"{name}: not among the controller quorum voters")
        for key in ("KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
            check(env.get(key) == "3", f"{name}: {key}={env.get(key)}, want 3")
        check(any(v.split(":")[0].endswith("-data") for v in broker.get("volumes", [])), f"{name}: no data volume")
    check(len(node_ids) == 3, f"broker node ids {sorted(node_ids)} are not distinct")

    runnel = {n: s for n, s in services.items() if s.get("image") == "runnel:local" and "load" not in s.get("profiles", [])}
    streams = {}
    for name, service in runnel.items():
        env = deploy_files.compose_service_env(root, service)
        keys = {deploy_files.env_name_to_key(k): v for k, v in env.items() if k.startswith("RUNNEL_CONF_")}
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        check("/readyz" in test, f"{name}: its health check does not ask /readyz")
        if "state.dir" in keys:
            streams[name] = (service, keys)
    by_app = {}
    for name, (service, keys) in streams.items():
        by_app.setdefault(keys["application.id"], []).append((name, service, keys))
    check(set(by_app) == {"sensor-dashboard", "clickstream"},
          f"stateful apps {sorted(by_app)}, want sensor-dashboard and clickstream")
    scrape = open(os.path.join(compose_dir, "prometheus", "prometheus.yml")).read()
    for app, instances in by_app.items():
        check(len(instances) == 2, f"{app}: {len(instances)} instances, want 2")
        for field in ("consumer.group.instance.id", "application.server"):
            values = [k.get(field) for _, _, k in instances]
            if app == "clickstream" and field == "application.server":
                continue
            check(None not in values and len(set(values)) == len(values), f"{app}: {field} not distinct: {values}")
        volumes = set()
        for name, service, keys in instances:
            mounts = dict(v.split(":")[:2][::-1] for v in service.get("volumes", []))
            volume = mounts.get(keys["state.dir"])
            check(volume in compose.get("volumes", {}), f"{name}: state.dir {keys['state.dir']} is not a named volume")
            volumes.add(volume)
            server = keys.get("application.server")
            if server:
                check(server.split(":")[0] in (name, service.get("hostname")),
                      f"{name}: application.server {server} is not its own name")
            check(keys.get("replication.factor") == "3", f"{name}: replication.factor {keys.get('replication.factor')}")
            port = keys["metrics.server"].rsplit(":", 1)[1]
            check(f"{name}:{port}" in scrape, f"{name}: Prometheus does not scrape {name}:{port}")
            check(f":{port}/readyz" in " ".join(service["healthcheck"]["test"]),
                  f"{name}: the health check does not use metrics.server's port {port}")
        check(len(volumes) == 2, f"{app}: the instances share a state volume")
    check("sensor-gateway:5000" in scrape, "Prometheus does not scrape the gateway")

    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                check(os.path.exists(os.path.normpath(os.path.join(compose_dir, source))),
                      f"{name}: mounts {source}, which does not exist")
        for env_file in service.get("env_file", []):
            check(os.path.exists(os.path.join(compose_dir, env_file)), f"{name}: env file {env_file} missing")
    check(any("schema.sql" in v for v in services["postgres"]["volumes"]), "postgres: the clickstream schema is not mounted")
    check(services["postgres"]["image"] == "postgres:15", "postgres: not the postgres:15 image")
    dashboard_ports = [p for n, s in services.items() if n.startswith("sensor-dashboard") for p in s.get("ports", [])]
    check(any(p.endswith(":8050") for p in dashboard_ports), "the dashboard's port is not published")

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(compose_dir, "prometheus", "prometheus.yml"), tmp)
        shutil.copy(os.path.join(root, "deploy", "prometheus", "alerts.yml"), tmp)
        result = subprocess.run([promtool, "check", "config", os.path.join(tmp, "prometheus.yml")],
                                capture_output=True, text=True)
        check(result.returncode == 0, f"promtool check config: {result.stdout}{result.stderr}")

    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print(f"compose.yaml: valid ({len(services)} services; {', '.join(f'{a} x{len(i)}' for a, i in by_app.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
