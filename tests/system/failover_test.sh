#!/usr/bin/env bash
# Failover with and without standby replicas: a keyed count with a large
# store runs as 2 instances (dynamic membership); once its output is
# complete, one instance is killed with SIGKILL. The survivor takes its
# tasks over after the session timeout. Then a second batch of input is
# produced and the time from the kill until the output is exact again is
# measured, with what the survivor restored for the moved tasks.
#
#   failover_test.sh --bin runnel-keyed-count [--bootstrap host:port]
#     [--standbys 1] [--guarantee exactly_once_v2] [--records 1000000]
#     [--keys 500000] [--partitions 4]
set -euo pipefail
bin="" bootstrap="" standbys=1 guarantee=exactly_once_v2 records=1000000 keys=500000 partitions=4
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2 ;; --bootstrap) bootstrap=$2 ;; --standbys) standbys=$2 ;; --guarantee) guarantee=$2 ;;
    --records) records=$2 ;; --keys) keys=$2 ;; --partitions) partitions=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
source "$(dirname "$0")/lib.sh"
system_test_init
suffix="$$-$RANDOM"
in="fo-in-$suffix" out="fo-out-$suffix" appid="fo-$suffix"

"$bin" topics --bootstrap "$bootstrap" --create "$in,$out" --partitions "$partitions"
start() {
  start_instance "$1" "$appid" "$in" "$out" --set processing.guarantee="$guarantee" \
    --set num.standby.replicas="$standbys" --set commit.interval.ms=500 \
    --set consumer.session.timeout.ms=6000 --set consumer.heartbeat.interval.ms=1000
}
start 1
start 2
"$bin" produce --bootstrap "$bootstrap" --topic "$in" --count "$records" --keys "$keys" --seed 1
verify_output "$in" 30
if [ "$verified" != 0 ]; then
  echo "FAIL: output not exact before the kill: $result" >&2
  exit 1
fi
# Let the standbys catch up with the last commits.
sleep 5
standby_records=$(cat "$work"/instance-*.log | grep -c "standby of task .* opened" || true)
# Kill the instance that is not the group's first member: either works.
victim=2
mark=$(wc -l <"$work/instance-1.log")
log "output complete ($records records, $keys keys, standbys=$standbys: $standby_records standby tasks opened); kill -9 instance $victim"
t0=$(now_ms)
kill -9 "${pids[$victim]}"
unset "pids[$victim]"
"$bin" produce --bootstrap "$bootstrap" --topic "$in" --count 20000 --keys "$keys" --seed 2
verify_output "$in" 60
if [ "$verified" != 0 ]; then
  echo "FAIL: output not exact after the failover: $result" >&2
  exit 1
fi
t1=$(now_ms)
read -r _ _ replayed _ stores secs < <(tail -n +"$((mark + 1))" "$work/instance-1.log" | restore_stats)
printf "failover standbys=%d: kill -9 to exact output again %.1f s; the survivor restored %d stores, %d records in %s s of restore\n" \
  "$standbys" "$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')" "$stores" "$replayed" "$secs"
# A standby holds all but the last moments of its task: the handover may
# replay a commit interval or two, never the store.
if [ "$standbys" -gt 0 ] && [ "$replayed" -gt $(( keys / 10 )) ]; then
  echo "FAIL: with a standby the survivor still replayed $replayed records" >&2
  exit 1
fi
