"""Keep secrets out of a log archive.

Three layers, because a secret leaks in more than one way: the lab's secret
store is never read into an archive (path rule); every value the store holds
is replaced wherever it occurs (a password echoed into a log); and common
secret shapes are masked whatever their origin (PEM private keys, basic-auth
headers, `password=...` pairs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

MASK = "[REDACTED]"
MIN_VALUE_LEN = 6  # shorter values (a user name such as "admin") would mask ordinary words
SECRET_NAMES = re.compile(r"(^id_(rsa|ed25519|ecdsa)$|\.(key|pem|htpasswd|p12)$|^htpasswd$|secret|token)",
                          re.IGNORECASE)
PATTERNS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"(?i)(authorization:\s*(?:basic|bearer)\s+)\S+"),
    re.compile(r"(?i)((?:password|passwd|secret|token|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"),  # bcrypt hashes (htpasswd entries)
)


class Redactor:
    def __init__(self, values: Iterable[str] = (), secret_dirs: Iterable[Path] = ()):
        self.values = sorted({v for v in values if len(v) >= MIN_VALUE_LEN}, key=len, reverse=True)
        self.secret_dirs = [Path(d).resolve() for d in secret_dirs]
        self.masked = 0

    def is_secret_path(self, path: Path) -> bool:
        resolved = Path(path).resolve()
        if any(resolved == d or d in resolved.parents for d in self.secret_dirs):
            return True
        return bool(SECRET_NAMES.search(resolved.name))

    def text(self, text: str) -> str:
        for value in self.values:
            if value in text:
                self.masked += text.count(value)
                text = text.replace(value, MASK)
        for pattern in PATTERNS:
            text, n = pattern.subn(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
            self.masked += n
        return text
