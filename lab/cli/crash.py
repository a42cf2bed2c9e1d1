"""A command that crashes says so in one line and exits 4 (the rig could not measure).

In a nightly journal forty lines of frames bury what broke; a person needs the
command, the exception and where the traceback is kept. The traceback goes to
a log file under $STACKLAB_HOME/log (printed in full with --debug or
STACKLAB_DEBUG=1), so whoever debugs it the next morning still has it.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.markup import escape

from lab.exitcodes import CannotActError, ExitCode
from lab.paths import log_dir

DEBUG_ENV = "STACKLAB_DEBUG"
Command = TypeVar("Command", bound=Callable[..., Any])


def _pass_through() -> tuple[type[BaseException], ...]:
    """Exits, aborts and usage errors (typer's own, and click's where typer
    uses the click package) are the command's answer, not a crash; click
    is imported only when something was raised (startup time)."""
    kinds: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, typer.TyperException)
    try:
        import click
    except ImportError:
        return kinds
    return (*kinds, click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort)


def guarded(command: Command) -> Command:
    """Wrap a typer command: exits and usage errors pass, any other exception
    becomes a one-line message and exit 4. The command's `debug` parameter
    (if it has one) or STACKLAB_DEBUG=1 prints the traceback as well."""

    if getattr(command, "__guarded__", False):
        return command

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the point: no traceback in the journal
            if isinstance(exc, _pass_through()):
                raise
            if isinstance(exc, CannotActError):
                from lab.cli.common import fail

                raise fail(escape(str(exc)), ExitCode.CANNOT_MEASURE) from None
            debug = bool(kwargs.get("debug")) or os.environ.get(DEBUG_ENV) == "1"
            raise crashed(command.__name__, exc, debug) from None

    wrapper.__guarded__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def guard_all(app: typer.Typer) -> None:
    """Guard every command of `app` and of its sub-apps, so no verb (up,
    down, bench, ...) ends a nightly job with a page of frames."""
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = guarded(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_all(group.typer_instance)


def crashed(name: str, exc: BaseException, debug: bool = False) -> typer.Exit:
    from lab.cli.common import console

    text = "".join(traceback.format_exception(exc))
    log = write_crash_log(name, text)
    what = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    where = f"traceback in {log}" if log else "traceback not kept (no writable log dir)"
    console.print(f"[bold red]error:[/] {escape(f'lab {name} crashed: {what} ({where})')}",
                  highlight=False, soft_wrap=True)
    if debug:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(ExitCode.CANNOT_MEASURE)


def write_crash_log(name: str, text: str) -> Path | None:
    """The traceback in $STACKLAB_HOME/log, else the temp dir; None if neither is writable."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for directory in (log_dir(), Path(tempfile.gettempdir())):
        path = directory / f"crash-{name}-{stamp}-{os.getpid()}.log"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except OSError:
            continue
        return path
    return None
