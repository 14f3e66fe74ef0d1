"""ObjectiveModel: exact cheap objectives beside GP-modelled expensive ones, from plain data."""

import numpy as np

from optuna_nas import NB201Space
from optuna_nas.objectives import count_params
from optuna_nas.surrogate import ObjectiveModel

SPACE = NB201Space()
CONV = SPACE.vocabulary.index("nor_conv_3x3")


def _error(arch):
    """More 3x3 convs, less error: a front from small/bad to large/good."""
    return 0.5 - 0.05 * SPACE.to_tokens(arch.canonical()).count(CONV)


def _history(n):
    """``n`` random architectures and their (error, params), both minimised."""
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(n)]
    values = np.array([[_error(a) + 0.01 * rng.random(), count_params(a)] for a in archs])
    return archs, values


def _model(history):
    archs, values = history
    return ObjectiveModel(SPACE, archs, values, {1: count_params}, np.random.default_rng(0)), values


def test_cheap_columns_stay_exact_and_expensive_ones_are_denoised():
    model, values = _model(_history(30))
    assert model.denoised.shape == values.shape
    assert np.array_equal(model.denoised[:, 1], values[:, 1])
    # The GP's posterior means, in normal scores: ordered like the (noisy) errors.
    assert np.corrcoef(model.denoised[:, 0], values[:, 0])[0, 1] > 0.9


def test_a_better_candidate_of_equal_cost_scores_higher():
    model, _ = _model(_history(40))
    full = SPACE.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    weak = SPACE.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
    )
    scores = model.improvement([full, weak])
    # The all-conv cell is the largest and best: it extends the front; the weak one
    # is dominated by cells with one conv that are as small and better.
    assert scores[0] > 0 and scores[0] > scores[1]


def test_cheap_columns_the_caller_computed_give_the_same_scores():
    model, _ = _model(_history(30))
    archs = [SPACE.sample(np.random.default_rng(s)) for s in range(20)]
    exact = np.zeros((len(archs), 2))
    exact[:, 1] = [count_params(a) for a in archs]
    np.testing.assert_array_equal(model.improvement(archs, exact=exact), model.improvement(archs))


def test_a_bound_caps_the_predicted_objectives_only():
    model, _ = _model(_history(30))
    archs = [SPACE.sample(np.random.default_rng(i)) for i in range(6)]
    free = model.improvement(archs)
    none = np.full((len(archs), 2), np.nan)
    assert np.array_equal(model.improvement(archs, at_most=none), free)
    # Capped at the best de-noised error on the front, every one of them scores at least
    # as well as without the cap, and most score clearly better.
    best = np.full((len(archs), 2), [model.denoised[:, 0].min(), np.nan])
    capped = model.improvement(archs, at_most=best)
    assert np.all(capped >= free) and np.sum(capped > free + 1e-3) >= len(archs) // 2


def test_budgets_let_the_model_tell_more_training_from_a_better_network():
    # Error here depends on the training budget only; the GP must learn that the same
    # architecture trained longer is better.
    archs, _ = _history(30)
    budgets = np.tile([1.0, 2.0, 4.0, 8.0, 16.0], 6)
    values = np.column_stack([0.3 - 0.02 * np.log2(budgets), [count_params(a) for a in archs]])
    model = ObjectiveModel(SPACE, archs, values, {1: count_params}, np.random.default_rng(0),
                           budgets=budgets)  # fmt: skip
    gp = model._models[0]
    arch = [archs[0]]
    assert gp.predict(arch, [16.0])[0][0] < gp.predict(arch, [1.0])[0][0]


def test_compared_at_one_budget_the_better_network_wins_over_the_longer_trained():
    # Small (convolution-poor) networks trained longest, as warm-started lineages do:
    # at their own budgets their errors hide which architecture is better.
    archs, history = _history(40)
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    worse = rank(history[:, 0]) / (len(archs) - 1)  # fewer 3x3 convolutions: more error
    budgets = 2.0 ** np.round(4 * worse)  # 1 to 16 epochs, the worse the longer,
    budgets[::2] = 1.0  # beside fresh networks of every kind
    values = np.column_stack([history[:, 0] - 0.05 * np.log2(budgets), history[:, 1]])

    def agreement(**kwargs):
        model = ObjectiveModel(SPACE, archs, values, {1: count_params}, np.random.default_rng(0),
                               budgets=budgets, **kwargs)  # fmt: skip
        return np.corrcoef(rank(model.denoised[:, 0]), rank(history[:, 0]))[0, 1]

    at_own = agreement()
    at_floor = agreement(compare_at=float(budgets.min()))
    assert at_floor > 0.8 and at_floor > at_own + 0.2, (at_floor, at_own)
