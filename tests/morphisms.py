"""Helpers for the weight-inheritance and operator tests: tiny random networks."""

from __future__ import annotations

import torch
from torch import nn

from optuna_nas import Architecture, BaseSpace, DartsSpace, NB201Space
from optuna_nas.networks import TransferReport, inherit_weights

# Spaces that allow every macro move (widen/prune, deepen/drop 1 <-> 2). Odd widths
# give a FactorizedReduce unequal halves (C // 2 and C - C // 2).
NB201 = NB201Space(channels=[4, 8], cells=[1, 2])
DARTS = [DartsSpace(channels=[3, 5], cells=[1, 2], nodes=2)] + [
    DartsSpace(channels=[4, 8], cells=[1, 2], nodes=n) for n in (3, 4)
]
SPACES = {"nb201": [NB201], "darts": DARTS}
# (batch, channels, height, width): CIFAR-like and Fashion-MNIST-like (odd sizes after 2 reductions)
SHAPES = [(2, 3, 16, 16), (2, 1, 28, 28)]


def random_network(space: BaseSpace, arch: Architecture, in_channels: int, seed: int) -> nn.Module:
    """The network of ``arch`` with random weights and BatchNorm statistics, in eval mode.

    Random gamma, beta and running statistics make "the child equals the parent" a
    real check: with fresh BatchNorms many tensors would be trivially 0 or 1.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = space.build(arch, in_channels, 10)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.uniform_(-0.5, 0.5, generator=generator)
                module.running_mean.uniform_(-0.5, 0.5, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model.eval()


def inherited(
    space: BaseSpace,
    parent_arch: Architecture,
    parent: nn.Module,
    child_arch: Architecture,
    in_channels: int,
    seed: int = 1,
) -> tuple[nn.Module, TransferReport]:
    """A freshly built child of ``child_arch`` initialised from ``parent``, in eval mode."""
    torch.manual_seed(seed)
    child = space.build(child_arch, in_channels, 10)
    report = inherit_weights(parent_arch, parent.state_dict(), child_arch, child)
    return child.eval(), report


def max_difference(parent: nn.Module, child: nn.Module, shape: tuple[int, ...]) -> float:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        return (child(x) - parent(x)).abs().max().item()


def with_branch(arch: Architecture, cell: str, k: int, j: int, op: str) -> Architecture:
    """``arch`` with branch ``j`` of node ``k`` of ``cell`` set to ``op`` (same input)."""
    nodes = [list(node) for node in getattr(arch, cell)]
    nodes[k][j] = (op, nodes[k][j][1])
    return arch.replace(**{cell: tuple(tuple(node) for node in nodes)})
