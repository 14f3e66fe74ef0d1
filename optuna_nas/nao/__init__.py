"""NAO (Luo et al., NeurIPS 2018): gradient steps in a learned architecture embedding."""

from optuna_nas.nao._model import EPD
from optuna_nas.nao._sampler import NAOSampler

__all__ = ["EPD", "NAOSampler"]
