"""`lab list`, `lab exec`, `lab shell`, `lab capture`: the labs on this host
and a way into any node of one (lab.providers.nodes says what a node is).

A namespace node runs the command with this process's namespace switched
by setns in the child (pyroute2), so it sees exactly that node's links and
routes; a VM runs it through its run-command agent. The command's exit code
is the verb's exit code, as with `docker exec` or `ssh host cmd`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import complete
from lab.cli.common import Format, console, emit, fail, lazy, out, require_root
from lab.cli.labs import LabArgument as LabArg
from lab.cli.labs import lab_argument
from lab.exitcodes import ExitCode

labnodes = lazy("lab.providers.nodes")

NodeArg = Annotated[str, typer.Argument(help="Node: a server, mux, tor, client, gw.<tenant>, "
                                             "an endpoint or a VM (see lab status)",
                                        autocompletion=complete.node_names)]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("list")(list_labs)
    app.command("exec", context_settings={"allow_interspersed_args": False})(exec_node)
    app.command("shell")(shell)
    app.command("capture")(capture)
    from lab.cli.startup import bench_cli

    bench.command("cli")(bench_cli)


def list_labs(fmt: Format = "table") -> None:
    """Every lab on this host: state, provider, hosts, VMs, last verdict."""
    rows = labnodes.list_labs()
    if fmt == "json":
        emit({"labs": rows}, "json")
        return
    if not rows:
        out.print("no labs on this host (lab up TOPOLOGY brings one up)")
        return
    from lab.lines import print_lines

    print_lines(out, [(r["lab"], r["state"], r["provider"], str(r["hosts"]), str(r["vms"]),
                       r["last_verdict"] or "-") for r in rows],
                header=("lab", "state", "provider", "hosts", "VMs", "last verdict"))


def _node(lab: str, name: str):
    """The node as an endpoint of lab.compute.endpoints (a namespace or a VM)."""
    from lab.compute.endpoints import endpoint

    require_root("entering a lab's node")
    plan = labnodes.saved_plan(lab)
    if plan is None:
        raise fail(f"lab {lab} has no saved plan (it is not up): run lab up", ExitCode.CANNOT_MEASURE)
    try:
        node = labnodes.resolve(plan, name)
    except labnodes.NoSuchNodeError as exc:
        raise fail(str(exc)) from None
    target = endpoint(lab, node, node.namespace)
    if (why := target.missing()) is not None:
        raise fail(f"node {name}: {why} (run lab up)", ExitCode.CANNOT_MEASURE)
    return target


def _run(target, command: list[str] | str, timeout: float | None) -> int:
    """The command's exit code; the rig's failures to reach the node are exit 4."""
    from lab.compute.agent import AgentError
    from lab.compute.operations import VmNotFound

    try:
        return target.exec(command, timeout)
    except FileNotFoundError:
        console.print(f"[bold red]error:[/] {command[0]}: command not found in {target.namespace}")
        return 127  # as a shell says it
    except VmNotFound as exc:
        raise fail(str(exc), ExitCode.CANNOT_MEASURE) from None
    except AgentError as exc:
        raise fail(f"VM {target.name}: {exc}", ExitCode.CANNOT_MEASURE) from None


def exec_node(lab: LabArg, node: NodeArg,
              command: Annotated[list[str], typer.Argument(help="Command and its arguments (after --)")],
              timeout: Annotated[float, typer.Option(help="VMs: seconds before the guest kills it")] = 120.0,
              ) -> None:
    """Run a command on a node of a lab; exits with the command's exit code."""
    command = command[1:] if command[:1] == ["--"] else command  # kept by allow_interspersed_args off
    if not command:
        raise fail("give the command after --, e.g. lab exec LAB hv1 -- ip -br link")
    lab = lab_argument(lab).name
    target = _node(lab, node)
    raise typer.Exit(_run(target, command, timeout if target.is_vm else None))


def shell(lab: LabArg, node: NodeArg) -> None:
    """An interactive shell on a node ($SHELL in its namespace; a VM: one
    command per line through its agent, `exit` to leave)."""
    lab = lab_argument(lab).name
    target = _node(lab, node)
    if not target.is_vm:
        sh = os.environ.get("SHELL") or "/bin/sh"
        console.print(f"lab {lab}: {node} ({target.namespace}); exit to leave", highlight=False)
        raise typer.Exit(_run(target, [sh], None))
    console.print(f"lab {lab}: VM {node} through its agent (no tty: one command per line); exit to leave",
                  highlight=False)
    code = 0
    for line in sys.stdin:
        command = line.strip()
        if command in ("exit", "logout"):
            break
        if command:
            code = _run(target, command, 120.0)
    raise typer.Exit(code)


def capture(lab: LabArg, node: NodeArg,
            iface: Annotated[str, typer.Argument(help="Interface inside the node, e.g. eth0 or underlay")],
            write: Annotated[Path | None, typer.Option("-w", "--write", help="Write a pcap here "
                                                       "instead of printing packets")] = None,
            count: Annotated[int | None, typer.Option("-c", "--count", help="Stop after N packets")] = None,
            bpf_filter: Annotated[str | None, typer.Option("--filter", help="tcpdump filter, e.g. "
                                                           "'udp port 4789'")] = None) -> None:
    """Capture packets on a node's interface with tcpdump (Ctrl-C stops)."""
    lab = lab_argument(lab).name
    target = _node(lab, node)
    if target.is_vm:
        raise fail(f"{node} is a VM: capture on its tap in its server's namespace "
                   f"({target.server_namespace}); lab status shows the tap")
    if count is not None and count < 1:
        raise fail("--count must be >= 1")
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise fail("tcpdump is missing: run scripts/install-deps.sh", ExitCode.CANNOT_MEASURE)
    if not _has_link(target.namespace, iface):
        raise fail(f"node {node} has no interface {iface!r}; it has: "
                   f"{', '.join(_links(target.namespace))}")
    argv = [tcpdump, "-n", "-i", iface, *(["-w", str(write)] if write else ["-l"]),
            *(["-c", str(count)] if count else []), *shlex.split(bpf_filter or "")]
    raise typer.Exit(_run(target, argv, None))


def _links(namespace: str) -> list[str]:
    from pyroute2 import IPRoute

    from lab.apply.netns import inside

    with inside(namespace):
        ipr = IPRoute()
    with ipr:
        return sorted(link.get_attr("IFLA_IFNAME") for link in ipr.get_links())


def _has_link(namespace: str, iface: str) -> bool:
    return iface in _links(namespace)

