"""Progress of a long step-by-step command (`lab up`, `lab down`) that reads
wherever it runs: a live status line on a terminal; without one (systemd,
cron, CI logs) one line per step as it starts, so the journal shows how far
a run got and which step hung. `console.status` alone prints nothing
without a terminal: a nightly `up` that took ten minutes left no trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from lab.lines import fit_name

Step = Callable[[str], None]


@contextmanager
def steps(console: Console, title: str) -> Iterator[Step]:
    """Yield `step(description)`; every step shows as "<title>: <description>".
    Without a terminal a step repeated back to back prints once."""
    if console.is_terminal:
        with console.status(escape(title)) as status:
            yield lambda description: status.update(escape(f"{title}: {description}"))
        return
    last: list[str] = []

    def line(description: str) -> None:
        if last == [description]:
            return
        last[:] = [description]
        console.print(fit_name(f"{title}: {description}", console.width), markup=False,
                      highlight=False, soft_wrap=True)
    yield line
