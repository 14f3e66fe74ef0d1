"""``optuna_nas.samplers.make_sampler``: every name, its ``n_initial``, an unknown name."""

import optuna
import pytest

from optuna_nas import LemonadeSampler, NAOSampler, NB201Space, TNDSampler
from optuna_nas.samplers import DEFAULT_N_INITIAL, SAMPLER_NAMES, make_sampler

SPACE = NB201Space(channels=4, cells=1)
KINDS = {
    "lemonade": LemonadeSampler,
    "nao": NAOSampler,
    "nsga2": optuna.samplers.NSGAIISampler,
    "random": optuna.samplers.RandomSampler,
    "tnd": TNDSampler,
    "tpe": optuna.samplers.TPESampler,
}


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_every_name_builds_its_sampler(name):
    assert type(make_sampler(name, SPACE, seed=0)) is KINDS[name]


def test_n_initial_defaults_to_the_samplers_own():
    assert make_sampler("lemonade", SPACE, 0)._n_initial == DEFAULT_N_INITIAL["lemonade"] == 20
    assert make_sampler("nao", SPACE, 0, n_initial=3)._n_initial == 3
    assert make_sampler("tpe", SPACE, 0)._n_startup_trials == DEFAULT_N_INITIAL["tpe"]
    # nsga2: n_initial is the population, at least 2.
    assert make_sampler("nsga2", SPACE, 0, n_initial=1)._population_size == 2


def test_an_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown sampler 'cmaes'; choose one of \['lemonade'"):
        make_sampler("cmaes", SPACE, 0)
