"""Load-balancer fields that are honoured or refused, never silently ignored:
specs.dsr, frontends[].backend_port and load_balancers[].mux."""

from __future__ import annotations

import pytest

from lab.model import TopologyError, parse_topology

from .helpers import mutate, with_lb

TWO_MUXES = ("{name: mux1, role: mux,", "{name: mux2, role: mux}\n  - {name: mux1, role: mux,")


def _issues(text: str) -> dict[str, list[str]]:
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, "bad.yaml")
    found: dict[str, list[str]] = {}
    for issue in caught.value.issues:
        found.setdefault(issue.path, []).append(issue.message)
    return found


def _with_frontends(frontends: str) -> str:
    return mutate("specs:", with_lb(frontends))[0]


def test_dsr_false_is_refused_naming_the_field_and_why():
    text, line = mutate("  no_flooding: true\n", "  no_flooding: true\n  dsr: false\n")
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, "bad.yaml")
    (issue,) = caught.value.issues
    assert issue.path == "specs.dsr" and issue.line == line + 1
    assert "direct server return by design" in issue.message


def test_dsr_true_is_accepted():
    text, _ = mutate("  no_flooding: true\n", "  no_flooding: true\n  dsr: true\n")
    assert parse_topology(text).specs.dsr is True


def test_backend_port_equal_to_another_rules_port_is_refused():
    found = _issues(_with_frontends("[{vip: 192.0.2.10, port: 80, backend_port: 443}, {vip: 192.0.2.10, port: 443}]"))
    (message,) = found["load_balancers[0].frontends[0].backend_port"]
    assert "also the port of load_balancers[0].frontends[1]" in message
    assert list(found) == ["load_balancers[0].frontends[0].backend_port"]


def test_two_rules_remapped_to_one_backend_port_are_refused_once():
    found = _issues(_with_frontends(
        "[{vip: 192.0.2.10, port: 80, backend_port: 8080}, {vip: 192.0.2.10, port: 81, backend_port: 8080}]"
    ))
    assert list(found) == ["load_balancers[0].frontends[1].backend_port"]
    assert "also the backend_port of load_balancers[0].frontends[0]" in found[
        "load_balancers[0].frontends[1].backend_port"][0]


@pytest.mark.parametrize("frontends", [
    # another protocol: tcp/8080 and udp/8080 are different sockets
    "[{vip: 192.0.2.10, port: 80, backend_port: 8080}, {vip: 192.0.2.10, port: 8080, protocol: udp}]",
    # another VIP
    "[{vip: 192.0.2.10, port: 80, backend_port: 8080}, {vip: 192.0.2.11, port: 8080}]",
    # remapping two ports to two distinct backend ports
    "[{vip: 192.0.2.10, port: 80, backend_port: 8080}, {vip: 192.0.2.10, port: 443, backend_port: 8443}]",
])
def test_unambiguous_backend_ports_are_accepted(frontends):
    parse_topology(_with_frontends(frontends))


def test_backend_port_across_load_balancers_of_one_vip_is_checked():
    second = "\n  - {name: web2, tenant: red, backends: [red-db1], frontends: [{vip: 192.0.2.10, port: 8080}]}"
    text, _ = mutate("specs:", with_lb("[{vip: 192.0.2.10, port: 80, backend_port: 8080}]", "}" + second))
    found = _issues(text)
    assert "also the port of load_balancers[1].frontends[0]" in found[
        "load_balancers[0].frontends[0].backend_port"][0]


def test_ha_ports_rule_with_backend_port_names_backend_port():
    found = _issues(_with_frontends("[{vip: 192.0.2.10, port: 0, protocol: all, backend_port: 8080}]"))
    assert list(found) == ["load_balancers[0].frontends[0].backend_port"]
    assert "HA-ports rule" in found["load_balancers[0].frontends[0].backend_port"][0]


def test_mux_must_name_a_mux_server_with_a_hint():
    text, _ = mutate(*TWO_MUXES)
    text, _ = mutate("specs:", with_lb("[{vip: 192.0.2.10, port: 80}]", ", mux: mux3}"), text)
    (message,) = _issues(text)["load_balancers[0].mux"]
    assert "'mux3' is not a mux server" in message and "mux servers: mux2, mux1" in message
    assert "did you mean" in message


def test_mux_naming_a_compute_server_is_refused():
    text, _ = mutate("specs:", with_lb("[{vip: 192.0.2.10, port: 80}]", ", mux: hv1}"))
    assert "'hv1' is not a mux server" in _issues(text)["load_balancers[0].mux"][0]


def test_mux_naming_the_second_mux_is_accepted():
    text, _ = mutate(*TWO_MUXES)
    text, _ = mutate("specs:", with_lb("[{vip: 192.0.2.10, port: 80}]", ", mux: mux2}"), text)
    assert parse_topology(text).load_balancers[0].mux == "mux2"

