"""NAO's own behaviour: proposals and the predictions they record.

What every sampler of ours keeps (Optuna's cases, valid params, the fallback, the
random phase, seeds, resume, claim races) is tested in tests/search/test_sampler_contract.py.
"""

import numpy as np
import optuna
import pytest

from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.nao import NAOSampler
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Small fits keep the tests fast; the algorithm is the same.
FAST = dict(n_initial=4, max_steps=40, n_unlabelled=50, n_candidates=30)


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
    proposed = [t for t in study.trials if keys.NAO_PREDICTED in t.system_attrs]
    assert [t.number for t in proposed] == list(range(4, 16))
    for t in proposed:
        error, params = t.system_attrs[keys.NAO_PREDICTED]
        assert params == t.values[1]  # the cheap objective is computed, not predicted
        assert 0.0 < error < 1.0


def test_the_papers_scorer_ranks_by_the_epd_prediction():
    sampler = NAOSampler(NB201Space(), seed=1, scorer="epd", **FAST)
    study = _cheap_study(sampler, 8)
    for t in study.trials[4:]:
        assert keys.NAO_PREDICTED in t.system_attrs
    with pytest.raises(ValueError, match="scorer must be one of"):
        NAOSampler(NB201Space(), scorer="kde")


def test_a_proposal_another_worker_claims_meanwhile_is_given_up():
    space, storage = NB201Space(), optuna.storages.InMemoryStorage()
    name = _cheap_study(NAOSampler(space, seed=0, **FAST), 6, storage).study_name
    other = []

    def params(arch):
        # Worker 2 samples while worker 1 scores its candidates: worker 1's view of the
        # taken architectures is then out of date, as in a race between two processes.
        if not other:
            study2 = optuna.load_study(study_name=name, storage=storage,
                                       sampler=NAOSampler(space, seed=5, **FAST))  # fmt: skip
            other.append(study2.ask())
            other.append(space.suggest(other[0]))
        return count_params(arch)

    # The same seed and storage: worker 1's first choice is the one worker 2 just claimed.
    sampler = NAOSampler(space, seed=5, cheap_objectives={"params": params}, **FAST)
    study1 = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    trial = study1.ask()
    arch = space.suggest(trial)
    first = storage.get_trial_system_attrs(other[0]._trial_id)
    assert first[keys.CLAIM] == other[1].fingerprint
    assert first[keys.NAO_PREDICTED][1] == count_params(other[1])
    assert arch != other[1]
    system = storage.get_trial_system_attrs(trial._trial_id)
    assert system[keys.CLAIM] == arch.fingerprint
    # The prediction recorded is that of the architecture worker 1 kept.
    assert system[keys.NAO_PREDICTED][1] == count_params(arch)


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
    assert all(keys.NAO_PREDICTED in t.system_attrs for t in study.trials[3:])
    assert study.best_trials
