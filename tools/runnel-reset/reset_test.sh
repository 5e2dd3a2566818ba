#!/usr/bin/env bash
# runnel-reset as a user runs it, on the fixture's broker, with the system
# tests' keyed count (runnel-keyed-count run: groupByKey().count() into the
# store "counts", changelogged) as the application:
#   - a bad flag exits 2 naming it;
#   - while an instance runs, a dry run shows the live member and changes
#     nothing, and --execute refuses (exit 1);
#   - once it stopped, a dry run lists the input offsets, the changelog and
#     the state directory, and two dry runs print the same (nothing moved);
#     --to-latest, --by-duration and --to-datetime pick the offsets they
#     should; a missing input topic is named (exit 1);
#   - --execute resets: offsets to the start, the changelog gone, the state
#     directory emptied;
#   - docs/replay.md's "Rebuilding state": the application run again
#     rebuilds the same counts: every key's final count in the second
#     output equals the first output's (and the input's own count);
#   - a reset that leaves the stores on disk (another machine's): their
#     checkpoints are past the recreated changelog's end, and the runtime
#     rebuilds them rather than counting on top (exact output again).
# Usage: reset_test.sh RUNNEL_RESET RUNNEL_KEYED_COUNT RUNNEL_KAFKA
set -euo pipefail
reset=$1 keyed=$2 kafka=$3
B=$(cat "$RUNNEL_KAFKA_DIR/bootstrap")
work=$(mktemp -d)
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill -9 "$app_pid" 2>/dev/null
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*" >&2; }
suffix="$$-$RANDOM"
app="reset-demo-$suffix" in="reset-in-$suffix" out="reset-out-$suffix" out2="reset-out2-$suffix"
out3="reset-out3-$suffix"
state="$work/state"

# 1. A bad flag: exit 2, named.
set +e
"$reset" --application-id "$app" --bootstrap "$B" --to-offset x 2>"$work/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "bad --to-offset: exit code $rc, expected 2"
grep -q -- "--to-offset: 'x' is not an offset" "$work/err" || fail "flag not named: $(cat "$work/err")"

# 2. Input, and a first run of the application (the commands of docs/replay.md).
"$keyed" topics --bootstrap "$B" --create "$in,$out,$out2,$out3" --partitions 3
"$keyed" produce --bootstrap "$B" --topic "$in" --count 20000 --keys 300
run_app() {  # run_app OUTPUT: one instance in the background
  "$keyed" run --set bootstrap.servers="$B" --set application.id="$app" --set state.dir="$state" \
    --set processing.guarantee=exactly_once_v2 --input "$in" --output "$1" >>"$work/app.log" 2>&1 &
  app_pid=$!
}
stop_app() {
  kill -TERM "$app_pid"
  wait "$app_pid" || fail "the application exited with $? on SIGTERM: $(tail -5 "$work/app.log")"
  app_pid=""
}
run_app "$out"
log "first run; verifying its output"
"$keyed" verify --bootstrap "$B" --input "$in" --output "$out" --quiet-s 30 >"$work/verify1" ||
  fail "first run's output is not exact: $(cat "$work/verify1"); $(tail -5 "$work/app.log")"

# 3. While it runs: a dry run shows the member; --execute refuses, exit 1.
"$reset" --application-id "$app" --bootstrap "$B" --state-dir "$state" >"$work/live" ||
  fail "dry run with a live instance failed"
grep -q "1 live member(s)" "$work/live" || fail "live member not shown: $(cat "$work/live")"
grep -q -- "--execute would refuse now: the consumer group '$app' has 1 live member(s)" "$work/live" ||
  fail "no warning: $(cat "$work/live")"
set +e
"$reset" --application-id "$app" --bootstrap "$B" --state-dir "$state" --execute >"$work/out" 2>"$work/err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "--execute with a live instance: exit code $rc, expected 1"
grep -q "live member(s).*stop every instance of the application first" "$work/err" ||
  fail "refusal not explained: $(cat "$work/err")"
[ -n "$(ls "$state/$app" | grep '_')" ] || fail "the refused reset touched the state directory"

# 4. Stopped: the dry run lists what a reset does; twice the same text.
stop_app
dry() { "$reset" --application-id "$app" --bootstrap "$B" --state-dir "$state" >"$1"; }
for i in $(seq 1 60); do
  dry "$work/dry1"
  grep -q "0 live member(s)" "$work/dry1" && break
  sleep 1
done
grep -q "0 live member(s)" "$work/dry1" || fail "the group still has members: $(cat "$work/dry1")"
for p in 0 1 2; do
  grep -Eq "^  $in-$p  committed [1-9][0-9]* -> 0$" "$work/dry1" || fail "partition $p's reset not shown: $(cat "$work/dry1")"
done
grep -q "^  $app-counts-changelog$" "$work/dry1" || fail "changelog not listed: $(cat "$work/dry1")"
grep -q "local state to wipe: $state/$app (.*0_0" "$work/dry1" || fail "state not listed: $(cat "$work/dry1")"
grep -q "dry run: nothing was changed" "$work/dry1" || fail "$(cat "$work/dry1")"
dry "$work/dry2"
diff "$work/dry1" "$work/dry2" >&2 || fail "a dry run changed something"
# The other targets, as dry runs: the end (= what the group committed: it
# read everything), an hour back (before the first record: the start), a
# time after the last record (the end, said so).
"$reset" --application-id "$app" --bootstrap "$B" --to-latest >"$work/latest"
[ "$(grep -Ec "^  $in-[0-2]  committed ([0-9]+) -> \1$" "$work/latest")" = 3 ] ||
  fail "--to-latest: $(cat "$work/latest")"
"$reset" --application-id "$app" --bootstrap "$B" --by-duration PT1H >"$work/back"
[ "$(grep -Ec "^  $in-[0-2]  committed [0-9]+ -> 0$" "$work/back")" = 3 ] || fail "--by-duration: $(cat "$work/back")"
"$reset" --application-id "$app" --bootstrap "$B" --to-datetime 2099-01-01T00:00:00Z >"$work/future"
[ "$(grep -c "(no record that late: the end)" "$work/future")" = 3 ] || fail "--to-datetime: $(cat "$work/future")"
set +e
"$reset" --application-id "$app" --bootstrap "$B" --input-topics "$in,no-such-topic-$suffix" 2>"$work/err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "a missing input topic: exit code $rc, expected 1"
grep -q "input topic 'no-such-topic-$suffix'" "$work/err" || fail "missing topic not named: $(cat "$work/err")"

# 5. --execute: offsets to the start, the changelog deleted, the state wiped.
"$reset" --application-id "$app" --bootstrap "$B" --state-dir "$state" --execute >"$work/exec" ||
  fail "--execute failed: $(cat "$work/exec")"
grep -q "set 3 input partition offset(s)" "$work/exec" || fail "$(cat "$work/exec")"
# The changelog and the topology record (topology.compatibility.check).
grep -q "deleted 2 internal topic(s)" "$work/exec" || fail "$(cat "$work/exec")"
dry "$work/after"
for p in 0 1 2; do
  grep -q "^  $in-$p  committed 0 -> 0$" "$work/after" || fail "partition $p not reset: $(cat "$work/after")"
done
grep -q "internal topics to delete (0):" "$work/after" || fail "changelog still there: $(cat "$work/after")"
grep -q "local state to wipe: $state/$app (0 entries" "$work/after" || fail "state not wiped: $(cat "$work/after")"

# 6. Run again (into a second output topic, to compare): the same counts.
run_app "$out2"
log "second run; verifying its output"
"$keyed" verify --bootstrap "$B" --input "$in" --output "$out2" --quiet-s 30 >"$work/verify2" ||
  fail "second run's output is not exact: $(cat "$work/verify2"); $(tail -5 "$work/app.log")"
stop_app
# Every key's last count, from each output.
final_counts() {
  local n
  n=$(sed -E 's/.*"output_records": ([0-9]+).*/\1/' "$2")
  "$kafka" consume --bootstrap "$B" --topic "$1" --max "$n" --timeout-ms 60000 |
    awk -F'\t' '{ last[$3] = $4 } END { for (k in last) print k, last[k] }' | sort
}
final_counts "$out" "$work/verify1" >"$work/final1"
final_counts "$out2" "$work/verify2" >"$work/final2"
[ "$(wc -l <"$work/final1")" = 300 ] || fail "first output has $(wc -l <"$work/final1") keys, expected 300"
diff "$work/final1" "$work/final2" >&2 || fail "the rebuilt counts differ from the first run's"

# 7. A machine whose state was not wiped: reset without --state-dir, run on
# the old stores. Their checkpoints point past the recreated, empty
# changelog, so the runtime must wipe and rebuild them, not count on top.
"$reset" --application-id "$app" --bootstrap "$B" --execute >"$work/exec3" || fail "$(cat "$work/exec3")"
grep -q "local state: no --state-dir given, nothing wiped here" "$work/exec3" || fail "$(cat "$work/exec3")"
[ -n "$(ls "$state/$app" | grep '_')" ] || fail "no stores left to be stale"
run_app "$out3"
log "third run, on the stale stores; verifying its output"
"$keyed" verify --bootstrap "$B" --input "$in" --output "$out3" --quiet-s 30 >"$work/verify3" ||
  fail "a store outlived its changelog: $(cat "$work/verify3"); $(tail -5 "$work/app.log")"
stop_app
grep -q "is past the end .*wiping the store and restoring it" "$work/app.log" ||
  fail "no store was found stale: $(grep -i wip "$work/app.log" | tail -3)"
echo "ok: reset and rerun rebuilt the same $(wc -l <"$work/final2") counts ($(cat "$work/verify2"));" \
  "stale stores were rebuilt too"
