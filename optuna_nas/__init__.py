"""Multi-objective neural architecture search as an Optuna plugin."""

from optuna_nas.data import ImageData, load_data
from optuna_nas.encoding import Architecture, BaseSpace, DartsSpace, NB201Space
from optuna_nas.final import retrain
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler
from optuna_nas.objectives import (
    ObjectiveSpec,
    count_flops,
    count_params,
    get_objective,
    measure_latency,
    register_objective,
)
from optuna_nas.report import save_study_report
from optuna_nas.search import NASObjective, TrialLog, create_study
from optuna_nas.tnd import TNDSampler, TNDSearch, TradeOff, trade_off_ladder
from optuna_nas.training import TrainConfig
from optuna_nas.workers import queue_trials, run_worker, storage_from_url

__version__ = "0.1.0.dev0"

__all__ = [
    "Architecture",
    "BaseSpace",
    "DartsSpace",
    "ImageData",
    "LemonadeSampler",
    "NAOSampler",
    "NASObjective",
    "NB201Space",
    "ObjectiveSpec",
    "TNDSampler",
    "TNDSearch",
    "TradeOff",
    "TrainConfig",
    "TrialLog",
    "count_flops",
    "count_params",
    "create_study",
    "get_objective",
    "load_data",
    "measure_latency",
    "queue_trials",
    "register_objective",
    "retrain",
    "run_worker",
    "save_study_report",
    "storage_from_url",
    "trade_off_ladder",
]
