"""NAO (Luo et al., NeurIPS 2018): gradient steps in a learned architecture embedding."""

from optuna_nas.nao._data import arch_tokens
from optuna_nas.nao._model import EPD
from optuna_nas.nao._sampler import NAOSampler
from optuna_nas.nao._scorers import EPDScorer, GPScorer, Proposals, Scorer
from optuna_nas.nao._training import FittedEPD, fit_epd

__all__ = [
    "EPD",
    "EPDScorer",
    "FittedEPD",
    "GPScorer",
    "NAOSampler",
    "Proposals",
    "Scorer",
    "arch_tokens",
    "fit_epd",
]
