"""Training: the shared recipe and weight files."""

from optuna_nas.training._trainer import (
    AUGMENT_MIN_EPOCHS,
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    evaluate,
    make_optimizer,
    train,
)
from optuna_nas.training._weights import load_weights, save_weights

__all__ = [
    "AUGMENT_MIN_EPOCHS",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "evaluate",
    "load_weights",
    "make_optimizer",
    "save_weights",
    "train",
]
