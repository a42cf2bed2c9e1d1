"""`lab lb ...` and `lab bench lb`: thin wrappers over the LB library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import complete
from lab.cli.common import Format, console, emit, fail, out
from lab.cli.labs import LabOption as LabOpt
from lab.cli.labs import TopologyArgument as TopoArg
from lab.cli.labs import TopologyOption as TopoOpt
from lab.cli.labs import named_lab, require_known


def _lab(topology: Path | None, lab: str | None, option: Path | None = None) -> str:
    """The lab's name; exit 4 unless this host holds it (named by file or --lab)."""
    return require_known(named_lab(topology, lab, option).name)


def _root() -> None:
    if os.geteuid() != 0:
        raise fail("this command uses BPF and network namespaces and needs root", 1)


def _mux(lab: str, lb_name: str) -> str:
    from lab.lb.state import load_state, muxes_of

    for mux in muxes_of(lab):
        if any(lb.name == lb_name for lb in load_state(lab, mux).spec.lbs):
            return mux
    raise fail(f"lab '{lab}' has no running load balancer '{lb_name}'")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    lb = typer.Typer(help="The XDP load balancer (SLB MUX): status and run-time changes.",
                     no_args_is_help=True)
    app.add_typer(lb, name="lb")
    lb.command("status")(status)
    lb.command("add-vip")(add_vip)
    lb.command("remove-vip")(remove_vip)
    lb.command("add-backend")(add_backend)
    lb.command("remove-backend")(remove_backend)
    bench.command("lb")(bench_lb)


def status(topology: TopoArg = None, lab: LabOpt = None, fmt: Format = "table",
           topology_option: TopoOpt = None) -> None:
    """VIPs, backends, health and counters of the lab's MUXes."""
    name = _lab(topology, lab, topology_option)
    _root()
    from lab.cli.lb_view import render
    from lab.lb.status import lb_status

    data = lb_status(name)
    if fmt == "json":
        emit({"lab": name, "muxes": data}, "json")
    else:
        render(data, out)


def _change(lab: str, lb_name: str, what: str, op) -> None:
    from lab.lb.control import with_controller

    _root()
    try:
        with with_controller(lab, _mux(lab, lb_name)) as ctl:
            seconds = op(ctl)
    except (KeyError, ValueError) as exc:
        raise fail(str(exc).strip("'\"")) from None
    out.print(f"{what}: done in {seconds * 1000:.1f} ms (no program reload)")


LbArg = Annotated[str, typer.Argument(help="Load balancer name (see lab lb status)")]
VipArg = Annotated[str, typer.Argument(help="VIP address, from the lab's external.vip_pool")]
PortArg = Annotated[int, typer.Argument(help="Frontend port 1-65535, or 0 for HA ports (protocol all)")]
VmArg = Annotated[str, typer.Argument(help="VM or namespace endpoint of the lab, in the LB's tenant",
                                       autocompletion=complete.node_names)]


def add_vip(lb_name: LbArg, vip: VipArg, port: PortArg,
            protocol: Annotated[str, typer.Option(help="tcp, udp, or all (with port 0: HA ports)")] = "tcp",
            lab: LabOpt = None, topology: TopoOpt = None) -> None:
    """Open VIP:PORT/PROTOCOL on a running load balancer."""
    lab = _lab(None, lab, topology)
    from pydantic import ValidationError

    from lab.plan.lb_model import FrontendSpec

    try:
        fe = FrontendSpec(vip=vip, port=port, protocol=protocol)
    except ValidationError as exc:
        raise fail(f"bad frontend: {exc.errors()[0]['msg']}") from None
    if (port == 0) != (protocol == "all"):
        raise fail("HA ports is port 0 with protocol all; a specific rule needs port 1-65535 and tcp/udp")
    _change(lab, lb_name, f"add {fe.label()}", lambda ctl: ctl.add_frontend(lb_name, fe))


def remove_vip(lb_name: LbArg, vip: VipArg, port: PortArg,
               protocol: Annotated[str, typer.Option(help="tcp, udp, or all (HA ports)")] = "tcp",
               lab: LabOpt = None, topology: TopoOpt = None) -> None:
    """Close VIP:PORT/PROTOCOL (traffic to it is then dropped and counted)."""
    lab = _lab(None, lab, topology)
    _change(lab, lb_name, f"remove {vip}:{port}/{protocol}",
            lambda ctl: ctl.remove_frontend(lb_name, vip, port, protocol))


def add_backend(lb_name: LbArg, vm: VmArg, lab: LabOpt = None, topology: TopoOpt = None) -> None:
    """Add a VM of the lab to a load balancer's pool."""
    lab = _lab(None, lab, topology)
    from lab.plan.lb import backend_spec
    from lab.providers.embedded import saved_plan

    plan = saved_plan(lab)
    if plan is None:
        raise fail(f"lab '{lab}' is not up (no saved plan)")
    try:
        spec = backend_spec(plan, vm)
    except StopIteration:
        raise fail(f"lab '{lab}' has no VM '{vm}'") from None
    _change(lab, lb_name, f"add backend {vm}", lambda ctl: ctl.add_backend(lb_name, spec))


def remove_backend(lb_name: LbArg, vm: VmArg, lab: LabOpt = None, topology: TopoOpt = None) -> None:
    """Remove a backend; its established flows are re-hashed to the others."""
    lab = _lab(None, lab, topology)
    _change(lab, lb_name, f"remove backend {vm}", lambda ctl: ctl.remove_backend(lb_name, vm))


LiveOpt = Annotated[bool, typer.Option("--live/--no-live", help="also the live XDP vs nftables run")]
FramesOpt = Annotated[int, typer.Option(help="frames per live run (bounded)", min=10_000, max=2_000_000)]
MuxesOpt = Annotated[str | None, typer.Option(
    "--muxes", help="MUX counts to compare under the same offered load, e.g. 1,2 (ECMP over the MUXes)")]
OfferedOpt = Annotated[int | None, typer.Option(
    "--offered-pps", min=1_000, max=10_000_000, help="offered load of the --muxes runs (default: flat out)")]


def _mux_counts(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise fail(f"--muxes {text!r}: a comma-separated list of MUX counts, e.g. 1,2", 2) from None
    if not counts or not all(1 <= c <= 8 for c in counts):
        raise fail(f"--muxes {text!r}: every count must be 1-8", 2)
    return list(dict.fromkeys(counts))


def bench_lb(fmt: Format = "table", live: LiveOpt = True, frames: FramesOpt = 300_000,
             muxes: MuxesOpt = None, offered_pps: OfferedOpt = None) -> None:
    """ns/packet (BPF_PROG_TEST_RUN, vs XDP_DROP), live CPU/pps vs an nftables DNAT LB,
    and with --muxes the MUX pool: CPU per packet per MUX and total pps for each MUX count."""
    counts = _mux_counts(muxes)
    _root()
    from lab.lb.bench import run_test_run_bench
    from lab.lb.livebench import run_live_bench

    with console.status("lb bench: BPF_PROG_TEST_RUN"):
        tr = run_test_run_bench()
    lv = None
    if live:
        with console.status("lb bench: live XDP vs nftables"):
            lv = run_live_bench(frames)
    pool = []
    if counts:
        from lab.lb.poolbench import run_pool_bench

        with console.status(f"lb bench: MUX pool of {', '.join(map(str, counts))} MUXes"):
            pool = run_pool_bench(counts, frames, offered_pps)
    data = {"drop_ns": tr.drop_ns, "established_ns": tr.established_ns, "new_flow_ns": tr.new_flow_ns,
            "rewind_ns": tr.rewind_ns, "established_raw_ns": tr.established_raw_ns,
            "new_flow_raw_ns": tr.new_flow_raw_ns,
            "median_round": tr.medians,
            "xdp_cpu_ns_per_pkt": round(lv.xdp_cpu_ns_per_pkt, 1) if lv else None,
            "nft_cpu_ns_per_pkt": round(lv.nft_cpu_ns_per_pkt, 1) if lv else None,
            "xdp_pps": round(lv.xdp_pps) if lv else None, "nft_pps": round(lv.nft_pps) if lv else None,
            "muxes": [p.to_json() for p in pool]}
    if fmt == "json":
        emit(data, "json")
        return
    _print_bench(tr, lv, pool)


def _print_bench(tr, lv, pool) -> None:
    from rich.table import Table

    t = Table("measure", "value", "vs baseline", "target", title="lab bench lb")
    t.add_row("XDP_DROP floor", f"{tr.drop_ns:.0f} ns/pkt", "1.00x", "")
    t.add_row("LB established flow", f"{tr.established_ns:.0f} ns/pkt", f"{tr.established_ratio:.2f}x", "<= 2.0x")
    t.add_row("LB new flow (SYN)", f"{tr.new_flow_ns:.0f} ns/pkt", f"{tr.new_flow_ratio:.2f}x", "<= 2.0x")
    if lv:
        ratio = lv.nft_cpu_ns_per_pkt / max(lv.xdp_cpu_ns_per_pkt, 1e-9)
        t.add_row("MUX CPU, XDP LB", f"{lv.xdp_cpu_ns_per_pkt:.0f} ns/pkt", "1.00x", "")
        t.add_row("MUX CPU, nftables DNAT", f"{lv.nft_cpu_ns_per_pkt:.0f} ns/pkt", f"{ratio:.1f}x", ">= 4x")
        t.add_row("forwarded, XDP LB", f"{lv.xdp_pps / 1e6:.2f} Mpps", "", "")
        t.add_row("forwarded, nftables", f"{lv.nft_pps / 1e6:.2f} Mpps", "", "")
    out.print(t)
    out.print(f"The benchmark build rewinds each encapsulation (one bpf_xdp_adjust_head the real "
              f"path does not make) so `repeat` re-runs the real path; that call, measured at "
              f"{tr.rewind_ns:.0f} ns in the same rounds, is taken off. Raw: established "
              f"{tr.established_raw_ns:.0f} ns, new flow {tr.new_flow_raw_ns:.0f} ns. Figures are "
              f"the fastest of the interleaved rounds; median round: "
              + ", ".join(f"{k} {v:.0f}" for k, v in (tr.medians or {}).items()) + ".")
    if pool:
        p = Table("MUXes", "offered", "forwarded", "whole CPU/pkt", "XDP_DROP floor",
                  "per MUX: share, XDP program CPU/pkt",
                  title="MUX pool behind an ECMP route (same offered load)")
        for f in pool:
            p.add_row(str(f.muxes), f"{f.offered_pps / 1e6:.2f} Mpps", f"{f.total_pps / 1e6:.2f} Mpps",
                      f"{f.whole_cpu_ns_per_pkt:.0f} ns", f"{f.xdp_drop_ns_per_pkt:.0f} ns",
                      ", ".join(f"{m['mux']} {m['share']:.0%} {m['cpu_ns_per_pkt']:.0f} ns" for m in f.per_mux))
        out.print(p)
