"""The lab's own secrets on disk: one JSON file per secret, mode 0600, in a
0700 directory under the lab directory (so `lab down` removes them with the
lab). Each records when it was created: the age the baseline check reads.

Written atomically (temporary file opened 0600, then renamed), so a reader
never sees half a secret and no moment exists where the file is readable by
others.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.paths import lab_dir


@dataclass
class Secret:
    name: str
    kind: str
    created_at: float
    value: dict[str, str] = field(default_factory=dict)
    rotations: int = 0


def secrets_dir(lab: str) -> Path:
    return lab_dir(lab) / "secrets"


def _path(lab: str, name: str) -> Path:
    return secrets_dir(lab) / f"{name}.json"


def write_private(path: Path, text: str) -> None:
    """Atomic write of a 0600 file in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save(lab: str, secret: Secret) -> None:
    write_private(_path(lab, secret.name), json.dumps(asdict(secret), indent=1))


def load(lab: str, name: str) -> Secret | None:
    try:
        return Secret(**json.loads(_path(lab, name).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def all_secrets(lab: str) -> list[Secret]:
    root = secrets_dir(lab)
    if not root.is_dir():
        return []
    return [s for p in sorted(root.glob("*.json")) if (s := load(lab, p.stem)) is not None]


PUBLIC_FIELDS = ("username",)  # a user name is no secret, and masking it would mask ordinary words


def secret_values(lab: str) -> list[str]:
    """Every secret value the store holds (what a log archive must never contain)."""
    return [v for s in all_secrets(lab) for k, v in s.value.items() if isinstance(v, str) and k not in PUBLIC_FIELDS]
