import numpy as np
import optuna
import pytest

from optuna_nas import NB201Space, create_study
from optuna_nas.encoding import Architecture
from optuna_nas.search import ArchitectureSampler, TrialArchitectures

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space(channels=8, cells=1)


class _NewEveryTime(ArchitectureSampler):
    """The smallest subclass: a random architecture no live trial holds.

    The random stream restarts every trial, so only the taken-and-claim check keeps
    the architectures apart.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(SPACE, seed=seed)
        self._seed = seed

    def sample_architecture(self, study, trial) -> Architecture:
        self._rng = np.random.default_rng(self._seed)
        trials = study.get_trials(deepcopy=False)
        return self.random_new_architecture(study, trial, TrialArchitectures(SPACE).taken(trials))


def test_the_space_is_sampled_whole_and_other_params_go_to_the_fallback():
    study = create_study(["error", "params"], sampler=_NewEveryTime(seed=0))

    def objective(trial):
        arch = SPACE.suggest(trial)
        lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
        return lr, float(len(arch.fingerprint))

    study.optimize(objective, n_trials=12)
    fingerprints = [SPACE.from_params(t.params).fingerprint for t in study.trials]
    assert len(set(fingerprints)) == 12  # never a live or finished architecture again
    claims = [t.system_attrs["nas:fingerprint"] for t in study.trials]
    assert claims == fingerprints
    assert len({t.params["lr"] for t in study.trials}) == 12


class _Strategy:
    def fit(self, evaluated, rng):
        return None


def test_a_strategy_is_resolved_by_name_or_taken_as_given():
    builtins = {"first": lambda: "made first", "second": lambda: "made second"}
    resolve = ArchitectureSampler.strategy
    args = ("fit(evaluated, rng)", "some.Protocol")
    assert resolve("rule", None, builtins, *args) == "made first"
    assert resolve("rule", "second", builtins, *args) == "made second"
    given = _Strategy()
    assert resolve("rule", given, builtins, *args) is given
    with pytest.raises(ValueError, match=r"rule must be one of \('first', 'second'\), got 'x'"):
        resolve("rule", "x", builtins, *args)
    with pytest.raises(TypeError, match=r"have a fit\(evaluated, rng\) method \(the some.Protocol"):
        resolve("rule", object(), builtins, *args)
