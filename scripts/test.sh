#!/usr/bin/env bash
# Run the whole test suite as CI does. Tests that need root, libvirt, QEMU or
# BPF run for real; without root (developer laptop) they skip and say why.
#
# With no arguments, the Ansible Debian-VM tests (one TCG guest: bound by one
# emulated CPU for ~10 minutes, little else) run in a second pytest beside the
# rest of the suite instead of after it; both outputs are shown and either
# failing fails the run. With arguments, one pytest gets them as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
export STACKLAB_HOME=${STACKLAB_HOME:-$(mktemp -d /tmp/stacklab-test.XXXXXX)}
PYTEST=(.venv/bin/pytest -q -ra)
if [ $# -gt 0 ]; then
    exec "${PYTEST[@]}" --durations=15 "$@"
fi

VM_TESTS=tests/ansible/test_ansible_vm.py
vm_log=$(mktemp /tmp/stacklab-vm-tests.XXXXXX.log)
vm_home=$(mktemp -d /tmp/stacklab-test-vm.XXXXXX)
echo "Ansible VM tests ($VM_TESTS) run alongside; their output follows the main run (log: $vm_log)"
STACKLAB_HOME=$vm_home "${PYTEST[@]}" --durations=10 "$VM_TESTS" >"$vm_log" 2>&1 &
vm_pid=$!

set +e
"${PYTEST[@]}" --durations=15 --ignore="$VM_TESTS"
main_rc=$?
echo "== waiting for the Ansible VM tests =="
wait "$vm_pid"
vm_rc=$?
set -e
echo "== Ansible VM tests ($VM_TESTS) =="
cat "$vm_log"
rm -rf "$vm_home"
echo "main suite: exit $main_rc; Ansible VM tests: exit $vm_rc"
[ "$main_rc" -eq 0 ] && [ "$vm_rc" -eq 0 ]
