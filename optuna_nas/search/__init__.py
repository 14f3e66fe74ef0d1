"""The search loop's pieces shared by every sampler: the objective, the study, the history."""

from optuna_nas.search._history import (
    CheapObjective,
    TrialArchitectures,
    cheap_objectives,
    minimised_values,
    nondomination_ranks,
    pareto_indices,
)
from optuna_nas.search._improvement import improvement_scores
from optuna_nas.search._objective import NASObjective
from optuna_nas.search._objective_model import ObjectiveModel
from optuna_nas.search._progress import TrialLog, trial_summary
from optuna_nas.search._sampler import ArchitectureSampler
from optuna_nas.search._study import create_study
from optuna_nas.search._surrogate import ArchitectureGP, composition_features, token_features

__all__ = [
    "ArchitectureGP",
    "ArchitectureSampler",
    "CheapObjective",
    "NASObjective",
    "ObjectiveModel",
    "TrialArchitectures",
    "TrialLog",
    "cheap_objectives",
    "composition_features",
    "create_study",
    "improvement_scores",
    "minimised_values",
    "nondomination_ranks",
    "pareto_indices",
    "token_features",
    "trial_summary",
]
