from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from optuna_nas.encoding._architecture import Architecture
from optuna_nas.encoding._space import BaseSpace

_CELLS = ("normal", "reduce")


class DartsSpace(BaseSpace):
    """The DARTS (NASNet-style) cell search space.

    Each cell has two inputs (the outputs of the two previous cells) and ``nodes``
    intermediate nodes; every node sums two ops applied to two distinct earlier
    nodes; the cell output concatenates all intermediate nodes. There is a normal
    and a reduction cell. The network is the DARTS CIFAR network: a stem, then
    ``cells`` normal cells, a reduction cell, ``cells`` normal cells, a reduction
    cell and ``cells`` normal cells (``layers = 3 * cells + 2``). The defaults are
    the DARTS CIFAR-10 evaluation network (36 channels, 20 layers, 4 nodes).

    Parameters
    ----------
    channels:
        Allowed initial channel counts; a single value is fixed.
    cells:
        Allowed numbers of normal cells per stage; a single value is fixed.
    nodes:
        Intermediate nodes per cell.

    Notes
    -----
    Per node the params are ``{cell}/node{k}/inputs`` (the pair of inputs, e.g.
    ``"0,2"``) and ``{cell}/node{k}/op_a`` / ``op_b`` (the ops applied to the
    smaller / larger input). Encoding the pair as one decision keeps the two
    inputs distinct and removes the branch-swap symmetry from the params.
    """

    kind = "darts"

    def __init__(
        self,
        channels: int | Sequence[int] = 36,
        cells: int | Sequence[int] = 6,
        nodes: int = 4,
    ) -> None:
        super().__init__(channels, cells)
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise ValueError(f"nodes: expected a positive int, got {nodes!r}.")
        self.nodes = nodes

    def __repr__(self) -> str:
        return (
            f"DartsSpace(channels={list(self.channels)}, cells={list(self.cells)}, "
            f"nodes={self.nodes})"
        )

    def _node_indices(self) -> range:
        return range(self.rule.n_inputs, self.rule.n_inputs + self.nodes)

    def _validate_cells(self, arch: Architecture) -> None:
        if len(arch.normal) != self.nodes:
            raise ValueError(
                f"{self!r}: architecture has {len(arch.normal)} nodes per cell, expected {self.nodes}."
            )

    # ---------------------------------------------------------------- params
    def _cell_decisions(self) -> dict[str, tuple[Any, ...]]:
        decisions: dict[str, tuple[Any, ...]] = {}
        for cell in _CELLS:
            for k in self._node_indices():
                pairs = tuple(f"{a},{b}" for a, b in itertools.combinations(range(k), 2))
                decisions[f"{cell}/node{k}/inputs"] = pairs
                decisions[f"{cell}/node{k}/op_a"] = self.ops
                decisions[f"{cell}/node{k}/op_b"] = self.ops
        return decisions

    def _cells_from_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        fields = {}
        for cell in _CELLS:
            nodes = []
            for k in self._node_indices():
                a, b = (int(i) for i in params[f"{cell}/node{k}/inputs"].split(","))
                nodes.append(
                    ((params[f"{cell}/node{k}/op_a"], a), (params[f"{cell}/node{k}/op_b"], b))
                )
            fields[cell] = tuple(nodes)
        return fields

    def _cell_params(self, arch: Architecture) -> dict[str, Any]:
        params = {}
        for cell, nodes in arch.cells_by_name():
            for k, node in zip(self._node_indices(), nodes, strict=True):
                (op_a, a), (op_b, b) = sorted(node, key=lambda edge: edge[1])
                params[f"{cell}/node{k}/inputs"] = f"{a},{b}"
                params[f"{cell}/node{k}/op_a"] = op_a
                params[f"{cell}/node{k}/op_b"] = op_b
        return params

    # ---------------------------------------------------------------- tokens
    # Per node four tokens, as in NAO: input, op, input, op.
    @property
    def _cell_vocabulary(self) -> tuple[str, ...]:
        inputs = tuple(f"input={i}" for i in range(self.rule.n_inputs + self.nodes - 1))
        return inputs + self.ops

    @property
    def _cell_sequence_length(self) -> int:
        return len(_CELLS) * self.nodes * 4

    def _allowed_cell_tokens(self, prefix: Sequence[int]) -> list[int]:
        pos = len(prefix)
        n_input_tokens = self.rule.n_inputs + self.nodes - 1
        slot = pos % 4
        if slot in (1, 3):
            return list(range(n_input_tokens, n_input_tokens + len(self.ops)))
        node_index = self.rule.n_inputs + (pos // 4) % self.nodes
        inputs = list(range(node_index))
        if slot == 2:
            inputs.remove(prefix[-2])
        return inputs

    def _cell_tokens(self, arch: Architecture) -> list[int]:
        offset = self.rule.n_inputs + self.nodes - 1
        return [
            token
            for _, nodes in arch.cells_by_name()
            for node in nodes
            for op, inp in node
            for token in (inp, offset + self.ops.index(op))
        ]

    def _cells_from_tokens(self, tokens: Sequence[int]) -> dict[str, Any]:
        offset = self.rule.n_inputs + self.nodes - 1
        edges = [(self.ops[tokens[i + 1] - offset], tokens[i]) for i in range(0, len(tokens), 2)]
        nodes = [tuple(edges[i : i + 2]) for i in range(0, len(edges), 2)]
        return {"normal": tuple(nodes[: self.nodes]), "reduce": tuple(nodes[self.nodes :])}
