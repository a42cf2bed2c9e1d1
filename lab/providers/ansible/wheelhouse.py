"""The bundle a lab host installs stacklab from, offline.

`lab up --provider ansible` builds it on the controller from the checkout:
stacklab's own wheel plus the wheels of the distributions that applying a
host's plan really imports (measured by importing the host entry point,
lab.providers.ansible.agent, not guessed), never the controller's tools
(ansible, matplotlib, numpy, scipy...), and the collectors. One tar file,
because each file Ansible copies costs a round trip: the lab_agent role
copies it, unpacks it and runs `pip install --no-index --no-deps -r
requirements.txt` into a venv, so hosts need no route to PyPI. It is built
once per input hash (sources, collectors, the controller's pinned versions,
the CPython tag) under ~/.cache/stacklab/wheelhouse.

stacklab's version gets a local label with the source hash (0.1.0+s1a2b3c4d):
a changed checkout is a new version pip installs, an unchanged one is
"already satisfied", so the role's second run changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]
CACHE = Path(os.environ.get("STACKLAB_WHEELHOUSE_CACHE", Path.home() / ".cache" / "stacklab" / "wheelhouse"))
KEEP = 3  # wheelhouses kept in the cache (older ones are removed)
SOURCE_SUFFIXES = {".py", ".c", ".h", ".yaml", ".md"}
# What a host runs (the lab_agent role's apply step); its imports are measured at build time.
HOST_COMMAND = ("lab.providers.ansible.agent", "lab.providers.host_apply")
# Never on a host, whatever the measurement says: the controller's tools.
CONTROLLER_ONLY = {"ansible-core", "ansible-runner", "ansible-lint", "matplotlib", "numpy", "scipy",
                   "libvirt-python", "scapy", "grafana-foundation-sdk"}
MANIFEST = "wheelhouse.json"
REQUIREMENTS = "requirements.txt"
BUNDLE = "bundle.tar"

_MEASURE = """
import json, sys
from importlib.metadata import packages_distributions
before = set(sys.modules)
for name in sys.argv[1:]:
    __import__(name)
tops = {m.split(".")[0] for m in set(sys.modules) - before}
owners = packages_distributions()
print(json.dumps(sorted({d for t in tops for d in owners.get(t, [])})))
"""


class WheelhouseError(RuntimeError):
    """The wheelhouse could not be built (pip's message included)."""


@dataclass(frozen=True)
class Wheelhouse:
    directory: Path  # wheels/ (with requirements.txt), collectors/, bundle.tar of both
    version: str  # stacklab's version in it, with the source hash as local label
    python_tag: str  # e.g. cp311: the host's python3 must match
    distributions: tuple[str, ...]  # name==version of every wheel, stacklab included

    @property
    def bundle(self) -> Path:
        return self.directory / BUNDLE

    def extravars(self) -> dict[str, str]:
        """What the lab_agent role reads (see its defaults)."""
        return {"lab_stacklab_bundle": str(self.bundle),
                "lab_stacklab_python_tag": self.python_tag,
                "lab_stacklab_version": self.version}


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_pins() -> dict[str, str]:
    """canonical name -> version of every distribution in the controller's environment."""
    pins: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pins[_canonical(name)] = dist.version
    return pins


def source_files(checkout: Path = CHECKOUT) -> list[Path]:
    """What goes into stacklab's wheel: pyproject.toml and the lab package's sources."""
    files = [p for p in (checkout / "lab").rglob("*")
             if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts]
    return [checkout / "pyproject.toml", *sorted(files)]


def collector_files(checkout: Path = CHECKOUT) -> list[Path]:
    return sorted(p for p in (checkout / "collectors").glob("*") if p.is_file() and p.suffix == ".py")


def input_hash(checkout: Path = CHECKOUT) -> str:
    digest = hashlib.sha256(python_tag().encode())
    for path in source_files(checkout) + collector_files(checkout):
        digest.update(str(path.relative_to(checkout)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(sorted(installed_pins().items())).encode())
    return digest.hexdigest()[:16]


def measured_imports(modules: tuple[str, ...] = HOST_COMMAND) -> set[str]:
    """Distributions (canonical names) importing `modules` loads, measured in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *modules], capture_output=True,
                          text=True, timeout=120, check=False, cwd=CHECKOUT)
    if done.returncode != 0:
        raise WheelhouseError(f"importing {', '.join(modules)} failed: {done.stderr.strip()[-800:]}")
    return {_canonical(d) for d in json.loads(done.stdout)} - {"stacklab"}


def host_distributions() -> list[str]:
    """What the host command imports, pinned to the controller's versions."""
    pins = installed_pins()
    names = measured_imports() - CONTROLLER_ONLY
    return sorted(f"{name}=={pins[name]}" for name in names if name in pins)


def build(checkout: Path = CHECKOUT, cache: Path = CACHE) -> Wheelhouse:
    """The cached wheelhouse for this checkout, built first if needed (needs PyPI once)."""
    key = input_hash(checkout)
    directory = cache / key
    if (directory / MANIFEST).exists():
        return _load(directory)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache))
    try:
        _build_into(work / "out", checkout, f"s{key[:8]}")
        try:
            (work / "out").rename(directory)
        except OSError:  # a concurrent build won; its wheelhouse is the same
            if not (directory / MANIFEST).exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(cache, keep=directory)
    return _load(directory)


def _build_into(out: Path, checkout: Path, label: str) -> None:
    wheels_dir = out / "wheels"
    wheels_dir.mkdir(parents=True)
    version = _stacklab_wheel(wheels_dir, checkout, label)
    deps = host_distributions()
    constraints = out.parent / "constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(installed_pins().items())
                                   if n not in CONTROLLER_ONLY))
    if deps:
        _pip("wheel", "--only-binary=:all:", "--wheel-dir", str(wheels_dir), "--constraint", str(constraints),
             *deps)
    wheels = sorted(_wheel_pin(w) for w in wheels_dir.glob("*.whl"))
    leaked = {w.split("==")[0] for w in wheels} & CONTROLLER_ONLY
    if leaked:
        raise WheelhouseError(f"a host dependency pulls controller-only packages: {', '.join(sorted(leaked))}")
    (wheels_dir / REQUIREMENTS).write_text("".join(f"{pin}\n" for pin in wheels))
    (out / "collectors").mkdir()
    for path in collector_files(checkout):
        shutil.copy2(path, out / "collectors" / path.name)
    _tar(out, out / BUNDLE, ("wheels", "collectors"))
    (out / MANIFEST).write_text(json.dumps({"version": version, "python_tag": python_tag(),
                                            "distributions": wheels}, indent=1) + "\n")


def _tar(root: Path, target: Path, members: tuple[str, ...]) -> None:
    """One file for the host; owner root, sorted, so the same inputs make the same bytes."""
    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        return info

    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            for path in [root / member, *sorted((root / member).rglob("*"))]:
                tar.add(path, arcname=str(path.relative_to(root)), recursive=False, filter=normalise)


def _stacklab_wheel(out: Path, checkout: Path, label: str) -> str:
    """Build stacklab's wheel from a copy of its sources, versioned with the source hash."""
    src = out.parent.parent / "src"
    for path in source_files(checkout):
        target = src / path.relative_to(checkout)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    pyproject = src / "pyproject.toml"
    text, found = re.subn(r'^(version\s*=\s*")([^"+]+)(")', rf"\g<1>\g<2>+{label}\g<3>",
                          pyproject.read_text(), count=1, flags=re.M)
    if not found:
        raise WheelhouseError(f"{checkout / 'pyproject.toml'}: no version = \"...\" line to label")
    pyproject.write_text(text)
    _pip("wheel", "--no-deps", "--wheel-dir", str(out), str(src))
    return _wheel_pin(next(out.glob("stacklab-*.whl"))).split("==")[1]


def _wheel_pin(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{_canonical(name)}=={version}"


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise WheelhouseError(f"pip {args[0]} failed: {(done.stderr or done.stdout).strip()[-1500:]}")


def _load(directory: Path) -> Wheelhouse:
    data = json.loads((directory / MANIFEST).read_text())
    return Wheelhouse(directory, data["version"], data["python_tag"], tuple(data["distributions"]))


def _prune(cache: Path, keep: Path) -> None:
    """Remove all but the newest KEEP wheelhouses (the one just used always stays)."""
    built = sorted((d for d in cache.iterdir() if (d / MANIFEST).exists()),
                   key=lambda d: d.stat().st_mtime, reverse=True)
    for old in built[KEEP:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
