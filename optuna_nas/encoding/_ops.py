"""Operation vocabularies and cell rules of the supported cell kinds.

The rules live here, beside the op names, because both the `Architecture`
validator and the spaces read them; the network builders map the names to modules.
"""

from __future__ import annotations

from dataclasses import dataclass

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
"""NAS-Bench-201 operations, in the benchmark's own index order."""

DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""DARTS operations, in the order of the DARTS paper's ``PRIMITIVES``."""


@dataclass(frozen=True)
class CellRule:
    """How a cell of one kind is wired.

    Attributes
    ----------
    ops:
        The allowed operation names.
    n_inputs:
        Number of cell inputs (node indices ``0 .. n_inputs-1``).
    fully_connected:
        ``True``: node ``k`` has exactly one edge from every earlier node (NB201).
        ``False``: every node has exactly two edges from distinct earlier nodes (DARTS).
    n_nodes:
        Required number of intermediate nodes, or ``None`` when free.
    has_reduce:
        Whether the architecture carries a separate reduction cell.
    concat_output:
        ``True``: the cell output concatenates all intermediate nodes (DARTS);
        ``False``: it is the last node (NB201).
    """

    ops: tuple[str, ...]
    n_inputs: int
    fully_connected: bool
    n_nodes: int | None
    has_reduce: bool
    concat_output: bool


CELL_RULES: dict[str, CellRule] = {
    "nb201": CellRule(
        NB201_OPS,
        n_inputs=1,
        fully_connected=True,
        n_nodes=3,
        has_reduce=False,
        concat_output=False,
    ),
    "darts": CellRule(
        DARTS_OPS,
        n_inputs=2,
        fully_connected=False,
        n_nodes=None,
        has_reduce=True,
        concat_output=True,
    ),
}
