"""What the cross-reference checks share: problems, paths, the registry and
the helpers that make a check safe to run on a partly valid topology.

When some items of a list section fail structural validation, the loader
hands the checks a `Items` list holding only the items that did validate,
each with its index in the file, plus the names of the dropped ones. Checks
iterate with `indexed` (paths and "also ..." references keep the file's
indices) and ask `may_exist` before calling a name unknown, so a broken item
never causes a false "unknown X" error, and its valid siblings are still
checked in the same run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # topology.py uses the hints below: no import at run time
    from lab.model.topology import Topology

Path = tuple[str | int, ...]
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str


Check = Callable[["Topology"], Iterator[Problem]]


class Registry(list[tuple[Check, frozenset[str]]]):
    """Checks with the top-level sections each one reads."""

    def needs(self, *sections: str) -> Callable[[Check], Check]:
        def register(check: Check) -> Check:
            self.append((check, frozenset(sections)))
            return check

        return register


class Items(list[T]):
    """The items of a section that validated, with their indices in the file.

    `dropped` holds the names of the items that did not validate; None when
    a dropped item has no usable name (then any name may be one of them)."""

    def __init__(self, items: Iterable[tuple[int, T]], dropped: frozenset[str] | None):
        pairs = list(items)
        super().__init__(item for _, item in pairs)
        self.indices = [i for i, _ in pairs]
        self.dropped = dropped


def indexed(items: list[T]) -> Iterator[tuple[int, T]]:
    """(index in the file, item), also for a section with dropped items."""
    return zip(getattr(items, "indices", range(len(items))), items, strict=True)


def may_exist(items: list[Any], name: str) -> bool:
    """True when `name` could be one of the section's items that did not validate."""
    dropped = getattr(items, "dropped", frozenset())
    return dropped is None or name in dropped


def incomplete(items: list[Any]) -> bool:
    """True when items of the section were dropped (counts and 'none' are unsure)."""
    return getattr(items, "dropped", frozenset()) != frozenset()


def closest(word: object, choices: Iterable[str]) -> str | None:
    """The choice `word` is a near miss of (a typo), if any."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return close[0] if close else None


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """" (did you mean 'tenants'?)" for a near miss, else ""."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def unknown(what: str, name: str, known: list[str], listing: str = "known") -> str:
    """"unknown tenant 'rde' (did you mean 'red'?); known: red, blue"."""
    return f"unknown {what} '{name}'{did_you_mean(name, known)}; {listing}: {', '.join(known) or 'none'}"


def format_path(path: Path) -> str:
    """('vms', 0, 'address') -> 'vms[0].address', as a user reads the YAML."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def duplicates(prefix: Path, pairs: Iterable[tuple[int, object]], what: str, *field: str) -> Iterator[Problem]:
    """One problem per repeated value; `pairs` are (index in the file, value)."""
    seen: dict[object, int] = {}
    for i, value in pairs:
        if value in seen:
            other = format_path((*prefix, seen[value]))
            shown = f"'{value}'" if isinstance(value, str) else value
            yield Problem((*prefix, i, *field), f"duplicate {what} {shown} (also {other}); {what}s must be unique")
        seen.setdefault(value, i)
