"""The NAS-Bench-201 network (``TinyNetwork`` with ``InferCell``), built from an Architecture."""

from __future__ import annotations

import torch
from torch import nn

from optuna_nas.encoding import Architecture
from optuna_nas.networks._layout import ChannelLayout, Segment
from optuna_nas.networks._operations import CostUnit, ReLUConvBN, nb201_op


class NB201Cell(nn.Module):
    """One NB201 cell; only edges on an input-to-output path are built.

    The module of edge ``s -> t`` is ``edges["t_s"]`` in every architecture.
    """

    def __init__(self, arch: Architecture, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()
        self.inputs: list[list[int]] = []
        for k, node in enumerate(arch.without_dead_ops().normal):
            target = k + 1
            live = [src for op, src in node if op != "none"]
            for op, src in node:
                if op != "none":
                    self.edges[f"{target}_{src}"] = nb201_op(op, channels)
            self.inputs.append(live)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x]
        for k, sources in enumerate(self.inputs):
            total = None
            for src in sources:
                out = self.edges[f"{k + 1}_{src}"](nodes[src])
                total = out if total is None else total + out
            nodes.append(total)
        # No live path: NB201's output is all zeros.
        return nodes[-1] if nodes[-1] is not None else torch.zeros_like(x)


class ResidualReduction(nn.Module):
    """NB201's ``ResNetBasicblock`` with stride 2 between stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        # ceil_mode keeps the shortcut's size equal to conv_a's for odd inputs.
        self.pool = nn.AvgPool2d(2, stride=2, ceil_mode=True)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(self.pool(x)) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, three stages of ``arch.cells`` cells (C, 2C, 4C), residual reductions, head.

    Module names: ``stem``, ``stages.{s}.{i}``, ``reductions.{r}``, ``head_bn``,
    ``classifier``. With 3 input channels and 10 classes the parameter count equals
    NAS-Bench-201's ``model_size`` for every architecture without dead ops.
    """

    def __init__(self, arch: Architecture, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.arch = arch
        c = arch.channels
        self.stem = nn.Sequential()
        self.stem.add_module("conv", nn.Conv2d(in_channels, c, 3, padding=1, bias=False))
        self.stem.add_module("bn", nn.BatchNorm2d(c))
        widths = (c, 2 * c, 4 * c)
        self.stages = nn.ModuleList(
            nn.ModuleList(NB201Cell(arch, w) for _ in range(arch.cells)) for w in widths
        )
        self.reductions = nn.ModuleList(
            ResidualReduction(widths[i], widths[i + 1]) for i in range(2)
        )
        self.head_bn = nn.BatchNorm2d(widths[-1])
        self.classifier = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for s, stage in enumerate(self.stages):
            if s > 0:
                x = self.reductions[s - 1](x)
            for cell in stage:
                x = cell(x)
        x = torch.relu(self.head_bn(x))
        return self.classifier(x.mean(dim=(2, 3)))

    @staticmethod
    def cost_plan(
        arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
    ) -> list[CostUnit]:
        """The modules this network builds, as cacheable units (must mirror ``__init__``)."""
        c_in, h, w = input_shape
        c = arch.channels
        plan = [
            CostUnit(nn.Conv2d, (c_in, c, 3, 1, 1, 1, 1, False), (c_in, h, w)),
            CostUnit(nn.BatchNorm2d, (c,), (c, h, w)),
        ]
        live = [op for node in arch.without_dead_ops().normal for op, _ in node if op != "none"]
        for s, width in enumerate((c, 2 * c, 4 * c)):
            if s > 0:
                plan.append(CostUnit(ResidualReduction, (width // 2, width), (width // 2, h, w)))
                h, w = (h + 1) // 2, (w + 1) // 2
            plan += [CostUnit(nb201_op, (op, width), (width, h, w), arch.cells) for op in live]
        plan += [
            CostUnit(nn.BatchNorm2d, (4 * c,), (4 * c, h, w)),
            CostUnit(nn.Linear, (4 * c, num_classes), (4 * c,)),
        ]
        return plan

    @staticmethod
    def channel_layout(arch: Architecture) -> ChannelLayout:
        """``{module prefix: (input, output channels)}``, one group per stage (mirrors ``__init__``).

        Cells, the head and the residual reductions' outputs of a stage share one
        channel group: identities and sums tie them together.
        """
        stage: list[list[Segment]] = [[(f"stages.{s}", arch.channels << s, None)] for s in range(3)]
        layout: ChannelLayout = {
            "stem": (None, stage[0]),
            "head_bn": (None, stage[2]),
            "classifier": (stage[2], None),
        }
        for s in range(3):
            layout[f"stages.{s}"] = (stage[s], stage[s])
        for r in range(2):
            layout[f"reductions.{r}.conv_a"] = (stage[r], stage[r + 1])
            layout[f"reductions.{r}.conv_b"] = (stage[r + 1], stage[r + 1])
            layout[f"reductions.{r}.shortcut"] = (stage[r], stage[r + 1])
        return layout
