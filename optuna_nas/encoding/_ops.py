"""Operation vocabularies, the op table and the cell rules of the supported cell kinds.

Everything the genotype layer knows about an op is one row of :data:`OP_TABLE`:
LEMONADE's operators, weight inheritance and the identity-cell rule all read it.
The rules live here, beside the op names, because both the `Architecture`
validator and the spaces read them; the network builders map the names to modules
(``optuna_nas.networks._operations``), one factory per name.
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
class OpSpec:
    """What the genotype layer knows about one op.

    Attributes
    ----------
    family:
        Ops of one family differ only in kernel size, so their weights move into
        each other (centre-aligned); a parameter-free op is its own family.
    kernel:
        Spatial kernel size, or ``None`` for ops without one.
    parametric:
        Whether the op has weights (at stride 1).
    zero_init:
        Whether the op ends in a BatchNorm whose gamma = beta = 0 makes it output
        exactly zero: a new edge with this op can be added as a network morphism.
    larger:
        The same op with the next larger kernel (an exact morphism), or ``None``.
    cheaper:
        Cheaper ops that may replace it (an approximate morphism), most similar
        first; an entry outside a cell kind's vocabulary is skipped there.
    """

    family: str
    kernel: int | None = None
    parametric: bool = False
    zero_init: bool = False
    larger: str | None = None
    cheaper: tuple[str, ...] = ()


# The parameter-free replacements of a conv, most similar first.
_FREE = ("skip_connect", "avg_pool_3x3", "max_pool_3x3")

OP_TABLE: dict[str, OpSpec] = {
    # name: OpSpec(family, kernel, parametric, zero_init, larger, cheaper)
    "none": OpSpec("none"),
    "skip_connect": OpSpec("skip_connect"),
    "avg_pool_3x3": OpSpec("avg_pool_3x3", kernel=3),
    "max_pool_3x3": OpSpec("max_pool_3x3", kernel=3),
    "nor_conv_1x1": OpSpec("nor_conv", 1, True, True, "nor_conv_3x3", _FREE),
    "nor_conv_3x3": OpSpec("nor_conv", 3, True, True, None, ("nor_conv_1x1", *_FREE)),
    "sep_conv_3x3": OpSpec("sep_conv", 3, True, True, "sep_conv_5x5", _FREE),
    "sep_conv_5x5": OpSpec("sep_conv", 5, True, True, None, ("sep_conv_3x3", *_FREE)),
    "dil_conv_3x3": OpSpec("dil_conv", 3, True, True, "dil_conv_5x5", _FREE),
    "dil_conv_5x5": OpSpec("dil_conv", 5, True, True, None, ("dil_conv_3x3", *_FREE)),
}
"""Every op of every vocabulary; adding an op is one row here and one factory."""


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
