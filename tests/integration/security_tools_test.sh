#!/usr/bin/env bash
# The command-line tools over SASL_SSL (fixture kafka_secure): runnel-kafka
# creates a topic, writes and counts records, and runnel-reset plans a reset,
# each with --command-config (the PLAIN client settings kafka-local wrote);
# with a wrong password runnel-kafka fails, naming the authentication
# failure, within a bound, and prints no password.
# Usage: security_tools_test.sh RUNNEL_KAFKA RUNNEL_RESET
set -euo pipefail
kafka=$1 reset=$2
dir=$RUNNEL_KAFKA_SECURE_DIR
B=$(cat "$dir/bootstrap-sasl-ssl")
props=$dir/client-sasl-ssl-plain.properties
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
topic=security-tools-$$-$RANDOM
fail() { echo "FAIL: $*" >&2; exit 1; }

"$kafka" create-topic --bootstrap "$B" --command-config "$props" --topic "$topic" --partitions 2
"$kafka" produce-sensors --bootstrap "$B" --command-config "$props" --topic "$topic" --count 500
n=$("$kafka" count --bootstrap "$B" --command-config "$props" --topic "$topic")
[ "$n" = 500 ] || fail "count over SASL_SSL says $n, not 500"
echo "runnel-kafka over SASL_SSL/PLAIN: created, wrote and counted 500 records"

"$reset" --application-id "security-tools-$$" --bootstrap "$B" --command-config "$props" \
  --input-topics "$topic" > "$work/reset.out" || fail "runnel-reset dry run over SASL_SSL: $(cat "$work/reset.out")"
grep -q "$topic" "$work/reset.out" || fail "runnel-reset's plan does not name $topic: $(cat "$work/reset.out")"
echo "runnel-reset over SASL_SSL/PLAIN: dry run planned"

# A wrong password: an error naming authentication, not a hang.
wrong=wrong-password-$RANDOM$RANDOM
sed "s/^sasl.password=.*/sasl.password=$wrong/" "$props" > "$work/wrong.properties"
set +e
timeout 120 "$kafka" create-topic --bootstrap "$B" --command-config "$work/wrong.properties" \
  --topic "$topic-x" 2> "$work/wrong.err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "a wrong password created a topic"
[ "$rc" != 124 ] || fail "a wrong password hung runnel-kafka for 120 s"
grep -qi "authentication failed" "$work/wrong.err" || fail "no authentication failure named: $(cat "$work/wrong.err")"
! grep -q "$wrong" "$work/wrong.err" || fail "the password is printed: $(cat "$work/wrong.err")"
echo "wrong password: $(tail -1 "$work/wrong.err" | cut -c1-200)"
