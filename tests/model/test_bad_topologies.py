"""A table of bad topologies -> exact YAML path, line and message fragments."""

from __future__ import annotations

import pytest

from lab.model import Topology, TopologyError, parse_topology

from .helpers import default_text, mutate, with_lb

NINE_MORE_SERVERS = "".join(f"  - {{name: hv{n}, role: compute}}\n" for n in range(5, 14))
HV4 = "  - {name: hv4, role: compute, nics: [{name: eth0, speed_gbps: 25, rdma: true}]}\n"

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
    (
        "unknown-server",
        "server: hv3",
        "server: hv9",
        "vms[2].server",
        0,
        ["unknown server 'hv9'", "compute servers: hv1, hv2, hv3, hv4 or auto"],
    ),
    (
        "lb-muxes-unknown",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 80}]", ", muxes: [mux1, mux9]}"),
        "load_balancers[0].muxes[1]",
        1,
        ["'mux9' is not a mux server", "mux servers: mux1"],
    ),
    (
        "lb-mux-and-muxes",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 80}]", ", mux: mux1, muxes: [mux1]}"),
        "load_balancers[0].muxes",
        1,
        ["either mux (mux1) or muxes, not both"],
    ),
    (
        "lb-muxes-static",
        [("  name: tor\n", "  name: tor\n  routing: static\n"),
         ("  - {name: mux1, role: mux, nics: [{name: eth0, speed_gbps: 25}]}\n",
          "  - {name: mux1, role: mux, nics: [{name: eth0, speed_gbps: 25}]}\n  - {name: mux2, role: mux}\n"),
         ("specs:", with_lb("[{vip: 192.0.2.10, port: 80}]", ", muxes: [mux1, mux2]}"))],
        "load_balancers[0].muxes",
        1,
        ["2 muxes need tor.routing: bgp"],
    ),
    (
        "vm-on-mux",
        "server: hv4",
        "server: mux1",
        "vms[4].server",
        0,
        ["'mux1' is a mux server", "compute servers"],
    ),
    (
        "bad-server-name",
        "server: hv4",
        "server: HV4",
        "vms[4].server",
        0,
        ["'HV4' is not valid here", "lowercase letters, digits and '-'", "or 'auto'"],
    ),
    (
        "unknown-tenant",
        "tenant: blue, subnet: web, server: hv4",
        "tenant: green, subnet: web, server: hv4",
        "vms[4].tenant",
        0,
        ["unknown tenant 'green'", "known: red, blue"],
    ),
    (
        "unknown-subnet",
        "subnet: db,",
        "subnet: app,",
        "vms[2].subnet",
        0,
        ["tenant 'red' has no subnet 'app'", "known: web, db"],
    ),
    (
        "vip-not-routable",
        "specs:",
        with_lb("[{vip: 203.0.113.10, port: 80}]"),
        "load_balancers[0].frontends[0].vip",
        1,
        ["203.0.113.10 is not routable", "192.0.2.0/24"],
    ),
    (
        "vip-overlaps-tenant",
        [
            ("vip_pool: 192.0.2.0/24", "vip_pool: 100.64.0.0/16"),
            ("specs:", with_lb("[{vip: 100.64.1.20, port: 80}]")),
        ],
        "load_balancers[0].frontends[0].vip",
        1,
        ["VIP 100.64.1.20 overlaps subnet 'web' 100.64.1.0/24 of tenant 'red'"],
    ),
    (
        "conflicting-rules",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 80}, {vip: 192.0.2.10, port: 80, backend_port: 8080}]"),
        "load_balancers[0].frontends[1]",
        1,
        ["conflicting rule: 192.0.2.10:80/tcp", "frontends[0]"],
    ),
    (
        "ha-ports-mixed",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 0, protocol: all}, {vip: 192.0.2.10, port: 443}]"),
        "load_balancers[0].frontends[1]",
        1,
        ["mixes an HA-ports rule with a specific port rule"],
    ),
    (
        "ha-ports-needs-all",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 0}]"),
        "load_balancers[0].frontends[0]",
        1,
        ["HA ports is port 0 with protocol all"],
    ),
    (
        "unknown-backend",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 80}]").replace("red-web2", "red-web9"),
        "load_balancers[0].backends[1]",
        1,
        ["unknown VM 'red-web9'", "red-web1, red-web2, red-db1"],
    ),
    (
        "backend-other-tenant",
        "specs:",
        with_lb("[{vip: 192.0.2.10, port: 80}]").replace("red-web2", "blue-web1"),
        "load_balancers[0].backends[1]",
        1,
        ["'blue-web1' is in tenant 'blue', not 'red'"],
    ),
    (
        "cluster-over-12",
        HV4,
        HV4 + NINE_MORE_SERVERS,
        "servers[12].cluster",
        9,
        ["13 compute servers", "at most 12"],
    ),
    (
        "tenant-mtu",
        "vni: 1002\n",
        "vni: 1002\n    mtu: 8960\n",
        "tenants[1].mtu",
        1,
        ["tenant MTU 8960 + 50 bytes", "underlay MTU 9000", "at most 8950"],
    ),
    (
        "subnet-too-small",
        "prefix: 100.64.2.0/24",
        "prefix: 100.64.2.0/30",
        "tenants[0].subnets[1].prefix",
        0,
        ["too small", "at most /29"],
    ),
    (
        "subnet-overlap-same-tenant",
        "prefix: 100.64.2.0/24",
        "prefix: 100.64.1.128/25",
        "tenants[0].subnets[1].prefix",
        0,
        ["overlaps subnet 'web' of the same tenant"],
    ),
    (
        "host-bits",
        "prefix: 100.64.2.0/24",
        "prefix: 100.64.2.5/24",
        "tenants[0].subnets[1].prefix",
        0,
        ["not an IPv4 prefix", "host bits"],
    ),
    (
        "pool-overlaps-underlay",
        "vip_pool: 192.0.2.0/24",
        "vip_pool: 198.18.0.0/25",
        "external.vip_pool",
        0,
        ["overlaps underlay.subnet 198.18.0.0/24"],
    ),
    (
        "lab-name-pattern",
        "name: demo",
        "name: Demo_Lab",
        "name",
        0,
        [
            "'Demo_Lab' is not a valid name",
            "lowercase letters, digits and '-', starting with a letter",
        ],
    ),
    (
        "lab-name-too-long",
        "name: demo",
        "name: a-very-long-lab-name",
        "name",
        0,
        ["must be at most 12 characters"],
    ),
    (
        "role-literal",
        "role: mux",
        "role: storage",
        "servers[4].role",
        0,
        ["'storage' is not allowed", "allowed: 'compute' or 'mux'"],
    ),
    (
        "nic-name-pattern",
        "{name: mux1, role: mux, nics: [{name: eth0",
        "{name: mux1, role: mux, nics: [{name: Eth-0",
        "servers[4].nics[0].name",
        0,
        ["lowercase letters and digits, starting with a letter"],
    ),
    (
        "unknown-field",
        "  mtu: 9000\n",
        "  mtu: 9000\n  jumbo: true\n",
        "underlay.jumbo",
        1,
        ["unknown key 'jumbo'", "allowed: subnet, mtu"],
    ),
    (
        "missing-field",
        "    vni: 1002\n",
        "",
        "tenants[1].vni",
        -1,
        ["required field 'vni' is missing"],
    ),
    (
        "wrong-type",
        "mtu: 9000",
        "mtu: jumbo",
        "underlay.mtu",
        0,
        ["'jumbo' is not valid", "expected a whole number"],
    ),
    (
        "out-of-range",
        "mtu: 9000",
        "mtu: 20000",
        "underlay.mtu",
        0,
        ["20000 is out of range", "at most 9216"],
    ),
    (
        "section-wrong-type",
        "tor:\n  name: tor\n",
        "tor: [tor]\n",
        "tor",
        0,
        ["expected a mapping with fields name, asn"],
    ),
    (
        "duplicate-key",
        "name: demo\n",
        "name: demo\nname: other\n",
        "name",
        1,
        ["duplicate key 'name' (also line 4)"],
    ),
    (
        "no-servers",
        "servers:\n",
        "servers: []\nold_servers:\n",
        "servers",
        0,
        ["must be at least 1 item(s)"],
    ),
]


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
