"""TND-NAS for OptunaHub: the search driver and sampler of the installed ``optuna-nas`` package.

TND-NAS trains a supernet and learns α, so it is a driver (``TNDSearch``) that writes
its trials into an Optuna study; ``TNDSampler`` lets further workers draw from the α
the driver published there. The implementation lives in ``optuna_nas.tnd``.
"""

try:
    from optuna_nas import DartsSpace
    from optuna_nas import NB201Space
    from optuna_nas import TNDSampler
    from optuna_nas import TNDSearch
    from optuna_nas.tnd import Reinforce
    from optuna_nas.tnd import trade_off_ladder
    from optuna_nas.tnd import TradeOff
except ModuleNotFoundError as exc:
    if exc.name != "optuna_nas":
        raise
    raise ModuleNotFoundError(
        "samplers/tnd_nas needs the optuna-nas package: run `pip install optuna-nas`."
    ) from exc


__all__ = [
    "DartsSpace",
    "NB201Space",
    "Reinforce",
    "TNDSampler",
    "TNDSearch",
    "TradeOff",
    "trade_off_ladder",
]
