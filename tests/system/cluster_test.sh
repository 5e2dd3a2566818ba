#!/usr/bin/env bash
# Exactly-once on a three-broker cluster through the loss of a broker: the
# windowed count of runnel-keyed-count (1-minute tumbling windows,
# emit-final, exactly_once_v2) runs as several instances while input is
# produced (idempotent, acks=all) into a topic with 3 replicas, min ISR 2
# and snappy compression, whose every partition is led by one broker. The
# application's own topics take the defaults: replication.factor = min(3,
# brokers) = 3, min.insync.replicas 2. During the run that broker is killed
# with SIGKILL (with it go the leadership of every input partition and of
# whatever internal, transaction-state and offsets partitions it led); it is
# started again on its data after --down-s seconds. At the end every closed
# window must be in the read_committed output exactly once with the
# oracle's count (verify-windowed: 0 missing, 0 wrong, 0 repeated), and
# every instance must have lived through it and stop cleanly.
#
#   cluster_test.sh --bin runnel-keyed-count [--kafka-local K] [--dir D]
#     [--records 100000] [--rate 4000] [--keys 2000] [--partitions 6]
#     [--instances 2] [--threads 1] [--kill-after-s 8] [--down-s 12]
#     [--seed $RANDOM]
#
# D is a kafka-local dir holding a running 3-broker cluster (default: the
# CTest fixture kafka3's, $RUNNEL_KAFKA3_DIR). It prints what it measured:
# how long the input partitions had no leader, how long the broker took to
# start again and to be back in every input partition's ISR.
#
# The short run is the CTest test system_cluster_eos_broker_kill; the long
# run (docs/cluster.md) is
#   tools/kafka-local/kafka-local start --brokers 3 --dir /tmp/k3
#   tests/system/cluster_test.sh --bin build/tests/system/runnel-keyed-count \
#     --dir /tmp/k3 --records 1000000 --rate 10000 --kill-after-s 30 --down-s 40
set -euo pipefail
bin="" kafka_local=${RUNNEL_KAFKA_LOCAL:-} dir=${RUNNEL_KAFKA3_DIR:-} records=100000 rate=4000 keys=2000
partitions=6 instances=2 threads=1 kill_after=8 down=12 seed=$RANDOM
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2 ;; --kafka-local) kafka_local=$2 ;; --dir) dir=$2 ;; --records) records=$2 ;;
    --rate) rate=$2 ;; --keys) keys=$2 ;; --partitions) partitions=$2 ;; --instances) instances=$2 ;;
    --threads) threads=$2 ;; --kill-after-s) kill_after=$2 ;; --down-s) down=$2 ;; --seed) seed=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$kafka_local" ] || kafka_local="$(cd "$(dirname "$0")/../.." && pwd)/tools/kafka-local/kafka-local"
[ -n "$dir" ] || { echo "--dir (a kafka-local dir with 3 brokers) is required" >&2; exit 2; }
bootstrap=$("$kafka_local" bootstrap --dir "$dir")
source "$(dirname "$0")/lib.sh"
system_test_init
kl() { "$kafka_local" "$@" --dir "$dir" 2>>"$work/kafka-local.log"; }
# input_led_without N: every input partition has a leader, none of them N.
input_led_without() {
  local out
  out=$(kl describe-topic "$in") || return 1
  [ "$(grep -c '^partition' <<<"$out")" = "$partitions" ] &&
    awk -v v="$1" '$4 == v || $4 == -1 { bad = 1 } END { exit bad }' <<<"$out"
}
# input_isr_with N: broker N is in every input partition's ISR.
input_isr_with() {
  local out
  out=$(kl describe-topic "$in") || return 1
  [ "$(grep -c '^partition' <<<"$out")" = "$partitions" ] &&
    awk -v v="$1" '$8 !~ ("(^|,)" v "(,|$)") { bad = 1 } END { exit bad }' <<<"$out"
}
# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )) what=$2
  shift 2
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: no $what in time" >&2; exit 1; }
    sleep 0.3
  done
}
victim=""
cluster_cleanup() {
  # A failed run must not leave the fixture's cluster a broker short.
  [ -n "$victim" ] && kl start-node "$victim" >/dev/null || true
  system_test_cleanup
}
trap cluster_cleanup EXIT

RANDOM=$seed
suffix="$$-$RANDOM"
in="cl-in-$suffix" out="cl-out-$suffix" appid="cl-$suffix"
leader=$(( seed % 3 ))
# Every input partition led by broker $leader (the first replica of each
# assignment is the preferred leader); the other two follow.
assignment=""
for p in $(seq 0 $(( partitions - 1 ))); do
  a=$(( (leader + 1 + p % 2) % 3 )) b=$(( (leader + 2 - p % 2) % 3 ))
  assignment="$assignment${assignment:+,}$leader:$a:$b"
done
"$kafka_local" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create --topic "$in" \
  --replica-assignment "$assignment" --config min.insync.replicas=2 --config compression.type=snappy \
  >>"$work/kafka-local.log" 2>&1
# The output: the brokers' default replication (3) and min ISR (2).
"$bin" topics --bootstrap "$bootstrap" --create "$out" --partitions "$partitions"
led_by_leader() { [ "$(kl describe-topic "$in" | awk '{print $4}' | sort -u)" = "$leader" ]; }
wait_for 60 "leadership of the input by broker $leader" led_by_leader
log "input $in: $partitions partitions, all led by broker $leader: $(kl describe-topic "$in" | tr '\n' ';')"

start() {
  start_instance "$1" "$appid" "$in" "$out" --set num.stream.threads="$threads" \
    --set processing.guarantee=exactly_once_v2 --set commit.interval.ms=500 \
    --set statestore.cache.max.bytes=0 --set consumer.group.instance.id="$appid-$1" \
    --set consumer.session.timeout.ms=20000 --set consumer.heartbeat.interval.ms=1000
}
run_mode=run-windowed
for i in $(seq 1 "$instances"); do start "$i"; done
log "$instances instances x $threads threads (exactly_once_v2, windowed); producing $records records at $rate/s"
"$bin" produce --bootstrap "$bootstrap" --topic "$in" --count "$records" --keys "$keys" --rate "$rate" \
  --seed "$seed" --event-span-ms 3600000 >"$work/producer.log" 2>&1 &
producer=$!

sleep "$kill_after"
for i in $(seq 1 "$instances"); do
  kill -0 "${pids[$i]}" 2>/dev/null || { echo "FAIL: instance $i died before the kill" >&2; show_log "$i" 30; exit 1; }
done
group_coordinator=$(kl coordinator --group "$appid" || echo "?")
changelogs_led=$( (kl describe-topic "$appid-window-counts-changelog" || true) | awk -v l="$leader" '$4 == l' | wc -l)
victim=$leader
kill_ms=$(now_ms)
log "kill -9 broker $victim (leader of every input partition, of $changelogs_led of the $partitions changelog partitions; group coordinator: broker $group_coordinator)"
kl kill --node "$victim"
# How long the input partitions go without a live leader: the controller
# fences the dead broker after its session timeout, then elects.
wait_for 180 "new leaders for the input" input_led_without "$victim"
elected_ms=$(( $(now_ms) - kill_ms ))
log "new leaders for every input partition $(( elected_ms / 1000 )).$(( elected_ms % 1000 / 100 )) s after the kill"
remaining=$(( down * 1000 - ($(now_ms) - kill_ms) ))
[ "$remaining" -gt 0 ] && sleep "$(( remaining / 1000 )).$(( remaining % 1000 / 100 ))"
restart_begin=$(now_ms)
kl start-node "$victim" >/dev/null
victim=""
restart_ms=$(( $(now_ms) - restart_begin ))
wait_for 180 "broker $leader back in the input's ISR" input_isr_with "$leader"
isr_ms=$(( $(now_ms) - restart_begin ))
log "broker $leader back: ready in $(( restart_ms / 1000 )).$(( restart_ms % 1000 / 100 )) s, in every input ISR after $(( isr_ms / 1000 )).$(( isr_ms % 1000 / 100 )) s"

if ! wait "$producer"; then
  producer=""
  echo "FAIL: the producer failed" >&2
  cat "$work/producer.log" >&2
  exit 1
fi
producer=""
log "input complete; verifying the read_committed output"
verify_mode=verify-windowed
verify_output "$in" 30
echo "cluster: brokers 3, input RF 3 min ISR 2 snappy, $instances instances x $threads threads, broker $leader" \
  "killed ${kill_after}s in for ${down}s: leaders elected in ${elected_ms} ms, restart ${restart_ms} ms," \
  "back in ISR ${isr_ms} ms: $result"
for i in $(seq 1 "$instances"); do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "FAIL: instance $i died during the run" >&2
    show_log "$i" 30
    exit 1
  fi
done
stop_instances "$instances"
if [ "$verified" != 0 ]; then
  echo "FAIL: the output is not exactly the oracle" >&2
  for i in $(seq 1 "$instances"); do show_log "$i" 15; done
  exit 1
fi
exit 0
