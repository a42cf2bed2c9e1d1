"""Acceptance on the real embedded lab: a night as the timer runs it --
`lab up`, `lab verify`, `lab regress` twice, `lab report`, `lab down` -- through
the real command line without a terminal (as under systemd). The second
regress exits 0; every evidence path named by the last report.json, its JUnit
(the run's and the `--junit` copy) and the HTML report exists after `down`.

The lab is a topology of its own (lab nite-live): two servers, two tenants with
overlapping addresses, one namespace endpoint per tenant on each server, no VM
and no load balancer. That is the whole fabric group with its evidence (the
VNI and flooding pcaps), the lifecycle host's checks, and a fabric `up` of a
few seconds. The default topology boots TCG guests, runs fio in them and loads
the XDP load balancer: many minutes on a 2-core host shared with other test
runs, for nothing this acceptance is about (the nightly flow and the evidence
it keeps); fio evidence is covered by tests/verify/test_evidence.py and the
storage tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from lab.apply.netns import list_namespaces
from lab.paths import lab_dir, results_dir
from lab.verify.names import name_problem

ROOT = Path(__file__).resolve().parents[2]
LAB = "nite-live"
TOPOLOGY = {
    "name": LAB,
    "underlay": {"subnet": "198.18.40.0/24"},
    "tor": {"name": "tor"},
    "external": {"subnet": "198.51.100.0/24", "vip_pool": "192.0.2.0/24"},
    "servers": [{"name": "hv1", "role": "compute"}, {"name": "hv2", "role": "compute"}],
    "tenants": [{"name": "red", "vni": 4101, "subnets": [{"name": "web", "prefix": "100.64.1.0/24"}]},
                {"name": "blue", "vni": 4102, "subnets": [{"name": "web", "prefix": "100.64.1.0/24"}]}],
    "vms": [{"name": f"{t}-{s}", "tenant": t, "subnet": "web", "server": s, "kind": "netns",
             "address": f"100.64.1.{10 + i}"}
            for t in ("red", "blue") for i, s in enumerate(("hv1", "hv2"))],
}


def lab(*args: object, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real `lab` command, as a timer runs it: no terminal, output piped."""
    return subprocess.run([sys.executable, "-m", "lab", *map(str, args)], capture_output=True, text=True,
                          check=False, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "COLUMNS": "80", "TERM": "dumb"})


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture
def topology(home, tmp_path):
    path = tmp_path / f"{LAB}.yaml"
    path.write_text(yaml.safe_dump(TOPOLOGY, sort_keys=False))
    yield path
    lab("down", "--lab", LAB)  # also after a failed assertion: no residue
    assert [ns for ns in list_namespaces() if ns.startswith(f"{LAB}.")] == []


class _Links(HTMLParser):
    """Evidence on a report page: links that are not pages of the report, and
    paths the report had to mark missing."""

    def __init__(self, text: str):
        super().__init__()
        self.hrefs: list[str] = []
        self.missing: list[str] = []
        self._in_missing = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and not attrs["href"].endswith(".html"):
            self.hrefs.append(attrs["href"])
        self._in_missing = tag == "span" and attrs.get("class") == "missing"

    def handle_data(self, data):
        if self._in_missing:
            self.missing.append(data)
            self._in_missing = False


def _named_in_reports(verify: Path, *junits: Path) -> set[Path]:
    named = {c["evidence"] for c in json.loads((verify / "latest.json").read_text())["checks"]}
    for junit in junits:
        for out in ET.parse(junit).getroot().iter("system-out"):
            named |= set(re.findall(r"^evidence: (/\S+)$", out.text or "", re.M))
    return {Path(p) for p in named if p.startswith("/")}


def _assert_clean_night(proc: subprocess.CompletedProcess[str], run_id: int) -> None:
    """Exit 0: every check passed and nothing regressed. The one other honest
    outcome of a healthy lab is 4 when the host was busy while the RTTs were
    sampled (other test runs beside this one; CI runs one test at a time):
    regress then does not compare them (0.15 ms measured 2.6 ms at 99% CPU
    pressure) and says the rig could not judge. Anything else fails."""
    if proc.returncode == 0:
        return
    assert proc.returncode == 4, _said(proc)
    data = json.loads(lab("regress", "--lab", LAB, "--run", run_id, "--format", "json").stdout)
    assert {c["verdict"] for c in data["verify"]["checks"]} <= {"pass", "skipped"}, _said(proc)
    unjudged = [c for c in data["regress"]["comparisons"] if c["outcome"] == "not_compared"]
    assert unjudged and all("on a busy host" in c["reason"] for c in unjudged), _said(proc)
    assert data["regress"]["passed"], _said(proc)


@pytest.mark.root
def test_a_night_on_the_real_embedded_lab_keeps_its_evidence(topology, tmp_path):
    up = lab("up", topology)
    assert up.returncode == 0, _said(up)
    steps = up.stderr.splitlines()
    assert steps[:2] == [f"up {LAB}: planning", f"up {LAB}: namespaces"], _said(up)
    assert len(steps) >= 4 and all(line.startswith(f"up {LAB}: ") for line in steps), _said(up)

    verify = lab("verify", topology)
    assert verify.returncode == 0, _said(verify)
    first = lab("regress", topology)
    _assert_clean_night(first, run_id=2)
    ci_junit = tmp_path / "ci" / "nightly.xml"
    second = lab("regress", topology, "--junit", ci_junit)
    _assert_clean_night(second, run_id=3)
    assert "no regression" in second.stdout and "baseline #2" in second.stdout, _said(second)
    assert all(len(line) <= 80 for line in second.stdout.splitlines()), second.stdout
    report = lab("report", topology)
    assert report.returncode == 0, _said(report)

    down = lab("down", topology)
    assert down.returncode == 0, _said(down)
    assert down.stderr.splitlines()[0] == f"down {LAB}: tearing down", _said(down)
    assert not lab_dir(LAB).exists()

    results = results_dir(LAB)
    last = json.loads((results / "verify" / "latest.json").read_text())
    assert last["run"]["id"] == 3 and last["passed"]
    assert [n for c in last["checks"] if (n := name_problem(c["name"], c["group"]))] == []
    mtu = [c for c in last["checks"] if c["name"].endswith(".mtu")]
    assert len(mtu) == 2 and all("host_cpu_pressure_pct" in c["metrics"] for c in mtu)  # RTT's context
    named = _named_in_reports(results / "verify", results / "verify" / "latest.xml", ci_junit)
    assert len([p for p in named if p.suffix == ".pcap"]) >= 2, named  # the VNI and flooding captures
    for path in named:
        assert path.is_file() and results in path.parents, path

    index = results / "report" / "index.html"
    pages = [index, index.parent / "runs" / "3.html"]
    linked = []
    for page in pages:
        links = _Links(page.read_text())
        assert links.missing == [], page
        linked += [(page.parent / href).resolve() for href in links.hrefs]
    assert {p for p in linked if p.suffix == ".pcap"} == {p.resolve() for p in named if p.suffix == ".pcap"}
    assert all(p.is_file() for p in linked), [p for p in linked if not p.is_file()]


@pytest.mark.root
def test_up_refuses_a_namespace_someone_else_owns_with_exit_4(home, tmp_path):
    """A namespace of the plan's name exists without the lab's mark (another
    tool's, or a person's): `up` touches nothing and exits 4, the rig could not act."""
    from pyroute2 import netns

    data = dict(TOPOLOGY, name="nite-own")
    path = tmp_path / "nite-own.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    foreign = "nite-own.hv1"
    netns.create(foreign)
    try:
        result = lab("up", path)
        assert result.returncode == 4, _said(result)
        assert "not owned by lab 'nite-own'" in result.stderr
        assert [ns for ns in list_namespaces() if ns.startswith("nite-own.")] == [foreign]
    finally:
        lab("down", "--lab", "nite-own")
        netns.remove(foreign)
    assert [ns for ns in list_namespaces() if ns.startswith("nite-own.")] == []


@pytest.mark.root
def test_the_demo_runs_regress_once_after_verify(home, tmp_path):
    """scripts/demo.sh on a fresh home (no history): verify, then one regress
    that compares with the verify run; the demo ends 0 and leaves no lab."""
    path = tmp_path / "nite-demo.yaml"
    path.write_text(yaml.safe_dump(dict(TOPOLOGY, name="nite-demo"), sort_keys=False))
    proc = subprocess.run(["bash", "scripts/demo.sh", str(path)], capture_output=True, text=True, check=False,
                          timeout=900, cwd=ROOT, stdin=subprocess.DEVNULL, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        lines = proc.stdout.splitlines()
        [finished] = [ln for ln in lines if ln.startswith("demo finished")]
        [codes] = [ln.strip() for ln in lines if ln.strip().startswith("verify: exit")]
        assert "no regression" in proc.stdout and "baseline #1" in proc.stdout, _said(proc)
        if proc.returncode == 4:  # RTTs sampled on a busy host: not compared (see _assert_clean_night)
            assert codes == "verify: exit 0; regress: exit 4" and finished.endswith("(exit 4)"), _said(proc)
            assert "on a busy host" in proc.stdout and "REGRESSION" not in proc.stdout, _said(proc)
        else:
            assert codes == "verify: exit 0; regress: exit 0" and finished.endswith("(exit 0)"), _said(proc)
            assert proc.returncode == 0, _said(proc)
    finally:
        lab("down", "--lab", "nite-demo")
    assert [ns for ns in list_namespaces() if ns.startswith("nite-demo.")] == []
