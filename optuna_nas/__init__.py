"""Multi-objective neural architecture search as an Optuna plugin.

The top level holds what a user plugs into Optuna: the spaces and their genotype, our
samplers, the objective, ``create_study``, data loading and ``retrain``. Everything
else is imported from its subpackage (``optuna_nas.objectives``, ``optuna_nas.workers``,
...); the layout is described in ``docs/architecture.md``.
"""

import importlib as _importlib
import warnings as _warnings

from optuna_nas.data import load_data
from optuna_nas.encoding import Architecture, BaseSpace, DartsSpace, NB201Space
from optuna_nas.final import retrain
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler
from optuna_nas.search import NASObjective, TrialLog, create_study
from optuna_nas.tnd import TNDSampler, TNDSearch
from optuna_nas.training import TrainConfig

__version__ = "0.1.0.dev0"

__all__ = [
    "Architecture",
    "BaseSpace",
    "DartsSpace",
    "LemonadeSampler",
    "NAOSampler",
    "NASObjective",
    "NB201Space",
    "TNDSampler",
    "TNDSearch",
    "TrainConfig",
    "TrialLog",
    "create_study",
    "load_data",
    "retrain",
]

# Top-level names of 0.1.0.dev0 that now live only in their subpackage; each still
# resolves here for one release, with a FutureWarning naming its home.
_MOVED = {
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


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _warnings.warn(
        f"optuna_nas.{name} has moved to {home}.{name}; import it from there "
        f"(`from {home} import {name}`): the top-level name goes in the next release",
        FutureWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(home), name)
