"""The search loop's pieces shared by every sampler: the objective, the study, the history."""

from optuna_nas.search._artifacts import download_weights, upload_weights
from optuna_nas.search._history import (
    CheapObjective,
    TrialArchitectures,
    cheap_objectives,
    exact_columns,
    minimised_values,
    nondomination_ranks,
    pareto_indices,
)
from optuna_nas.search._objective import NASObjective
from optuna_nas.search._progress import TrialLog, trial_summary
from optuna_nas.search._sampler import ArchitectureSampler
from optuna_nas.search._study import create_study

__all__ = [
    "ArchitectureSampler",
    "CheapObjective",
    "NASObjective",
    "TrialArchitectures",
    "TrialLog",
    "cheap_objectives",
    "create_study",
    "download_weights",
    "exact_columns",
    "minimised_values",
    "nondomination_ranks",
    "pareto_indices",
    "trial_summary",
    "upload_weights",
]
