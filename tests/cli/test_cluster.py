"""Where the workers train: placed on this machine's devices, or tasks of a Ray cluster.

The cluster test starts a real Ray cluster (a head and a second node, each with its own
raylet and worker processes), runs ``optuna-nas search --cluster`` on it against
PostgreSQL, kills with SIGKILL the Ray worker process that runs a trial, and counts:
the trial fails by heartbeat and is retried, Ray starts the task again, and the budget
ends exactly COMPLETE with nothing run twice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from benchmarks.fault_tolerance import fingerprints, retry_of, weights_problems
from optuna_nas.storage import keys
from optuna_nas.workers import storage_from_url
from tests.servers import throwaway_study_url
from tests.workers.ray_cluster import local_ray_cluster

optuna.logging.set_verbosity(optuna.logging.WARNING)

CLI = [sys.executable, "-m", "optuna_nas.cli"]
TINY = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
        "--batch-size", "64", "--train-size", "400", "--val-size", "100", "--test-size", "100",
        "--threads", "1", "--no-progress"]  # fmt: skip
N_TRIALS = 6


def test_a_two_worker_cpu_search_records_the_device_of_every_trial(tmp_path, monkeypatch):
    from optuna_nas.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a CPU machine, whatever this one has
    db = f"sqlite:///{tmp_path}/nas.db"
    argv = ["search", *TINY, "--sampler", "random", "--storage", db, "--study-name", "s",
            "--n-trials", "4", "--workers", "2"]  # fmt: skip
    assert main(argv) == 0
    trials = optuna.load_study(study_name="s", storage=db).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert [t.user_attrs[keys.DEVICE] for t in trials] == ["cpu"] * 4


def test_a_search_on_a_ray_cluster_survives_a_killed_ray_worker(tmp_path):
    with throwaway_study_url("postgresql") as (url, name), local_ray_cluster((1, 1)) as cluster:
        log = tmp_path / "search.log"
        with log.open("w") as out:
            search = subprocess.Popen(
                [*CLI, "search", *TINY, "--storage", url, "--study-name", name, "--n-trials",
                 str(N_TRIALS), "--workers", "2", "--cluster", cluster.address, "--artifact-dir",
                 str(tmp_path / "artifacts"), "--heartbeat-interval", "1", "--grace-period", "3",
                 "--max-retry", "3"],
                # Every worker's own lines, not Ray's summary of lines repeated across workers.
                cwd=tmp_path, env={**os.environ, **cluster.environ, "RAY_DEDUP_LOGS": "0"},
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            killed, raylets = _kill_a_busy_ray_worker(url, name, search, log)
            code = search.wait(timeout=600)
        finally:
            if search.poll() is None:
                search.kill()
                search.wait()
        storage = storage_from_url(url)
        trials = storage.get_all_trials(storage.get_study_id_from_name(name))
    text = log.read_text()
    assert code == 0, text[-4000:]
    # The trials ran in Ray's worker processes, on both nodes (each node's raylet is the
    # parent of its workers), not in the search process.
    assert len(raylets) == 2, (raylets, text[-3000:])
    assert all(t.user_attrs[keys.WORKER].rsplit(":", 1)[1] != str(search.pid) for t in trials)

    # The budget, exactly: nothing lost, nothing run twice, nothing left behind.
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) == N_TRIALS, (states, text[-3000:])
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    # The killed trial failed by heartbeat and was queued again with its params; the
    # retry (or its own retry) is COMPLETE.
    victim = trials[killed]
    assert victim.state == TrialState.FAIL
    retry = retry_of(trials, killed)
    assert retry is not None and retry.params == victim.params
    while retry.state == TrialState.FAIL:
        retry = retry_of(trials, retry.number)
        assert retry is not None
    assert retry.state == TrialState.COMPLETE
    for trial in trials:  # no other failure went unretried
        if trial.state == TrialState.FAIL:
            assert retry_of(trials, trial.number) is not None, trial.number
    # Ray started the killed task again: every task ended, none crashed for good.
    assert "ended with a crash" not in text, text[-3000:]
    prints = fingerprints(trials)
    assert len(prints) == N_TRIALS and len(set(prints)) == N_TRIALS
    assert weights_problems(trials, tmp_path / "artifacts") == []
    # The cluster has no GPU. A trial killed before it recorded its device has none.
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert {t.user_attrs[keys.DEVICE] for t in done} == {"cpu"}
    assert {t.user_attrs.get(keys.DEVICE, "cpu") for t in trials} == {"cpu"}


def _kill_a_busy_ray_worker(url, name, search, log, timeout=600) -> tuple[int, set[int]]:
    """SIGKILL the Ray worker process running a trial, once one trial is COMPLETE.

    Returns the number of the trial it hit and the parents (raylets) of the Ray worker
    processes seen running trials until the search ends.
    """
    storage = storage_from_url(url)
    deadline = time.monotonic() + timeout
    killed, raylets, signals = None, set(), 0
    while search.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the search did not finish:\n{log.read_text()[-3000:]}")
        try:
            trials = storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False)
        except KeyError:  # not created yet
            trials = []
        busy = [(t, pid) for t in trials if (pid := _running_in(t)) is not None]
        for _, pid in busy:
            cmdline = _read(f"/proc/{pid}/cmdline")
            if cmdline.startswith("ray::"):  # Ray names its worker processes so
                raylets.add(int(_read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[1]))
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        if killed is None and signals < 3 and complete >= 1 and busy:
            trial, pid = busy[0]
            assert _read(f"/proc/{pid}/cmdline").startswith("ray::"), "not a Ray worker"
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            signals += 1
            # A trial that finished just before the signal landed does not count: kill again.
            state = storage.get_trial(trial._trial_id).state
            if state in (TrialState.RUNNING, TrialState.FAIL):  # it hit a running trial
                killed = trial.number
        time.sleep(0.1)
    assert killed is not None, f"{signals} signal(s), no trial hit:\n{log.read_text()[-3000:]}"
    return killed, raylets


def _running_in(trial) -> int | None:
    """The pid of the local process running ``trial``, once its objective started."""
    worker = trial.user_attrs.get(keys.WORKER, "")
    if trial.state != TrialState.RUNNING or keys.ARCH_JSON not in trial.user_attrs:
        return None
    return int(worker.rsplit(":", 1)[1]) if ":" in worker else None


def _read(path: str) -> str:
    try:
        return Path(path).read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # the process ended meanwhile
        return ""


@pytest.mark.parametrize(
    ("address", "names"),
    [("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"),
     ("head:port", "a Ray cluster address must be auto, HOST:PORT")],
)  # fmt: skip
def test_a_bad_cluster_address_is_one_line_from_a_real_process(tmp_path, address, names):
    done = subprocess.run(
        [*CLI, "search", "--cluster", address, "--storage", "postgresql://nobody@127.0.0.1:1/x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and names in lines[0], done.stderr
