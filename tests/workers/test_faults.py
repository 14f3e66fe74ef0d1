"""Workers that die at the worst moment: the heartbeat still fails their trial and retries it.

The full fault test (a 20-trial search, workers killed with SIGKILL) is
``tests/cli/test_faults.py``; these are the holes it found, each in isolation and
without a server: a worker killed between popping a trial and its first heartbeat, a
stalled worker whose trial the heartbeat failed meanwhile, and the Redis journal,
which had no heartbeat at all.
"""

from __future__ import annotations

import optuna
import pytest
from optuna.storages import JournalStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from optuna_nas.storage import _journal
from optuna_nas.workers import _queue, queue_trials, run_worker, storage_from_url
from tests.servers import throwaway_study_url

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings(
    "ignore::optuna.exceptions.ExperimentalWarning",  # RetryHeartbeatStaleTrialCallback
    "ignore:Heartbeat of storage is supposed to be used with Study.optimize",  # study.ask()
)


class _Died(BaseException):
    """What a SIGKILL would do to the worker at that point: nothing more runs."""


def _rdb(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    return lambda: storage_from_url(url, heartbeat_interval=1, grace_period=1)


def _redis_like(tmp_path):  # a journal storage, as redis:// URLs get
    path = str(tmp_path / "journal.log")
    return lambda: _journal.HeartbeatJournalStorage(
        JournalFileBackend(path), heartbeat_interval=1, grace_period=1,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(3),
    )  # fmt: skip


@pytest.mark.parametrize("make", [_rdb, _redis_like], ids=["rdb", "journal"])
def test_a_worker_that_dies_right_after_popping_a_trial_does_not_leave_it_running(
    tmp_path, monkeypatch, make
):
    storage = make(tmp_path)
    study = optuna.create_study(storage=storage(), study_name="s")
    queue_trials(study, 2)
    # The first worker pops trial 0 and dies before its heartbeat thread starts.
    with monkeypatch.context() as patch:
        patch.setattr(_queue, "_run_trial", lambda *args: (_ for _ in ()).throw(_Died()))
        with pytest.raises(_Died):
            run_worker(study, lambda t: t.suggest_float("x", 0, 1))
    assert study.trials[0].state == TrialState.RUNNING
    # Another worker runs trial 1, waits out the grace period, fails 0 and runs its retry.
    # (Before the fix trial 0 had no heartbeat, never went stale, and the survivor
    # waited for it until its timeout.)
    survivor = optuna.load_study(study_name="s", storage=storage())
    assert run_worker(survivor, lambda t: t.suggest_float("x", 0, 1), timeout=120) == 2
    states = [t.state for t in survivor.trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert survivor.trials[2].system_attrs["retry_history"] == [0]


def test_a_stalled_worker_whose_trial_the_heartbeat_failed_keeps_the_fail_and_goes_on(tmp_path):
    storage = storage_from_url(f"sqlite:///{tmp_path}/s.db", heartbeat_interval=1)
    study = optuna.create_study(storage=storage)
    queue_trials(study, 2)

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 0:  # stalled past the grace period: another worker fails it
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            trial.set_user_attr("weights_sha256", "...")  # the objective's next write raises
        return x

    # Before the fix, writing the fail reason raised again and the worker died with a
    # traceback (UpdateFinishedTrialError), after its heartbeat had already failed it.
    assert run_worker(study, objective) == 2
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert "fail_reason" not in study.trials[0].user_attrs


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def time(self):
        return self.now + 1e6  # the writer's wall clock: never compared with the watcher's


def test_a_journal_trial_is_stale_after_the_grace_period_without_a_new_beat(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(_journal, "time", clock)
    storage = _journal.HeartbeatJournalStorage(
        JournalFileBackend(str(tmp_path / "j.log")), heartbeat_interval=2, grace_period=5
    )
    assert is_heartbeat_enabled(storage) and storage.get_heartbeat_interval() == 2
    study = optuna.create_study(storage=storage)
    beating, silent, mute = (study.ask()._trial_id for _ in range(3))
    storage.record_heartbeat(beating)
    storage.record_heartbeat(silent)
    sid = study._study_id
    assert storage._get_stale_trial_ids(sid) == []  # first look: the grace period starts now
    clock.now += 4
    storage.record_heartbeat(beating)
    assert storage._get_stale_trial_ids(sid) == []
    clock.now += 2  # 6 s since the silent trial's last beat was first seen, 2 s for the other
    assert storage._get_stale_trial_ids(sid) == [silent]
    clock.now += 100
    assert beating in storage._get_stale_trial_ids(sid)  # it stopped beating too
    assert mute not in storage._get_stale_trial_ids(sid)  # never beat: no heartbeat to miss
    # A beat for a trial another worker has failed meanwhile is no error.
    storage.set_trial_state_values(silent, TrialState.FAIL)
    storage.record_heartbeat(silent)


def test_a_journal_trial_the_watcher_first_sees_late_gets_the_full_grace_period(tmp_path):
    path = str(tmp_path / "j.log")
    writer = _journal.HeartbeatJournalStorage(JournalFileBackend(path), grace_period=5)
    study = optuna.create_study(storage=writer, study_name="s")
    trial = study.ask()._trial_id
    writer.record_heartbeat(trial)
    # A watcher started long after the beat (or on a machine whose clock is hours
    # ahead) does not fail the trial at first sight.
    watcher = _journal.HeartbeatJournalStorage(JournalFileBackend(path), grace_period=5)
    assert watcher._get_stale_trial_ids(study._study_id) == []


def test_redis_urls_get_the_journal_heartbeat():
    with throwaway_study_url("redis") as (url, name):
        storage = storage_from_url(url, heartbeat_interval=5, grace_period=7, max_retry=2)
        assert isinstance(storage, JournalStorage) and is_heartbeat_enabled(storage)
        assert (storage.get_heartbeat_interval(), storage.grace_period) == (5, 7)
        assert isinstance(
            storage.get_heartbeat_stale_trial_callback(), RetryHeartbeatStaleTrialCallback
        )
        assert storage_from_url(url).grace_period == 120  # default: twice the 60 s interval
