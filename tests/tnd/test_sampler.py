"""TNDSampler's own behaviour: draws from the α a TND-NAS search published.

What every sampler of ours keeps (Optuna's cases, valid params, the fallback, the
random phase, seeds, resume, claim races) is tested in tests/search/test_sampler_contract.py.
"""

from collections import Counter

import numpy as np
import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas import NASObjective, NB201Space, create_study
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys
from optuna_nas.tnd import ArchitectureDistribution, TNDSampler, _state
from tests.tnd.conftest import FINAL

SPACE = NB201Space(channels=4, cells=1)


def _cost(trial):
    return 0.5, count_params(SPACE.suggest(trial))


def test_a_second_worker_samples_from_the_alpha_the_search_published(nb201_run):
    # Another study object on the same storage, as a worker on another machine opens it.
    worker = optuna.load_study(study_name=nb201_run.study_name, storage=nb201_run.storage,
                               sampler=TNDSampler(nb201_run.space, seed=1))  # fmt: skip
    before = len(worker.trials)
    worker.optimize(_cost, n_trials=12)
    alpha = _state.published(worker)[keys.TND_ALPHA]
    for trial in worker.trials[before:]:
        setting = trial.system_attrs[keys.TND_SETTING]
        for name, op in trial.params.items():  # only ops the shrunk space still holds
            assert op in alpha[setting][f"normal/{name}"]
    # ... and it can train what it draws, like any worker: an ordinary full trial.
    objective = NASObjective(nb201_run.space, nb201_run.data, ["params", "error"], FINAL,
                             FileSystemArtifactStore(str(nb201_run.artifacts)))  # fmt: skip
    worker.optimize(objective, n_trials=1)
    assert worker.trials[-1].user_attrs["fidelity"] == "full"
    assert keys.TND_SETTING in worker.trials[-1].system_attrs


def test_draws_follow_the_published_probabilities():
    storage = optuna.storages.InMemoryStorage()  # two study objects share it (SQLite: above)
    driver = create_study(["error", "params"], storage=storage, study_name="s")
    peaked = ArchitectureDistribution(SPACE, logits={
        name: {"nor_conv_3x3": 2.0} for name in ArchitectureDistribution(SPACE).decisions})  # fmt: skip
    peaked.shrink(2)  # nor_conv_3x3 and the first of the tied rest: `none`
    _state.publish(driver, alpha={"only": peaked.to_dict()})
    worker = optuna.load_study(study_name="s", storage=storage,
                               sampler=TNDSampler(SPACE, setting="only", seed=0))  # fmt: skip
    worker.optimize(_cost, n_trials=100)
    counts = Counter(op for t in worker.trials for op in t.params.values())
    assert set(counts) == {"nor_conv_3x3", "none"}
    expected = np.exp(2.0) / (np.exp(2.0) + 1)  # 0.88
    assert counts["nor_conv_3x3"] / sum(counts.values()) == pytest.approx(expected, abs=0.05)


def test_before_anything_is_published_draws_are_uniform():
    study = create_study(["error", "params"], sampler=TNDSampler(SPACE, seed=0))
    study.optimize(_cost, n_trials=40)
    counts = Counter(op for t in study.trials for op in t.params.values())
    assert set(counts) == set(SPACE.ops) and min(counts.values()) > 20  # 48 expected each
    assert all(keys.TND_SETTING not in t.system_attrs for t in study.trials)


def test_an_unknown_setting_or_space_is_a_clear_error(nb201_run):
    worker = optuna.load_study(study_name=nb201_run.study_name, storage=nb201_run.storage,
                               sampler=TNDSampler(nb201_run.space, setting="nope"))  # fmt: skip
    trial = worker.ask()
    with pytest.raises(ValueError, match="no such trade-off setting"):
        nb201_run.space.suggest(trial)  # Optuna samples relative params at the first suggest
    worker.tell(trial, state=optuna.trial.TrialState.FAIL)
    with pytest.raises(ValueError, match="single channels"):
        TNDSampler(NB201Space(channels=[4, 8], cells=1))
