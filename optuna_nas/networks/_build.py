"""Architecture -> network: the class of each cell kind."""

from __future__ import annotations

from torch import nn

from optuna_nas.encoding import Architecture
from optuna_nas.networks._darts import DartsNetwork
from optuna_nas.networks._nb201 import NB201Network


def network_class(kind: str) -> type[DartsNetwork] | type[NB201Network]:
    """The network class of a cell kind (``Architecture.space``)."""
    return {"nb201": NB201Network, "darts": DartsNetwork}[kind]


def build_network(arch: Architecture, in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """The network of ``arch`` for ``in_channels`` x H x W images (H, W >= 8)."""
    return network_class(arch.space)(arch, in_channels, num_classes)
