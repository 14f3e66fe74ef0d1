"""Any Optuna sampler can search a space through ``space.suggest``."""

from __future__ import annotations

import warnings

import optuna
import pytest

from optuna_nas import Architecture, DartsSpace, NB201Space
from optuna_nas.objectives import count_flops, count_params
from tests.strategies import space_id

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACES = [
    NB201Space(channels=[4, 8], cells=[1, 2]),
    DartsSpace(channels=[4, 8], cells=1, nodes=2),
]
SAMPLERS = {
    "random": lambda: optuna.samplers.RandomSampler(seed=0),
    "tpe": lambda: optuna.samplers.TPESampler(seed=0, n_startup_trials=4),
    "nsga2": lambda: optuna.samplers.NSGAIISampler(population_size=4, seed=0),
}
N_TRIALS = 12


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("space", SPACES, ids=space_id)
def test_short_study_with_optuna_samplers(space, sampler) -> None:
    archs: dict[int, Architecture] = {}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        arch = space.suggest(trial)
        assert arch in space
        archs[trial.number] = arch
        return count_params(arch), count_flops(arch)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            directions=["minimize", "minimize"], sampler=SAMPLERS[sampler]()
        )
        study.set_metric_names(["params", "flops"])
        study.optimize(objective, n_trials=N_TRIALS)

    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(trials) == N_TRIALS
    assert study.metric_names == ["params", "flops"]
    distributions = space.distributions()
    for trial in trials:
        assert trial.distributions == distributions
        arch = space.from_params(trial.params)
        assert arch.to_dict() == space.from_params(space.to_params(archs[trial.number])).to_dict()
        assert arch == archs[trial.number]
        assert trial.values == [count_params(arch), count_flops(arch)]
    assert study.best_trials
    # the samplers explore: not every trial proposes the same architecture
    assert len({space.from_params(t.params) for t in trials}) > 1


@pytest.mark.parametrize("space", SPACES, ids=space_id)
def test_user_params_beside_the_space(space) -> None:
    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        arch = space.suggest(trial)
        return count_params(arch) * lr

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=5)
    for trial in study.trials:
        assert "lr" in trial.params
        arch = space.from_params(trial.params)  # ignores "lr"
        assert arch in space
        assert space.to_params(arch) == {k: v for k, v in trial.params.items() if k != "lr"}
        assert {k: v for k, v in trial.distributions.items() if k != "lr"} == space.distributions()


@pytest.mark.parametrize("space", SPACES, ids=space_id)
def test_enqueued_params_are_suggested_verbatim(space) -> None:
    wanted = [space.sample(seed) for seed in range(3)]
    study = optuna.create_study()
    for arch in wanted:
        study.enqueue_trial(space.to_params(arch))
    got = []
    study.optimize(lambda trial: got.append(space.suggest(trial)) or 0.0, n_trials=3)
    assert [a.to_dict() for a in got] == [
        space.from_params(space.to_params(a)).to_dict() for a in wanted
    ]
    assert got == wanted
