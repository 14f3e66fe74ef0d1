"""Multi-objective neural architecture search as an Optuna plugin."""

from optuna_nas.data import ImageData, load_data
from optuna_nas.encoding import Architecture, BaseSpace, DartsSpace, NB201Space
from optuna_nas.objectives import (
    ObjectiveSpec,
    count_flops,
    count_params,
    get_objective,
    measure_latency,
    register_objective,
)
from optuna_nas.search import NASObjective, create_study
from optuna_nas.training import TrainConfig

__version__ = "0.1.0.dev0"

__all__ = [
    "Architecture",
    "BaseSpace",
    "DartsSpace",
    "ImageData",
    "NASObjective",
    "NB201Space",
    "ObjectiveSpec",
    "TrainConfig",
    "count_flops",
    "count_params",
    "create_study",
    "get_objective",
    "load_data",
    "measure_latency",
    "register_objective",
]
