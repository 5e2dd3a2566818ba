#!/usr/bin/env bash
# deploy/prometheus through Prometheus' own checker: the config (with the
# rule files it names), the rules, and the rules' unit tests (alerts_test.yml:
# each alert fires on its bad series, stays quiet on the good ones and
# before its `for:` has passed). No server needed.
#
#   promtool_test.sh PROMTOOL DEPLOY_PROMETHEUS_DIR
set -euo pipefail
promtool=$1
dir=$2
if [ ! -x "$promtool" ]; then
  echo "FAIL: promtool ($promtool) is missing: install Debian's prometheus package (tools/setup)" >&2
  exit 1
fi
cd "$dir"
"$promtool" check config prometheus.yml
"$promtool" check rules alerts.yml
"$promtool" test rules alerts_test.yml
