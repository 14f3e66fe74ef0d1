"""The NAS-Bench-201 table harness that every sampler comparison relies on."""

import itertools

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from benchmarks.nb201_table import NB201Table, pareto_front, run_in_flight
from benchmarks.run_nb201 import SAMPLERS, run_one, run_search, run_task
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


class _CountRunning(optuna.samplers.RandomSampler):
    """Random sampling that notes how many trials are RUNNING when each one starts."""

    def __init__(self, seed):
        super().__init__(seed=seed)
        self.running = []

    def before_trial(self, study, trial):
        self.running.append(len(study.get_trials(states=(TrialState.RUNNING,))))
        super().before_trial(study, trial)


def test_in_flight_keeps_k_trials_running_at_every_ask():
    table = NB201Table("cifar10", cost="model_size", seed=0)
    sampler = _CountRunning(seed=0)
    study = run_in_flight(table, sampler, budget=10, in_flight=4)
    assert sampler.running == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]  # the new trial included
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 10
    assert table.calls == [t.user_attrs["arch"] for t in study.trials]  # told in ask order
    # Random sampling ignores the history, so the pending trials change nothing.
    sequential, _ = run_search("random", 0, "model_size", 10)
    assert table.calls == sequential.calls


def test_one_in_flight_is_the_sequential_search():
    table = NB201Table("cifar10", cost="model_size", seed=2)
    sampler = SAMPLERS["lemonade"](table, 2)
    run_in_flight(table, sampler, budget=23, in_flight=1)
    sequential, _ = run_search("lemonade", 2, "model_size", 23)
    assert table.calls == sequential.calls


# The model's first proposal comes at trial n_initial + 4: three earlier trials are pending.
@pytest.mark.parametrize(("name", "budget"), [("lemonade", 26), ("nao", 16)])
def test_our_samplers_run_with_four_in_flight(name, budget):
    row = run_task((name, 0, "latency", (10, budget), "cifar10", 4))
    assert row["calls"] == row["distinct_fp"] == budget  # never an architecture twice
    assert 0 < row["hv"][0] <= row["hv"][1] <= 1


def test_in_flight_needs_at_least_one_trial_and_an_optuna_sampler():
    table = NB201Table("cifar10", cost="model_size", seed=0)
    with pytest.raises(ValueError, match="in_flight must be at least 1"):
        run_in_flight(table, optuna.samplers.RandomSampler(), budget=5, in_flight=0)
    with pytest.raises(ValueError, match="needs an Optuna sampler"):
        run_search("pymoo-nsga2", 0, "model_size", 5, in_flight=4)
