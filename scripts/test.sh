#!/usr/bin/env bash
# Run the whole test suite as CI does. Tests that need root, libvirt, QEMU or
# BPF run for real; without root (developer laptop) they skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
export STACKLAB_HOME=${STACKLAB_HOME:-$(mktemp -d /tmp/stacklab-test.XXXXXX)}
exec .venv/bin/pytest -q -ra --durations=15 "$@"
