"""dashboards/alerts.yml: promtool accepts the rules, its unit tests pass, every
alert has a firing and a not-firing unit test, and the rules only ask for
metrics stacklab exports. (tests/report/test_prometheus_dashboards.py loads the
same file into a real Prometheus.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from lab.report import metric_names as m
from lab.report.dashboards import DASHBOARD_DIR
from tests.report.tools import require_binary

ALERTS = DASHBOARD_DIR / "alerts.yml"
ALERT_TESTS = Path(__file__).with_name("alerts_test.yml")


def _promtool() -> str:
    return require_binary("promtool")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_promtool(), *args], capture_output=True, text=True, timeout=60, check=False)


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_promtool_check_rules_accepts_alerts_yml():
    result = _run("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass():
    result = _run("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_summaries_show_the_check_name_once():
    """The `check` label is the whole name, group first (fabric.red.mtu): a
    summary that puts `group.` in front says "fabric.fabric.red.mtu"."""
    for rule in _rules():
        for text in rule.get("annotations", {}).values():
            assert "$labels.group }}.{{ $labels.check" not in text, rule["alert"]


def test_promtool_unit_tests_fail_when_an_alert_threshold_is_wrong(tmp_path):
    """The unit tests can fail: the same tests against rules with N=2 instead of 3."""
    broken = tmp_path / "dashboards" / "alerts.yml"
    broken.parent.mkdir()
    text = ALERTS.read_text()
    assert ">= 3" in text
    broken.write_text(text.replace(">= 3", ">= 2"))
    tests = tmp_path / "tests" / "report" / "alerts_test.yml"
    tests.parent.mkdir(parents=True)
    shutil.copy(ALERT_TESTS, tests)
    result = _run("test", "rules", str(tests))
    assert result.returncode != 0 and "StacklabCheckFailingNightsInARow" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    required = {"no run for 26 h": "StacklabNoVerifyRun", "last verify failed": "StacklabVerifyFailed",
                "regression": "StacklabRegressionDetected",
                "failing N nights in a row": "StacklabCheckFailingNightsInARow",
                "VPN tunnel down": "StacklabVpnTunnelDown"}
    names = {rule["alert"] for rule in _rules()}
    assert set(required.values()) <= names, f"missing alerts: {set(required.values()) - names}"
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for name in names:
        outcomes = [bool(c.get("exp_alerts")) for c in cases if c["alertname"] == name]
        assert True in outcomes, f"{name}: no unit test where it fires"
        assert False in outcomes, f"{name}: no unit test where it stays quiet"


def test_alert_rules_ask_only_for_exported_metric_names():
    exported = {v for k, v in vars(m).items() if k.isupper() and isinstance(v, str)
                and v.startswith(m.PREFIX + "_")}
    for rule in _rules():
        used = set(re.findall(rf"\b{m.PREFIX}_[a-z_]+", rule["expr"]))
        assert used, rule["alert"]
        unknown = {name for name in used if name.removesuffix("_total") not in exported}
        assert not unknown, f"{rule['alert']} asks for {unknown}, not in lab/report/metric_names.py"
