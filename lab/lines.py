"""Tables that read in a journal: one line per row, never wider than the
console, never a word cut in two.

A Rich table squeezed to 80 columns (systemd, cron: no terminal) folds long
cells over several lines and breaks words mid-way ("fabric.no_flo" / "oding"),
which reads badly in journalctl and defeats grep. Here every row is one line:
leading columns are as wide as their longest value (up to a cap), the last
column gets what is left and is cut at a word boundary with "…" marking the
cut. The full text is in `--wide` and the report files.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

ELLIPSIS = "…"
GAP = "  "
# a leading column never takes more than this share of the line, so the
# last column (what was measured) keeps room
MAX_SHARE = 0.5
Cell = str | Text


def fit(text: str, width: int, breaks: str = " ") -> str:
    """`text` (whitespace collapsed) cut to at most `width` characters at one
    of the `breaks` characters, "…" marking the cut; never half a word."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - len(ELLIPSIS)
    # a space is dropped at the cut, any other break character is kept
    ends = [i if ch == " " else i + 1 for i, ch in enumerate(text[:room + 1]) if ch in breaks]
    head = text[:max((e for e in ends if e <= room), default=0)].rstrip()
    return head + ELLIPSIS


def fit_name(name: str, width: int) -> str:
    """A dotted check name cut after a "." "/" or "-" rather than mid-part."""
    return fit(name, width, breaks=" ./-:")


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def lines(rows: Sequence[Sequence[Cell]], width: int, header: Sequence[str] | None = None) -> list[Text]:
    """Lay rows out as lines of at most `width` characters: every column but
    the last padded to its widest value, the last fitted into what is left."""
    table = [list(header)] if header else []
    table += [list(r) for r in rows]
    if not table:
        return []
    columns = len(table[0])
    cap = max(8, int(width * MAX_SHARE))
    widths = [min(cap, max(len(_plain(r[i])) for r in table)) for i in range(columns - 1)]
    return [_line(r, widths, width, bold=bool(header) and n == 0) for n, r in enumerate(table)]


def _line(row: Sequence[Cell], widths: Sequence[int], width: int, bold: bool) -> Text:
    line = Text(style="bold" if bold else "")
    for cell, column in zip(row[:-1], widths, strict=False):
        text = _plain(cell)
        if len(text) > column:
            text = fit_name(text, column)
        style = cell.style if isinstance(cell, Text) else ""
        line.append(text.ljust(column), style=style)
        line.append(GAP)
    last = row[-1]
    room = width - len(line.plain)
    line.append(fit(_plain(last), room), style=last.style if isinstance(last, Text) else "")
    line.rstrip()
    return line


def print_lines(console: Console, rows: Sequence[Sequence[Cell]],
                header: Sequence[str] | None = None) -> None:
    """Print rows one line each at the console's width (no wrapping)."""
    for line in lines(rows, console.width, header):
        console.print(line, soft_wrap=True, no_wrap=True, overflow="ignore", crop=False,
                      highlight=False)
