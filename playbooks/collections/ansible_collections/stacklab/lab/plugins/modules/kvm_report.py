#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What hardware virtualisation a host really offers, read and recorded in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kvm_report
short_description: Report KVM, the CPU's virtualisation extensions and nested virtualisation
description:
  - Reads C(/dev/kvm), the CPU flags (vmx/svm, hypervisor) and the KVM module's C(nested)
    parameter; loads C(kvm_intel)/C(kvm_amd) when the CPU offers VT-x/AMD-V but C(/dev/kvm)
    is missing (the only change it makes).
  - C(accel) says what guests of this host will run on, C(kvm) or C(tcg) (software emulation),
    and C(reason) says why in words.
  - Keeps the report as JSON in O(path) (changed when it differs), so one call reads and records.
version_added: "0.2.0"
author: stacklab
options:
  path:
    description: File to keep the report in (its directory is created); none when omitted.
    type: path
  load_module:
    description: Load the KVM module when the CPU supports it and C(/dev/kvm) is absent.
    type: bool
    default: true
extends_documentation_fragment:
  - stacklab.lab.attributes
"""

EXAMPLES = r"""
- name: Read the host's virtualisation
  stacklab.lab.kvm_report:
    path: /etc/stacklab/kvm.json
  register: kvm
"""

RETURN = r"""
report:
  description: kvm (bool), accel (kvm or tcg), cpu_extension (vmx, svm or none), hypervisor
    (bool, the host is itself a virtual machine), module (kvm_intel, kvm_amd or none),
    nested (bool), reason (text).
  returned: always
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

MODULES = {"vmx": "kvm_intel", "svm": "kvm_amd"}


def _cpu_flags():
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
        for line in handle:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def _nested(module_name):
    try:
        with open(f"/sys/module/{module_name}/parameters/nested", encoding="ascii") as handle:
            return handle.read().strip() in ("Y", "1")
    except OSError:
        return False


def _reason(kvm, extension, hypervisor, module_name):
    if kvm and hypervisor:
        return (f"/dev/kvm present ({module_name}) on a host that is itself a virtual machine: "
                "guests are nested, as fast as the outer hypervisor lets them be")
    if kvm:
        return f"/dev/kvm present ({module_name}): guests run with hardware acceleration"
    where = "this host is itself a virtual machine whose CPU" if hypervisor else "the CPU"
    if extension == "none":
        return (f"/dev/kvm absent: {where} offers no VT-x/AMD-V; "
                "guests will run under TCG (software emulation, about 10-50x slower)")
    return (f"/dev/kvm absent although {where} offers {extension}: {module_name} did not load "
            "(virtualisation disabled in the firmware?); guests will run under TCG")


def _record(module, path, report):
    """Write the report when it differs; returns (changed, diff)."""
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            before = handle.read()
    except OSError:
        before = ""
    if before == text:
        return False, {}
    if not module.check_mode:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return True, {"before": before, "after": text, "before_header": path, "after_header": path}


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "path"},
                                          "load_module": {"type": "bool", "default": True}},
                           supports_check_mode=True)
    flags = _cpu_flags()
    extension = next((f for f in ("vmx", "svm") if f in flags), "none")
    module_name = MODULES.get(extension, "none")
    changed = False
    if not os.path.exists("/dev/kvm") and extension != "none" and module.params["load_module"]:
        changed = True
        if not module.check_mode:
            module.run_command(["modprobe", module_name])
    kvm = os.path.exists("/dev/kvm")
    report = {
        "kvm": kvm,
        "accel": "kvm" if kvm else "tcg",
        "cpu_extension": extension,
        "hypervisor": "hypervisor" in flags,
        "module": module_name,
        "nested": kvm and _nested(module_name),
        "reason": _reason(kvm, extension, "hypervisor" in flags, module_name),
    }
    loaded = changed and (module.check_mode or kvm)
    recorded, diff = _record(module, module.params["path"], report) if module.params["path"] else (False, {})
    module.exit_json(changed=loaded or recorded, report=report, diff=diff)


if __name__ == "__main__":
    main()
