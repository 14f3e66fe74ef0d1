"""The NAS-Bench-201 table harness that every sampler comparison relies on."""

import itertools

import numpy as np
import pytest

from benchmarks.nb201_table import NB201Table, pareto_front
from benchmarks.run_nb201 import run_one
from optuna_nas import NB201Space

SPACE = NB201Space()


@pytest.mark.parametrize("cost", ["model_size", "latency"])
def test_the_true_front_scores_one_and_a_single_point_less(cost):
    table = NB201Table("cifar10", cost=cost, seed=0)
    all_archs = [
        SPACE.from_nb201_string("|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops))
        for ops in itertools.product(SPACE.ops, repeat=6)
    ]
    assert table.hv_ratio(all_archs) == pytest.approx(1.0)
    assert 0 < table.hv_ratio(all_archs[::50]) < 1


def test_pareto_front_of_a_known_set():
    points = np.array([[1, 5], [2, 2], [3, 3], [5, 1], [2, 2.5]])
    assert sorted(map(tuple, pareto_front(points))) == [(1, 5), (2, 2), (5, 1)]


def test_noisy_error_draws_a_recorded_seed():
    table = NB201Table("cifar10", cost="model_size", seed=0)
    arch = SPACE.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    draws = {table.evaluate(arch)[0] for _ in range(50)}
    assert 1 <= len(draws) <= 3
    assert min(draws) <= table.mean_error(arch) <= max(draws)
    assert table.cost(arch) == pytest.approx(1.531546)


def test_a_short_search_gives_growing_ratios():
    ratios = run_one("tpe", seed=0, cost="model_size", budget=25)
    assert len(ratios) == 1 and 0.3 < ratios[0] < 1
