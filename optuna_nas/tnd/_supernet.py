"""A weight-sharing supernet over the cells of an NB201 or DARTS space.

Every edge holds every candidate op; a forward pass runs either a weighted mixture of
the ops (DARTS' continuous relaxation) or one discrete architecture, computing only
the ops that architecture uses. The macro skeleton (stem, stages, reductions, head)
is the space's own network class, so a sub-architecture's weights map onto
``space.build(arch)`` by dropping the ``ops.<op>`` level from the edge names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.networks import DartsNetwork, NB201Network, Zero, darts_op, nb201_op

EdgeWeights = dict[str, dict[str, float]]
"""Edge ``"target_source"`` -> op -> weight: what one cell computes."""
Selection = dict[str, EdgeWeights]
"""Cell kind (``"normal"``/``"reduce"``) -> its edge weights."""

_OP_KEY = re.compile(r"^(?P<edge>.*\.edges\.(?P<target>\d+)_(?P<source>\d+))\.ops\.(?P<op>\w+)\.")


class MixedEdge(nn.Module):
    """The candidate ops of one edge; ``none`` has no module (it adds nothing)."""

    def __init__(self, ops: dict[str, nn.Module]) -> None:
        super().__init__()
        self.ops = nn.ModuleDict(ops)

    def forward(self, x: torch.Tensor, weights: Mapping[str, float]) -> torch.Tensor | None:
        total = None
        for op, weight in weights.items():
            if op == "none" or weight == 0:
                continue
            out = self.ops[op](x)
            if weight != 1:
                out = out * weight
            total = out if total is None else total + out
        return total


class _SuperCell(nn.Module):
    """A cell whose every edge is a :class:`MixedEdge`; reads what to compute from the supernet."""

    def __init__(self, kind: str, n_inputs: int, n_nodes: int, supernet: Supernet) -> None:
        super().__init__()
        self.kind = kind
        self.n_inputs = n_inputs
        self.n_nodes = n_nodes
        # A plain list, not a submodule: the supernet owns this cell, not the reverse.
        self._owner = [supernet]
        self.edges = nn.ModuleDict()

    def _nodes(self, inputs: list[torch.Tensor], stride: int) -> list[torch.Tensor]:
        selection = self._owner[0].selection.get(self.kind)
        if selection is None:
            raise RuntimeError(
                "the supernet computes nothing yet: call select(arch) or mix(selection) first."
            )
        nodes = list(inputs)
        for target in range(self.n_inputs, self.n_inputs + self.n_nodes):
            total = None
            for source in range(target):
                weights = selection.get(f"{target}_{source}")
                if not weights:
                    continue
                out = self.edges[f"{target}_{source}"](nodes[source], weights)
                if out is not None:
                    total = out if total is None else total + out
            if total is None:  # only `none` ops reach this node
                total = Zero(stride)(nodes[0])
            nodes.append(total)
        return nodes


class NB201SuperCell(_SuperCell):
    """The NB201 cell with every op on every edge (names ``edges.t_s.ops.<op>``)."""

    def __init__(self, channels: int, ops: Sequence[str], supernet: Supernet) -> None:
        super().__init__("normal", 1, 3, supernet)
        for target in range(1, 4):
            for source in range(target):
                modules = {op: nb201_op(op, channels) for op in ops if op != "none"}
                self.edges[f"{target}_{source}"] = MixedEdge(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._nodes([x], 1)[-1]


class DartsSuperCell(_SuperCell):
    """A DARTS cell with every op on every edge; keeps the built cell's preprocessing."""

    def __init__(
        self, kind: str, built: nn.Module, n_nodes: int, ops: Sequence[str], supernet: Supernet
    ) -> None:
        super().__init__(kind, 2, n_nodes, supernet)
        self.pre0, self.pre1 = built.pre0, built.pre1
        channels = built.out_channels // n_nodes
        self.out_channels = built.out_channels
        self.stride = 2 if kind == "reduce" else 1
        for target in range(2, 2 + n_nodes):
            for source in range(target):
                stride = self.stride if source < 2 else 1
                modules = {op: darts_op(op, channels, stride) for op in ops if op != "none"}
                self.edges[f"{target}_{source}"] = MixedEdge(modules)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        nodes = self._nodes([self.pre0(s0), self.pre1(s1)], self.stride)
        return torch.cat(nodes[2:], dim=1)


class Supernet(nn.Module):
    """Common interface of the supernets: choose what to compute, then call it.

    Call :meth:`select` (one discrete architecture) or :meth:`mix` (weighted ops)
    before the forward pass; the choice stays until the next call, so the shared
    trainer and evaluator can run the supernet like any network.
    """

    space: BaseSpace
    selection: Selection

    def select(self, arch: Architecture) -> Supernet:
        """Compute only ``arch``'s ops on the shared weights."""
        self.selection = architecture_selection(self.space.validate(arch))
        return self

    def mix(self, selection: Selection) -> Supernet:
        """Compute every op with a non-zero weight and sum the weighted outputs."""
        self.selection = selection
        return self

    def subnet_state_dict(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The shared weights of ``arch`` under the names of ``space.build(arch)``."""
        chosen = architecture_selection(self.space.validate(arch))
        state = {}
        for key, value in self.state_dict().items():
            match = _OP_KEY.match(key)
            if match is None:
                state[key] = value
                continue
            kind = "reduce" if arch.rule.has_reduce and key.startswith("reductions.") else "normal"
            edge = f"{match['target']}_{match['source']}"
            if match["op"] in chosen[kind].get(edge, {}):
                state[match["edge"] + "." + key[match.end() :]] = value
        return state


class NB201Supernet(NB201Network, Supernet):
    """The NB201 network of ``space`` with a :class:`NB201SuperCell` in every cell slot."""

    def __init__(
        self, space: BaseSpace, in_channels: int, num_classes: int, ops: Sequence[str]
    ) -> None:
        super().__init__(_placeholder(space), in_channels, num_classes)
        self.arch = None  # no single architecture: see `selection`
        self.space = space
        self.selection = {}
        for s, stage in enumerate(self.stages):
            for i in range(len(stage)):
                stage[i] = NB201SuperCell(space.channels[0] * 2**s, ops, self)


class DartsSupernet(DartsNetwork, Supernet):
    """The DARTS network of ``space`` with a :class:`DartsSuperCell` in every cell slot."""

    def __init__(
        self, space: BaseSpace, in_channels: int, num_classes: int, ops: Sequence[str]
    ) -> None:
        super().__init__(_placeholder(space), in_channels, num_classes)
        self.arch = None
        self.space = space
        self.selection = {}
        nodes = space.nodes  # type: ignore[attr-defined]
        for stage in self.stages:
            for i, cell in enumerate(stage):
                stage[i] = DartsSuperCell("normal", cell, nodes, ops, self)
        for r, cell in enumerate(self.reductions):
            self.reductions[r] = DartsSuperCell("reduce", cell, nodes, ops, self)


def build_supernet(
    space: BaseSpace, in_channels: int = 3, num_classes: int = 10
) -> NB201Supernet | DartsSupernet:
    """The supernet of ``space`` (fixed channels and cells) with every op on every edge.

    Raises
    ------
    ValueError
        If the space has several ``channels`` or ``cells`` values (the supernet shares
        one macro skeleton).
    """
    check_fixed_macro(space)
    cls = NB201Supernet if space.kind == "nb201" else DartsSupernet
    return cls(space, in_channels, num_classes, space.ops)


def check_fixed_macro(space: BaseSpace) -> None:
    """``ValueError`` unless ``space`` has one ``channels`` and one ``cells`` value."""
    for name in ("channels", "cells"):
        values = getattr(space, name)
        if len(values) != 1:
            raise ValueError(
                f"TND-NAS searches the cell ops on one shared macro skeleton, but {space!r} "
                f"allows {name}={list(values)}; pass a space with a single {name} value "
                "(e.g. NB201Space(channels=16, cells=5))."
            )


def architecture_selection(arch: Architecture) -> Selection:
    """The edges and ops ``arch`` computes, each with weight 1 (dead NB201 ops dropped)."""
    arch = arch.without_dead_ops()
    first = arch.rule.n_inputs
    return {
        kind: {
            f"{first + k}_{source}": {op: 1.0}
            for k, node in enumerate(cell)
            for op, source in node
            if not (op == "none" and arch.rule.fully_connected)
        }
        for kind, cell in arch.cells_by_name()
    }


def _placeholder(space: BaseSpace) -> Architecture:
    """The cheapest architecture of ``space``: the skeleton whose cells get replaced."""
    nodes = 3 if space.kind == "nb201" else space.nodes  # type: ignore[attr-defined]
    first = space.rule.n_inputs
    if space.kind == "nb201":
        cell = tuple(tuple(("none", s) for s in range(first + k)) for k in range(nodes))
    else:
        cell = tuple((("none", 0), ("none", 1)) for _ in range(nodes))
    return Architecture(
        space=space.kind,
        normal=cell,
        reduce=cell if space.rule.has_reduce else None,
        channels=space.channels[0],
        cells=space.cells[0],
    )
