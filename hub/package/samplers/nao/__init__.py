"""NAO for OptunaHub: the sampler of the installed ``optuna-nas`` package.

The implementation lives in ``optuna_nas.nao``; this package only makes it loadable
with ``optunahub.load_module("samplers/nao")``.
"""

try:
    from optuna_nas import DartsSpace
    from optuna_nas import NAOSampler
    from optuna_nas import NB201Space
except ModuleNotFoundError as exc:
    if exc.name != "optuna_nas":
        raise
    raise ModuleNotFoundError(
        "samplers/nao needs the optuna-nas package: run `pip install optuna-nas`."
    ) from exc


__all__ = ["DartsSpace", "NAOSampler", "NB201Space"]
