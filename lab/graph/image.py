"""PNG and SVG pictures of the topology: the DOT text laid out by Graphviz.

The `dot` program (apt package graphviz, installed by scripts/install-deps.sh)
does the layout; it is run directly rather than through a Python binding
because it is the only call and the binding would only wrap this subprocess.
"""

from __future__ import annotations

import shutil
import subprocess

IMAGE_FORMATS = ("png", "svg")
TIMEOUT_S = 120


class GraphvizError(RuntimeError):
    """`dot` is missing or refused the input."""


def dot_to_image(dot_text: str, fmt: str) -> bytes:
    """The picture of `dot_text` as `fmt` (png or svg) bytes."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"{fmt} is not an image format: {', '.join(IMAGE_FORMATS)}")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizError("graphviz's `dot` is not installed (scripts/install-deps.sh installs it)")
    try:
        done = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"`dot` took longer than {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise GraphvizError(f"`dot -T{fmt}` failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
