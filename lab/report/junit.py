"""JUnit XML for verify runs, the format every CI system renders.

One <testsuite> per check group, one <testcase> per check (classname = group);
fail -> <failure>, error or inconclusive -> <error>, skipped -> <skipped>. The
target, the measured value and the evidence go into the message and
<system-out> in words (a JSON blob a collector left as evidence is spelled
out as "key: value"), so a CI page shows why a check failed without opening
the lab directory. A regress outcome adds a `<lab>.regress` suite with one
case per compared metric (classname regress), failed when it regressed.

The shape is the Jenkins xunit plugin's JUnit schema (tests/report/junit.xsd):
properties belong to each testsuite, and <testsuites> carries no `skipped`.
"""

from __future__ import annotations

import json
import os
import socket
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.verify.result import CheckResult

_PROBLEM = {"fail": "failure", "skipped": "skipped"}  # any other non-pass verdict: error


def in_words(text: str) -> str:
    """Evidence for a person: a JSON object becomes "key: value; ...", anything else stays."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return text
    if not isinstance(data, dict):
        return text
    return "; ".join(f"{k}: {v}" for k, v in data.items())


def junit_tree(results: Sequence[CheckResult], suite: str, timestamp: float,
               properties: Mapping[str, str] | None = None,
               regress: Mapping[str, Any] | None = None) -> ET.Element:
    """The XML tree; `regress` is a RegressionReport.to_json()."""
    root = ET.Element("testsuites", name=suite)
    groups: dict[str, list[CheckResult]] = defaultdict(list)
    for r in results:
        groups[r.group].append(r)
    suites = list(groups.items())
    cases = [_regress_cases(regress)] if regress is not None else []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))
    host = (properties or {}).get("host") or socket.gethostname() or "localhost"
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for i, (group, members) in enumerate([*suites, *(("regress", c) for c in cases)]):
        element = ET.SubElement(root, "testsuite", name=f"{suite}.{group}", id=str(i),
                                timestamp=stamp, hostname=host)
        if properties:
            _properties(element, properties)
        counts = _add_cases(element, members)
        for key in totals:
            totals[key] += counts[key]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", f"{totals['time']:.3f}")
    return root


def _properties(parent: ET.Element, properties: Mapping[str, str]) -> None:
    block = ET.SubElement(parent, "properties")
    for name, value in properties.items():
        ET.SubElement(block, "property", name=name, value=str(value))


def _add_cases(element: ET.Element, members: Sequence[CheckResult]) -> dict[str, Any]:
    counts = {"tests": len(members), "failures": 0, "errors": 0, "skipped": 0,
              "time": sum(r.duration_s for r in members)}
    for r in members:
        kind = _testcase(element, r)
        if kind in ("failure", "error", "skipped"):
            counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[kind]] += 1
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts[key]))
    element.set("time", f"{counts['time']:.3f}")
    return counts


def _testcase(parent: ET.Element, r: CheckResult) -> str:
    case = ET.SubElement(parent, "testcase", name=r.name, classname=r.group,
                         time=f"{r.duration_s:.3f}")
    evidence = in_words(r.evidence)
    message = f"target {r.target}; measured {r.measured}"
    kind = "" if r.verdict == "pass" else _PROBLEM.get(r.verdict, "error")
    if kind == "failure":
        failure = "Regression" if r.group == "regress" else "SpecNotMet"
        ET.SubElement(case, "failure", message=message, type=failure).text = evidence
    elif r.verdict == "inconclusive":  # the why is in `measured`, hence in the message
        ET.SubElement(case, "error", message=message, type="Inconclusive").text = evidence
    elif kind == "error":
        ET.SubElement(case, "error", message=evidence or message, type="CheckError").text = message
    elif kind == "skipped":
        ET.SubElement(case, "skipped", message=evidence or r.measured)
    out = [message]
    if evidence:
        out.append(f"evidence: {evidence}")
    for metric, samples in r.metrics.items():
        out.append(f"{metric}: {', '.join(f'{v:g}' for v in samples)}")
    ET.SubElement(case, "system-out").text = "\n".join(out)
    return kind


def _regress_cases(report: Mapping[str, Any]) -> list[CheckResult]:
    """One case per compared metric; a skipped one when there is no baseline."""
    if report.get("baseline_run_id") is None:
        return [CheckResult("baseline", "regress", "a baseline run to compare with",
                            "no baseline yet: no earlier passing run and none pinned", "skipped")]
    base = f"{report.get('baseline_kind', '')} baseline run {report['baseline_run_id']}".strip()
    cases = []
    for c in report.get("comparisons", []):
        verdict = {"regression": "fail", "not_compared": "skipped"}.get(c["outcome"], "pass")
        measured = (f"{c['outcome']}: median {c['baseline']:.4g} -> {c['current']:.4g} "
                    f"({c['change_pct']:+.1f}% in the worse direction)")
        cases.append(CheckResult(f"{c['check']}:{c['metric']}", "regress",
                                 f"no worse than {base}", measured, verdict, c.get("reason", "")))
    return cases


def write_junit(results: Sequence[CheckResult], path: str | Path, suite: str = "lab",
                timestamp: float | None = None, properties: Mapping[str, str] | None = None,
                regress: Mapping[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(junit_tree(results, suite, time.time() if timestamp is None else timestamp,
                                     properties, regress))
    ET.indent(tree)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
    return path
