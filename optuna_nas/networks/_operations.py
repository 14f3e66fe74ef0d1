"""Candidate operations of the NB201 and DARTS cells.

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


def nb201_op(name: str, channels: int) -> nn.Module:
    """An NB201 cell op (stride 1, same channels in and out)."""
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    raise ValueError(f"NB201 op {name!r} has no module (a 'none' edge is not built).")


def darts_op(name: str, channels: int, stride: int) -> nn.Module:
    """A DARTS cell op with ``channels`` in and out."""
    if name == "none":
        return Zero(stride)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
    if name.startswith("sep_conv_"):
        return SepConv(channels, channels, int(name[-1]), stride)
    if name.startswith("dil_conv_"):
        return DilConv(channels, channels, int(name[-1]), stride, dilation=2)
    raise ValueError(f"unknown DARTS op {name!r}")
