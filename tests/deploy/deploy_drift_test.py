"""Drift between deploy/ and the code: installs this build (cmake --install
into a temporary prefix, as deploy/Dockerfile does) and checks that
  - every program the Dockerfile, compose.yaml and the Kubernetes manifests
    run is installed, and every path under /opt/runnel they name exists;
  - every RUNNEL_CONF_* variable they set (env files, environment, ConfigMaps,
    placeholder Secrets) names a key the program knows: its own keys (from
    its --help), StreamsConfig's keys for the streams apps
    (runnel-deploy-config-keys), and for pass-through keys (consumer.*,
    producer.*, admin.*) a librdkafka property of the right client kind;
  - the Dockerfile's runtime packages are exactly the owners of the shared
    libraries the installed programs load (ldd + dpkg -S), apart from what
    debian:12-slim has and the few packages it installs for other reasons.

  deploy_drift_test.py <repository root> <build dir> <runnel-deploy-config-keys>
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

import deploy_files

# Programs that are not streams apps: they know only their own keys.
NOT_STREAMS_APPS = {"sensor-gateway"}
# How a program lists its own keys.
HELP_COMMANDS = {
    "sensor-gateway": ["--help"],
    "sensor-dashboard": ["--help"],
    "runnel-clickstream": ["run", "--help"],
}
# Runtime packages installed for something other than a shared library.
NOT_FOR_LIBRARIES = {"curl", "ca-certificates", "libjs-chart.js"}
PREFIX = "/opt/runnel"

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def own_keys(bin_dir, program):
    """Keys and pass-through prefixes from the program's --help (ConfigDef::Describe)."""
    if program not in HELP_COMMANDS:
        return set(), set()
    result = subprocess.run([os.path.join(bin_dir, program)] + HELP_COMMANDS[program],
                            capture_output=True, text=True, timeout=60)
    text = result.stdout + result.stderr
    keys = set(re.findall(r"^(\S+) \((?:string|int|bool|double|list), ", text, re.M))
    prefixes = set(re.findall(r"^(\S+)\* \(passed through\)", text, re.M))
    check(keys, f"{program} {' '.join(HELP_COMMANDS[program])} lists no keys:\n{text}")
    return keys, prefixes


def known_keys(helper):
    out = subprocess.run([helper], check=True, capture_output=True, text=True).stdout
    streams, prefixes, rdkafka = set(), set(), {}
    for line in out.splitlines():
        kind, name, *rest = line.split()
        if kind == "streams":
            streams.add(name)
        elif kind == "streams-prefix":
            prefixes.add(name)
        elif kind == "librdkafka":
            rdkafka[name] = rest[0] if rest else "*"
    return streams, prefixes, rdkafka


class Checker:
    def __init__(self, bin_dir, helper):
        self.bin_dir = bin_dir
        self.streams, self.streams_prefixes, self.rdkafka = known_keys(helper)
        self.own = {}
        self.checked = 0

    def check_env(self, program, env, origin):
        if program not in self.own:
            self.own[program] = own_keys(self.bin_dir, program)
        keys, prefixes = self.own[program]
        if program not in NOT_STREAMS_APPS:
            keys, prefixes = keys | self.streams, prefixes | self.streams_prefixes
        for name, value in env.items():
            if not name.startswith("RUNNEL_CONF_"):
                continue
            self.checked += 1
            key = deploy_files.env_name_to_key(name)
            where = f"{origin}: {name} ({key}) for {program}"
            if key in keys:
                continue
            prefix = next((p for p in prefixes if key.startswith(p)), None)
            if prefix is None:
                failures.append(f"{where}: not a key {program} knows")
                continue
            if prefix in ("consumer.", "producer.", "admin."):
                prop = key[len(prefix):]
                scope = self.rdkafka.get(prop)
                allowed = {"consumer.": ("*", "C"), "producer.": ("*", "P"), "admin.": ("*",)}[prefix]
                check(scope is not None, f"{where}: '{prop}' is not a librdkafka property")
                check(scope is None or scope in allowed,
                      f"{where}: '{prop}' is a librdkafka property of another client kind ({scope})")
            if isinstance(value, str) and value.startswith(PREFIX + "/"):
                self.check_path(value, where)

    def check_path(self, path, where):
        local = os.path.join(os.path.dirname(self.bin_dir), os.path.relpath(path, PREFIX))
        check(os.path.exists(local), f"{where}: {path} is not in the installed tree")

    def check_program(self, program, where):
        path = os.path.join(self.bin_dir, program)
        check(os.access(path, os.X_OK), f"{where}: the program {program} is not installed in {PREFIX}/bin")


def check_compose(root, checker):
    _, compose = deploy_files.load_compose(root)
    for name, service in compose["services"].items():
        if service.get("image") != "runnel:local":
            continue
        program = service["command"][0]
        checker.check_program(program, f"compose {name}")
        env = deploy_files.compose_service_env(root, service)
        checker.check_env(program, env, f"compose {name}")
        for value in env.values():
            if value.startswith(PREFIX + "/"):
                checker.check_path(value, f"compose {name}")


def check_k8s(root, checker):
    secrets = {}
    for path in glob.glob(os.path.join(root, "deploy", "k8s", "secrets", "*.yaml")):
        for doc in deploy_files.load_documents(path):
            secrets[doc["metadata"]["name"]] = doc.get("stringData", {})
    for overlay, path in deploy_files.overlays(root).items():
        docs = deploy_files.render(path)
        for workload in deploy_files.k8s_workloads(docs):
            for container in workload["spec"]["template"]["spec"]["containers"]:
                program = container["command"][0]
                where = f"k8s {overlay} {workload['kind']}/{workload['metadata']['name']}"
                checker.check_program(program, where)
                env, secret_refs = deploy_files.k8s_container_env(docs, container)
                for ref in secret_refs:
                    check(ref in secrets, f"{where}: Secret {ref} has no placeholder in deploy/k8s/secrets")
                    env.update(secrets.get(ref, {}))
                for name, value in list(env.items()):
                    if isinstance(value, tuple):
                        check(value[1] in secrets and value[2] in secrets[value[1]],
                              f"{where}: {name} reads Secret {value[1]} key {value[2]}, which has no placeholder")
                checker.check_env(program, env, where)


def owners(paths):
    """The Debian package that installed each file, by one dpkg -S call (it
    reads every package's file list, so one call per file would take
    minutes). A library is registered under /lib or /usr/lib (merged /usr),
    so both spellings are asked for."""
    candidates = {}
    for path in paths:
        real = os.path.realpath(path)
        candidates[path] = [path, real, "/usr" + path if path.startswith("/lib/") else path]
    asked = sorted({c for cs in candidates.values() for c in cs})
    out = subprocess.run(["dpkg", "-S"] + asked, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        package, _, file = line.partition(": ")
        found[file.strip()] = package.split(":")[0]
    return {path: next((found[c] for c in cs if c in found), None) for path, cs in candidates.items()}


def dependency_closure(packages):
    """The installed packages `packages` depend on (Depends, Pre-Depends), recursively."""
    fields = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Pre-Depends}, ${Depends}\n"],
                            capture_output=True, text=True, check=True).stdout
    depends = {}
    for line in fields.splitlines():
        name, _, deps = line.partition("\t")
        names = []
        for dep in deps.split(","):
            first = dep.split("|")[0].strip()
            if first:
                names.append(re.split(r"[\s(:]", first, maxsplit=1)[0])
        depends[name] = names
    seen, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        todo.extend(depends.get(package, []))
    return seen


def check_dockerfile(root, checker, bin_dir):
    """The runtime stage's packages are the owners of the libraries the
    programs link directly (NEEDED); everything ldd resolves beyond them comes
    with their dependencies or with debian:12-slim (Priority: required)."""
    for program in deploy_files.dockerfile_programs(root):
        checker.check_program(program, "Dockerfile")
    listed = deploy_files.dockerfile_runtime_packages(root)
    needed_paths, loaded_paths = set(), set()
    for program in sorted(os.listdir(bin_dir)):
        path = os.path.join(bin_dir, program)
        resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
            ["ldd", path], capture_output=True, text=True).stdout, re.M))
        needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
            ["objdump", "-p", path], capture_output=True, text=True).stdout)
        for library in needed:
            if library.startswith("ld-linux"):
                continue  # the dynamic loader itself (libc6)
            check(library in resolved, f"ldd: {program} needs {library}, which does not resolve")
            if library in resolved:
                needed_paths.add(resolved[library])
        loaded_paths |= set(resolved.values())
    package_of = owners(needed_paths | loaded_paths)
    direct = {package_of[p] for p in needed_paths}
    loaded = {package_of[p] for p in loaded_paths}
    check(None not in direct | loaded, "ldd: a library the programs load belongs to no Debian package")
    direct.discard(None)
    loaded.discard(None)
    priorities = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\n"], capture_output=True,
                                text=True, check=True).stdout.splitlines()
    in_slim = dependency_closure({line.split()[0] for line in priorities if line.endswith(" required")})
    missing = direct - listed - in_slim
    check(not missing, f"Dockerfile: the programs link libraries of {sorted(missing)}, which the runtime stage "
                       f"does not install")
    needless = listed - direct - NOT_FOR_LIBRARIES
    check(not needless, f"Dockerfile: the runtime stage installs {sorted(needless)}, which no program links")
    uncovered = loaded - dependency_closure(listed) - in_slim
    check(not uncovered, f"Dockerfile: ldd loads libraries of {sorted(uncovered)}, which neither the runtime "
                         f"packages' dependencies nor debian:12-slim bring")
    print(f"Dockerfile: programs link {len(direct)} packages directly ({len(loaded)} with their dependencies); "
          f"the runtime list matches")


def main(root, build_dir, helper):
    with tempfile.TemporaryDirectory() as prefix:
        result = subprocess.run(["cmake", "--install", build_dir, "--prefix", prefix], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"FAIL: cmake --install: {result.stdout}{result.stderr}")
            return 1
        bin_dir = os.path.join(prefix, "bin")
        checker = Checker(bin_dir, helper)
        check_dockerfile(root, checker, bin_dir)
        check_compose(root, checker)
        check_k8s(root, checker)
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print(f"deploy drift: none ({checker.checked} RUNNEL_CONF_* settings checked against "
          f"{', '.join(sorted(checker.own))}, StreamsConfig ({len(checker.streams)} keys) and librdkafka "
          f"({len(checker.rdkafka)} properties))")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
