# The pieces tools/demo and tools/demo-clickstream share; sourced, not run.
# Needs: root (the repository), set -euo pipefail in the caller.
#
#   demo_init NAME          cache, logs and pid file of the demo NAME
#   demo_stop_previous      stop what an earlier run of this demo started (by pid)
#   demo_build TARGET...    tools/setup, then build TARGETs in tools/test's Release tree
#   demo_started PID        remember a process this run started
#   demo_stop_started       SIGTERM every remembered process and wait for it
#   demo_wait_http URL WHAT wait until URL answers (60 s), else fail naming WHAT

demo_init() {
  cache="${RUNNEL_CACHE:-$HOME/.cache/runnel}"
  pid_file="$cache/$1.pids"
  logs="$cache/$1-logs"
  mkdir -p "$cache" "$logs"
  pids=()
}

demo_stop_previous() {
  [ -f "$pid_file" ] || return 0
  while read -r pid; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done <"$pid_file"
  while read -r pid; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done <"$pid_file"
  rm -f "$pid_file"
}

# The demos build into tools/test's Release tree, configured the same way, so
# that running the README's commands compiles the project once.
# RUNNEL_DEMO_BUILD: an existing build directory to use instead (kept as configured).
demo_build() {
  "$root/tools/setup"
  build="${RUNNEL_DEMO_BUILD:-$root/build-release}"
  [ -f "$build/CMakeCache.txt" ] ||
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNNEL_WERROR=ON >/dev/null
  cmake --build "$build" --target "$@"
}

demo_started() {
  pids+=("$1")
  echo "$1" >>"$pid_file"
}

demo_stop_started() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$pid_file"
}

demo_wait_http() {
  for _ in $(seq 1 300); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "demo: $2 did not come up; see $logs" >&2
  exit 1
}
