"""The top-level package: the core names, and the moved ones that still resolve for a release."""

import importlib
import types

import optuna
import pytest

import optuna_nas

CORE = {
    "Architecture",
    "BaseSpace",
    "DartsSpace",
    "NB201Space",
    "LemonadeSampler",
    "NAOSampler",
    "TNDSampler",
    "TNDSearch",
    "NASObjective",
    "TrainConfig",
    "create_study",
    "load_data",
    "retrain",
    "TrialLog",
}

MOVED = {  # name -> its subpackage, the only home after the next release
    "ImageData": "optuna_nas.data",
    "ObjectiveSpec": "optuna_nas.objectives",
    "count_flops": "optuna_nas.objectives",
    "count_params": "optuna_nas.objectives",
    "get_objective": "optuna_nas.objectives",
    "measure_latency": "optuna_nas.objectives",
    "register_objective": "optuna_nas.objectives",
    "save_study_report": "optuna_nas.report",
    "queue_trials": "optuna_nas.workers",
    "run_worker": "optuna_nas.workers",
    "storage_from_url": "optuna_nas.workers",
    "TradeOff": "optuna_nas.tnd",
    "trade_off_ladder": "optuna_nas.tnd",
}


def test_all_is_exactly_the_core_names():
    assert sorted(optuna_nas.__all__) == sorted(CORE)
    assert all(hasattr(optuna_nas, name) for name in CORE)


def test_dir_lists_the_core_names_and_the_subpackages_only():
    public = {name for name in dir(optuna_nas) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(optuna_nas, name), types.ModuleType)}
    assert public - modules == CORE


@pytest.mark.parametrize("name", sorted(MOVED))
def test_a_moved_name_warns_and_is_its_new_home(name):
    home = MOVED[name]
    with pytest.warns(FutureWarning, match=rf"optuna_nas\.{name} has moved to {home}\.{name}"):
        value = getattr(optuna_nas, name)
    assert value is getattr(importlib.import_module(home), name)
    assert name in importlib.import_module(home).__all__


def test_the_test_list_of_moved_names_is_the_package_list():
    assert MOVED == optuna_nas._MOVED


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        optuna_nas.no_such_name  # noqa: B018


def test_our_samplers_are_optuna_samplers():
    for sampler in (optuna_nas.LemonadeSampler, optuna_nas.NAOSampler, optuna_nas.TNDSampler):
        assert issubclass(sampler, optuna.samplers.BaseSampler)


def test_retrain_and_the_final_subpackage_both_resolve():
    import optuna_nas.final

    assert callable(optuna_nas.retrain) and optuna_nas.retrain is optuna_nas.final.retrain
    assert callable(optuna_nas.final.train_final)
