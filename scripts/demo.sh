#!/usr/bin/env bash
# The main job: bring the embedded lab up, show it, verify it, report, tear down.
# The summary at the end says what each step gave; a step that failed says so
# there and makes the exit status non-zero. STACKLAB_DEMO_LAB names another
# `lab` command (tests of this script use a stand-in; the default is .venv's).
set -euo pipefail
cd "$(dirname "$0")/.."
topology=${1:-topologies/embedded.yaml}
lab=${STACKLAB_DEMO_LAB:-.venv/bin/lab}
py=${STACKLAB_DEMO_PYTHON:-.venv/bin/python}
start=$(date +%s)
trap '$lab down "$topology" || true' EXIT
$lab validate "$topology"
$lab up "$topology"
$lab status "$topology"
status=0 verify=skipped regress=skipped
if $lab verify --help >/dev/null 2>&1; then
  verify=0
  $lab verify "$topology" || verify=$?
  status=$verify
  # a night's comparison: verify again and compare with the baseline (the
  # pinned run, else the last passing one: usually the verify just above).
  # With no baseline at all (verify failed, nothing pinned) regress compares
  # nothing and exits with the checks' status alone: 0 when they pass, so a
  # first night never fails the demo for want of a baseline; 3 is a regression,
  # 4 a metric it could not compare (e.g. RTTs sampled while the host was busy).
  regress=0
  $lab regress "$topology" || regress=$?
  if [ "$status" -eq 0 ]; then status=$regress; fi
  if $lab report --help >/dev/null 2>&1; then
    $lab report "$topology" || true
  fi
fi

# the lifecycle host: every server's Redfish BMC, one power action through
# one of them (a VM power-cycled, else a server), and every log of this run
# in one archive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; $lab down "$topology" || true' EXIT
bmc_code=0
$lab bmc status "$topology" --format json >"$tmp/bmc.json" || bmc_code=$?
answered=$("$py" -c 'import json,sys
try: rows = json.load(open(sys.argv[1]))["bmcs"]
except Exception: rows = []
print("%d/%d" % (sum(r["answered"] for r in rows), len(rows)))' "$tmp/bmc.json")
target=$("$py" -c 'import json,sys
try: systems = json.load(open(sys.argv[1]))["systems"]
except Exception: systems = []
vms = [s["name"] for s in systems if s["kind"] == "vm"]
servers = [s["name"] for s in systems if s["kind"] == "server"]
print((vms or servers or [""])[0])' "$tmp/bmc.json")
if [ "$bmc_code" -eq 0 ] && [ -n "$target" ]; then
  power_code=0
  $lab bmc power cycle "$target" -t "$topology" --format json >"$tmp/power.json" || power_code=$?
  if [ "$power_code" -eq 0 ]; then
    power=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("power"))' "$tmp/power.json")
    bmc="ok: $answered BMCs answered; power cycle $target -> $power"
  else
    bmc="FAILED: power cycle $target exited $power_code"
  fi
else
  bmc="FAILED: lab bmc status exited $bmc_code ($answered BMCs answered)"
fi
logs=${TMPDIR:-/tmp}/stacklab-demo-logs.tar.zst
logs_code=0
$lab logs collect "$topology" --from -2h -o "$logs" --format json >"$tmp/logs.json" || logs_code=$?
if [ "$logs_code" -eq 0 ]; then
  taken=$("$py" -c 'import json,sys; m = json.load(open(sys.argv[1]))["manifest"]
print("%d items, %d missing (see its manifest)" % (len(m["taken"]), len(m["missing"])))' "$tmp/logs.json")
  logs="$logs: $taken"
else
  logs="FAILED: lab logs collect exited $logs_code"
fi
case "$bmc$logs" in *FAILED*) [ "$status" -ne 0 ] || status=1 ;; esac
echo "summary:"
echo "  verify: exit $verify; regress: exit $regress"
echo "  BMC: $bmc"
echo "  logs: $logs"
echo "demo finished in $(( $(date +%s) - start )) s (exit $status)"
exit $status
