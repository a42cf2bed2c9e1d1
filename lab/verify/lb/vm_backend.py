"""The live checks' echo service inside VM backends, started through the
compute run-command agent (no guest network needed to control it).

The guest has no Python, so lab.verify.lb.echo cannot run there; busybox `nc -ll -e`
(a persistent server that forks a handler per connection) gives the same
contract: one line with the backend NAME per request line, and an HTTP GET is
answered 200 (so http health probes pass). UDP is not offered: busybox nc has
no UDP listener, and the HA-ports UDP check keeps using namespace backends.
"""

from __future__ import annotations

import re
import shlex

HANDLER = "/run/lb-echo.sh"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# one connection: NAME per request line; a GET gets a 200 once its headers are
# read (closing on unread bytes would send a RST) and the connection ends
_HANDLER_BODY = r"""CR=$(printf '\r')
while read -r line; do
  case "$line" in
    "GET "*)
      while read -r header && [ -n "${header%"$CR"}" ]; do :; done
      printf 'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s\n' $((${#NAME} + 1)) "$NAME"; exit 0 ;;
    *) echo "$NAME" ;;
  esac
done
"""

# every process whose command line names the handler: the nc servers and the
# per-connection shells (the stopping shell's own command line does not)
_KILL_ALL = f"""for p in /proc/[0-9]*; do
  [ "${{p#/proc/}}" = "$$" ] && continue
  tr '\\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q '{HANDLER}' && kill "${{p#/proc/}}" 2>/dev/null
done
"""


class VmEchoError(RuntimeError):
    """The echo service did not start (or stop) inside the guest."""


def _start_script(name: str, ports: tuple[int, ...]) -> str:
    listening = " && ".join(f"netstat -ltn | grep -q ':{p} '" for p in ports)
    servers = "\n".join(
        f"setsid nc -ll -p {p} -e sh {HANDLER} < /dev/null > /dev/null 2>&1 &" for p in ports)
    return (_KILL_ALL
            + f"{{ echo NAME={shlex.quote(name)}; cat <<'EOF'\n{_HANDLER_BODY}EOF\n}} > {HANDLER}\n"
            + servers + "\n"
            + f"i=0; until {listening}; do i=$((i + 1)); [ $i -gt 100 ] && exit 3; sleep 0.05; done\n"
            + "echo ready\n")


class VmEcho:
    """A running echo service in one guest. kill()/wait() mirror Popen's, so
    traffic.stop_echo treats namespace and VM backends alike."""

    def __init__(self, lab: str, vm: str):
        self.lab, self.vm, self.stopped = lab, vm, False

    def kill(self) -> None:
        if not self.stopped:
            _exec(self.lab, self.vm, _KILL_ALL + f"rm -f {HANDLER}\n", STOP_TIMEOUT_S)
            self.stopped = True

    def wait(self, timeout: float | None = None) -> int:
        return 0


def _exec(lab: str, vm: str, script: str, timeout_s: float) -> str:
    from lab.compute.operations import exec_vm
    from lab.compute.paths import default_lab_dir

    result = exec_vm(lab, default_lab_dir(lab), vm, script, timeout_s=timeout_s)
    if not result.ok:
        raise VmEchoError(f"echo service in VM {vm}: exit {result.exit_code}: {result.output.strip()[-300:]}")
    return result.output


def start(lab: str, vm: str, ports: tuple[int, ...]) -> VmEcho:
    """Start (or restart) the echo service on `ports` in the VM's guest."""
    if not _NAME.match(vm):
        raise ValueError(f"backend name {vm!r} is not a plain VM name")
    from lab.compute.agent import AgentError

    try:
        output = _exec(lab, vm, _start_script(vm, ports), START_TIMEOUT_S)
    except AgentError:  # a run-command lost in a guest slowed by host load: once more
        output = _exec(lab, vm, _start_script(vm, ports), START_TIMEOUT_S)
    if "ready" not in output.split():
        raise VmEchoError(f"echo service in VM {vm} did not report ready: {output.strip()[-300:]}")
    return VmEcho(lab, vm)


def running(lab: str, vm: str) -> int:
    """How many echo processes run in the guest (0 once stopped): for tests."""
    out = _exec(lab, vm, "n=0; for p in /proc/[0-9]*; do [ \"${p#/proc/}\" = \"$$\" ] && continue; "
                         f"tr '\\0' ' ' < \"$p/cmdline\" 2>/dev/null | grep -q '{HANDLER}' && n=$((n + 1)); "
                         "done; echo $n", STOP_TIMEOUT_S)
    return int(out.split()[-1])
