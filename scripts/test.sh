#!/usr/bin/env bash
# Run the whole test suite as CI does. Tests that need root, libvirt, QEMU or
# BPF run for real; without root (developer laptop) they skip and say why.
#
#   scripts/test.sh                     everything (see below)
#   scripts/test.sh tests/lb -x         one pytest with these arguments
#   scripts/test.sh --under-load [...]  the same, with a bounded CPU and disk
#                                       load (stress-ng) beside it
#
# With no pytest arguments the suite runs in two lanes, two pytest processes
# side by side, each with its own STACKLAB_HOME: the second runs the Ansible
# Debian-VM tests (one TCG guest: one emulated CPU for ~10 minutes, little
# else) and then STACKLAB_LANE2 (default "tests/vpn tests/robust tests/ops": labs with
# names of their own that mostly wait on daemons, timers and kills); the first
# runs everything else. Both outputs are shown and either failing fails the run. STACKLAB_LOAD_SUBSET="tests/lb tests/compute"
# (.ci/run sets it) runs those paths of the main suite first and under load, then
# the rest without: the VM tests, which boot at the start, boot under it too.
#
# The load: stress-ng with STACKLAB_LOAD_CPU CPU workers (default 2) and
# STACKLAB_LOAD_HDD disk writers (default 1) in a mktemp directory; it ends by
# itself after STACKLAB_LOAD_TIMEOUT_S (default 2700) and is stopped, and its
# directory removed, as soon as the tests under it end.
set -euo pipefail
cd "$(dirname "$0")/.."
export STACKLAB_HOME=${STACKLAB_HOME:-$(mktemp -d /tmp/stacklab-test.XXXXXX)}
# python -m puts this checkout first on sys.path, whatever the venv was installed from
PYTEST=(.venv/bin/python -m pytest -q -ra)

load_pid="" load_dir="" load_started=0
start_load() {
    if ! command -v stress-ng >/dev/null; then
        echo "stress-ng is missing: run scripts/install-deps.sh" >&2
        exit 2
    fi
    load_dir=$(mktemp -d /tmp/stacklab-load.XXXXXX)
    local cpu=${STACKLAB_LOAD_CPU:-2} hdd=${STACKLAB_LOAD_HDD:-1} timeout=${STACKLAB_LOAD_TIMEOUT_S:-2700}
    echo "== under load: stress-ng --cpu $cpu --hdd $hdd (at most ${timeout} s, files in $load_dir) =="
    stress-ng --cpu "$cpu" --hdd "$hdd" --hdd-bytes 128M --temp-path "$load_dir" \
        --timeout "${timeout}s" --quiet &
    load_pid=$!
    load_started=$SECONDS
    trap stop_load EXIT
}
stop_load() {
    [ -n "$load_pid" ] || return 0
    kill -TERM "$load_pid" 2>/dev/null || true
    local i
    for i in $(seq 1 20); do  # stress-ng stops its workers on SIGTERM; give it 10 s
        kill -0 "$load_pid" 2>/dev/null || break
        sleep 0.5
    done
    pkill -KILL -P "$load_pid" 2>/dev/null || true  # any worker it left behind
    kill -KILL "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
    echo "== load stopped after $((SECONDS - load_started)) s; loadavg $(cut -d' ' -f1-3 /proc/loadavg) =="
    load_pid=""
    rm -rf "$load_dir"
}

under_load=0
if [ "${1:-}" = "--under-load" ]; then
    under_load=1
    shift
fi

if [ $# -gt 0 ]; then
    if [ "$under_load" -eq 1 ]; then start_load; fi
    set +e
    "${PYTEST[@]}" --durations=15 "$@"
    rc=$?
    set -e
    stop_load
    exit $rc
fi

VM_TESTS=tests/ansible/test_ansible_vm.py
read -r -a lane2 <<<"${STACKLAB_LANE2-tests/vpn tests/robust tests/ops}"
read -r -a load_subset <<<"${STACKLAB_LOAD_SUBSET:-}"
if [ "$under_load" -eq 1 ] || [ ${#load_subset[@]} -gt 0 ]; then
    start_load  # --under-load: until the main suite ends; a subset alone: until it ends
fi
vm_log=$(mktemp /tmp/stacklab-vm-tests.XXXXXX.log)
vm_home=$(mktemp -d /tmp/stacklab-test-vm.XXXXXX)
echo "second lane: $VM_TESTS then ${lane2[*]:-nothing} alongside; its output follows the main run (log: $vm_log)"
run_lane2() {
    local rc=0
    "${PYTEST[@]}" --durations=10 "$VM_TESTS" || rc=$?
    if [ ${#lane2[@]} -gt 0 ]; then
        "${PYTEST[@]}" --durations=15 "${lane2[@]}" || rc=$((rc ? rc : $?))
    fi
    return $rc
}
STACKLAB_HOME=$vm_home run_lane2 >"$vm_log" 2>&1 &
vm_pid=$!

set +e
subset_rc=0
rest=(--ignore="$VM_TESTS")
for path in "${lane2[@]}"; do rest+=(--ignore="$path"); done
if [ ${#load_subset[@]} -gt 0 ]; then
    echo "== ${load_subset[*]} under load =="
    subset_start=$SECONDS
    "${PYTEST[@]}" --durations=15 "${load_subset[@]}"
    subset_rc=$?
    echo "== ${load_subset[*]} under load: exit $subset_rc in $((SECONDS - subset_start)) s =="
    [ "$under_load" -eq 1 ] || stop_load
    for path in "${load_subset[@]}"; do rest+=(--ignore="$path"); done
fi
"${PYTEST[@]}" --durations=30 "${rest[@]}"
main_rc=$?
stop_load
echo "== waiting for the second lane =="
wait "$vm_pid"
vm_rc=$?
set -e
echo "== second lane: $VM_TESTS, ${lane2[*]:-nothing} =="
cat "$vm_log"
rm -rf "$vm_home"
echo "main suite: exit $main_rc${load_subset:+ (under load: exit $subset_rc)}; second lane: exit $vm_rc"
[ "$main_rc" -eq 0 ] && [ "$subset_rc" -eq 0 ] && [ "$vm_rc" -eq 0 ]
