#!/usr/bin/env bash
# Exactly-once under kill -9: a keyed count (runnel-keyed-count) runs as
# several instances while input is produced; one instance at a time is
# killed with SIGKILL at random moments and restarted on its own state
# directory (static membership, so it takes its partitions back). At the
# end the read_committed output must hold, for every key, the oracle's count
# as its last value, and no count twice (verify). Under --guarantee
# at_least_once, duplicates are allowed and reported (repeated_outputs,
# overcounted) but loss is not: every key's last count must reach the
# oracle's (verify --at-least-once 1).
#
#   kill_test.sh --bin runnel-keyed-count [--bootstrap host:port]
#     [--guarantee exactly_once_v2] [--records 300000] [--rate 30000]
#     [--keys 10000] [--partitions 6] [--instances 3] [--threads 2]
#     [--kills 3] [--commit-ms 500] [--cache-bytes 0] [--seed $RANDOM]
#     [--zombie 1] [--windowed 1] [--query 1]
#
# --windowed 1 runs the windowed count instead (1-minute tumbling windows,
# emit-final, run-windowed): the input's timestamps span an hour of event
# time, and every closed window must be in the output exactly once with the
# oracle's count (verify-windowed); exactly_once_v2 only.
# --query 1 has every instance serve interactive queries (application.server)
# and queries the counts store through all of them during the kills
# (runnel-keyed-count query-check): no answer may be wrong (below an
# earlier answer for its key, above its final count), only UNAVAILABLE or
# a missed deadline; afterwards every key must be answered with its count.
# --zombie 1 freezes the chosen instance (SIGSTOP) past its session timeout
# instead of killing it, then thaws it (SIGCONT): the group has moved its
# partitions meanwhile, so it wakes up a zombie whose transaction must be
# fenced, never committed, before it rejoins.
#
# The record cache is off by default: every update is sent at once, so a
# kill between commits leaves the most uncommitted output behind.
#
# Short runs are CTest tests (tests/system/CMakeLists.txt); the long run of
# the exactly-once issue is
#   kill_test.sh --bin build/tests/system/runnel-keyed-count \
#     --bootstrap <broker> --records 2000000 --rate 50000 --kills 5
set -euo pipefail
bin="" bootstrap="" guarantee=exactly_once_v2 records=300000 rate=30000 keys=10000
partitions=6 instances=3 threads=2 kills=3 seed=$RANDOM commit_ms=500 cache=0 zombie=0 windowed=0
query=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2 ;; --bootstrap) bootstrap=$2 ;; --guarantee) guarantee=$2 ;;
    --records) records=$2 ;; --rate) rate=$2 ;; --keys) keys=$2 ;; --partitions) partitions=$2 ;;
    --instances) instances=$2 ;; --threads) threads=$2 ;; --kills) kills=$2 ;;
    --seed) seed=$2 ;; --commit-ms) commit_ms=$2 ;; --cache-bytes) cache=$2 ;; --zombie) zombie=$2 ;;
    --windowed) windowed=$2 ;; --query) query=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
source "$(dirname "$0")/lib.sh"
produce_flags=() verify_flags=()
if [ "$guarantee" = at_least_once ]; then
  if [ "$windowed" = 1 ]; then
    echo "--windowed 1 checks exactly-once output; use --guarantee exactly_once_v2" >&2
    exit 2
  fi
  verify_flags=(--at-least-once 1)
fi
system_test_init
if [ "$windowed" = 1 ]; then
  run_mode=run-windowed verify_mode=verify-windowed produce_flags=(--event-span-ms 3600000)
fi
RANDOM=$seed
suffix="$$-$RANDOM"
in="kc-in-$suffix" out="kc-out-$suffix" appid="kc-$suffix"

"$bin" topics --bootstrap "$bootstrap" --create "$in,$out" --partitions "$partitions"
declare -a query_flags ports
if [ "$query" = 1 ]; then
  mapfile -t ports < <("$bin" free-ports --count "$instances")
fi
start() {
  query_flags=()
  [ "$query" = 1 ] && query_flags=(--set application.server="127.0.0.1:${ports[$1 - 1]}")
  start_instance "$1" "$appid" "$in" "$out" "${query_flags[@]}" --set num.stream.threads="$threads" \
    --set processing.guarantee="$guarantee" --set commit.interval.ms="$commit_ms" \
    --set statestore.cache.max.bytes="$cache" --set consumer.group.instance.id="$appid-$1" \
    --set consumer.session.timeout.ms=10000 --set consumer.heartbeat.interval.ms=1000
}
for i in $(seq 1 "$instances"); do start "$i"; done
log "$instances instances x $threads threads ($guarantee); producing $records records at $rate/s"
"$bin" produce --bootstrap "$bootstrap" --topic "$in" --count "$records" --keys "$keys" --rate "$rate" \
  --seed "$seed" "${produce_flags[@]}" &
producer=$!
if [ "$query" = 1 ]; then
  endpoints=$(printf '127.0.0.1:%s,' "${ports[@]}")
  "$bin" query-check --bootstrap "$bootstrap" --input "$in" --endpoints "${endpoints%,}" --keys "$keys" \
    --stop-file "$work/stop-queries" >"$work/query-check.out" 2>"$work/query-check.log" &
  querier=$!
fi
span=$(( records / rate ))
declare -a marks
# The tasks instance $1 held after the first $2 lines of its log: the last
# sticky assignment of each of its threads.
tasks_of() {
  head -n "$2" "$work/instance-$1.log" | grep "sticky assignment" |
    sed -E 's/.*(StreamThread-[0-9]+): sticky assignment .*tasks \[([^]]*)\].*/\1 \2/' |
    awk '{ t = $1; $1 = ""; last[t] = $0 } END { for (t in last) print last[t] }' | tr ' ' '\n' |
    grep -v '^$' | sort | tr '\n' ' ' | sed 's/ $//'
}
# Input keeps flowing during the kills; the first kill comes once the
# group has settled after the start.
sleep 4
for k in $(seq 1 "$kills"); do
  sleep "$(( 1 + RANDOM % (span / kills + 1) )).$(( RANDOM % 10 ))"
  i=$(( 1 + RANDOM % instances ))
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "FAIL: instance $i died by itself" >&2
    show_log "$i" 30
    exit 1
  fi
  if [ "$k" = 1 ]; then
    for j in $(seq 1 "$instances"); do marks[$j]=$(wc -l <"$work/instance-$j.log"); done
  fi
  if [ "$zombie" = 1 ]; then
    log "freeze instance $i (pid ${pids[$i]}) past its session timeout"
    kill -STOP "${pids[$i]}"
    sleep 13
    log "thaw instance $i"
    kill -CONT "${pids[$i]}"
    continue
  fi
  log "kill -9 instance $i (pid ${pids[$i]})"
  kill -9 "${pids[$i]}"
  wait "${pids[$i]}" 2>/dev/null || true
  sleep "0.$(( RANDOM % 10 ))"
  start "$i"
done
wait "$producer"
producer=""
log "input complete; verifying the read_committed output"
verify_output "$in" 20 "${verify_flags[@]}"
echo "$guarantee commit.interval.ms=$commit_ms cache=$cache kills=$kills instances=$instances threads=$threads: $result"
if [ "$query" = 1 ]; then
  touch "$work/stop-queries"
  queried=0
  wait "$querier" || queried=$?
  querier=""
  echo "queries during the kills: $(cat "$work/query-check.out")"
  if [ "$queried" != 0 ]; then
    echo "FAIL: interactive queries answered wrongly or failed" >&2
    cat "$work/query-check.log" >&2
    exit 1
  fi
fi
stop_instances "$instances"
# Static membership and the sticky assignor: a member restarted within its
# session timeout gets its own tasks back, and no task changes instance
# (a rebalance may still happen, e.g. when the group's leader restarts, but
# it hands every task back to where it was). Frozen zombies are removed
# from the group: not checked then.
if [ "$zombie" != 1 ] && [ "$kills" -gt 0 ]; then
  for j in $(seq 1 "$instances"); do
    before=$(tasks_of "$j" "${marks[$j]}")
    after=$(tasks_of "$j" "$(wc -l <"$work/instance-$j.log")")
    log "instance $j tasks before the kills: [$before], after: [$after]"
    if [ "$before" != "$after" ]; then
      echo "FAIL: instance $j's tasks changed across restarts" >&2
      exit 1
    fi
  done
fi
# Restore work after the kills: what was replayed from the changelogs, and
# what wiping the stores (Kafka Streams' default after an unclean EOS
# shutdown) would have replayed: each changelog from its start.
read -r restores _ replayed full _ _ < <(cat "$work"/instance-*.log | restore_stats)
echo "restores after start: $restores; changelog records replayed: $replayed; a wipe-and-restore would replay: $full" >&2
if [ "$verified" != 0 ]; then
  if [ "$guarantee" = at_least_once ]; then
    echo "FAIL: input was lost: a key's last count is below the input's (keys_short)" >&2
  else
    echo "FAIL: the output is not exactly the oracle" >&2
  fi
  for i in $(seq 1 "$instances"); do show_log "$i" 15; done
  exit 1
fi
exit 0
