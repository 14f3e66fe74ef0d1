import os
import signal
import subprocess
import sys
import textwrap
import time

import optuna
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import TrialState

import optuna_nas

# A plain Python-API search as the README writes it, with a short heartbeat; on its
# first run it hangs inside trial 1 (after writing a marker) until it is killed.
SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import optuna, torch
    import optuna_nas
    from optuna_nas.workers import storage_from_url

    torch.set_num_threads(1)
    url, marker = sys.argv[1], Path(sys.argv[2])
    space = optuna_nas.NB201Space(channels=4, cells=1)
    data = optuna_nas.load_data("synthetic", train_size=300, val_size=100, test_size=100)
    objective = optuna_nas.NASObjective(space, data, ["error", "params"],
                                        optuna_nas.TrainConfig(epochs=1, batch_size=50),
                                        artifact_store=False)

    def hang(trial, epoch, accuracy):
        if trial.number == 1 and not marker.exists():
            marker.touch()
            time.sleep(600)

    objective.epoch_callbacks.append(hang)
    storage = storage_from_url(url, heartbeat_interval=1, grace_period=2)
    study = optuna_nas.create_study(["error", "params"], storage=storage, study_name="s",
                                    sampler=optuna_nas.LemonadeSampler(space, seed=0, n_initial=2))
    study.optimize(objective, n_trials=10, callbacks=[
        optuna.study.MaxTrialsCallback(3, states=(optuna.trial.TrialState.COMPLETE,))])
    """
)


def test_a_storage_url_gets_a_heartbeat(tmp_path):
    study = optuna_nas.create_study(storage=f"sqlite:///{tmp_path}/nas.db")
    assert is_heartbeat_enabled(study._storage)


def test_a_killed_python_search_resumes_and_leaves_no_trial_running(tmp_path):
    url, marker = f"sqlite:///{tmp_path}/nas.db", tmp_path / "inside-trial-1"
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    command = [sys.executable, str(script), url, str(marker)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), first.stderr.read().decode()[-2000:]
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed = optuna.load_study(study_name="s", storage=url)
    assert [t.state for t in killed.trials] == [TrialState.COMPLETE, TrialState.RUNNING]

    time.sleep(2.5)  # past the grace period: the killed trial's heartbeat is stale
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    study = optuna.load_study(study_name="s", storage=url)
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    assert states.count(TrialState.COMPLETE) == 3
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [1]
    # The killed trial is run again with the same architecture.
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retried) == 1 and retried[0].params == failed[0].params
    assert retried[0].state == TrialState.COMPLETE
