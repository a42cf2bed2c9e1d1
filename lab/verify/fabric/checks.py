"""Fabric checks: underlay, tenant reachability and MTU, isolation, VNI on
the wire, no flooding across VTEPs. Each measures the running lab with the
collectors and compares with the plan and its specs. Names are
fabric.<tenant>.<what>, fabric.underlay.* and fabric.bridges.*; a check that
errors or is switched off reports under fabric.all_tenants.<what>."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

from lab.apply.nsexec import run_collector
from lab.compute import host_load
from lab.plan.model import EndpointPlan, Plan
from lab.verify import evidence
from lab.verify.endpoints import endpoint, reach_from
from lab.verify.fabric.captures import capture_vxlan
from lab.verify.fabric.port_counters import count_icmp_per_port
from lab.verify.result import CheckResult

GROUP = "fabric"


def _netns_endpoints(plan: Plan, tenant: str | None = None) -> list[EndpointPlan]:
    return plan.stand_ins(tenant)


def _probe_from(plan: Plan, source: EndpointPlan, targets: list[str], tries: int = 3) -> list[dict]:
    """Reachability from an endpoint, whatever it is: a namespace or a VM."""
    return endpoint(plan.lab, source, source.namespace).reach(targets, tries)


RTT_SAMPLES = 7  # 7 vs 7 lets `lab regress` run its test (p can reach < 0.01)


def _reach(namespace: str, targets: list[str], *extra: str) -> list[dict]:
    return reach_from(namespace, targets, *extra)


def _verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def check_underlay(plan: Plan) -> list[CheckResult]:
    """Every VTEP answers the ToR with a full-size, unfragmentable packet."""
    tor = next(h for h in plan.hosts if h.role == "tor")
    targets = [h.underlay_ip for h in plan.hosts if h.underlay_ip and h.role != "tor"]
    results = _reach(tor.namespace, targets, "--size", str(plan.underlay_mtu), "--df")
    bad = [r["target"] for r in results if not r["reachable"]]
    return [CheckResult(
        name="fabric.underlay.reachability_mtu", group=GROUP,
        target=f"{len(targets)} VTEPs answer at {plan.underlay_mtu} B with DF",
        measured=f"{len(targets) - len(bad)}/{len(targets)} answered", verdict=_verdict(not bad),
        evidence=f"unreachable: {', '.join(bad)}" if bad else "all answered",
        metrics={"underlay_unreachable": [float(len(bad))]})]


def _cross_server_pairs(plan: Plan, tenant: str, sources: str = "netns") -> list[tuple[EndpointPlan, EndpointPlan]]:
    """(source, target) endpoint pairs of a tenant on different servers;
    sources of kind `sources` ("netns", "vm" or "any")."""
    eps = [e for e in plan.endpoints if e.tenant == tenant]
    return [(a, b) for a, b in itertools.permutations(eps, 2)
            if sources in ("any", a.kind) and a.server != b.server]


def check_tenant_reachability(plan: Plan) -> list[CheckResult]:
    """Within each tenant: every endpoint (namespace or VM) reaches every
    other one on another server over the overlay, and its gateway."""
    checks = []
    for tenant in plan.tenants:
        sources = [e for e in plan.endpoints if e.tenant == tenant.name]
        if not sources:
            continue
        total, failed = 0, []
        for src in sources:
            targets = [b.address for a, b in _cross_server_pairs(plan, tenant.name, "any") if a == src]
            results = _probe_from(plan, src, [*targets, src.gateway])
            total += len(results)
            failed += [f"{src.name}->{r['target']}" for r in results if not r["reachable"]]
        checks.append(CheckResult(
            name=f"fabric.{tenant.name}.reachability", group=GROUP,
            target="every endpoint reaches its tenant peers on other servers and its gateway",
            measured=f"{total - len(failed)}/{total} reachable", verdict=_verdict(not failed),
            evidence="; ".join(failed) or "all reachable",
            metrics={"unreachable_pairs": [float(len(failed))]}))
    return checks


def check_tenant_mtu(plan: Plan) -> list[CheckResult]:
    """A packet of the spec's MTU with DF set crosses the overlay between servers."""
    checks = []
    for tenant in plan.tenants:
        pairs = _cross_server_pairs(plan, tenant.name)
        if not pairs:
            continue
        mtu = plan.specs.mtu or tenant.mtu
        src, dst = pairs[0]
        with host_load.measuring() as window:  # RTT follows the scheduler: keep how busy it was
            result = _reach(src.namespace, [dst.address], "--size", str(mtu), "--df",
                            "--samples", str(RTT_SAMPLES))[0]
        reply = result.get("reply")
        answer = f"ICMP {reply['icmp_type']}/{reply['icmp_code']} from {reply['src']}" if reply else "no reply"
        rtt = {"rtt_ms": result["rtt_samples_ms"], **window.result.to_metrics()} \
            if result.get("rtt_samples_ms") else {}
        checks.append(CheckResult(
            name=f"fabric.{tenant.name}.mtu", group=GROUP,
            target=f"{mtu} B with DF from {src.name} to {dst.name} (+50 B VXLAN on the underlay)",
            measured="delivered" if result["reachable"] else "lost",
            verdict=_verdict(result["reachable"]), evidence=answer, metrics=rtt))
    return checks


def check_isolation(plan: Plan) -> list[CheckResult]:
    """Probes from one tenant to every address of the others (overlapping on
    purpose) must never reach another tenant's endpoint: ICMP requests are
    counted on each endpoint's bridge port."""
    by_port = {(e.server_namespace, e.port): e for e in plan.endpoints}
    checks = []
    for tenant in plan.tenants:
        mine = [e for e in plan.endpoints if e.tenant == tenant.name]
        # one source of each kind: a namespace stand-in and a real VM
        sources = [kind[0] for kind in (plan.stand_ins(tenant.name), [e for e in mine if e.is_vm]) if kind]
        foreign = sorted({e.address for e in plan.endpoints if e.tenant != tenant.name})
        if not sources or not foreign:
            continue
        with count_icmp_per_port(plan) as counts:
            for src in sources:
                _probe_from(plan, src, foreign, tries=1)
            seen = counts()
        leaks = [f"{by_port[k].name} ({n} pkts)" for k, n in seen.items()
                 if n and k in by_port and by_port[k].tenant != tenant.name]
        checks.append(CheckResult(
            name=f"fabric.{tenant.name}.isolation", group=GROUP,
            target=(f"probes from {', '.join(s.name for s in sources)} to {len(foreign)} addresses "
                    "of other tenants reach none of them"),
            measured=f"{len(leaks)} foreign endpoints reached", verdict=_verdict(not leaks),
            evidence="; ".join(leaks) or "no foreign endpoint saw a probe",
            metrics={"isolation_leaks": [float(len(leaks))]}))
    return checks


def _evidence_path(plan: Plan, name: str) -> Path:
    return evidence.new_path(plan.lab, name, ".pcap")


def check_vni_on_wire(plan: Plan) -> list[CheckResult]:
    """Traffic of each tenant crosses the ToR in VXLAN (UDP 4789) with its own VNI."""
    expected = {e.mac: e.vni for e in plan.endpoints} | {t.gateway_mac: t.vni for t in plan.tenants}
    owner = {e.mac: e.tenant for e in plan.endpoints} | {t.gateway_mac: t.name for t in plan.tenants}
    pcap = _evidence_path(plan, "vni")

    def traffic() -> None:
        for tenant in plan.tenants:
            pairs = _cross_server_pairs(plan, tenant.name)
            if pairs:
                _reach(pairs[0][0].namespace, [pairs[0][1].address], "--tries", "1")

    frames = capture_vxlan(plan, traffic, pcap)
    seen: Counter[tuple[str, int]] = Counter()
    wrong = []
    for f in frames:
        mac = f["inner_src_mac"]
        if mac in expected:
            seen[(owner[mac], f["vni"])] += 1
            if f["vni"] != expected[mac] or f["udp_dport"] != 4789:
                wrong.append(f"{owner[mac]} frame from {mac} with VNI {f['vni']} (expected {expected[mac]})")
    checks = []
    for tenant in plan.tenants:
        if not _cross_server_pairs(plan, tenant.name):
            continue
        ok_frames = seen[(tenant.name, tenant.vni)]
        mine = [w for w in wrong if w.startswith(f"{tenant.name} ")]
        checks.append(CheckResult(
            name=f"fabric.{tenant.name}.vni_on_wire", group=GROUP,
            target=f"VXLAN UDP 4789 with VNI {tenant.vni}",
            measured=f"{ok_frames} frames with VNI {tenant.vni}, {len(mine)} with another VNI",
            verdict=_verdict(ok_frames > 0 and not mine), evidence=str(pcap)))
    return checks


def check_no_flooding(plan: Plan) -> list[CheckResult]:
    """Unknown unicast and broadcast from endpoints never leave their VTEP."""
    pcap = _evidence_path(plan, "flooding")
    sources = _netns_endpoints(plan)

    def traffic() -> None:
        for src in sources:
            run_collector(src.namespace, "l2_probe", "--count", "3")

    frames = capture_vxlan(plan, traffic, pcap)
    flooded = [f for f in frames if f["inner_dst_mac"] in ("02:de:ad:00:be:ef", "ff:ff:ff:ff:ff:ff")]
    return [CheckResult(
        name="fabric.bridges.no_flooding", group=GROUP,
        target="0 unknown-unicast or broadcast frames between VTEPs",
        measured=f"{len(flooded)} flooded frames seen at the ToR", verdict=_verdict(not flooded),
        evidence=str(pcap), metrics={"flooded_frames": [float(len(flooded))]})]


# each check with the name it reports under when it errors or is not run
# (its results are per tenant: fabric.<tenant>.<what>; lab.verify.names)
FABRIC_CHECKS = {
    check_underlay: "fabric.underlay.reachability_mtu",
    check_tenant_reachability: "fabric.all_tenants.reachability",
    check_tenant_mtu: "fabric.all_tenants.mtu",
    check_isolation: "fabric.all_tenants.isolation",
    check_vni_on_wire: "fabric.all_tenants.vni_on_wire",
    check_no_flooding: "fabric.bridges.no_flooding",
}
# checks a topology may switch off; the report then says so instead of a verdict
OPTIONAL = {check_isolation: "isolation", check_no_flooding: "no_flooding"}


def _not_run(name: str, spec: str) -> list[CheckResult]:
    return [CheckResult(name=name, group=GROUP, target="-",
                        measured=f"not run: specs.{spec} is false in the topology", verdict="skipped")]


def verify_checks(plan: Plan) -> list:
    from functools import partial

    from lab.verify.runner import named_check

    checks = []
    for fn, name in FABRIC_CHECKS.items():
        spec = OPTIONAL.get(fn)
        run = partial(_not_run, name, spec) if spec and not getattr(plan.specs, spec) else partial(fn, plan)
        checks.append(named_check(name, GROUP, run))
    return checks
