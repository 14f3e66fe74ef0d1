import numpy as np

from optuna_nas.surrogate import improvement_scores

OBSERVED = np.array([[0.1, 3.0], [0.2, 2.0], [0.3, 1.0], [0.5, 2.5]])
BOTH = np.array([True, True])
ERROR_PREDICTED = np.array([True, False])  # the second objective is exact


def test_non_dominated_candidates_score_their_hypervolume_gain():
    candidates = np.array([[0.15, 2.0], [0.19, 2.0], [0.4, 2.0]])
    scores = improvement_scores(OBSERVED, candidates, BOTH)
    assert scores[0] > scores[1] > 0 > scores[2]


def test_dominated_candidates_rank_by_the_improvement_they_lack():
    candidates = np.array([[0.25, 2.0], [0.45, 2.0], [0.38, 1.5]])
    scores = improvement_scores(OBSERVED, candidates, ERROR_PREDICTED)
    assert np.all(scores < 0)
    assert scores[0] > scores[2] > scores[1]


def test_an_exact_tie_in_the_cheap_objective_only_escapes_by_prediction():
    # Same exact cost as the front point (0.2, 2.0); only its error can beat it.
    scores = improvement_scores(OBSERVED, np.array([[0.21, 2.0], [0.3, 2.0]]), ERROR_PREDICTED)
    assert 0 > scores[0] > scores[1]


def test_points_beyond_the_front_extremes_still_gain():
    candidates = np.array([[0.05, 4.0], [0.6, 0.5]])
    assert np.all(improvement_scores(OBSERVED, candidates, ERROR_PREDICTED) > 0)


def test_a_single_objective_scores_the_improvement_of_the_best():
    observed = np.array([[0.3], [0.2]])
    scores = improvement_scores(observed, np.array([[0.1], [0.15], [0.25]]), np.array([True]))
    assert scores[0] > scores[1] > 0 > scores[2]


def test_a_better_network_beyond_the_fronts_largest_is_credited_for_the_space_it_opens():
    # (error, params): predicted error, exact params. The front ends at 2 params so far,
    # but the candidates show the space reaches 10.
    observed = np.array([[0.2, 1.0], [0.1, 2.0]])
    larger = [0.09, 2.5]  # beats every error, a little larger than the front's largest
    smaller_end = [0.19, 1.0]  # the same error gain at the front's small end
    huge = [0.3, 10.0]  # dominated
    scores = improvement_scores(observed, np.array([larger, smaller_end, huge]),
                                np.array([True, False]))  # fmt: skip
    assert scores[2] < 0 < scores[1] < scores[0]
