"""The pure parts of the inheritance benchmark: hypervolume over time and time to reach."""

import datetime

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState, create_trial

from benchmarks.lemonade_inheritance import (
    counted,
    hv_at,
    hv_trace,
    hypervolume,
    normalise,
    reach_row,
    time_to_reach,
)

P_RANGE = (100, 10_000)


def test_normalise_scales_error_and_log_params_to_the_space():
    points = normalise(np.array([[0.25, 100], [0.5, 1_000], [0.0, 10_000]]), 0.5, P_RANGE)
    np.testing.assert_allclose(points, [[0.5, 0.0], [1.0, 0.5], [0.0, 1.0]])


def test_hypervolume_of_known_sets():
    assert hypervolume(np.array([[0.1, 0.1]])) == pytest.approx(1.0)
    # Two points: 2 rectangles minus their overlap.
    two = np.array([[0.1, 0.6], [0.6, 0.1]])
    assert hypervolume(two) == pytest.approx(0.5 + 0.5 - 0.25)
    # A point beyond the reference adds nothing; no point at all is 0.
    assert hypervolume(np.vstack([two, [[1.2, 0.0]]])) == pytest.approx(0.75)
    assert hypervolume(np.empty((0, 2))) == 0.0


def test_trace_follows_completion_order_and_never_decreases():
    times = np.array([30.0, 10.0, 20.0])
    points = np.array([[0.1, 0.1], [0.6, 0.6], [0.1, 0.6]])
    trace = hv_trace(times, points)
    np.testing.assert_allclose(trace[0], [10, 20, 30])
    np.testing.assert_allclose(trace[1], [0.25, 0.5, 1.0])
    assert hv_at(trace, 9.9) == 0.0
    assert hv_at(trace, 10.0) == pytest.approx(0.25)
    assert hv_at(trace, 25.0) == pytest.approx(0.5)
    assert hv_at(trace, 1e9) == pytest.approx(1.0)
    assert time_to_reach(trace, 0.5) == 20.0
    assert time_to_reach(trace, 1.0) == 30.0
    assert time_to_reach(trace, 1.01) is None


def _trace(times, hvs):
    return np.array(times, dtype=float), np.array(hvs, dtype=float)


def test_reach_ratio_compares_the_times_to_the_fresh_runs_final_hypervolume():
    fresh = _trace([10, 50, 80], [0.2, 0.6, 0.6])  # final 0.6, first reached at 50 s
    inherit = _trace([10, 20, 40], [0.3, 0.7, 0.9])  # reaches 0.6 at 20 s
    row, ratio, censored = reach_row(
        "0", {"fresh": {"trace": fresh}, "inherit": {"trace": inherit}}, 100
    )
    assert ratio == pytest.approx(0.4) and not censored
    assert row == "| 0 | 0.6000 | 50 | 20 | 0.40 |"
    # Inheritance never gets there: censored at the budget, a lower bound on the ratio.
    slow = _trace([10, 90], [0.1, 0.5])
    row, ratio, censored = reach_row(
        "1", {"fresh": {"trace": fresh}, "inherit": {"trace": slow}}, 100
    )
    assert ratio == pytest.approx(2.0) and censored and "> 2.00" in row
    # A fresh run without any point: nothing to reach.
    empty = _trace([], [])
    assert (
        reach_row("2", {"fresh": {"trace": empty}, "inherit": {"trace": inherit}}, 100)[1] is None
    )


def test_counted_keeps_completed_trials_within_the_budget():
    study = optuna.create_study(directions=["minimize", "minimize"])
    start = datetime.datetime(2026, 1, 1, 12, 0, 0)
    for seconds, state in [(30, TrialState.COMPLETE), (90, TrialState.FAIL),
                           (100, TrialState.COMPLETE), (130, TrialState.COMPLETE)]:  # fmt: skip
        trial = create_trial(
            state=state, values=[0.1, 1.0] if state == TrialState.COMPLETE else None
        )
        trial.datetime_start = start
        trial.datetime_complete = start + datetime.timedelta(seconds=seconds)
        study.add_trial(trial)
    trials, times = counted(study, start.timestamp(), budget=100)
    assert [t.number for t in trials] == [0, 2]
    np.testing.assert_allclose(times, [30, 100])
