"""The surrogate: models of the objectives of architectures not yet trained.

Plain numeric code, the way Optuna keeps ``optuna/_gp/`` apart from its sampler:
architectures, spaces and arrays in, numbers out. Nothing here sees an Optuna study
or trial; the samplers (``lemonade``, ``nao``) read storage and pass plain data in.

- :class:`ArchitectureGP`: a Gaussian process of one objective on architectures;
- :class:`ObjectiveModel`: every objective of a study's columns, cheap ones exact,
  expensive ones by a GP each, and the predicted hypervolume improvement;
- :func:`improvement_scores`: how much candidates would improve a front;
- :func:`token_features`, :func:`composition_features`: the features the GP uses.
"""

from optuna_nas.surrogate._features import composition_features, token_features
from optuna_nas.surrogate._gp import ArchitectureGP, normal_scores
from optuna_nas.surrogate._improvement import improvement_scores
from optuna_nas.surrogate._objective_model import ObjectiveModel

__all__ = [
    "ArchitectureGP",
    "ObjectiveModel",
    "composition_features",
    "improvement_scores",
    "normal_scores",
    "token_features",
]
