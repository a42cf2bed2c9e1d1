"""Live per-host progress of a playbook run (rich), fed by runner events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table

from lab.providers.ansible.results import EventCollector, RunResult

STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "unreachable": "bold red"}


def host_table(collector_hosts, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("host", "status", "ok", "changed", "failed", "skipped", "task / failure"):
        table.add_column(column)
    for name, host in sorted(collector_hosts.items()):
        status = host.status
        detail = host.failures[-1].message if host.failures else host.current_task
        table.add_row(name, f"[{STYLE[status]}]{status}[/]", str(host.ok), str(host.changed),
                      str(host.failed + host.unreachable), str(host.skipped), detail[:100])
    return table


@contextmanager
def live_progress(title: str, console: Console | None) -> Iterator[EventCollector]:
    """An EventCollector whose every event refreshes a live table (or nothing without a console)."""
    if console is None:
        yield EventCollector()
        return
    with Live(host_table({}, title), console=console, refresh_per_second=4, transient=True) as live:
        yield EventCollector(on_change=lambda c: live.update(host_table(c.hosts, title)))


def summary_table(result: RunResult) -> Table:
    verdict = "succeeded" if result.succeeded else f"failed on {', '.join(result.failed_hosts) or 'the run'}"
    return host_table(result.hosts, f"{result.playbook}: {verdict}")
