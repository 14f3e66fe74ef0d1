"""Architecture -> ``torch.nn.Module`` for each cell kind, and weight inheritance.

Importing this package registers :func:`build_network` as the builder behind
``BaseSpace.build`` (the encoding never imports torch or this package).
"""

from optuna_nas.encoding import register_network_builder
from optuna_nas.networks._build import build_network, network_class
from optuna_nas.networks._darts import DartsCell, DartsNetwork
from optuna_nas.networks._inherit import inherit_weights
from optuna_nas.networks._nb201 import NB201Cell, NB201Network
from optuna_nas.networks._operations import (
    DARTS_FACTORIES,
    NB201_FACTORIES,
    CostUnit,
    DilConv,
    FactorizedReduce,
    ReLUConvBN,
    SepConv,
    Zero,
    darts_op,
    nb201_op,
)
from optuna_nas.networks._transfer import TransferReport, transfer_weights

register_network_builder(build_network)

__all__ = [
    "build_network",
    "inherit_weights",
    "transfer_weights",
    "TransferReport",
    "CostUnit",
    "network_class",
    "DARTS_FACTORIES",
    "NB201_FACTORIES",
    "DartsCell",
    "DartsNetwork",
    "DilConv",
    "FactorizedReduce",
    "NB201Cell",
    "NB201Network",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "darts_op",
    "nb201_op",
]
