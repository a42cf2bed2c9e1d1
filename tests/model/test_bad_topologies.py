"""A table of bad topologies -> exact YAML path, line and message fragments."""

from __future__ import annotations

import pytest

from lab.model import Topology, TopologyError, parse_topology

from .bad_topology_cases import MORE_CASES
from .helpers import default_text, mutate

# (id, old text, new text | [(old, new), ...], expected path, line offset from the
# line where the (last) old text was, message fragments)
CASES = [
    (
        "unknown-size",
        "kind: netns, address: 100.64.1.10}\n  - {name: red-web2",
        "kind: vm, size: Huge, address: 100.64.1.10}\n  - {name: red-web2",
        "vms[0].size",
        0,
        ["unknown VM size 'Huge'", "valid sizes:", "Standard_DS1_v2", "Basic_A0"],
    ),
    (
        "too-many-disks",
        "server: hv3, kind: netns",
        "server: hv3, kind: vm, size: Standard_A0, data_disks: [{name: d1}, {name: d2}]",
        "vms[2].data_disks",
        0,
        ["2 data disks", "Standard_A0 allows at most 1"],
    ),
    (
        "disk-over-1tb",
        "server: hv3, kind: netns",
        "server: hv3, kind: vm, data_disks: [{name: d1, size_gb: 1024}]",
        "vms[2].data_disks[0].size_gb",
        0,
        ["1024 GB", "maximum disk size is 1023 GB (1 TB)"],
    ),
    (
        "disks-on-netns",
        "server: hv3, kind: netns",
        "server: hv3, kind: netns, data_disks: [{name: d1}]",
        "vms[2].data_disks",
        0,
        ["need kind: vm"],
    ),
    (
        "mirror-in-a-two-server-cluster",
        [("  - {name: hv3, role: compute,", "  - {name: hv3, role: compute, cluster: edge,"),
         ("  - {name: hv4, role: compute,", "  - {name: hv4, role: compute, cluster: edge,"),
         ("server: hv3, kind: netns",
          "server: hv3, kind: vm, data_disks: [{name: d1}, {name: d2, resiliency: mirror3}]")],
        "vms[2].data_disks[1].resiliency",
        0,
        ["mirror3 needs 3 compute servers", "cluster 'edge' of its server 'hv3' has 2 compute server(s) (hv3, hv4)",
         "add compute servers to cluster 'edge'", "resiliency: simple"],
    ),
    (
        "unknown-resiliency",
        "server: hv3, kind: netns",
        "server: hv3, kind: vm, data_disks: [{name: d1, resiliency: mirror2}]",
        "vms[2].data_disks[0].resiliency",
        0,
        ["'mirror2' is not allowed", "'simple' or 'mirror3'"],
    ),
    (
        "unknown-disk-tier",
        "server: hv3, kind: netns",
        "server: hv3, kind: vm, data_disks: [{name: d1, tier: gold}]",
        "vms[2].data_disks[0].tier",
        0,
        ["'gold' is not allowed", "'standard' or 'premium'"],
    ),
    (
        "ipv6-vm-address",
        "100.64.2.10}",
        "'fe80::10'}",
        "vms[2].address",
        0,
        ["'fe80::10' is IPv6", "IPv6 is not supported"],
    ),
    (
        "ipv6-underlay",
        "subnet: 198.18.0.0/24",
        "subnet: 2001:db8::/64",
        "underlay.subnet",
        0,
        ["IPv6 is not supported"],
    ),
    (
        "ipv6-in-a-name",
        "name: tor",
        "name: 'fd00::1'",
        "tor.name",
        0,
        ["IPv6 is not supported", "lowercase letters"],
    ),
    (
        "ipv6-field",
        "  mtu: 9000\n",
        "  mtu: 9000\n  subnet6: 2001:db8::/64\n",
        "underlay.subnet6",
        1,
        ["unknown key 'subnet6'", "IPv6 is not supported", "allowed: subnet, mtu"],
    ),
    (
        "duplicate-vni",
        "vni: 1002",
        "vni: 1001",
        "tenants[1].vni",
        0,
        ["duplicate VNI 1001", "also tenants[0]"],
    ),
    (
        "duplicate-vm-name",
        "{name: red-web2,",
        "{name: red-web1,",
        "vms[1].name",
        0,
        ["duplicate VM name 'red-web1'", "also vms[0]"],
    ),
    (
        "duplicate-server-name",
        "{name: hv2, role",
        "{name: hv1, role",
        "servers[1].name",
        0,
        ["duplicate server name 'hv1'"],
    ),
    (
        "duplicate-tenant-name",
        "name: blue\n",
        "name: red\n",
        "tenants[1].name",
        0,
        ["duplicate tenant name 'red'"],
    ),
    (
        "duplicate-vm-address",
        "server: hv2, kind: netns, address: 100.64.1.11}",
        "server: hv2, kind: netns, address: 100.64.1.10}",
        "vms[1].address",
        0,
        ["duplicate address 100.64.1.10 in tenant 'red'", "also vms[0]"],
    ),
    (
        "duplicate-server-address",
        [
            ("{name: hv2, role", "{name: hv2, address: 198.18.0.20, role"),
            ("{name: hv3, role", "{name: hv3, address: 198.18.0.20, role"),
        ],
        "servers[2].address",
        0,
        ["duplicate address 198.18.0.20", "also servers[1]"],
    ),
    (
        "address-outside-subnet",
        "100.64.2.10}",
        "100.64.3.10}",
        "vms[2].address",
        0,
        ["100.64.3.10 is outside its subnet 'db' 100.64.2.0/24"],
    ),
    ("address-is-gateway", "100.64.2.10}", "100.64.2.1}", "vms[2].address", 0, ["tenant gateway"]),
    (
        "server-outside-underlay",
        "{name: hv1, role: compute,",
        "{name: hv1, address: 198.19.0.5, role: compute,",
        "servers[0].address",
        0,
        ["outside the underlay subnet 198.18.0.0/24"],
    ),
] + MORE_CASES


def _apply(old: str | list[tuple[str, str]], new: str | None) -> tuple[str, int]:
    edits = old if isinstance(old, list) else [(old, new)]
    text, line = default_text(), 0
    for before, after in edits:
        text, line = mutate(before, after, text)
    return text, line


@pytest.mark.parametrize(
    ("old", "new", "path", "offset", "fragments"),
    [
        pytest.param(c[1], None, *c[2:], id=c[0]) if isinstance(c[1], list) else pytest.param(*c[1:], id=c[0])
        for c in CASES
    ],
)
def test_bad_topology_reports_path_line_and_message(old, new, path, offset, fragments):
    text, line = _apply(old, new)
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, "bad.yaml")
    issues = [i for i in caught.value.issues if i.path == path]
    assert issues, f"no issue at {path}; got: {caught.value}"
    matching = [i for i in issues if all(f in i.message for f in fragments)]
    assert matching, f"no issue at {path} with {fragments}; got: {issues}"
    assert matching[0].line == line + offset


def test_invalid_yaml_reports_the_line():
    text, line = mutate("tenants:\n", "tenants: [\n")
    with pytest.raises(TopologyError) as caught:
        parse_topology(text)
    (issue,) = caught.value.issues
    assert "not valid YAML" in issue.message
    assert issue.line is not None and issue.line > line


def test_top_level_must_be_a_mapping():
    with pytest.raises(TopologyError) as caught:
        parse_topology("- just\n- a list\n")
    assert "must be a mapping" in caught.value.issues[0].message


def test_default_topology_is_valid():
    topo = parse_topology(default_text())
    assert isinstance(topo, Topology)
    assert len([s for s in topo.servers if s.role == "compute"]) >= 4


def test_overlapping_address_spaces_across_tenants_are_allowed():
    # red-web1 and blue-web1 share 100.64.1.10 in the default file on purpose
    topo = parse_topology(default_text())
    assert topo.vm("red-web1").address == topo.vm("blue-web1").address
