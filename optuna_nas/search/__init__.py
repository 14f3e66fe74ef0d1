"""The search loop's pieces shared by every sampler: the objective and the study."""

from optuna_nas.search._objective import NASObjective
from optuna_nas.search._study import create_study

__all__ = ["NASObjective", "create_study"]
