"""Run the whole suite as several pytest processes side by side ("lanes").

Why lanes: most lab tests wait on daemons, timers, BGP and guests, so one
pytest leaves this 2-core machine half idle (measured: 30-60 % busy once the
load is off). Each lane runs one pytest at a time and takes the next test path
from a shared queue, longest first, so the lanes end together whatever a slow
guest costs on the day; a fixed split left one lane waiting on the other.

  lane 1: the load subset (under stress-ng, if one is given), then the queue
  lane 2: the Ansible Debian-VM tests (one TCG guest: one emulated CPU for
          ~10 minutes, ~15 under the load; booted beside the load subset), then the queue
  lane 3+: the queue, once the load subset is done (the load is meant to
          press on the subset, not on more tests than two lanes)

Every pytest gets its own STACKLAB_HOME. Test directories name labs of their
own, so any two may run at once. Each run's output is kept and printed whole
at the end, in queue order; the exit code is non-zero if any run failed.

Usage (scripts/test.sh calls it):
  python scripts/run_tests.py [--lanes N] [--load-subset PATH ...] [--under-load]
  python scripts/run_tests.py [--under-load] --pytest ARGS...   one pytest, output live
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VM_TESTS = "tests/ansible/test_ansible_vm.py"
# Longest first, from CI logs; paths not listed follow in name order, so a new
# directory is never left out.
BY_COST = ["tests/vpn", "tests/verify", "tests/fabric", "tests/robust", "tests/ops", "tests/ansible",
           "tests/report", "tests/model"]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-ra", "--durations=15", "-p", "no:cacheprovider"]


@dataclass
class Run:
    """One pytest process: what it ran, where its output went, how it ended."""

    label: str
    args: list[str]
    log: Path
    lane: int = 0
    rc: int | None = None
    seconds: float = 0.0
    summary: str = ""


class Load:
    """stress-ng beside the tests: CPU workers and a disk writer, bounded in time."""

    def __init__(self, cpu: int, hdd: int, timeout_s: int) -> None:
        if shutil.which("stress-ng") is None:
            print("stress-ng is missing: run scripts/install-deps.sh", file=sys.stderr)
            sys.exit(2)
        self.dir = tempfile.mkdtemp(prefix="stacklab-load.")
        say(f"== under load: stress-ng --cpu {cpu} --hdd {hdd} (at most {timeout_s} s, files in {self.dir}) ==")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["stress-ng", "--cpu", str(cpu), "--hdd", str(hdd), "--hdd-bytes", "128M",
             "--temp-path", self.dir, "--timeout", f"{timeout_s}s", "--quiet"], start_new_session=True)
        self.stopped = threading.Event()

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # stress-ng stops its workers on SIGTERM
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # any worker it left behind
        except ProcessLookupError:
            pass
        self.proc.wait()
        loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        say(f"== load stopped after {time.monotonic() - self.started:.0f} s; loadavg {loadavg} ==")
        shutil.rmtree(self.dir, ignore_errors=True)


_print = threading.Lock()


def say(text: str) -> None:
    with _print:
        print(text, flush=True)


def queue_paths(skip: list[str]) -> list[tuple[str, list[str]]]:
    """Test paths not in `skip` (the VM file and the load subset), longest first."""
    skipped = {s.rstrip("/") for s in skip}
    paths = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").iterdir()
                   if (p.is_dir() and p.name != "__pycache__") or (p.name.startswith("test_") and p.suffix == ".py"))
    paths = [p for p in paths if p not in skipped]
    paths.sort(key=lambda p: (BY_COST.index(p) if p in BY_COST else len(BY_COST), p))
    items = []
    for path in paths:
        ignores = [f"--ignore={s}" for s in skipped if s.startswith(path + "/")]  # e.g. the VM file
        items.append((path, [path, *ignores]))
    return items


def run_one(run: Run, lane: int) -> None:
    run.lane = lane
    home = tempfile.mkdtemp(prefix="stacklab-test.")
    say(f"lane {lane}: {run.label} ...")
    started = time.monotonic()
    with run.log.open("w") as out:
        run.rc = subprocess.run([*PYTEST, *run.args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "STACKLAB_HOME": home}, check=False).returncode
    run.seconds = time.monotonic() - started
    lines = [line for line in run.log.read_text(errors="replace").splitlines() if line.strip()]
    run.summary = lines[-1].strip("= ") if lines else "no output"
    say(f"lane {lane}: {run.label}: {run.summary} (exit {run.rc}, {run.seconds:.0f} s)")
    shutil.rmtree(home, ignore_errors=True)


def lane_worker(lane: int, first: Run | None, work: queue.Queue, after_first=None) -> None:
    if first is not None:
        run_one(first, lane)
        if after_first is not None:
            after_first()
    while True:
        try:
            run = work.get_nowait()
        except queue.Empty:
            return
        run_one(run, lane)


def start_load() -> Load:
    return Load(int(os.environ.get("STACKLAB_LOAD_CPU", "2")), int(os.environ.get("STACKLAB_LOAD_HDD", "1")),
                int(os.environ.get("STACKLAB_LOAD_TIMEOUT_S", "2700")))


def one_pytest(pytest_args: list[str], load: Load | None) -> int:
    env = {**os.environ}
    env.setdefault("STACKLAB_HOME", tempfile.mkdtemp(prefix="stacklab-test."))
    try:
        return subprocess.run([*PYTEST, *pytest_args], cwd=ROOT, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        if load is not None:
            load.stop()


class Plan:
    """The runs in queue order: the load subset and the VM tests lead lanes 1
    and 2; the rest wait in `work` for whichever lane is free first."""

    def __init__(self, load_subset: list[str]) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="stacklab-lanes."))
        self.runs: list[Run] = []
        self.subset = self._new(" ".join(load_subset) + " (under load)", load_subset) if load_subset else None
        self.vm = self._new(VM_TESTS, [VM_TESTS])
        self.work: queue.Queue = queue.Queue()
        for label, pytest_args in queue_paths([VM_TESTS, *load_subset]):
            self.work.put(self._new(label, pytest_args))

    def _new(self, label: str, pytest_args: list[str]) -> Run:
        safe = label.replace("/", "_").replace(" ", "_")
        run = Run(label, pytest_args, self.logs / f"{len(self.runs) + 1:02d}-{safe}.log")
        self.runs.append(run)
        return run

    def report(self, seconds: float, lanes: int) -> bool:
        for run in self.runs:
            say(f"\n== {run.label} (lane {run.lane}, exit {run.rc}, {run.seconds:.0f} s) ==")
            say(run.log.read_text(errors="replace").rstrip() if run.log.exists() else "(not run)")
        say(f"\n== summary: {seconds:.0f} s in {lanes} lanes ==")
        for run in self.runs:
            verdict = "ok  " if run.rc == 0 else "FAIL"
            say(f"  {verdict} lane {run.lane} {run.seconds:5.0f} s  {run.label}: {run.summary}")
        shutil.rmtree(self.logs, ignore_errors=True)
        return all(r.rc == 0 for r in self.runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("STACKLAB_LANES", "3")))
    parser.add_argument("--load-subset", nargs="*", default=[])
    parser.add_argument("--under-load", action="store_true", help="keep the load on until every lane ends")
    parser.add_argument("--pytest", nargs=argparse.REMAINDER, help="run one pytest with these arguments")
    args = parser.parse_args()
    if args.lanes < 2:
        parser.error("--lanes must be at least 2 (lane 2 boots the Ansible VM)")
    load = start_load() if args.under_load or args.load_subset else None
    if args.pytest:
        return one_pytest(args.pytest, load)
    plan = Plan(args.load_subset)
    say(f"{args.lanes} lanes; the output of each run in {plan.logs}; the queue: "
        + ", ".join(r.label for r in plan.runs if r not in (plan.subset, plan.vm)))
    subset_done = threading.Event()

    def end_of_subset() -> None:
        subset_done.set()
        if load is not None and not args.under_load:
            load.stop()

    def later_lane(lane: int) -> None:
        subset_done.wait()
        lane_worker(lane, None, plan.work)

    threads = [threading.Thread(target=lane_worker, args=(1, plan.subset, plan.work, end_of_subset), daemon=True),
               threading.Thread(target=lane_worker, args=(2, plan.vm, plan.work), daemon=True)]
    threads += [threading.Thread(target=later_lane, args=(n,), daemon=True) for n in range(3, args.lanes + 1)]
    if plan.subset is None:
        subset_done.set()
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except KeyboardInterrupt:  # the running pytests got the same SIGINT; start no more
        while not plan.work.empty():
            plan.work.get_nowait()
        say("interrupted: no further runs started")
        return 130
    finally:
        if load is not None:
            load.stop()
    return 0 if plan.report(time.monotonic() - started, args.lanes) else 1


if __name__ == "__main__":
    sys.exit(main())
