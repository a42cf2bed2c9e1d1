"""The HTML report of a lab's verify history (`lab report`).

render: writes the pages; model: what they show, as data; templates: how.
"""

from lab.report.html.model import run_page
from lab.report.html.render import render_report

__all__ = ["render_report", "run_page"]
