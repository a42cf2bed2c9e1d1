"""storage.<vm>/<disk>.mirror: the disk really is three identical copies on
three servers.

1. The plan's three legs are on three different servers, each served by its
   server's storage daemon, and the quorum is connected to all three
   (lab.compute.mirror_status).
2. After a flush in the guest, the three leg files hold the same content
   (holes and written zeros alike, lab.compute.mirror_io). If one leg differs
   from the other two (a corrupted copy, a resync that never happened), the
   check fails, and then proves what the quorum does about it: the guest
   reads the first differing region and must get the majority's bytes (the
   odd leg is out-voted), and a scrub through the quorum must leave the three
   legs identical, equal to what the majority held (the vote repaired it).
   The failure stays: a copy was wrong when the check looked.
3. A fresh 1 MiB marker written by the guest reaches all three legs: each
   leg holds at the marker's offset exactly the bytes the guest wrote.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from lab.compute import mirror_io, mirror_scrub
from lab.compute.mirror_status import mirror_state
from lab.plan.model import DiskPlan, EndpointPlan, Plan
from lab.verify import evidence
from lab.verify.result import CheckResult
from lab.verify.storage import guest_io

MIB = 1 << 20
MARKER_MIB = 8  # the marker region (1 MiB); leg-corrupt flips bytes in it


def target_of(vm: EndpointPlan, disk: DiskPlan) -> str:
    return f"{vm.name}/{disk.name} (/dev/{disk.dev})"


def _result(vm: EndpointPlan, disk: DiskPlan, verdict: str, measured: str, kept: str = "",
            metrics: dict | None = None) -> CheckResult:
    return CheckResult(name=f"storage.{vm.name}/{disk.name}.mirror", group="storage",
                       target=target_of(vm, disk), measured=measured, verdict=verdict,  # type: ignore[arg-type]
                       evidence=kept, metrics=metrics or {})


def placement_problems(disk: DiskPlan) -> list[str]:
    servers = [leg.server for leg in disk.legs]
    return [] if len(servers) == 3 and len(set(servers)) == 3 else [
        f"legs on {', '.join(servers) or 'no server'}: not three different servers"]


def check_mirror(plan: Plan, lab_dir: Path, vm: EndpointPlan, disk: DiskPlan) -> CheckResult:
    problems = placement_problems(disk) + mirror_state(lab_dir, disk).problems()
    if problems:
        return _result(vm, disk, "fail", "; ".join(problems))
    flushed = guest_io.flush(plan.lab, lab_dir, vm.name, disk.dev)
    if not flushed.ok:
        return _result(vm, disk, "fail", f"the guest could not flush /dev/{disk.dev}: {flushed.detail}")
    record: dict = {"legs": {leg.server: str(Path(lab_dir) / leg.path) for leg in disk.legs}}
    before = {leg.server: mirror_io.leg_content(Path(lab_dir) / leg.path) for leg in disk.legs}
    record["before"] = {s: c.digest for s, c in before.items()}
    texts, verdict, diverged = [], "pass", 0
    if len(set(record["before"].values())) > 1:
        verdict = "fail"
        diverged, text = _repair(plan, lab_dir, vm, disk, before, record)
        texts.append(text)
    marked, text = _marker(plan, lab_dir, vm, disk, record)
    texts.append(text)
    if not marked:
        verdict = "fail"
    kept = evidence.new_path(plan.lab, f"mirror-{vm.name}-{disk.name}", ".json")
    kept.write_text(json.dumps(record, indent=2))
    servers = ", ".join(leg.server for leg in disk.legs)
    return _result(vm, disk, verdict, f"three legs on {servers}; " + "; ".join(texts), str(kept),
                   {"diverged_regions": [float(diverged)], "legs_identical": [float(verdict == "pass")]})


def _repair(plan: Plan, lab_dir: Path, vm: EndpointPlan, disk: DiskPlan,
            before: dict[str, mirror_io.LegContent], record: dict) -> tuple[int, str]:
    """One leg differs: show the vote out-voting it and the scrub repairing it."""
    counts = Counter(c.digest for c in before.values())
    majority, votes = counts.most_common(1)[0]
    if votes < 2:
        return len(before), "no two legs agree (every copy differs): the quorum cannot vote"
    good = next(s for s, c in before.items() if c.digest == majority)
    odd = [s for s, c in before.items() if c.digest != majority]
    regions = before[odd[0]].differing(before[good])
    first = regions[0]
    paths = {leg.server: Path(lab_dir) / leg.path for leg in disk.legs}
    record["divergence"] = {"odd": odd, "regions_mib": [r // MIB for r in regions[:64]],
                            "odd_sha256": mirror_io.region_digest(paths[odd[0]], first, MIB),
                            "majority_sha256": mirror_io.region_digest(paths[good], first, MIB)}
    read = guest_io.read_region(plan.lab, lab_dir, vm.name, disk.dev, first // MIB, 1)
    voted = read.ok and read.sha256 == record["divergence"]["majority_sha256"]
    try:
        scrubbed = mirror_scrub.scrub(lab_dir, disk)
    except mirror_scrub.ScrubError as exc:
        return len(regions), f"leg on {', '.join(odd)} differed in {len(regions)} MiB region(s); {exc}"
    after = {s: mirror_io.leg_content(p).digest for s, p in paths.items()}
    record["after_scrub"] = after
    record["scrub_reports"] = scrubbed.leg_reports(disk)
    repaired = set(after.values()) == {majority}
    guest = ("the guest read the majority's bytes there (out-voted)" if voted else
             f"the guest read {'other bytes' if read.ok else read.describe()} there (NOT out-voted)")
    return len(regions), (
        f"leg on {', '.join(odd)} differed from the other two in {len(regions)} MiB region(s) "
        f"(first at {first // MIB} MiB); {guest}; after a scrub through the quorum ({scrubbed.seconds:.1f} s) "
        "the three " + ("legs are identical and equal the majority's copy: the vote repaired it" if repaired
                        else "legs still differ: NOT repaired"))


def _marker(plan: Plan, lab_dir: Path, vm: EndpointPlan, disk: DiskPlan, record: dict) -> tuple[bool, str]:
    """A fresh marker written by the guest must land, byte for byte, on every leg."""
    started = time.monotonic()
    wrote = guest_io.write_pattern(plan.lab, lab_dir, vm.name, disk.dev, MARKER_MIB, 1)
    if not wrote.ok:
        return False, f"the guest's marker write failed: {wrote.describe()}"
    on_legs = {leg.server: mirror_io.region_digest(Path(lab_dir) / leg.path, MARKER_MIB * MIB, MIB)
               for leg in disk.legs}
    contents = {leg.server: mirror_io.leg_content(Path(lab_dir) / leg.path).digest for leg in disk.legs}
    record["marker"] = {"guest_sha256": wrote.sha256, "legs_sha256": on_legs, "legs_after": contents,
                        "seconds": round(time.monotonic() - started, 2)}
    missing = [s for s, sha in on_legs.items() if sha != wrote.sha256]
    if missing:
        return False, f"the guest's 1 MiB marker at {MARKER_MIB} MiB differs on the leg(s) on {', '.join(missing)}"
    if len(set(contents.values())) > 1:
        return False, "the guest's marker reached every leg but the leg contents differ elsewhere"
    return True, (f"a 1 MiB marker written by the guest is on all three legs byte for byte, and the legs hash "
            f"identical ({next(iter(contents.values()))[:12]})")
