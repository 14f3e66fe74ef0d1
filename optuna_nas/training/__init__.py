"""Training: the shared recipe and weight files."""

from optuna_nas.training._trainer import (
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    evaluate,
    make_optimizer,
    train,
)
from optuna_nas.training._weights import (
    TransferReport,
    load_weights,
    save_weights,
    transfer_weights,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "TransferReport",
    "evaluate",
    "load_weights",
    "make_optimizer",
    "save_weights",
    "train",
    "transfer_weights",
]
