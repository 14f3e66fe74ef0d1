"""The DARTS CIFAR evaluation network (``NetworkCIFAR``), built from an Architecture."""

from __future__ import annotations

import torch
from torch import nn

from optuna_nas.encoding import Architecture, Cell
from optuna_nas.networks._layout import ChannelLayout, Segment
from optuna_nas.networks._operations import CostUnit, FactorizedReduce, ReLUConvBN, darts_op

STEM_MULTIPLIER = 3


class DartsCell(nn.Module):
    """A DARTS cell: preprocess both inputs, sum two ops per node, concat the nodes.

    The op of edge ``input -> node`` is ``edges["node_input"]`` in every architecture.
    """

    def __init__(
        self,
        cell: Cell,
        c_prev_prev: int,
        c_prev: int,
        channels: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.pre0 = (
            FactorizedReduce(c_prev_prev, channels)
            if reduction_prev
            else ReLUConvBN(c_prev_prev, channels, 1)
        )
        self.pre1 = ReLUConvBN(c_prev, channels, 1)
        self.edges = nn.ModuleDict()
        self.inputs: list[list[int]] = []
        for k, node in enumerate(cell):
            target = k + 2
            for op, src in node:
                stride = 2 if reduction and src < 2 else 1
                self.edges[f"{target}_{src}"] = darts_op(op, channels, stride)
            self.inputs.append([src for _, src in node])
        self.out_channels = len(cell) * channels

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        nodes = [self.pre0(s0), self.pre1(s1)]
        for k, sources in enumerate(self.inputs):
            nodes.append(sum(self.edges[f"{k + 2}_{src}"](nodes[src]) for src in sources))
        return torch.cat(nodes[2:], dim=1)


class DartsNetwork(nn.Module):
    """Stem, ``cells`` normal cells per stage, a reduction cell between stages, classifier.

    Module names: ``stem``, ``stages.{s}.{i}``, ``reductions.{r}``, ``classifier``.
    """

    def __init__(self, arch: Architecture, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.arch = arch
        c_stem = STEM_MULTIPLIER * arch.channels
        self.stem = nn.Sequential()
        self.stem.add_module("conv", nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False))
        self.stem.add_module("bn", nn.BatchNorm2d(c_stem))
        c_pp, c_p, c = c_stem, c_stem, arch.channels
        self.stages = nn.ModuleList()
        self.reductions = nn.ModuleList()
        reduction_prev = False
        for s in range(3):
            if s > 0:
                c *= 2
                cell = DartsCell(arch.reduce, c_pp, c_p, c, True, reduction_prev)
                self.reductions.append(cell)
                c_pp, c_p, reduction_prev = c_p, cell.out_channels, True
            stage = nn.ModuleList()
            for _ in range(arch.cells):
                cell = DartsCell(arch.normal, c_pp, c_p, c, False, reduction_prev)
                stage.append(cell)
                c_pp, c_p, reduction_prev = c_p, cell.out_channels, False
            self.stages.append(stage)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for s, stage in enumerate(self.stages):
            if s > 0:
                s0, s1 = s1, self.reductions[s - 1](s0, s1)
            for cell in stage:
                s0, s1 = s1, cell(s0, s1)
        return self.classifier(s1.mean(dim=(2, 3)))

    @staticmethod
    def cost_plan(
        arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
    ) -> list[CostUnit]:
        """The modules this network builds, as cacheable units (must mirror ``__init__``)."""
        c_in, h, w = input_shape
        c_stem = STEM_MULTIPLIER * arch.channels
        plan = [
            CostUnit(nn.Conv2d, (c_in, c_stem, 3, 1, 1, 1, 1, False), (c_in, h, w)),
            CostUnit(nn.BatchNorm2d, (c_stem,), (c_stem, h, w)),
        ]
        # (channels, height, width) of the two cell inputs
        prev_prev = prev = (c_stem, h, w)
        c = arch.channels
        for s in range(3):
            layers = [(arch.normal, False)] * arch.cells
            if s > 0:
                c *= 2
                layers.insert(0, (arch.reduce, True))
            for cell, reduction in layers:
                reduction_prev = prev_prev[1:] != prev[1:]
                if reduction_prev:
                    plan.append(CostUnit(FactorizedReduce, (prev_prev[0], c), prev_prev))
                else:
                    plan.append(CostUnit(ReLUConvBN, (prev_prev[0], c, 1), prev_prev))
                plan.append(CostUnit(ReLUConvBN, (prev[0], c, 1), prev))
                size = prev[1:]
                out_size = ((size[0] + 1) // 2, (size[1] + 1) // 2) if reduction else size
                for node in cell:
                    for op, src in node:
                        stride = 2 if reduction and src < 2 else 1
                        shape = (c, *(size if src < 2 else out_size))
                        plan.append(CostUnit(darts_op, (op, c, stride), shape))
                size = out_size
                prev_prev, prev = prev, (len(cell) * c, *size)
        plan.append(CostUnit(nn.Linear, (prev[0], num_classes), (prev[0],)))
        return plan

    @staticmethod
    def channel_layout(arch: Architecture) -> ChannelLayout:
        """``{module prefix: (input, output channels)}`` (mirrors ``__init__``).

        The stem and each cell are one channel group; a cell's output concatenates
        one copy of its group per node.
        """
        c = arch.channels
        stem: list[Segment] = [("stem", STEM_MULTIPLIER * c, None)]
        layout: ChannelLayout = {"stem": (None, stem)}
        s0 = s1 = stem
        cells = [(f"stages.0.{i}", 0) for i in range(arch.cells)]
        for s in (1, 2):
            cells += [(f"reductions.{s - 1}", s)]
            cells += [(f"stages.{s}.{i}", s) for i in range(arch.cells)]
        for name, stage in cells:
            group: list[Segment] = [(name, c << stage, None)]
            layout[f"{name}.pre0"] = (s0, group)
            layout[f"{name}.pre1"] = (s1, group)
            layout[f"{name}.edges"] = (group, group)
            s0, s1 = s1, group * len(arch.normal)
        layout["classifier"] = (s1, None)
        return layout
