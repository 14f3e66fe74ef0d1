import numpy as np
import optuna
import pytest
from optuna.testing.pytest_samplers import BasicSamplerTestCase, MultiObjectiveSamplerTestCase

from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.nao import NAOSampler
from optuna_nas.nao._sampler import PREDICTED
from optuna_nas.objectives import count_params

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Small fits keep the tests fast; the algorithm is the same.
FAST = dict(n_initial=4, max_steps=40, n_unlabelled=50, n_candidates=30)


class TestOptunaBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: NAOSampler(NB201Space(), seed=0, **FAST)


class TestOptunaMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: NAOSampler(NB201Space(), seed=0, **FAST)


def _errorish(arch):
    """A made-up error that falls with size, so the front spans the cost axis."""
    return float(1.0 / np.log(count_params(arch)) + 0.01 * (int(arch.fingerprint, 16) % 7))


def _cheap_study(sampler, n_trials, storage=None, study_name=None):
    space = sampler._space
    study = create_study(["error", "params"], sampler=sampler, storage=storage,
                         study_name=study_name)  # fmt: skip

    def objective(trial):
        arch = space.suggest(trial)
        return _errorish(arch), count_params(arch)

    study.optimize(objective, n_trials=n_trials)
    return study


def test_proposals_are_new_and_carry_their_prediction():
    study = _cheap_study(NAOSampler(NB201Space(), seed=1, **FAST), 16)
    archs = [NB201Space().from_params(t.params) for t in study.trials]
    assert len({a.fingerprint for a in archs}) == len(archs)
    proposed = [t for t in study.trials if PREDICTED in t.system_attrs]
    assert [t.number for t in proposed] == list(range(4, 16))
    for t in proposed:
        error, params = t.system_attrs[PREDICTED]
        assert params == t.values[1]  # the cheap objective is computed, not predicted
        assert 0.0 < error < 1.0


def test_the_same_seed_gives_the_same_search():
    params = [[t.params for t in _cheap_study(NAOSampler(NB201Space(), seed=7, **FAST), 10).trials]
              for _ in range(2)]  # fmt: skip
    assert params[0] == params[1]
    other = _cheap_study(NAOSampler(NB201Space(), seed=8, **FAST), 10)
    assert [t.params for t in other.trials] != params[0]


def test_a_new_sampler_continues_from_storage(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    _cheap_study(NAOSampler(NB201Space(), seed=2, **FAST), 8, storage, "nao")
    # Another worker, or the same script after a restart: no state but storage.
    sampler = NAOSampler(NB201Space(), seed=3, **FAST)
    study = optuna.load_study(study_name="nao", storage=storage, sampler=sampler)
    space = NB201Space()
    study.optimize(lambda t: (_errorish(a := space.suggest(t)), count_params(a)), n_trials=3)
    assert all(PREDICTED in t.system_attrs for t in study.trials[8:])
    assert len({space.from_params(t.params).fingerprint for t in study.trials}) == 11


def test_params_outside_the_space_go_to_the_fallback_sampler():
    space = NB201Space()
    study = create_study(["error", "params"], sampler=NAOSampler(space, seed=0, **FAST))
    study.optimize(
        lambda t: (t.suggest_float("lr", 1e-3, 1.0, log=True), count_params(space.suggest(t))),
        n_trials=7,
    )
    assert all(1e-3 <= t.params["lr"] <= 1.0 for t in study.trials)
    assert PREDICTED in study.trials[-1].system_attrs


def test_a_real_search_with_nas_objective(tmp_path):
    data = load_data("synthetic", train_size=256, val_size=64, test_size=64)
    space = NB201Space(channels=4, cells=1)
    objective = NASObjective(space, data, ["error", "params"],
                             TrainConfig(epochs=1, batch_size=64), artifact_store=False)  # fmt: skip
    sampler = NAOSampler(space, seed=0, **{**FAST, "n_initial": 3})
    study = create_study(["error", "params"], storage=f"sqlite:///{tmp_path}/nas.db",
                         sampler=sampler)  # fmt: skip
    study.optimize(objective, n_trials=5)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 5
    assert all(PREDICTED in t.system_attrs for t in study.trials[3:])
    assert study.best_trials
