"""JUnit XML for verify runs, the format every CI system renders.

One <testsuite> per check group, one <testcase> per check (classname = group);
fail -> <failure>, error or inconclusive -> <error> (type Inconclusive: the rig
could not judge, which is not a pass), skipped -> <skipped>. The target, the
measured value and the evidence go into the message and <system-out>, so a CI
page shows why a check failed without opening the lab directory.
"""

from __future__ import annotations

import os
import socket
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from lab.verify.result import CheckResult

_COUNTED = {"fail": "failures", "error": "errors", "inconclusive": "errors", "skipped": "skipped"}


def junit_tree(results: Sequence[CheckResult], suite: str, timestamp: float) -> ET.Element:
    root = ET.Element("testsuites", name=suite)
    groups: dict[str, list[CheckResult]] = defaultdict(list)
    for r in results:
        groups[r.group].append(r)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))
    for i, (group, members) in enumerate(groups.items()):
        element = ET.SubElement(root, "testsuite", name=f"{suite}.{group}", id=str(i),
                                timestamp=stamp, hostname=socket.gethostname() or "localhost")
        _set_counts(element, members)
        for r in members:
            _testcase(element, r)
    _set_counts(root, results)
    return root


def _set_counts(element: ET.Element, results: Sequence[CheckResult]) -> None:
    element.set("tests", str(len(results)))
    for attr in ("failures", "errors", "skipped"):
        element.set(attr, str(sum(_COUNTED.get(r.verdict) == attr for r in results)))
    element.set("time", f"{sum(r.duration_s for r in results):.3f}")


def _testcase(parent: ET.Element, r: CheckResult) -> None:
    case = ET.SubElement(parent, "testcase", name=r.name, classname=r.group,
                         time=f"{r.duration_s:.3f}")
    message = f"target {r.target}; measured {r.measured}"
    if r.verdict == "fail":
        ET.SubElement(case, "failure", message=message, type="SpecNotMet").text = r.evidence
    elif r.verdict == "error":
        ET.SubElement(case, "error", message=r.evidence or message, type="CheckError").text = message
    elif r.verdict == "inconclusive":  # the why is in `measured`
        ET.SubElement(case, "error", message=message, type="Inconclusive").text = r.evidence
    elif r.verdict == "skipped":
        ET.SubElement(case, "skipped", message=r.evidence or r.measured)
    out = [message]
    if r.evidence:
        out.append(f"evidence: {r.evidence}")
    for metric, samples in r.metrics.items():
        out.append(f"{metric}: {', '.join(f'{v:g}' for v in samples)}")
    ET.SubElement(case, "system-out").text = "\n".join(out)


def write_junit(results: Sequence[CheckResult], path: str | Path, suite: str = "lab",
                timestamp: float | None = None) -> Path:
    path = Path(path)
    tree = ET.ElementTree(junit_tree(results, suite, time.time() if timestamp is None else timestamp))
    ET.indent(tree)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
    return path
