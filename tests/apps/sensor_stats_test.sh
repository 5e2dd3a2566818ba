#!/usr/bin/env bash
# The sensor-stats app, as an operator runs it, on the fixture's broker:
#   - a bad config key stops it with exit code 2 naming the key;
#   - it prints its topology, aggregates readings (malformed ones to the
#     dead-letter topic), and a SIGTERM is a clean exit 0;
#   - restarted, it continues from its stored state: the per-sensor counts
#     add up to every valid reading ever produced.
set -euo pipefail
app=$1 rk=$2
bootstrap=$(cat "$RUNNEL_KAFKA_DIR/bootstrap")
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
pid=""
suffix="$$-$RANDOM"
in="readings-$suffix" out="stats-$suffix" appid="sensor-stats-$suffix"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. A bad key is refused at start-up, by name.
set +e
"$app" --set bootstrap.servers="$bootstrap" --set application.id=x --set no.such.key=1 2>"$work/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad config exit code $rc, expected 2"
grep -q "no.such.key" "$work/err" || fail "error does not name the key: $(cat "$work/err")"

"$rk" create-topic --bootstrap "$bootstrap" --topic "$in" --partitions 4 >/dev/null
"$rk" create-topic --bootstrap "$bootstrap" --topic "$out" --partitions 4 >/dev/null
run() {
  "$app" --set bootstrap.servers="$bootstrap" --set application.id="$appid" --set num.stream.threads=2 \
    --set commit.interval.ms=300 --set state.dir="$work/state" \
    --set default.deserialization.exception.handler=dead_letter \
    --set errors.dead.letter.queue.topic.name="$appid-dlq" --input "$in" --output "$out" \
    --log-level warn >"$work/stdout" 2>"$work/stderr" &
  pid=$!
}
# Sum over sensors of the latest "count" in the output topic.
total() {
  local n
  n=$("$rk" count --bootstrap "$bootstrap" --topic "$out")
  [ "$n" -gt 0 ] || { echo 0; return; }
  "$rk" consume --bootstrap "$bootstrap" --topic "$out" --max "$n" --timeout-ms 30000 |
    python3 -c '
import json, sys
last = {}
for line in sys.stdin:
    p, o, k, v = line.rstrip("\n").split("\t", 3)
    last[k] = json.loads(v)["count"]
print(int(sum(last.values())))'
}
wait_total() {
  for _ in $(seq 1 120); do
    [ "$(total)" = "$1" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "app exited early: $(cat "$work/stderr")"
    sleep 0.5
  done
  fail "total count $(total), expected $1"
}
stop() {
  kill -TERM "$pid"
  wait "$pid" || fail "exit code $? after SIGTERM: $(cat "$work/stderr")"
  pid=""
}

# 2. 5000 readings, every 500th malformed.
"$rk" produce-sensors --bootstrap "$bootstrap" --topic "$in" --count 5000 --bad-every 500 >/dev/null
run
wait_total 4990
grep -q "Processor: stats-per-sensor (stores: \[sensor-stats\])" "$work/stdout" || fail "topology not printed"
stop
dlq=$("$rk" count --bootstrap "$bootstrap" --topic "$appid-dlq")
[ "$dlq" = 10 ] || fail "dead-letter topic has $dlq records, expected 10"

# 3. Restart: the state carries on.
"$rk" produce-sensors --bootstrap "$bootstrap" --topic "$in" --count 1000 --seed 2 >/dev/null
run
wait_total 5990
stop
echo "sensor-stats app test: ok"
