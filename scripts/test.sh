#!/usr/bin/env bash
# Run the whole test suite as CI does. Tests that need root, libvirt, QEMU or
# BPF run for real; without root (developer laptop) they skip and say why.
#
#   scripts/test.sh                     everything, in lanes (below)
#   scripts/test.sh tests/lb -x         one pytest with these arguments
#   scripts/test.sh --under-load [...]  the same, with a bounded CPU and disk
#                                       load (stress-ng) beside it
#
# With no pytest arguments the suite runs as STACKLAB_LANES (default 3) pytest
# processes side by side that share one queue of test directories, longest
# first (scripts/run_tests.py says why): lane 1 starts with
# STACKLAB_LOAD_SUBSET if set (.ci/run sets "tests/lb tests/compute": run
# first and under load), lane 2 with the Ansible Debian-VM tests (booted under
# that load too), lanes 3+ join once the subset is done. Every run's output is
# printed at the end, then a summary; any run failing fails the whole.
#
# The load: stress-ng with STACKLAB_LOAD_CPU CPU workers (default 2) and
# STACKLAB_LOAD_HDD disk writers (default 1) in a mktemp directory; it ends by
# itself after STACKLAB_LOAD_TIMEOUT_S (default 2700) and is stopped, and its
# directory removed, as soon as the tests under it end.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
if [ "${1:-}" = "--under-load" ]; then
    args+=(--under-load)
    shift
fi
# python -m (in run_tests.py) puts this checkout first on sys.path, whatever the venv was installed from
if [ $# -gt 0 ]; then
    exec .venv/bin/python scripts/run_tests.py "${args[@]}" --pytest "$@"
fi
read -r -a load_subset <<<"${STACKLAB_LOAD_SUBSET:-}"
if [ ${#load_subset[@]} -gt 0 ]; then
    args+=(--load-subset "${load_subset[@]}")
fi
exec .venv/bin/python scripts/run_tests.py "${args[@]}"
