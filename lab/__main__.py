"""`python -m lab` is the `lab` command (same name in usage lines and for
shell completion: `_LAB_COMPLETE`)."""

from lab.cli import app

app(prog_name="lab")
