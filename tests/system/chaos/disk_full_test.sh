#!/usr/bin/env bash
# A full disk under the state directory: the windowed exactly-once count
# (runnel-keyed-count run-windowed) runs as --instances instances; instance
# 1's state directory is a small tmpfs the test mounts. Midway the tmpfs is
# filled to the last byte (a filler file): instance 1's next store flush or
# write fails with ENOSPC. It must say so clearly (the error names the
# store and a path in its state directory), and either stop (exit non-zero:
# its tasks fail over to the other instances) or keep going once its tasks
# fail over; nothing may be lost or doubled. Then the space comes back (the
# filler is removed) and instance 1 is started again on the same state
# directory: it must open (or wipe and restore) its stores, rejoin, and the
# read_committed output must equal the oracle recomputed from the seed
# (runnel-chaos verify: 0 missing, 0 wrong, 0 duplicate windows).
#
#   disk_full_test.sh --bin runnel-keyed-count --chaos runnel-chaos
#     [--bootstrap host:port,...] [--records 150000] [--rate 3000]
#     [--keys 2000] [--partitions 6] [--instances 2] [--tmpfs-mb 16]
#     [--fill-after-s 12] [--full-s 15] [--seed $RANDOM]
#
# Needs root (mount -t tmpfs); the tmpfs is unmounted on every exit (trap).
# Without --bootstrap: the CTest fixture's broker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin="" chaos="" bootstrap="" records=150000 rate=3000 keys=2000 partitions=6 instances=2 tmpfs_mb=16
fill_after=12 full_s=15 seed=$RANDOM
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2 ;; --chaos) chaos=$2 ;; --bootstrap) bootstrap=$2 ;; --records) records=$2 ;;
    --rate) rate=$2 ;; --keys) keys=$2 ;; --partitions) partitions=$2 ;; --instances) instances=$2 ;;
    --tmpfs-mb) tmpfs_mb=$2 ;; --fill-after-s) fill_after=$2 ;; --full-s) full_s=$2 ;; --seed) seed=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$chaos" ] || { echo "--chaos is required" >&2; exit 2; }
source "$here/../lib.sh"
system_test_init
state1="$work/state-1"
mounted=""
disk_cleanup() {
  # The instances first: a process with files open keeps the mount busy.
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$mounted" ] && umount "$state1" 2>/dev/null || true
  system_test_cleanup
}
trap disk_cleanup EXIT
mkdir -p "$state1"
mount -t tmpfs -o size="${tmpfs_mb}m" tmpfs "$state1"
mounted=1

RANDOM=$seed
suffix="$$-$RANDOM"
in="disk-in-$suffix" out="disk-out-$suffix" appid="disk-$suffix"
span_ms=3600000
base_ms=$(( ($(now_ms) - span_ms) / 60000 * 60000 ))
spec=(--count "$records" --keys "$keys" --seed "$seed" --base-ms "$base_ms" --span-ms "$span_ms")
"$bin" topics --bootstrap "$bootstrap" --create "$in,$out" --partitions "$partitions"
start() {
  start_instance "$1" "$appid" "$in" "$out" --set num.stream.threads=1 \
    --set processing.guarantee=exactly_once_v2 --set commit.interval.ms=500 \
    --set statestore.cache.max.bytes=0 --set consumer.group.instance.id="$appid-$1" \
    --set consumer.session.timeout.ms=10000 --set consumer.heartbeat.interval.ms=1000
}
run_mode=run-windowed
for i in $(seq 1 "$instances"); do start "$i"; done
log "$instances instances, instance 1's state on a ${tmpfs_mb} MB tmpfs; producing $records records at $rate/s"
"$chaos" produce --bootstrap "$bootstrap" --topic "$in" --rate "$rate" "${spec[@]}" >"$work/producer.log" 2>&1 &
producer=$!

sleep "$fill_after"
for i in $(seq 1 "$instances"); do
  kill -0 "${pids[$i]}" 2>/dev/null || { echo "FAIL: instance $i died before the disk filled" >&2; show_log "$i" 30; exit 1; }
done
[ -d "$state1/$appid" ] || { echo "FAIL: instance 1 has no state in $state1" >&2; show_log 1 30; exit 1; }
mark=$(wc -l <"$work/instance-1.log")
dd if=/dev/zero of="$state1/filler" bs=64k >/dev/null 2>&1 || true
log "state dir of instance 1 full: $(df -k --output=used,avail "$state1" | tail -1 | awk '{print $1 " KB used, " $2 " KB free"}')"
# ENOSPC shows at the next flush or write of a store (at the latest the
# next commit, every 500 ms).
stopped=""
for _ in $(seq 1 "$(( full_s * 10 ))"); do
  if ! kill -0 "${pids[1]}" 2>/dev/null; then
    code=0
    wait "${pids[1]}" || code=$?
    stopped="exited with $code"
    break
  fi
  sleep 0.1
done
log "instance 1 after ${full_s}s of a full disk: ${stopped:-still running}"
errors=$(tail -n +"$(( mark + 1 ))" "$work/instance-1.log" | grep -i "no space left on device" || true)
status=0
if [ -z "$errors" ]; then
  echo "FAIL: instance 1 reported no 'No space left on device' error" >&2
  status=1
elif ! grep -q "store '" <<<"$errors" || ! grep -q "$state1" <<<"$errors"; then
  echo "FAIL: the disk-full error names no store or no path under $state1:" >&2
  head -3 <<<"$errors" >&2
  status=1
else
  log "the error: $(head -1 <<<"$errors" | cut -c1-400)"
fi
if [ "$stopped" = "exited with 0" ]; then
  echo "FAIL: instance 1 exited 0 on a full disk" >&2
  status=1
fi
rm -f "$state1/filler"
log "space back: $(df -k --output=avail "$state1" | tail -1) KB free"
restart_mark=$(wc -l <"$work/instance-1.log")
if [ -n "$stopped" ]; then
  start 1
  log "instance 1 started again on its state directory"
else
  # Still running: its stores failed; restart it to prove the state on
  # the disk that filled is usable (or safely wiped and restored).
  kill -TERM "${pids[1]}"
  wait "${pids[1]}" || true
  start 1
  log "instance 1 restarted on its state directory"
fi

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
echo "disk full: instance 1 ${stopped:-kept running}: $result"
for i in $(seq 1 "$instances"); do
  kill -0 "${pids[$i]}" 2>/dev/null || { echo "FAIL: instance $i died" >&2; show_log "$i" 30; exit 1; }
done
if ! tail -n +"$(( restart_mark + 1 ))" "$work/instance-1.log" | grep -q "sticky assignment"; then
  echo "FAIL: instance 1 did not rejoin with tasks after the restart" >&2
  status=1
fi
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
