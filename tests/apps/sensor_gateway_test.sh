#!/usr/bin/env bash
# The sensor-gateway app, as an operator runs it, on the fixture's broker:
#   - a bad config key or value stops it with exit code 2 naming the key;
#   - configured by file, RUNNEL_CONF_* and --set, it creates its topic, says
#     where it listens, answers /healthz and /readyz, turns a POST into a
#     record (key, value) and refuses a bad one with 400 naming the field;
#   - SIGTERM is a clean exit 0 that reports what was accepted.
set -euo pipefail
app=$1 rk=$2
bootstrap=$(cat "$RUNNEL_KAFKA_DIR/bootstrap")
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
topic="gw-app-$$-$RANDOM"

expect_refused() {  # key=value, the name the message must contain
  set +e
  "$app" --set bootstrap.servers="$bootstrap" --set "$1" 2>"$work/err" >/dev/null
  local rc=$?
  set -e
  [ "$rc" = 2 ] || fail "--set $1: exit code $rc, expected 2"
  grep -q -- "$2" "$work/err" || fail "--set $1: error does not name $2: $(cat "$work/err")"
}
expect_refused no.such.key=1 "no.such.key"
expect_refused listen.port=99999 "listen.port"
expect_refused producer.acks=1 "producer.acks"
expect_refused batch.max.readings=zero "batch.max.readings"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/gateway.properties" <<PROPS
topic=will-be-overridden
listen.address=127.0.0.1
listen.port=$port
PROPS
RUNNEL_CONF_TOPIC="$topic" "$app" --config "$work/gateway.properties" --set bootstrap.servers="$bootstrap" \
  --log-level warn >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || fail "gateway exited: $(cat "$work/stderr")"
  sleep 0.1
done
grep -q "listening on http://127.0.0.1:$port, topic '$topic'" "$work/stdout" || fail "start line: $(cat "$work/stdout")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] || fail "/readyz not 200"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
code=$(curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"sensor_id\":\"sensor01\",\"timestamp\":\"$now\",\"type\":\"temperature\",\"value\":25.3,\"unit\":\"C\",\"location\":\"lab\"}" \
  "http://127.0.0.1:$port/sensor")
[ "$code" = 202 ] || fail "POST /sensor: $code $(cat "$work/body")"
code=$(curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"sensor_id\":\"sensor01\",\"timestamp\":\"$now\",\"type\":\"temperature\",\"value\":\"hot\",\"unit\":\"C\",\"location\":\"lab\"}" \
  "http://127.0.0.1:$port/sensor")
[ "$code" = 400 ] || fail "bad POST: $code"
grep -q '"field":"value"' "$work/body" || fail "400 does not name the field: $(cat "$work/body")"

line=$("$rk" consume --bootstrap "$bootstrap" --topic "$topic" --max 1 --timeout-ms 30000)
case "$line" in
  *$'\t'sensor01$'\t''{"sensor_id":"sensor01","timestamp":"'*'","type":"temperature","value":25.3,"unit":"C","location":"lab"}') ;;
  *) fail "record: $line" ;;
esac
[ "$("$rk" count --bootstrap "$bootstrap" --topic "$topic")" = 1 ] || fail "the refused reading was written"

kill -TERM $pid
wait $pid || fail "exit code $? after SIGTERM: $(cat "$work/stderr")"
pid=""
grep -q "accepted 1 requests, 1 readings" "$work/stdout" || fail "exit report: $(cat "$work/stdout")"
echo "sensor-gateway app test: OK"
