#!/usr/bin/env bash
# runnel-replay as a user runs it, on the fixture's broker:
#   - bad flags exit 2 naming the flag;
#   - the sample CSV replays into a new topic (summary, retention decision);
#   - `plot` reads the topic back and writes a PNG;
#   - --on-error fail exits 1 naming the line; --speed 600 paces the replay.
set -euo pipefail
replay=$1 sample=$2
bootstrap=$(cat "$RUNNEL_KAFKA_DIR/bootstrap")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
suffix="$$-$RANDOM"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Bad flags: exit 2, named.
set +e
"$replay" csv "$sample" --bootstrap "$bootstrap" --topic x --no-such-flag 1 2>"$work/err"; rc=$?
[ "$rc" = 2 ] || fail "unknown flag exit code $rc, expected 2"
grep -q -- "--no-such-flag" "$work/err" || fail "unknown flag not named: $(cat "$work/err")"
"$replay" csv "$sample" --bootstrap "$bootstrap" --topic x --key-column nope 2>"$work/err"; rc=$?
[ "$rc" = 2 ] || fail "unknown column exit code $rc, expected 2"
grep -q -- "--key-column: no column 'nope'" "$work/err" || fail "column not named: $(cat "$work/err")"
set -e

# 2. The sample into a new topic: every row sent, retention lifted for March data.
topic="replay-cli-$suffix"
"$replay" csv "$sample" --bootstrap "$bootstrap" --topic "$topic" --key-column sensor --time-column time \
  --header-columns location --partitions 2 >"$work/out" 2>"$work/err"
grep -q "rows read: 196, sent: 196 to $topic, skipped: 0" "$work/out" || fail "summary: $(cat "$work/out")"
grep -q "data time span: 2026-03-02 06:00:00 UTC .. 2026-03-02 10:00:00 UTC" "$work/out" || fail "span: $(cat "$work/out")"
grep -q "retention.ms=-1" "$work/err" || fail "no retention decision: $(cat "$work/err")"

# 3. Plot the topic back.
"$replay" plot --bootstrap "$bootstrap" --topic "$topic" --field humidity_pct --unit % \
  --out "$work/humidity.png" >"$work/out"
grep -q "read 196 records from $topic, plotted 196 (0 without a numeric 'humidity_pct'), 4 keys" "$work/out" ||
  fail "plot summary: $(cat "$work/out")"
[ "$(head -c 8 "$work/humidity.png" | tail -c 7 | head -c 3)" = "PNG" ] || fail "not a PNG"

# 4. --on-error fail: exit 1, the line named, nothing sent.
printf 'time,sensor,v\n2026-03-02T06:00:00Z,a,1\n2026-03-02T06:00:01Z,,2\n' >"$work/bad.csv"
set +e
"$replay" csv "$work/bad.csv" --bootstrap "$bootstrap" --topic "replay-cli-bad-$suffix" --key-column sensor \
  --time-column time --on-error fail 2>"$work/err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "--on-error fail exit code $rc, expected 1"
grep -q "bad.csv:3: empty key in column 'sensor' (--on-error fail: nothing was sent)" "$work/err" ||
  fail "bad line not named: $(cat "$work/err")"

# 5. --speed 600: 12 rows 1 min apart take about 11 * 60 / 600 = 1.1 s.
{
  echo "time,sensor,v"
  for i in $(seq 0 11); do printf '2026-03-02T06:%02d:00Z,a,%d\n' "$i" "$i"; done
} >"$work/paced.csv"
start=$(date +%s%N)
"$replay" csv "$work/paced.csv" --bootstrap "$bootstrap" --topic "replay-cli-paced-$suffix" --key-column sensor \
  --time-column time --speed 600 >/dev/null 2>&1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 1100 ] || fail "--speed 600 took only $ms ms"
echo "ok (paced replay took $ms ms)"
