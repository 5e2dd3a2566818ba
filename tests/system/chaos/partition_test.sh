#!/usr/bin/env bash
# A network partition: the windowed exactly-once count
# (runnel-keyed-count run-windowed) runs as --instances instances; instance
# 1 runs in a network namespace the test makes (ip netns, a veth pair) and
# reaches the broker only through it. Midway, the veth pair is cut (its root
# end set down: packets vanish, no reset) for --cut-s seconds, longer than
# the session timeout (10 s) and the transaction timeout (10 s): the group
# moves instance 1's tasks to the others, and the broker aborts its open
# transaction. Then the link is healed. Instance 1 must be fenced (its
# transaction fails, or its partitions are lost), never commit as a zombie,
# rejoin and get tasks again, and stay alive; the read_committed output
# must equal the oracle recomputed from the seed (runnel-chaos verify: 0
# missing, 0 wrong, 0 duplicate windows).
#
#   partition_test.sh --bin runnel-keyed-count --chaos runnel-chaos
#     [--bootstrap host:port,...] [--records 120000] [--rate 3000]
#     [--keys 2000] [--partitions 6] [--instances 2] [--cut-after-s 12]
#     [--cut-s 18] [--seed $RANDOM]
#
# Traffic goes only to loopback and to the veth pair's addresses:
# tcp_relay.py relays the broker's ports from 127.0.0.1 inside the
# namespace to the root end of the pair, and from there to 127.0.0.1 where
# the broker listens, so the instance uses the very addresses the broker
# advertises. The namespace, the pair and the relays are removed on every
# exit (trap). Needs root (ip netns add). Without --bootstrap: the CTest
# fixture's broker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin="" chaos="" bootstrap="" records=120000 rate=3000 keys=2000 partitions=6 instances=2 cut_after=12
cut_s=18 seed=$RANDOM
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2 ;; --chaos) chaos=$2 ;; --bootstrap) bootstrap=$2 ;; --records) records=$2 ;;
    --rate) rate=$2 ;; --keys) keys=$2 ;; --partitions) partitions=$2 ;; --instances) instances=$2 ;;
    --cut-after-s) cut_after=$2 ;; --cut-s) cut_s=$2 ;; --seed) seed=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$chaos" ] || { echo "--chaos is required" >&2; exit 2; }
source "$here/../lib.sh"
system_test_init

# One /30 of 10.213.0.0/16 per run, from the pid: concurrent runs differ.
net=$(( $$ % 16384 ))
root_ip="10.213.$(( net / 64 )).$(( net % 64 * 4 + 1 ))"
ns_ip="10.213.$(( net / 64 )).$(( net % 64 * 4 + 2 ))"
ns="runnel-part-$$" veth_root="rnlr$$" veth_ns="rnln$$"
relays=()
partition_cleanup() {
  for p in "${relays[@]}"; do kill "$p" 2>/dev/null || true; done
  ip link del "$veth_root" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  system_test_cleanup
}
trap partition_cleanup EXIT
ip netns add "$ns"
ip link add "$veth_root" type veth peer name "$veth_ns"
ip link set "$veth_ns" netns "$ns"
ip addr add "$root_ip/30" dev "$veth_root"
ip link set "$veth_root" up
ip netns exec "$ns" ip addr add "$ns_ip/30" dev "$veth_ns"
ip netns exec "$ns" ip link set "$veth_ns" up
ip netns exec "$ns" ip link set lo up

ports=$(tr ',' '\n' <<<"$bootstrap" | sed 's/.*://' | paste -sd,)
# start_relay NAME [ip netns exec NS] ARGS...: a relay, waited for until it
# listens.
start_relay() {
  local name=$1
  shift
  "$@" >"$work/relay-$name.log" 2>&1 &
  relays+=($!)
  for _ in $(seq 1 100); do
    grep -q ready "$work/relay-$name.log" && return 0
    sleep 0.1
  done
  echo "FAIL: relay $name did not start" >&2
  cat "$work/relay-$name.log" >&2
  exit 1
}
start_relay root python3 "$here/tcp_relay.py" --listen "$root_ip" --connect 127.0.0.1 --ports "$ports"
start_relay ns ip netns exec "$ns" python3 "$here/tcp_relay.py" --listen 127.0.0.1 --connect "$root_ip" \
  --ports "$ports"

RANDOM=$seed
suffix="$$-$RANDOM"
in="part-in-$suffix" out="part-out-$suffix" appid="part-$suffix"
span_ms=3600000
base_ms=$(( ($(now_ms) - span_ms) / 60000 * 60000 ))
spec=(--count "$records" --keys "$keys" --seed "$seed" --base-ms "$base_ms" --span-ms "$span_ms")
"$bin" topics --bootstrap "$bootstrap" --create "$in,$out" --partitions "$partitions"

app_flags() {
  echo --set num.stream.threads=1 --set processing.guarantee=exactly_once_v2 --set commit.interval.ms=500 \
    --set statestore.cache.max.bytes=0 --set consumer.group.instance.id="$appid-$1" \
    --set consumer.session.timeout.ms=10000 --set consumer.heartbeat.interval.ms=1000
}
# Instance 1 inside the namespace (ip netns exec execs the app: the pid is
# the app's); the others as usual.
ip netns exec "$ns" "$bin" run-windowed --set bootstrap.servers="$bootstrap" --set application.id="$appid" \
  --set state.dir="$work/state-1" $(app_flags 1) --input "$in" --output "$out" --log-level info \
  >>"$work/instance-1.log" 2>&1 &
pids[1]=$!
run_mode=run-windowed
for i in $(seq 2 "$instances"); do
  # shellcheck disable=SC2046
  start_instance "$i" "$appid" "$in" "$out" $(app_flags "$i")
done
log "$instances instances (instance 1 in namespace $ns at $ns_ip); producing $records records at $rate/s"
"$chaos" produce --bootstrap "$bootstrap" --topic "$in" --rate "$rate" "${spec[@]}" >"$work/producer.log" 2>&1 &
producer=$!

sleep "$cut_after"
for i in $(seq 1 "$instances"); do
  kill -0 "${pids[$i]}" 2>/dev/null || { echo "FAIL: instance $i died before the cut" >&2; show_log "$i" 30; exit 1; }
done
grep -q "sticky assignment" "$work/instance-1.log" ||
  { echo "FAIL: instance 1 had no tasks before the cut" >&2; show_log 1 30; exit 1; }
mark=$(wc -l <"$work/instance-1.log")
declare -a others_mark
for i in $(seq 2 "$instances"); do others_mark[$i]=$(wc -l <"$work/instance-$i.log"); done
log "cut: $veth_root down for ${cut_s}s"
ip link set "$veth_root" down
sleep "$cut_s"
ip link set "$veth_root" up
log "healed"
heal_mark=$(wc -l <"$work/instance-1.log")

if ! wait "$producer"; then
  producer=""
  echo "FAIL: the producer failed" >&2
  cat "$work/producer.log" >&2
  exit 1
fi
producer=""
log "input complete; verifying the read_committed output"
set +e
result=$("$chaos" verify --bootstrap "$bootstrap" --input "$in" --output "$out" "${spec[@]}" --timeout-s 300 \
  --quiet-s 30 2>"$work/verify.log")
verified=$?
set -e
echo "partition: instance 1 cut off for ${cut_s}s: $result"
status=0
after_cut=$(tail -n +"$(( mark + 1 ))" "$work/instance-1.log")
if ! grep -Eq "transaction failed|partitions lost|not a member of the stable group" <<<"$after_cut"; then
  echo "FAIL: instance 1 was not fenced after the cut (no failed transaction, no lost partitions)" >&2
  status=1
fi
if ! tail -n +"$(( heal_mark + 1 ))" "$work/instance-1.log" | grep -q "sticky assignment"; then
  echo "FAIL: instance 1 did not rejoin the group after the heal" >&2
  status=1
fi
# The others took instance 1's tasks while it was cut off: a group of one
# member fewer.
taken=""
for i in $(seq 2 "$instances"); do
  if tail -n +"$(( others_mark[i] + 1 ))" "$work/instance-$i.log" |
    grep -q "sticky assignment over $(( instances - 1 )) members"; then taken=1; fi
done
if [ -z "$taken" ]; then
  echo "FAIL: no other instance took over instance 1's tasks during the cut" >&2
  status=1
fi
log "instance 1 after the cut: $(grep -Ec "transaction failed" <<<"$after_cut") failed transaction(s)," \
  "$(grep -c "partitions lost" <<<"$after_cut") loss(es) of partitions," \
  "$(grep -c "sticky assignment" <<<"$after_cut") assignment(s)"
for i in $(seq 1 "$instances"); do
  kill -0 "${pids[$i]}" 2>/dev/null || { echo "FAIL: instance $i died" >&2; show_log "$i" 30; exit 1; }
done
stop_instances "$instances"
if [ "$verified" != 0 ]; then
  cat "$work/verify.log" >&2
  echo "FAIL: the output is not exactly the oracle" >&2
  status=1
fi
if [ "$status" != 0 ]; then
  for i in $(seq 1 "$instances"); do show_log "$i" 20; done
fi
exit "$status"
