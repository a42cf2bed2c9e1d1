#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a server's BMC reports through Redfish: its systems and managers, read only."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redfish_inventory
short_description: Read a BMC's Redfish inventory (systems and managers)
description:
  - GETs C(/redfish/v1/Systems) and C(/redfish/v1/Managers) and each member from the BMC at
    O(address), with basic authentication, and returns power state, boot override, model and
    serial of each system and the firmware of each manager. Changes nothing.
  - A BMC that does not answer or refuses the credentials is a result (C(answered) false and
    C(error)), not a failure, unless O(fail_on_error); log collection goes on without it.
  - The password is never returned or logged.
version_added: "0.3.0"
author: stacklab
options:
  address:
    description: The BMC's address.
    type: str
    required: true
  port:
    description: Its port (default by scheme).
    type: int
  scheme:
    description: http or https.
    type: str
    default: https
    choices: [http, https]
  username:
    description: Redfish user.
    type: str
    required: true
  password:
    description: Its password (from ansible-vault or a 0600 file; never printed).
    type: str
    required: true
    no_log: true
  validate_certs:
    description: Verify the BMC's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds per request.
    type: int
    default: 15
  fail_on_error:
    description: Fail the task when the BMC does not answer.
    type: bool
    default: false
extends_documentation_fragment:
  - stacklab.lab.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the BMC
  stacklab.lab.redfish_inventory:
    address: "{{ bmc_address }}"
    username: "{{ bmc_username }}"
    password: "{{ vault_bmc_password }}"
  register: bmc
"""

RETURN = r"""
inventory:
  description: url, answered (bool), error (when not answered), systems (id, name, power,
    boot, manufacturer, model, serial), managers (id, name, firmware).
  returned: always
  type: dict
"""

import base64
import json
import ssl
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule


class Redfish:
    def __init__(self, params):
        port = params["port"] or (443 if params["scheme"] == "https" else 80)
        self.base = f"{params['scheme']}://{params['address']}:{port}"
        token = base64.b64encode(f"{params['username']}:{params['password']}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self.timeout = params["timeout"]
        self.context = None if params["validate_certs"] else ssl._create_unverified_context()

    def get(self, path):
        request = urllib.request.Request(self.base + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as answer:
            return json.loads(answer.read())

    def members(self, path):
        return [self.get(m["@odata.id"]) for m in self.get(path).get("Members", [])]


def _system(doc):
    boot = doc.get("Boot") or {}
    return {"id": doc.get("Id"), "name": doc.get("Name"), "power": doc.get("PowerState"),
            "boot": boot.get("BootSourceOverrideTarget"), "manufacturer": doc.get("Manufacturer"),
            "model": doc.get("Model"), "serial": doc.get("SerialNumber")}


def inventory(params):
    bmc = Redfish(params)
    found = {"url": bmc.base + "/redfish/v1", "answered": False}
    try:
        found["systems"] = [_system(d) for d in bmc.members("/redfish/v1/Systems")]
        found["managers"] = [{"id": d.get("Id"), "name": d.get("Name"), "firmware": d.get("FirmwareVersion")}
                             for d in bmc.members("/redfish/v1/Managers")]
        found["answered"] = True
    except urllib.error.HTTPError as exc:
        found["error"] = f"BMC at {bmc.base} refused: HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        found["error"] = f"BMC at {bmc.base} does not answer: {getattr(exc, 'reason', exc)}"
    return found


def main():
    module = AnsibleModule(argument_spec=dict(
        address=dict(type="str", required=True),
        port=dict(type="int"),
        scheme=dict(type="str", default="https", choices=["http", "https"]),
        username=dict(type="str", required=True),
        password=dict(type="str", required=True, no_log=True),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=15),
        fail_on_error=dict(type="bool", default=False),
    ), supports_check_mode=True)
    found = inventory(module.params)
    if not found["answered"] and module.params["fail_on_error"]:
        module.fail_json(msg=found["error"], inventory=found)
    module.exit_json(changed=False, inventory=found)


if __name__ == "__main__":
    main()
