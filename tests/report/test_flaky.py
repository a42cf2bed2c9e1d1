"""lab.report.flaky: flaky marker and failure streaks from a check's verdicts."""

from __future__ import annotations

import pytest

from lab.report.flaky import FLAKY_CHANGES, FLAKY_RUNS, consecutive_failures, is_flaky, outcome_changes


def test_defaults_are_three_changes_in_ten_runs():
    assert (FLAKY_CHANGES, FLAKY_RUNS) == (3, 10)


def test_a_check_that_flaps_is_flaky_and_a_stable_one_is_not():
    flapping = ["pass", "fail", "pass", "pass", "fail", "pass"]
    assert outcome_changes(flapping) == 4 and is_flaky(flapping)
    assert not is_flaky(["pass"] * 10) and not is_flaky(["fail"] * 10)


def test_one_regression_and_one_fix_are_not_flaky():
    assert outcome_changes(["pass"] * 4 + ["fail"] * 3 + ["pass"] * 3) == 2
    assert not is_flaky(["pass"] * 4 + ["fail"] * 3 + ["pass"] * 3)


def test_only_the_last_n_runs_count():
    old_flapping = ["pass", "fail"] * 5 + ["pass"] * 10
    assert is_flaky(old_flapping[:10]) and not is_flaky(old_flapping)
    assert is_flaky(old_flapping, changes=3, runs=20)


def test_skipped_and_error_are_outcomes_not_changes_of_their_own():
    assert outcome_changes(["pass", "skipped", "pass", "skipped"]) == 0
    assert outcome_changes(["fail", "error", "fail"]) == 0
    assert outcome_changes(["pass", "error", "skipped", "fail"]) == 3


def test_runs_without_the_check_are_left_out():
    assert outcome_changes(["pass", None, "pass", None, "fail"]) == 1


def test_bad_parameters_name_the_field():
    with pytest.raises(ValueError, match="changes >= 1"):
        is_flaky(["pass"], changes=0)
    with pytest.raises(ValueError, match="runs >= 2"):
        is_flaky(["pass"], runs=1)


@pytest.mark.parametrize("verdicts,streak", [
    ([], 0), (["pass"], 0), (["fail"], 1), (["pass", "fail", "error"], 2),
    (["fail", "fail", "pass"], 0), (["fail", None, "fail", "fail"], 2), (["fail", "skipped"], 0),
])
def test_consecutive_failures_count_back_from_the_newest_run(verdicts, streak):
    assert consecutive_failures(verdicts) == streak
