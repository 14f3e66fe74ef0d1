"""Worker loops as tasks of a Ray cluster, from Python: ``run_on_ray``.

The address checks need no cluster. The cluster test starts a real one (a head and a
second node, ``tests/workers/ray_cluster.py``) and shares a budget on PostgreSQL
between two tasks, one per node; the CLI's own cluster test, with a worker killed
mid-trial, is ``tests/cli/test_cluster.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from optuna_nas.workers import (
    check_ray_address,
    connect_ray,
    queue_trials,
    run_on_ray,
    run_worker,
    storage_from_url,
)
from tests.servers import throwaway_study_url
from tests.workers.ray_cluster import local_ray_cluster

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "address",
    ["auto", "127.0.0.1:6379", "head-node:6379", "10.0.0.5:1", "[::1]:6379", "ray://head:10001",
     "ray://head:10001/", " head:6379 "],
)  # fmt: skip
def test_the_ray_address_forms_are_accepted(address):
    assert check_ray_address(address) == address.strip()


@pytest.mark.parametrize(
    "address",
    ["", "head", "head:", ":6379", "head:port", "head:70000", "http://head:6379",
     "postgresql://head:5432/db", "ray://head", "head:6379/path", "head:6379?x=1", "local"],
)  # fmt: skip
def test_a_malformed_ray_address_names_the_forms(address):
    with pytest.raises(ValueError, match="a Ray cluster address must be auto, HOST:PORT"):
        check_ray_address(address)


def test_an_unreachable_cluster_fails_at_once_naming_the_fix():
    pytest.importorskip("ray")
    with pytest.raises(ValueError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1 ") as err:
        connect_ray("127.0.0.1:1")
    assert "ray start --head --port=6379" in str(err.value)


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(ValueError, match=r"pip install 'optuna-nas\[ray\]'"):
        run_on_ray(print, 1, address="127.0.0.1:1")


def _quadratic(trial: optuna.Trial) -> float:
    return (trial.suggest_float("x", -1, 1) - 0.5) ** 2


def _work(url: str, name: str, index: int) -> tuple[int, int, int, int]:
    """One task: the shared study's worker loop; what it ran, and where."""
    study = optuna.load_study(
        study_name=name, storage=storage_from_url(url), sampler=optuna.samplers.RandomSampler(index)
    )
    return index, run_worker(study, _quadratic), os.getpid(), os.getppid()


# The driver is a process of its own: Ray reads the cluster's token when it is imported.
_DRIVER = """
import functools, json, sys
from optuna_nas.workers import run_on_ray
from tests.workers.test_ray import _work
url, name, address = sys.argv[1:]
print(json.dumps(run_on_ray(functools.partial(_work, url, name), 2, address=address)))
"""


def test_run_on_ray_shares_one_budget_between_tasks_on_two_nodes():
    with throwaway_study_url("postgresql") as (url, name), local_ray_cluster((1, 1)) as cluster:
        study = optuna.create_study(study_name=name, storage=storage_from_url(url))
        queue_trials(study, 12)
        done = subprocess.run(
            [sys.executable, "-c", _DRIVER, url, name, cluster.address], cwd=ROOT,
            env={**os.environ, **cluster.environ}, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        trials = study.get_trials(deepcopy=False)
    assert done.returncode == 0, done.stderr[-3000:]
    indices, ran, pids, raylets = zip(*json.loads(done.stdout.splitlines()[-1]), strict=True)
    assert indices == (0, 1)  # each task got its own index
    assert sum(ran) == 12  # the budget, exactly, between the two
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 12
    assert len(set(pids)) == 2  # two of Ray's worker processes ran them...
    assert len(set(raylets)) == 2  # ... one on each node (SPREAD, one CPU each)
