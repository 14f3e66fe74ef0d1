"""Faults, counted: a 20-trial search whose workers are killed with SIGKILL mid-trial.

Real ``optuna-nas search`` and ``optuna-nas worker`` processes, three at a time, on
PostgreSQL and on the Redis journal; three of them are killed while they run a trial
and replaced (``benchmarks/fault_tolerance.py`` runs the same and prints the figures).
"""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from benchmarks.fault_tolerance import chaos_search, fingerprints, retry_of, weights_problems
from tests.servers import throwaway_study_url

pytestmark = pytest.mark.slow  # worker processes train real (tiny) networks

N_TRIALS, KILLS = 20, 3


@pytest.mark.parametrize("kind", ["postgresql", "redis"])
def test_a_search_survives_killed_workers_without_losing_or_repeating_a_trial(tmp_path, kind):
    with throwaway_study_url(kind) as (url, name):
        # Generous: the suite may share the CPUs with other work (a minute when idle).
        outcome = chaos_search(url, name, tmp_path, n_trials=N_TRIALS, kills=KILLS, timeout=1200)
    trials, log = outcome.trials, outcome.log_tail()
    hits = [k.trial for k in outcome.kills if k.trial is not None]
    assert len(hits) == KILLS, (outcome.kills, log)  # three workers killed mid-trial
    assert all(code == 0 for code in outcome.exit_codes.values()), (outcome.exit_codes, log)

    # The budget, exactly: nothing lost, nothing run on top, nothing left behind.
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) == N_TRIALS, (states, log)
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states

    # Every killed trial failed by heartbeat and was queued again with its params;
    # its retry chain ends COMPLETE (a retry can be a later kill's victim too).
    for number in hits:
        assert trials[number].state == TrialState.FAIL, number
        retry = retry_of(trials, number)
        assert retry is not None, f"killed trial {number} was not retried"
        assert retry.system_attrs["failed_trial"] == (
            trials[number].system_attrs.get("failed_trial", number)
        )
        assert retry.params == trials[number].params
        while retry.state == TrialState.FAIL:
            retry = retry_of(trials, retry.number)
            assert retry is not None
        assert retry.state == TrialState.COMPLETE
    # No other failure went unretried (a trial whose heartbeat lagged under load is
    # failed and retried the same way).
    for trial in trials:
        if trial.state == TrialState.FAIL:
            assert retry_of(trials, trial.number) is not None, trial.number

    # Every COMPLETE trial's weights: the artifact exists, its sha256 is the recorded one.
    assert weights_problems(trials, outcome.artifact_dir) == []
    # No architecture twice among COMPLETE trials, by canonical fingerprint.
    prints = fingerprints(trials)
    assert len(prints) == N_TRIALS and len(set(prints)) == N_TRIALS
    assert prints == [t.user_attrs["fingerprint"] for t in trials if t.state == TrialState.COMPLETE]
