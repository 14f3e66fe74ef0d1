"""Multi-objective neural architecture search as an Optuna plugin."""

from optuna_nas.encoding import Architecture, BaseSpace, DartsSpace, NB201Space
from optuna_nas.objectives import (
    ObjectiveSpec,
    count_flops,
    count_params,
    get_objective,
    measure_latency,
    register_objective,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Architecture",
    "BaseSpace",
    "DartsSpace",
    "NB201Space",
    "ObjectiveSpec",
    "count_flops",
    "count_params",
    "get_objective",
    "measure_latency",
    "register_objective",
]
