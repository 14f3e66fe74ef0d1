"""Final training: the chosen architectures trained from scratch with the full budget.

:func:`retrain` trains a study's winners (by default its Pareto front) on the
search's train + validation images for longer and records each as a trial of the
companion study ``S:final``; :func:`train_final` is the same recipe for any
network, Optuna-free, so hand-made baselines are trained exactly like them;
:func:`export_model` writes a trained network as TorchScript, torch.export and ONNX
files (what ``optuna-nas export`` does for a trial).
"""

from optuna_nas.final._export import ExportedModel, export_model
from optuna_nas.final._recipe import final_config, final_data, train_final
from optuna_nas.final._records import final_records, final_study_name, load_final_study
from optuna_nas.final._retrain import retrain
from optuna_nas.final._study import choose_trials, study_config, study_data

__all__ = [
    "ExportedModel",
    "choose_trials",
    "export_model",
    "final_config",
    "final_data",
    "final_records",
    "final_study_name",
    "load_final_study",
    "retrain",
    "study_config",
    "study_data",
    "train_final",
]
