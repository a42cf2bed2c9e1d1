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
    assert {"name", "tenants[1].vni", "vms[1].address", "servers[4].role"} <= set(paths)
    lines = [i.line for i in issues]
    assert lines == sorted(lines)
    # vms failed structurally, so VM cross-references are not checked (no
    # "unknown server" guess built on a section that did not parse) ...
    assert "vms[2].server" not in paths


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
