"""`python -m lab` is the `lab` command."""

from lab.cli import app

app()
