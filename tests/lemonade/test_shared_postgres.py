"""Two LEMONADE worker processes share one study on the running PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import optuna
import pytest
from optuna.trial import TrialState

from optuna_nas import NB201Space
from optuna_nas.storage import keys
from optuna_nas.workers import storage_from_url
from tests.servers import throwaway_study_url

pytestmark = pytest.mark.slow  # two processes
TRIALS_PER_WORKER = 20

# Plain Optuna: each process runs study.optimize(n_trials=20) with its own sampler seed.
_WORKER = textwrap.dedent("""
    import os, sys, time
    import numpy as np, optuna
    from optuna_nas import NB201Space, create_study
    from optuna_nas.lemonade import LemonadeSampler
    from optuna_nas.objectives import count_params
    from optuna_nas.workers import storage_from_url
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url, name, seed, n_trials, go = sys.argv[1:]
    space = NB201Space(channels=4, cells=1)
    sampler = LemonadeSampler(space, seed=int(seed), n_initial=6, n_proposals=32)
    study = create_study(["error", "params"], storage=storage_from_url(url), study_name=name,
                         sampler=sampler)
    while not os.path.exists(go):  # both workers start sampling together
        time.sleep(0.01)

    def objective(trial):
        arch = space.suggest(trial)
        trial.set_user_attr("pid", os.getpid())
        size = count_params(arch)
        time.sleep(0.02)  # a short training
        return 1.0 / np.log(size) + 0.01 * (int(arch.fingerprint, 16) % 7), size

    study.optimize(objective, n_trials=int(n_trials))
""")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The trials two LEMONADE processes left in one PostgreSQL study, and their pids."""
    go = tmp_path_factory.mktemp("start") / "go"
    with throwaway_study_url("postgresql") as (url, name):
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER,
                    url,
                    name,
                    str(seed),
                    str(TRIALS_PER_WORKER),
                    str(go),
                ]
            )  # fmt: skip
            for seed in (1, 2)
        ]
        # Create the study before they race to: both then only load it.
        storage = storage_from_url(url)
        optuna.create_study(storage=storage, study_name=name, directions=["minimize"] * 2,
                            load_if_exists=True).set_metric_names(["error", "params"])  # fmt: skip
        go.touch()
        for worker in workers:
            assert worker.wait(timeout=300) == 0
        yield optuna.load_study(study_name=name, storage=storage).trials, {w.pid for w in workers}


def test_two_lemonade_workers_share_a_study_without_lost_trials(shared):
    trials, pids = shared
    assert len(trials) == 2 * TRIALS_PER_WORKER  # none lost
    assert sorted(t.number for t in trials) == list(range(2 * TRIALS_PER_WORKER))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert {t.user_attrs["pid"] for t in trials} == pids
    # Each worker evolves children of trials that either worker evaluated.
    children = [t for t in trials if keys.PARENT_TRIAL in t.system_attrs]
    assert len(children) >= TRIALS_PER_WORKER
    assert any(
        trials[c.system_attrs[keys.PARENT_TRIAL]].user_attrs["pid"] != c.user_attrs["pid"]
        for c in children
    )


def test_two_lemonade_workers_never_evaluate_the_same_architecture(shared):
    trials, _ = shared
    space = NB201Space(channels=4, cells=1)
    fingerprints = [space.from_params(t.params).fingerprint for t in trials]
    duplicates = {
        f: [t.number for t, g in zip(trials, fingerprints, strict=True) if g == f]
        for f in fingerprints
        if fingerprints.count(f) > 1
    }
    assert not duplicates, json.dumps(duplicates)
