"""The Gaussian-process surrogate LEMONADE's acceptance ranks children with."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from optuna_nas import NB201Space
from optuna_nas.surrogate import ArchitectureGP, normal_scores
from optuna_nas.surrogate._gp import _subsample

SPACE = NB201Space()


def _table_archs(nb201_table, rows):
    """Architectures of table rows and their mean validation errors."""
    archs = [SPACE.from_tokens([int(c) for c in nb201_table[i].key]) for i in rows]
    return archs, np.array([1.0 - nb201_table[i].val_acc / 100.0 for i in rows])


def test_the_fit_uses_the_composition_when_only_op_counts_matter():
    rng = np.random.default_rng(4)
    archs = [SPACE.sample(rng) for _ in range(200)]
    conv = SPACE.vocabulary.index("nor_conv_3x3")
    # Fewer 3x3 convs, more error, wherever they sit (plus a little noise).
    errors = [-SPACE.to_tokens(a.canonical()).count(conv) + 0.1 * rng.random() for a in archs]
    model = ArchitectureGP(SPACE, archs[:60], errors[:60], rng=rng)
    assert model._c > 0
    assert spearmanr(model.predict(archs[60:])[0], errors[60:])[0] > 0.8


def test_normal_scores_keep_the_order_and_tame_outliers():
    scores = normal_scores(np.array([0.09, 0.085, 0.9, 0.1, 0.1]))
    assert np.argsort(scores).tolist() == [1, 0, 3, 4, 2]
    assert scores[3] == scores[4] and abs(scores).max() < 1.5


def test_the_gp_ranks_unseen_nas_bench_201_cells(nb201_table):
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(nb201_table))
    train, test = _table_archs(nb201_table, rows[:150]), _table_archs(nb201_table, rows[150:1150])
    model = ArchitectureGP(SPACE, *train, rng=rng)
    mean, std = model.predict(test[0])
    assert spearmanr(mean, test[1])[0] > 0.75  # 0.8-0.85 measured
    assert np.all(std > 0)
    # Far from the data the model knows less than at the data.
    assert np.median(model.predict(train[0])[1]) < np.median(std)


def test_a_large_history_is_subsampled_and_still_predicts(nb201_table):
    rng = np.random.default_rng(1)
    rows = rng.permutation(len(nb201_table))
    archs, errors = _table_archs(nb201_table, rows[:800])
    model = ArchitectureGP(SPACE, archs, errors, max_points=120, rng=rng)
    assert model._x.shape[0] == 120
    mean, _ = model.predict(archs)
    assert spearmanr(mean, errors)[0] > 0.7


def test_the_subsample_keeps_the_best_half_and_a_random_rest():
    targets = np.random.default_rng(2).random(1000)
    kept = _subsample(targets, 100, np.random.default_rng(3))
    assert len(set(kept)) == 100
    assert set(np.argsort(targets)[:50]) <= set(kept)  # the model is sharpest at the front
    assert targets[kept].max() > np.sort(targets)[100]


def test_too_little_data_is_a_clear_error():
    arch = SPACE.sample(0)
    with pytest.raises(ValueError, match="at least two architectures"):
        ArchitectureGP(SPACE, [arch], [0.1])
    with pytest.raises(ValueError, match="one value each"):
        ArchitectureGP(SPACE, [arch, arch], [0.1])
