"""Reads deploy/: renders the Kubernetes kustomizations without kustomize,
loads the compose file with its env files, and collects every RUNNEL_CONF_*
setting, program and config key they name. Shared by the deploy tests.

The renderer handles exactly what deploy/k8s uses: `resources` (files and
directories with a kustomization.yaml), `patches` with a `path` (strategic-
merge patches naming their target by kind and metadata.name, touching no
lists, so a recursive merge of mappings is what kustomize does with them)
and `images` (newName/newTag). Anything else is refused, so that an overlay
cannot silently mean more than it is checked for. k8s_validate_test.py
compares the result with `kubectl kustomize` where kubectl is installed.
"""

import copy
import os
import re

import yaml

SUPPORTED_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches", "images"}


def load_documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def _merge(base, patch, where):
    for key, value in patch.items():
        if isinstance(value, list):
            raise ValueError(f"{where}: patch sets the list '{key}': the renderer only merges mappings")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, f"{where}.{key}")
        else:
            base[key] = copy.deepcopy(value)


def _image_name(image):
    # "registry/name:tag" -> "registry/name" (a port in the registry keeps its colon).
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def _set_images(doc, images):
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        name = _image_name(container["image"])
        for image in images:
            if image["name"] == name:
                new = image.get("newName", name)
                tag = image.get("newTag")
                container["image"] = f"{new}:{tag}" if tag else new


def render(directory):
    """The documents a kustomization directory stands for, in resource order."""
    kfile = os.path.join(directory, "kustomization.yaml")
    (k,) = load_documents(kfile)
    unknown = set(k) - SUPPORTED_KUSTOMIZATION_KEYS
    if unknown:
        raise ValueError(f"{kfile}: unsupported kustomization fields {sorted(unknown)}")
    docs = []
    for resource in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, resource))
        docs.extend(render(path) if os.path.isdir(path) else load_documents(path))
    for patch in k.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{kfile}: only patches with a path are supported, got {patch}")
        for p in load_documents(os.path.join(directory, patch["path"])):
            targets = [d for d in docs
                       if d["kind"] == p["kind"] and d["metadata"]["name"] == p["metadata"]["name"]]
            if len(targets) != 1:
                raise ValueError(f"{kfile}: patch {p['kind']}/{p['metadata']['name']} matches "
                                 f"{len(targets)} resources")
            _merge(targets[0], {key: v for key, v in p.items() if key not in ("apiVersion", "kind", "metadata")},
                   f"{p['kind']}/{p['metadata']['name']}")
    for doc in docs:
        _set_images(doc, k.get("images", []))
    return docs


def overlays(root):
    base = os.path.join(root, "deploy", "k8s", "overlays")
    return {name: os.path.join(base, name) for name in sorted(os.listdir(base))}


def env_name_to_key(name):
    """RUNNEL_CONF_COMMIT_INTERVAL_MS -> commit.interval.ms (runnel/common/config.h)."""
    return name[len("RUNNEL_CONF_"):].lower().replace("_", ".")


def read_env_file(path):
    """A compose env file: KEY=VALUE lines, # comments; the value as written."""
    values = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise ValueError(f"{path}:{number}: not KEY=VALUE: {line}")
            key, value = line.split("=", 1)
            values[key.strip()] = value
    return values


def load_compose(root):
    path = os.path.join(root, "deploy", "compose", "compose.yaml")
    with open(path) as f:
        return path, yaml.safe_load(f)


def compose_service_env(root, service):
    """A compose service's environment: its env files, then `environment`."""
    env = {}
    files = service.get("env_file", [])
    for name in [files] if isinstance(files, str) else files:
        env.update(read_env_file(os.path.join(root, "deploy", "compose", name)))
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({k: str(v) for k, v in environment.items()})
    return env


def k8s_workloads(docs):
    return [d for d in docs if d["kind"] in ("StatefulSet", "Deployment")]


def k8s_container_env(docs, container):
    """A container's RUNNEL_CONF_* settings: its ConfigMaps and Secrets
    (envFrom; optional Secrets are read from deploy/k8s/secrets by the
    caller) and its own env values ($(VAR) references left as they are)."""
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    env, secret_refs = {}, []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(by_name[("ConfigMap", source["configMapRef"]["name"])]["data"])
        elif "secretRef" in source:
            secret_refs.append(source["secretRef"]["name"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item.get("valueFrom", {}):
            env[item["name"]] = ("secret", item["valueFrom"]["secretKeyRef"]["name"],
                                 item["valueFrom"]["secretKeyRef"]["key"])
    return env, secret_refs


def dockerfile_programs(root):
    """The programs the Dockerfile names in its comment list."""
    with open(os.path.join(root, "deploy", "Dockerfile")) as f:
        text = f.read()
    match = re.search(r"# Programs \(in /opt/runnel/bin, on PATH\):(.*?)\(and", text, re.S)
    return sorted(set(re.findall(r"[a-z][a-z0-9-]+", match.group(1).replace("#", " "))))


def dockerfile_runtime_packages(root):
    with open(os.path.join(root, "deploy", "Dockerfile")) as f:
        text = f.read()
    runtime = text.split("AS runtime", 1)[1]
    install = re.search(r"apt-get install -y -qq --no-install-recommends \\\n(.*?)\n &&", runtime, re.S)
    return set(install.group(1).replace("\\", " ").split())
