#!/usr/bin/env bash
# Scaling while running: a keyed count over two co-partitioned input topics
# (one sub-topology reads both) starts as 1 instance, grows to 3, shrinks
# back to 1 (SIGTERM, a clean leave), while input is produced. Partitions
# move between instances through consumer-group rebalances; their stores
# follow through the changelogs. The read_committed output must end with
# the oracle's count for every key and never repeat a count (verify).
# Wrong co-partitioning (partition p of the two topics on different
# instances) would split a key's counting between two stores and fail it.
#
#   scale_test.sh --bin runnel-keyed-count [--bootstrap host:port]
#     [--guarantee exactly_once_v2] [--records 300000] [--rate 30000]
#     [--threads 2] [--partitions 6] [--assignor sticky|range]
set -euo pipefail
bin="" bootstrap="" guarantee=exactly_once_v2 records=300000 rate=30000 threads=2 partitions=6 assignor=sticky
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2 ;; --bootstrap) bootstrap=$2 ;; --guarantee) guarantee=$2 ;;
    --records) records=$2 ;; --rate) rate=$2 ;; --threads) threads=$2 ;; --partitions) partitions=$2 ;; --assignor) assignor=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
source "$(dirname "$0")/lib.sh"
system_test_init
suffix="$$-$RANDOM"
in1="sc-a-$suffix" in2="sc-b-$suffix" out="sc-out-$suffix" appid="sc-$suffix"

"$bin" topics --bootstrap "$bootstrap" --create "$in1,$in2,$out" --partitions "$partitions"
start() {
  start_instance "$1" "$appid" "$in1,$in2" "$out" --set num.stream.threads="$threads" \
    --set processing.guarantee="$guarantee" --set commit.interval.ms=500 --set statestore.cache.max.bytes=0 \
    --set task.assignor="$assignor"
}
# SIGTERM: a clean leave (final commit, group left) within
# commit.interval.ms + 5 s.
stop() {
  local i=$1 t0
  t0=$(now_ms)
  kill -TERM "${pids[$i]}"
  if ! wait "${pids[$i]}"; then
    echo "FAIL: instance $i did not stop cleanly" >&2
    show_log "$i" 30
    exit 1
  fi
  local took=$(( $(now_ms) - t0 ))
  log "instance $i stopped cleanly in ${took} ms"
  if [ "$took" -gt 5500 ]; then
    echo "FAIL: instance $i took ${took} ms to shut down (limit: commit.interval.ms 500 + 5000)" >&2
    exit 1
  fi
  unset "pids[$i]"
}
span=$(( records / rate ))
start 1
log "1 instance; producing $records records at $rate/s over $in1 and $in2"
"$bin" produce --bootstrap "$bootstrap" --topic "$in1,$in2" --count "$records" --keys 10000 --rate "$rate" &
producer=$!
sleep $(( span / 4 + 1 ))
log "scale out to 3"
start 2
start 3
sleep $(( span / 3 + 1 ))
log "scale in to 1"
stop 3
stop 2
wait "$producer"
producer=""
log "input complete; verifying"
verify_output "$in1,$in2" 20
echo "scale 1->3->1 $guarantee: $result"
# What the moves cost: changelog records restored by tasks that changed
# hands, and how many restores started from scratch.
read -r restores fresh replayed _ _ _ < <(cat "$work"/instance-*.log | restore_stats)
echo "task.assignor=$assignor: $restores restores ($fresh from scratch), $replayed changelog records replayed" >&2
stop 1
if [ "$verified" != 0 ]; then
  echo "FAIL: the output is not exactly the oracle" >&2
  for i in 1 2 3; do show_log "$i" 15; done
  exit 1
fi
