#!/usr/bin/env bash
# The main job: bring the embedded lab up, show it, verify it, report, tear down.
set -euo pipefail
cd "$(dirname "$0")/.."
topology=${1:-topologies/embedded.yaml}
lab=.venv/bin/lab
start=$(date +%s)
trap '$lab down "$topology" || true' EXIT
$lab validate "$topology"
$lab up "$topology"
$lab status "$topology"
status=0
if $lab verify --help >/dev/null 2>&1; then
  $lab verify "$topology" || status=$?
  if $lab report --help >/dev/null 2>&1; then
    $lab report "$topology" || true
  fi
fi
# the lifecycle host: the lab's Redfish BMC, and every log of this run in one archive
bmc=ok; $lab bmc status "$topology" || bmc=failed
logs=${TMPDIR:-/tmp}/stacklab-demo-logs.tar.zst
$lab logs collect "$topology" --from -2h -o "$logs" || logs="(log collection failed)"
echo "BMC: $bmc; logs: $logs"
echo "demo finished in $(( $(date +%s) - start )) s (verify exit code $status)"
exit $status
