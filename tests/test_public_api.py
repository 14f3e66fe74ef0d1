"""The names the README promises are importable from the top-level package."""

import optuna

import optuna_nas


def test_every_public_name_resolves():
    missing = [name for name in optuna_nas.__all__ if not hasattr(optuna_nas, name)]
    assert not missing


def test_our_samplers_are_optuna_samplers():
    for sampler in (optuna_nas.LemonadeSampler, optuna_nas.NAOSampler, optuna_nas.TNDSampler):
        assert issubclass(sampler, optuna.samplers.BaseSampler)


def test_retrain_and_the_final_subpackage_both_resolve():
    import optuna_nas.final

    assert callable(optuna_nas.retrain) and optuna_nas.retrain is optuna_nas.final.retrain
    assert callable(optuna_nas.final.train_final)
