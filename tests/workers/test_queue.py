import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState

from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.storage import keys
from optuna_nas.workers import WORKER, queue_trials, run_worker, storage_from_url
from tests.servers import throwaway_study_url

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space(channels=4, cells=1)
PARENT = SPACE.from_nb201_string("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
CHILD = SPACE.from_nb201_string(  # the parent plus a zero-initialised conv: a network morphism
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
)


def _values(trial):
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 1:
        raise RuntimeError("a bug in the objective")
    return math.nan if trial.number == 2 else x


def test_the_queue_holds_the_budget_and_a_resume_refills_failed_trials(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    assert queue_trials(study, 4) == 4 and queue_trials(study, 4) == 0
    seen = []
    assert run_worker(study, _values, callbacks=[lambda s, t: seen.append(t.number)]) == 4
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert seen == [0, 1, 2, 3]
    assert "a bug in the objective" in study.trials[1].user_attrs["fail_reason"]
    assert study.trials[0].user_attrs[WORKER].endswith(f":{os.getpid()}")
    # Without a queued trial a worker runs nothing: it never creates trials of its own.
    assert run_worker(study, _values) == 0 and len(study.trials) == 4
    # Resuming counts what finished: the two failed trials are queued again.
    assert queue_trials(study, 4) == 2
    assert run_worker(study, _values, timeout=0) == 0  # past its deadline: takes nothing
    assert run_worker(study, _values) == 2
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 4


def test_an_exception_outside_catch_fails_the_trial_and_stops_the_worker(tmp_path):
    study = optuna.create_study()
    queue_trials(study, 2)

    def interrupted(trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_worker(study, interrupted)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]


def test_queue_rejects_a_negative_budget():
    with pytest.raises(ValueError, match="n_trials must be >= 0"):
        queue_trials(optuna.create_study(), -1)


@pytest.mark.slow
def test_a_killed_childs_retry_still_inherits_from_its_parent(tmp_path):
    """Heartbeat retries copy params and system attrs, so the lineage survives a kill -9."""
    with throwaway_study_url("postgresql") as (url, name):
        storage = storage_from_url(url, heartbeat_interval=1, grace_period=2)
        study = create_study(["error", "params"], storage=storage, study_name=name)
        (tmp_path / "artifacts").mkdir()
        store = FileSystemArtifactStore(str(tmp_path / "artifacts"))
        data = load_data("synthetic", train_size=2000, val_size=200, test_size=200)
        objective = NASObjective(SPACE, data, ["error", "params"],
                                 TrainConfig(epochs=1, batch_size=64), store)  # fmt: skip
        study.enqueue_trial(SPACE.to_params(PARENT))
        run_worker(study, objective)
        # The child, with the lineage a sampler writes, runs in a worker killed mid-training.
        study.enqueue_trial(SPACE.to_params(CHILD))
        child = study.trials[1]._trial_id
        storage.set_trial_system_attr(child, keys.PARENT_TRIAL, 0)
        storage.set_trial_system_attr(child, keys.OPERATOR, "activate_edge")
        script = _DOOMED_WORKER.format(url=url, name=name, artifacts=tmp_path / "artifacts")
        worker = subprocess.Popen([sys.executable, "-c", script])
        deadline = time.monotonic() + 60
        while "inheritance" not in storage.get_trial(child).user_attrs:  # warm-started
            assert time.monotonic() < deadline and worker.poll() is None, "it never trained"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert storage.get_trial(child).state == TrialState.RUNNING

        run_worker(study, objective)  # waits out the grace period, fails it, runs the retry
        parent, killed, retry = study.trials
        assert killed.state == TrialState.FAIL and retry.state == TrialState.COMPLETE
        assert retry.system_attrs["failed_trial"] == 1 and retry.params == killed.params
        assert retry.system_attrs[keys.PARENT_TRIAL] == 0
        assert retry.user_attrs["parent_trial"] == 0
        assert retry.user_attrs["operator"] == "activate_edge"
        assert retry.user_attrs["inheritance"]["copied"] > 0  # warm-started from the parent
        assert retry.user_attrs[WORKER].endswith(f":{os.getpid()}")


_DOOMED_WORKER = textwrap.dedent("""
    import optuna, torch
    from optuna.artifacts import FileSystemArtifactStore
    from optuna_nas import NASObjective, NB201Space, TrainConfig
    from optuna_nas.data import load_data
    from optuna_nas.workers import run_worker, storage_from_url
    torch.set_num_threads(1)
    storage = storage_from_url("{url}", heartbeat_interval=1, grace_period=2)
    study = optuna.load_study(study_name="{name}", storage=storage)
    data = load_data("synthetic", train_size=2000, val_size=200, test_size=200)
    objective = NASObjective(NB201Space(channels=4, cells=1), data, ["error", "params"],
                             TrainConfig(epochs=5, batch_size=64),
                             FileSystemArtifactStore("{artifacts}"))
    run_worker(study, objective)
""")
