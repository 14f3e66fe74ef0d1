"""The peers of the NAS-Bench-201 comparison: each runs on a tiny budget and gives a valid row."""

import warnings

import optuna
import pytest

from benchmarks.nb201_peers import run_distinct
from benchmarks.nb201_table import NB201Table
from benchmarks.run_nb201 import run_search, run_task
from optuna_nas import NB201Space

SPACE = NB201Space()


def assert_valid_row(row, budget, budgets):
    assert row["calls"] == budget
    assert row["proposals"] >= row["calls"]
    assert row["distinct_fp"] <= row["distinct_str"] <= row["calls"]
    assert len(row["hv"]) == len(budgets)
    assert row["hv"][0] > 0 and row["hv"] == sorted(row["hv"]) and row["hv"][-1] <= 1


@pytest.mark.parametrize(
    ("name", "budget"),
    [
        ("tpe-mv", 25),
        ("tpe-mv-distinct", 25),
        ("tpe-mv-reask", 25),
        ("gp", 12),  # 10 random trials, then two from the GP
        ("pymoo-nsga2", 25),  # one generation of 20, then 5 of the next
        ("pymoo-smsemoa", 25),
    ],
)
def test_each_peer_gives_a_valid_row(name, budget):
    budgets = (10, budget)
    row = run_task((name, 0, "model_size", budgets, "cifar10", 1))
    assert_valid_row(row, budget, budgets)
    if name.startswith("tpe-mv-"):
        assert row["distinct_fp"] == budget


def _one_free_edge(seed):
    """A real sampler with only five architectures to propose: five edges fixed."""
    fixed = {name: "nor_conv_3x3" for name in list(SPACE.distributions())[:5]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.PartialFixedSampler(fixed, optuna.samplers.RandomSampler(seed))


def test_distinct_serves_a_repeat_the_first_values_without_evaluating_it():
    table = NB201Table("cifar10", cost="model_size", seed=0)
    study = run_distinct(table, _one_free_edge(0), budget=5)
    first, repeats = {}, []
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.COMPLETE
        if t.user_attrs.get("repeat"):
            repeats.append(t)
        else:
            first[t.user_attrs["arch"]] = t.values
    assert list(first) == table.calls and len(table.calls) == 5
    assert len({SPACE.from_nb201_string(s).fingerprint for s in table.calls}) == 5
    assert repeats  # 5 distinct in the first 5 draws of 5 would be unlikely
    assert all(t.values == first[t.user_attrs["arch"]] for t in repeats)


def test_distinct_without_cache_fails_the_repeats_and_asks_again():
    table = NB201Table("cifar10", cost="model_size", seed=0)
    study = run_distinct(table, _one_free_edge(0), budget=5, cached=False)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    repeats = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert len(table.calls) == len(done) == 5
    assert len(repeats) == len(study.trials) - 5 > 0
    assert all(t.user_attrs["repeat"] and t.user_attrs["arch"] in table.calls for t in repeats)


@pytest.mark.parametrize("cached", [True, False])
def test_distinct_stops_after_max_trials_when_the_sampler_has_nothing_new(cached):
    table = NB201Table("cifar10", cost="model_size", seed=0)
    study = run_distinct(table, _one_free_edge(1), budget=6, cached=cached, max_trials=40)
    assert len(study.trials) == 40 and len(table.calls) == 5


@pytest.mark.parametrize("name", ["tpe-mv-distinct", "tpe-mv-reask"])
def test_distinct_follows_the_plain_sampler_until_its_first_repeat(name):
    plain, _ = run_search("tpe-mv", 3, "latency", 60)
    distinct, proposals = run_search(name, 3, "latency", 60)
    fingerprints = [SPACE.from_nb201_string(s).fingerprint for s in plain.calls]
    first_repeat = next(
        (i for i, fp in enumerate(fingerprints) if fp in fingerprints[:i]), len(fingerprints)
    )
    assert first_repeat < 60  # the plain sampler does repeat itself
    assert distinct.calls[:first_repeat] == plain.calls[:first_repeat]
    assert len(distinct.calls) == 60 and proposals > 60


@pytest.mark.parametrize("name", ["pymoo-nsga2", "pymoo-smsemoa"])
def test_pymoo_peers_are_seeded_and_stop_at_the_budget(name):
    first, _ = run_search(name, 4, "latency", 23)
    again, _ = run_search(name, 4, "latency", 23)
    other, _ = run_search(name, 5, "latency", 23)
    assert first.calls == again.calls != other.calls
    assert len(first.calls) == 23
    assert len(set(first.calls[:20])) == 20  # the first population, duplicates eliminated
