"""LEMONADE's acceptance strategies: the defaults by name, and a custom one plugged in."""

import numpy as np
import optuna
import pytest

from optuna_nas import NB201Space, create_study
from optuna_nas.lemonade import (
    Acceptance,
    Child,
    DensityAcceptance,
    Evaluated,
    ImprovementAcceptance,
    LemonadeSampler,
    Ranking,
)
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space()


def _errorish(arch):
    """A made-up error that falls with size, so the front spans the cost axis."""
    return 1.0 / np.log(count_params(arch)) + 0.01 * (int(arch.fingerprint, 16) % 7)


def _study(sampler, n_trials):
    study = create_study(["error", "params"], sampler=sampler)

    def objective(trial):
        arch = sampler._space.suggest(trial)
        return _errorish(arch), count_params(arch)

    study.optimize(objective, n_trials=n_trials)
    return study


class Smallest:
    """Accepts the child with the fewest parameters; the parents are the raw front."""

    def __init__(self):
        self.fits, self.orders, self.values = [], [], None

    def fit(self, evaluated, rng):
        self.fits.append(evaluated)
        self.values = evaluated.values
        return self

    def order(self, children, density, rng):
        sizes = [count_params(c.arch) for c in children]
        self.orders.append((children, sizes))
        return np.argsort(sizes, kind="stable")


def test_a_custom_acceptance_chooses_the_child():
    acceptance = Smallest()
    assert isinstance(acceptance, Acceptance) and isinstance(acceptance, Ranking)
    sampler = LemonadeSampler(SPACE, seed=0, n_initial=4, acceptance=acceptance)
    study = _study(sampler, 8)
    assert len(acceptance.fits) == 4  # once per evolved trial
    evaluated = acceptance.fits[-1]
    assert isinstance(evaluated, Evaluated) and len(evaluated.archs) == 7
    assert evaluated.values.shape == (7, 2) and set(evaluated.exact) == {1}
    for trial, fitted, (children, sizes) in zip(
        study.trials[4:], acceptance.fits, acceptance.orders, strict=True
    ):
        assert all(isinstance(c, Child) for c in children)
        kept = children[int(np.argmin(sizes))]  # no other worker: the first is kept
        assert SPACE.from_params(trial.params) == kept.arch
        parent = study.trials[trial.system_attrs[keys.PARENT_TRIAL]]
        assert SPACE.from_params(parent.params) == fitted.archs[kept.parent]
        assert trial.system_attrs[keys.OPERATOR] == "+".join(op.name for op in kept.operators)


def test_a_custom_acceptance_gets_the_papers_default_children():
    sampler = LemonadeSampler(SPACE, acceptance=Smallest())
    assert (sampler._n_proposals, sampler._max_operators) == (64, 1)
    default = LemonadeSampler(SPACE)
    assert isinstance(default._acceptance, ImprovementAcceptance)
    assert (default._n_proposals, default._max_operators) == (256, 3)


def test_the_built_in_acceptances_by_name_and_by_object_choose_alike():
    by_name = _study(LemonadeSampler(SPACE, seed=3, n_initial=4, acceptance="density"), 8)
    by_object = _study(LemonadeSampler(SPACE, seed=3, n_initial=4,
                                       acceptance=DensityAcceptance()), 8)  # fmt: skip
    assert [t.params for t in by_name.trials] == [t.params for t in by_object.trials]
    default = _study(LemonadeSampler(SPACE, seed=3, n_initial=4), 7)
    explicit = _study(LemonadeSampler(SPACE, seed=3, n_initial=4,
                                      acceptance=ImprovementAcceptance(0.5)), 7)  # fmt: skip
    assert [t.params for t in default.trials] == [t.params for t in explicit.trials]


def test_an_object_without_fit_is_refused():
    with pytest.raises(TypeError, match="fit"):
        LemonadeSampler(SPACE, acceptance=object())


def test_the_budgets_are_the_lineage_only_where_they_differ():
    arch = SPACE.sample(0)

    def evaluated(lineage):
        return Evaluated(SPACE, [arch] * len(lineage), np.zeros((len(lineage), 2)), (), {},
                         np.ones(len(lineage)), np.array(lineage, dtype=float), False)  # fmt: skip

    assert evaluated([2, 2, 2]).budgets is None
    assert evaluated([1, 2, 4]).budgets.tolist() == [1, 2, 4]
