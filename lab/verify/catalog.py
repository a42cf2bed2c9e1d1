"""Which checks a lab gets: every feature's group (lab.features), built from
the plan alone."""

from __future__ import annotations

from lab.features import check_builders
from lab.plan.model import Plan
from lab.verify.runner import Check


def checks_for(plan: Plan) -> list[Check]:
    return [check for build in check_builders() for check in build(plan)]
