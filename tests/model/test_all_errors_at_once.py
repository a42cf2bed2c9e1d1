"""A user sees every problem of a file in one run, structural and cross-reference."""

from __future__ import annotations

import pytest

from lab.model import TopologyError, parse_topology

from .helpers import default_text, mutate


def _issues(text: str) -> list:
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, "bad.yaml")
    return caught.value.issues


def test_several_errors_are_reported_at_once_in_line_order():
    text, _ = mutate("name: demo", "name: Demo")  # structural, top level
    text, _ = mutate("vni: 1002", "vni: 1001", text)  # cross-reference, tenants
    text, _ = mutate("server: hv3", "server: hv9", text)  # cross-reference, vms
    text, _ = mutate("100.64.1.11}\n  - {name: red-db1", "'fe80::1'}\n  - {name: red-db1", text)
    text, _ = mutate("role: mux", "role: storage", text)  # structural, servers
    issues = _issues(text)
    paths = [i.path for i in issues]
    # vms[1] and servers[4] failed structurally; vms[2] did not, and hv9 is
    # neither a valid server nor the one that failed (mux1): reported now
    assert {"name", "tenants[1].vni", "vms[1].address", "servers[4].role", "vms[2].server"} == set(paths)
    lines = [i.line for i in issues]
    assert lines == sorted(lines)


def test_cross_reference_checks_run_for_sections_that_validated():
    # a structural error in vms does not hide a duplicate VNI in tenants
    text, _ = mutate(
        "kind: netns, address: 100.64.1.10}\n  - {name: red-web2",
        "kind: netns, address: 100.64.1.10, colour: red}\n  - {name: red-web2",
    )
    text, _ = mutate("vni: 1002", "vni: 1001", text)
    paths = {i.path for i in _issues(text)}
    assert paths == {"vms[0].colour", "tenants[1].vni"}


def test_a_broken_section_causes_no_false_reference_errors():
    # servers fail structurally: VMs placed on hv1..hv4 must not be reported
    # as "unknown server", only the real problem is
    text, _ = mutate("role: mux", "role: storage")
    issues = _issues(text)
    assert [i.path for i in issues] == ["servers[4].role"]


def test_each_issue_has_path_line_and_message():
    text, _ = mutate("vni: 1002", "vni: 1001")
    text, _ = mutate("mtu: 9000", "mtu: 99999", text)
    for issue in _issues(text):
        assert issue.path and issue.message
        assert isinstance(issue.line, int) and issue.line > 0
        assert str(issue).startswith(f"line {issue.line}: {issue.path}: ")


def test_validation_creates_nothing(tmp_path, monkeypatch):
    """Validation is pure: an invalid file leaves the working directory empty."""
    monkeypatch.chdir(tmp_path)
    text, _ = mutate("vni: 1002", "vni: 1001")
    _issues(text)
    assert list(tmp_path.iterdir()) == []


def test_recursive_yaml_alias_is_a_clean_error():
    text = default_text() + "extra: &loop [*loop]\n"
    assert "recursive alias" in _issues(text)[0].message


def test_alias_bomb_is_refused_quickly():
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    text = default_text() + "\n".join(bomb) + "\n"
    assert "more than 100000 values" in _issues(text)[0].message


def _paths(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for issue in _issues(text):
        found.setdefault(issue.path, []).append(issue.message)
    return found


TWO_LBS = (
    "load_balancers:\n"
    "  - {name: web, tenant: red, backends: [red-web1, red-web2], frontends: [{vip: 192.0.2.10, port: 70000}]}\n"
    "  - {name: app, tenant: red, backends: [red-db1], frontends: [{vip: 100.64.1.20, port: 80}]}\n"
    "specs:"
)


def test_cross_references_of_valid_items_are_checked_beside_broken_ones():
    """Four structural errors do not hide a duplicate VM name and a VIP inside
    a tenant subnet: all six are reported in one run."""
    text, _ = mutate("kind: netns, address: 100.64.1.10}\n  - {name: red-web2",
                     "kind: vm, size: Huge, address: 100.64.1.10}\n  - {name: red-web2")
    text, _ = mutate("100.64.1.11}\n  - {name: red-db1", "'fe80::1'}\n  - {name: red-db1", text)
    text, _ = mutate("role: mux", "role: storage", text)
    text, _ = mutate("{name: blue-web2,", "{name: blue-web1,", text)
    text, _ = mutate("specs:", TWO_LBS, text)
    found = _paths(text)
    assert set(found) == {"vms[0].size", "vms[1].address", "servers[4].role",
                          "load_balancers[0].frontends[0].port", "vms[4].name", "load_balancers[1].frontends[0].vip"}
    assert "duplicate VM name 'blue-web1' (also vms[3])" in found["vms[4].name"][0]
    assert any("overlaps subnet 'web'" in m for m in found["load_balancers[1].frontends[0].vip"])


def test_items_that_failed_are_not_reported_as_unknown_where_they_are_named():
    # red-web1 (a backend) and tenant blue (of two VMs) fail structurally: the
    # load balancer and the VMs that name them get no "unknown" error
    text, _ = mutate("kind: netns, address: 100.64.1.10}\n  - {name: red-web2",
                     "kind: vm, size: Huge, address: 100.64.1.10}\n  - {name: red-web2")
    text, _ = mutate("{name: web, prefix: 100.64.1.0/24}   #", "{name: web, prefix: 100.64.1.0/33}   #", text)
    text, _ = mutate("specs:", "load_balancers:\n  - {name: web, tenant: red, backends: [red-web1, red-web2], "
                     "frontends: [{vip: 192.0.2.10, port: 80}]}\nspecs:", text)
    assert set(_paths(text)) == {"vms[0].size", "tenants[1].subnets[0].prefix"}


def test_an_item_without_a_usable_name_silences_references_to_its_section():
    text, _ = mutate("{name: hv2, role: compute,", "{name: [hv2], role: compute,")
    assert set(_paths(text)) == {"servers[1].name"}  # vms[1] and vms[3] name hv2


def test_a_misspelt_section_is_one_error_with_a_suggestion():
    text, line = mutate("tenants:\n", "tenats:\n")
    (issue,) = _issues(text)
    assert (issue.path, issue.line) == ("tenats", line)
    assert "unknown key 'tenats' (did you mean 'tenants'?)" in issue.message


def test_a_misspelt_required_key_is_not_also_reported_missing():
    text, _ = mutate("    vni: 1002\n", "    vnii: 1002\n")
    found = _paths(text)
    assert list(found) == ["tenants[1].vnii"]
    assert "did you mean 'vni'?" in found["tenants[1].vnii"][0]


def test_a_second_key_beside_the_real_one_is_only_unknown():
    # `tenants` is present, so `tenats` is an extra key, not a typo of a missing one
    text = default_text() + "tenats: []\n"
    found = _paths(text)
    assert list(found) == ["tenats"]


@pytest.mark.parametrize(("old", "new", "path", "hint"), [
    ("tenant: blue, subnet: web, server: hv4", "tenant: bleu, subnet: web, server: hv4", "vms[4].tenant", "blue"),
    ("server: hv3", "server: hv33", "vms[2].server", "hv3"),
    ("subnet: db,", "subnet: dbb,", "vms[2].subnet", "db"),
    ("role: mux", "role: muxx", "servers[4].role", "mux"),
    ("server: hv3, kind: netns", "server: hv3, kind: vm, size: Standard_DS1v2", "vms[2].size", "Standard_DS1_v2"),
])
def test_unknown_names_suggest_the_near_miss(old, new, path, hint):
    (message,) = _paths(mutate(old, new)[0])[path]
    assert f"did you mean '{hint}'?" in message


def test_no_suggestion_for_a_name_far_from_every_choice():
    (message,) = _paths(mutate("server: hv3", "server: storage7")[0])["vms[2].server"]
    assert "did you mean" not in message
