"""The time window of a log collection, and which lines fall inside it.

Times are ISO 8601 (a naive one is local time), epoch seconds, `now`, or
relative to now (`-2h`, `-30m`, `-45s`, `-1d`). A line is placed by the
ISO timestamp it starts with (or the local `YYYY/MM/DD hh:mm:ss` stamp of
Go's log package and FRR, after wireguard-go's `LEVEL: (device) ` prefix);
a line without one (a continuation, a stack trace) belongs to the
timestamped line before it. A file with no timestamped
line at all is placed by its modification time: the manifest says which.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# 2024-05-01 12:00:00.123+0000: (QEMU), 2024-05-01T12:00:00Z, ... at line start
LINE_TS = re.compile(r"^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
# 2024/05/01 12:00:00 (FRR), ERROR: (wg0) 2024/05/01 12:00:00 (wireguard-go): local time
SLASH_TS = re.compile(r"^(?:[A-Z]+: \([^)]*\) )?(\d{4})/(\d\d)/(\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)")


class WindowError(ValueError):
    """A bad --from/--to: names the option and a form that works."""


def parse_time(text: str, option: str, now: float | None = None) -> float:
    now = time.time() if now is None else now
    value = text.strip()
    if value == "now":
        return now
    if m := RELATIVE.match(value):
        return now - float(m.group(1)) * UNIT_S[m.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    ts = _iso(value)
    if ts is None:
        raise WindowError(f"{option} {text!r} is not a time: use ISO 8601 (2024-05-01T12:00:00Z), "
                          f"epoch seconds, 'now' or a relative time like -2h, -30m")
    return ts


def _iso(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def line_time(line: str) -> float | None:
    m = LINE_TS.match(line)
    if not m:
        s = SLASH_TS.match(line)
        return _iso(f"{s.group(1)}-{s.group(2)}-{s.group(3)}T{s.group(4)}") if s else None
    text = m.group(1)
    if re.search(r"[+-]\d{4}$", text):  # +0000 -> +00:00 for fromisoformat
        text = f"{text[:-2]}:{text[-2:]}"
    return _iso(text)


@dataclass(frozen=True)
class Window:
    start: float | None = None
    end: float | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None, now: float | None = None) -> Window:
        window = cls(parse_time(start, "--from", now) if start else None,
                     parse_time(end, "--to", now) if end else None)
        if window.start is not None and window.end is not None and window.start > window.end:
            raise WindowError(f"--from ({_fmt(window.start)}) is after --to ({_fmt(window.end)}): "
                              f"swap them")
        return window

    def contains(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t <= self.end)

    def includes_now(self) -> bool:
        return self.end is None or self.end >= time.time()

    def to_json(self) -> dict[str, str | None]:
        return {"from": _fmt(self.start), "to": _fmt(self.end)}

    def filter_text(self, text: str, mtime: float) -> tuple[str | None, str]:
        """(kept text or None when nothing is in the window, how it was chosen)."""
        lines = text.splitlines(keepends=True)
        stamps = [line_time(line) for line in lines]
        if not any(s is not None for s in stamps):
            return (text if self.contains(mtime) else None), "mtime"
        kept, current = [], next(s for s in stamps if s is not None)
        for line, stamp in zip(lines, stamps, strict=True):
            current = stamp if stamp is not None else current
            if self.contains(current):
                kept.append(line)
        return ("".join(kept) if kept else None), "lines"


def _fmt(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")
