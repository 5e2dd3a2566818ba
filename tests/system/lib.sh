# Shared by the system test scripts (sourced once their flags are parsed):
# the work directory and its cleanup, logging, and running
# runnel-keyed-count instances as background processes.
#
# Needs $bin (runnel-keyed-count) and $bootstrap (empty: the CTest fixture's
# broker). KEEP_WORK=1 keeps the instances' logs and state for a look.

declare -a pids
producer="" querier=""

system_test_init() {
  [ -n "$bin" ] || { echo "--bin is required" >&2; exit 2; }
  [ -n "$bootstrap" ] || bootstrap=$(cat "$RUNNEL_KAFKA_DIR/bootstrap")
  work=$(mktemp -d)
  trap system_test_cleanup EXIT
}

system_test_cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "$producer" ] && kill "$producer" 2>/dev/null || true
  [ -n "$querier" ] && kill "$querier" 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}

log() { echo "[$(date +%T)] $*" >&2; }
now_ms() { date +%s%3N; }

# start_instance I APP_ID INPUT OUTPUT [--set key=value ...]: instance I,
# with its own state directory and log file; its pid goes to pids[I].
start_instance() {
  local i=$1 appid=$2 input=$3 output=$4
  shift 4
  "$bin" "${run_mode:-run}" --set bootstrap.servers="$bootstrap" --set application.id="$appid" \
    --set state.dir="$work/state-$i" "$@" --input "$input" --output "$output" --log-level info \
    >>"$work/instance-$i.log" 2>&1 &
  pids[$i]=$!
}

# The last lines of instance I's log, for a failure message.
show_log() { echo "--- instance $1" >&2; grep -v "^\s*$" "$work/instance-$1.log" | tail -"${2:-20}" >&2; }

# stop_instances N: SIGTERM to instances 1..N; each must exit cleanly
# (exit 0), or the test fails showing its log. Empties pids.
stop_instances() {
  local i
  for i in $(seq 1 "$1"); do
    kill -TERM "${pids[$i]}"
    if ! wait "${pids[$i]}"; then
      echo "FAIL: instance $i did not exit cleanly on SIGTERM" >&2
      show_log "$i" 30
      exit 1
    fi
  done
  pids=()
}

# verify_output INPUTS QUIET_SECONDS [VERIFY FLAGS...]: checks the
# read_committed output topic $out against the oracle (runnel-keyed-count
# verify, e.g. with --at-least-once 1); sets $result (its JSON line) and
# $verified (0: the check passed).
verify_output() {
  set +e
  result=$("$bin" "${verify_mode:-verify}" --bootstrap "$bootstrap" --input "$1" --output "$out" --timeout-s 300 \
    --quiet-s "$2" "${@:3}")
  verified=$?
  set -e
}

# Restore work in the instance logs on stdin. Prints one line:
#   <restores begun> <begun from scratch> <records replayed> <changelog ends
#   (what restores from scratch would replay)> <restores done> <restore seconds>
restore_stats() {
  awk '
    /restoring store .* offsets [0-9]+\.\.[0-9]+/ { split($NF, r, "\\.\\."); n++; full += r[2]; if (r[1] == 0) fresh++ }
    /restored store .*: [0-9]+ records/ {
      for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^records/) replayed += $i; if ($(i + 1) == "s") secs += $i }
      done++ }
    END { printf "%d %d %d %d %d %.2f\n", n, fresh, replayed, full, done, secs }'
}
