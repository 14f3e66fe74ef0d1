"""Candidate operations of the NB201 and DARTS cells, and one name -> factory table each.

The genotype-level facts of each op (family, kernel, zero-initialisable, ...) are
in :data:`optuna_nas.encoding.OP_TABLE`; here each name only gets its module.
Parameters sit under stable attribute names (``conv``, ``bn``, ``dw1`` ...), so the
same op on the same edge has the same state-dict keys in every architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class CostUnit(NamedTuple):
    """``count`` modules ``factory(*args)`` each applied to one ``input_shape`` sample.

    Networks describe themselves as a list of these (their ``cost_plan``), so
    parameter and FLOP counts can be cached per unit instead of building each network.
    """

    factory: Callable[..., nn.Module]
    args: tuple[Any, ...]
    input_shape: tuple[int, ...]
    count: int = 1


class ReLUConvBN(nn.Module):
    """ReLU -> Conv -> BatchNorm (NB201's ``nor_conv_*``, DARTS preprocessing)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(F.relu(x)))


class DilConv(nn.Module):
    """ReLU -> depthwise dilated conv -> pointwise conv -> BatchNorm (DARTS ``dil_conv_*``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dilation: int) -> None:
        super().__init__()
        padding = dilation * (kernel - 1) // 2
        self.dw = nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation, groups=c_in, bias=False)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pw(self.dw(F.relu(x))))


class SepConv(nn.Module):
    """Two stacked ReLU-depthwise-pointwise-BN blocks, the first strided (DARTS ``sep_conv_*``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        padding = kernel // 2
        self.dw1 = nn.Conv2d(c_in, c_in, kernel, stride, padding, groups=c_in, bias=False)
        self.pw1 = nn.Conv2d(c_in, c_in, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.dw2 = nn.Conv2d(c_in, c_in, kernel, 1, padding, groups=c_in, bias=False)
        self.pw2 = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.pw1(self.dw1(F.relu(x))))
        return self.bn2(self.pw2(self.dw2(F.relu(x))))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset strided 1x1 convs (DARTS).

    The offset path is zero-padded so odd sizes work too (DARTS' original fails on
    them); for even sizes the result equals the original.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv1(x), self.conv2(shifted)], dim=1))


class Zero(nn.Module):
    """The ``none`` op: zeros at the output resolution."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


NB201_FACTORIES: dict[str, Callable[[int], nn.Module]] = {
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3),
    "avg_pool_3x3": lambda c: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
}
"""NB201 op name -> ``factory(channels)`` (stride 1, same channels in and out).
``none`` has no entry: a ``none`` edge is not built."""

DARTS_FACTORIES: dict[str, Callable[[int, int], nn.Module]] = {
    "none": lambda c, stride: Zero(stride),
    "max_pool_3x3": lambda c, stride: nn.MaxPool2d(3, stride=stride, padding=1),
    "avg_pool_3x3": lambda c, stride: nn.AvgPool2d(
        3, stride=stride, padding=1, count_include_pad=False
    ),
    "skip_connect": lambda c, stride: nn.Identity() if stride == 1 else FactorizedReduce(c, c),
    "sep_conv_3x3": lambda c, stride: SepConv(c, c, 3, stride),
    "sep_conv_5x5": lambda c, stride: SepConv(c, c, 5, stride),
    "dil_conv_3x3": lambda c, stride: DilConv(c, c, 3, stride, dilation=2),
    "dil_conv_5x5": lambda c, stride: DilConv(c, c, 5, stride, dilation=2),
}
"""DARTS op name -> ``factory(channels, stride)`` with ``channels`` in and out."""


def nb201_op(name: str, channels: int) -> nn.Module:
    """An NB201 cell op (stride 1, same channels in and out)."""
    factory = NB201_FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"NB201 op {name!r} has no module (a 'none' edge is not built).")
    return factory(channels)


def darts_op(name: str, channels: int, stride: int) -> nn.Module:
    """A DARTS cell op with ``channels`` in and out."""
    factory = DARTS_FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown DARTS op {name!r}")
    return factory(channels, stride)
