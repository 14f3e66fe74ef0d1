"""NAO's scorer strategies: the defaults by name, and a custom one plugged in."""

import numpy as np
import optuna
import pytest

from optuna_nas import NB201Space, create_study
from optuna_nas.nao import EPDScorer, GPScorer, NAOSampler, Proposals, Scorer
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space()
FAST = dict(n_initial=4, max_steps=40, n_unlabelled=50, n_candidates=30)


def _study(sampler, n_trials):
    study = create_study(["error", "params"], sampler=sampler)

    def objective(trial):
        arch = SPACE.suggest(trial)
        size = count_params(arch)
        return float(1.0 / np.log(size) + 0.01 * (int(arch.fingerprint, 16) % 7)), size

    study.optimize(objective, n_trials=n_trials)
    return study


class Largest:
    """Scores each candidate by its parameter count: the largest new network first."""

    def __init__(self):
        self.seen = []

    def score(self, proposals):
        self.seen.append(proposals)
        return np.array([count_params(a) for a in proposals.candidates], dtype=float)


def test_a_custom_scorer_chooses_the_proposal():
    scorer = Largest()
    assert isinstance(scorer, Scorer)
    study = _study(NAOSampler(SPACE, seed=1, scorer=scorer, **FAST), 7)
    assert len(scorer.seen) == 3  # once per proposal
    for trial, proposals in zip(study.trials[4:], scorer.seen, strict=True):
        assert isinstance(proposals, Proposals)
        assert proposals.values.shape == (len(proposals.archs), 2)
        assert proposals.predicted.tolist() == [True, False]  # params is exact
        assert proposals.points[:, 1].tolist() == [count_params(a) for a in proposals.candidates]
        chosen = SPACE.from_params(trial.params)
        assert count_params(chosen) == max(count_params(a) for a in proposals.candidates)
        assert trial.system_attrs[keys.NAO_PREDICTED][1] == count_params(chosen)


def test_the_built_in_scorers_by_name_and_by_object_choose_alike():
    by_name = _study(NAOSampler(SPACE, seed=2, scorer="epd", **FAST), 6)
    by_object = _study(NAOSampler(SPACE, seed=2, scorer=EPDScorer(), **FAST), 6)
    assert [t.params for t in by_name.trials] == [t.params for t in by_object.trials]
    default = _study(NAOSampler(SPACE, seed=2, **FAST), 6)
    explicit = _study(NAOSampler(SPACE, seed=2, scorer=GPScorer(0.5), **FAST), 6)
    assert [t.params for t in default.trials] == [t.params for t in explicit.trials]


def test_the_gp_scorer_needs_three_points_and_scores_like_the_epd_before():
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(2)]
    candidates = [SPACE.sample(rng) for _ in range(5)]
    proposals = Proposals(SPACE, archs, np.array([[0.3, 10.0], [0.2, 20.0]]), candidates,
                          np.column_stack([rng.random(5), rng.random(5) * 30]),
                          {1: count_params})  # fmt: skip
    np.testing.assert_array_equal(GPScorer().score(proposals), EPDScorer().score(proposals))


def test_an_object_without_score_is_refused():
    with pytest.raises(TypeError, match="score"):
        NAOSampler(SPACE, scorer=lambda proposals: proposals.points[:, 0])
