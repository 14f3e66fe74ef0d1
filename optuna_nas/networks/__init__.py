"""Architecture -> ``torch.nn.Module`` for each cell kind."""

from torch import nn

from optuna_nas.encoding import Architecture
from optuna_nas.networks._darts import DartsCell, DartsNetwork
from optuna_nas.networks._morphism import (
    TransferReport,
    identity_init_edges,
    inherit_weights,
    transfer_weights,
)
from optuna_nas.networks._nb201 import NB201Cell, NB201Network
from optuna_nas.networks._operations import (
    DilConv,
    FactorizedReduce,
    ReLUConvBN,
    SepConv,
    Zero,
    darts_op,
    nb201_op,
)


def network_class(kind: str) -> type[DartsNetwork] | type[NB201Network]:
    """The network class of a cell kind (``Architecture.space``)."""
    return {"nb201": NB201Network, "darts": DartsNetwork}[kind]


def build_network(arch: Architecture, in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """The network of ``arch`` for ``in_channels`` x H x W images (H, W >= 8)."""
    return network_class(arch.space)(arch, in_channels, num_classes)


__all__ = [
    "build_network",
    "identity_init_edges",
    "inherit_weights",
    "transfer_weights",
    "TransferReport",
    "network_class",
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
