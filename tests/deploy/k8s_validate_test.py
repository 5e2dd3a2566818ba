"""deploy/k8s: every overlay rendered (deploy_files.render; checked against
`kubectl kustomize` where kubectl is installed) and every manifest, the
placeholder Secrets included, validated offline against the Kubernetes
schemas (kubernetes-validate, strict: unknown fields fail) of the oldest and
newest Kubernetes versions we claim. Then what the manifests must get right
for Runnel, which a schema cannot see: static membership and
application.server from the pod name through the headless Service, state.dir
on the pod's volume, probes on metrics.server, a grace period above the
clean-shutdown time, selectors that select, replicas and standbys per
overlay.

  k8s_validate_test.py <repository root>   (run with the deploy venv's python)
"""

import glob
import os
import shutil
import subprocess
import sys

import kubernetes_validate
import yaml

import deploy_files

KUBERNETES_VERSIONS = ["1.29.0", "1.37.0"]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def validate(doc, origin):
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{origin}: {doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes "
                            f"{version}: {e.message} at {'.'.join(str(p) for p in e.path)}")


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def key_map(env):
    return {deploy_files.env_name_to_key(k): v for k, v in env.items() if k.startswith("RUNNEL_CONF_")}


def check_statefulset(name, sts, docs, origin):
    where = f"{origin}: StatefulSet/{name}"
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    check(selects(spec["selector"]["matchLabels"], labels), f"{where}: selector does not select its pods")
    services = by_kind(docs, "Service")
    headless = services.get(spec["serviceName"])
    check(headless is not None, f"{where}: serviceName {spec['serviceName']} is not a Service here")
    if headless:
        check(headless["spec"].get("clusterIP") == "None", f"{where}: {spec['serviceName']} is not headless")
        check(headless["spec"].get("publishNotReadyAddresses") is True,
              f"{where}: the headless Service must publish not-ready pods (peers query restoring pods)")
        check(selects(headless["spec"]["selector"], labels), f"{where}: the headless Service does not select the pods")
    (container,) = pod["containers"]
    env, _ = deploy_files.k8s_container_env(docs, container)
    keys = key_map(env)
    check(keys.get("consumer.group.instance.id") == "$(POD_NAME)",
          f"{where}: consumer.group.instance.id must be the pod name (static membership)")
    names = [e["name"] for e in container.get("env", [])]
    check("POD_NAME" in names and names.index("POD_NAME") < names.index("RUNNEL_CONF_CONSUMER_GROUP_INSTANCE_ID"),
          f"{where}: POD_NAME must be defined before it is referenced")
    server = keys.get("application.server")
    if server is not None:
        expected = f"$(POD_NAME).{spec['serviceName']}.$(POD_NAMESPACE).svc.cluster.local:"
        check(server.startswith(expected), f"{where}: application.server '{server}' is not the pod's DNS name "
                                           f"through {spec['serviceName']}")
        port = int(server.rsplit(":", 1)[1])
        check(port in [p["containerPort"] for p in container["ports"]],
              f"{where}: application.server's port {port} is not a container port")
    state_dir = keys.get("state.dir")
    claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    check(state_dir is not None and any(mounts.get(c) == state_dir for c in claims),
          f"{where}: state.dir {state_dir} is not on a volumeClaimTemplate")
    metrics_port = int(keys.get("metrics.server", ":0").rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container.get(probe, {}).get("httpGet", {})
        port = get.get("port")
        check(get.get("path") == path and ports.get(port, port) == metrics_port,
              f"{where}: {probe} must GET {path} on metrics.server's port {metrics_port}")
    commit_ms = int(keys.get("commit.interval.ms", "1000"))
    check(pod.get("terminationGracePeriodSeconds", 30) * 1000 > commit_ms + 5000 + 10000,
          f"{where}: terminationGracePeriodSeconds is not above commit.interval.ms + 5 s + HTTP grace")
    check(spec.get("podManagementPolicy") == "Parallel", f"{where}: pods should start in parallel")
    pdbs = [p for p in by_kind(docs, "PodDisruptionBudget").values() if selects(p["spec"]["selector"]["matchLabels"], labels)]
    check(len(pdbs) == 1, f"{where}: {len(pdbs)} PodDisruptionBudgets select its pods, want 1")
    resources = container.get("resources", {})
    check("memory" in resources.get("requests", {}) and "memory" in resources.get("limits", {}),
          f"{where}: memory requests and limits must be set")
    return keys


def main(root):
    rendered = {}
    for name, path in deploy_files.overlays(root).items():
        docs = deploy_files.render(path)
        rendered[name] = docs
        for doc in docs:
            validate(doc, f"overlay {name}")
        kubectl = shutil.which("kubectl")
        if kubectl:
            out = subprocess.run([kubectl, "kustomize", path], check=True, capture_output=True, text=True).stdout
            theirs = sorted((d for d in yaml.safe_load_all(out) if d), key=lambda d: (d["kind"], d["metadata"]["name"]))
            ours = sorted(docs, key=lambda d: (d["kind"], d["metadata"]["name"]))
            check(theirs == ours, f"overlay {name}: kubectl kustomize renders something else than deploy_files.render")
            print(f"overlay {name}: kubectl kustomize agrees ({len(docs)} resources)")
    for path in sorted(glob.glob(os.path.join(root, "deploy", "k8s", "secrets", "*.yaml"))):
        for doc in deploy_files.load_documents(path):
            validate(doc, os.path.relpath(path, root))
    check(set(rendered) == {"dev", "prod"}, f"overlays: {sorted(rendered)}, want dev and prod")

    for name, docs in rendered.items():
        want_replicas = {"dev": 1, "prod": 3}[name]
        want_standbys = {"dev": "0", "prod": "1"}[name]
        for workload in deploy_files.k8s_workloads(docs):
            check(workload["spec"]["replicas"] == want_replicas,
                  f"overlay {name}: {workload['kind']}/{workload['metadata']['name']} has "
                  f"{workload['spec']['replicas']} replicas, want {want_replicas}")
        for sts_name, sts in by_kind(docs, "StatefulSet").items():
            keys = check_statefulset(sts_name, sts, docs, f"overlay {name}")
            check(keys.get("num.standby.replicas") == want_standbys,
                  f"overlay {name}: {sts_name} num.standby.replicas={keys.get('num.standby.replicas')}, "
                  f"want {want_standbys}")
        for svc_name, svc in by_kind(docs, "Service").items():
            pods = [w for w in deploy_files.k8s_workloads(docs)
                    if selects(svc["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]
            check(len(pods) == 1, f"overlay {name}: Service/{svc_name} selects {len(pods)} workloads, want 1")
            for port in svc["spec"]["ports"]:
                named = [p["name"] for w in pods for c in w["spec"]["template"]["spec"]["containers"] for p in c["ports"]]
                check(port["targetPort"] in named, f"overlay {name}: Service/{svc_name} targets the unknown port "
                                                   f"{port['targetPort']}")
        count = len(docs)
        print(f"overlay {name}: {count} resources valid for Kubernetes {', '.join(KUBERNETES_VERSIONS)}")

    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print("k8s manifests: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
