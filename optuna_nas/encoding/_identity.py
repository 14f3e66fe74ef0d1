"""Which NB201 genotypes admit a cell that starts as the identity.

Pure genotype logic: LEMONADE's ``deepen`` asks whether a cell can be appended
exactly, and weight inheritance asks which edges to silence so that it is.
"""

from __future__ import annotations

from collections.abc import Iterator

from optuna_nas.encoding._architecture import Architecture
from optuna_nas.encoding._ops import OP_TABLE


def identity_init_edges(arch: Architecture) -> frozenset[tuple[int, int]] | None:
    """Edges to silence so that a new NB201 cell of ``arch``'s genotype is the identity.

    A cell can be initialised as the identity iff its edge 3<-0 is ``skip_connect``
    and every other path from the input to the output passes an op that can output
    zero (:attr:`OpSpec.zero_init`); the last such op of each path is silenced (the
    earlier ones keep learning signal).

    Returns
    -------
    frozenset of (target, source) or None
        The edges, or ``None`` when no initialisation of this genotype is the
        identity (or ``arch`` is not an NB201 architecture).
    """
    if arch.space != "nb201":
        return None
    ops = {
        (k + 1, src): op
        for k, node in enumerate(arch.without_dead_ops().normal)
        for op, src in node
        if op != "none"
    }
    if ops.get((3, 0)) != "skip_connect":
        return None
    silenced = set()
    for path in _paths(ops, 0, 3):
        if path == [(3, 0)]:
            continue
        silenceable = [edge for edge in path if OP_TABLE[ops[edge]].zero_init]
        if not silenceable:
            return None
        silenced.add(silenceable[-1])
    return frozenset(silenced)


def _paths(ops: dict[tuple[int, int], str], start: int, end: int) -> Iterator[list]:
    """Every path from ``start`` to ``end`` over the edges ``(target, source)`` of ``ops``."""
    if start == end:
        yield []
        return
    for target, src in ops:
        if src == start:
            for rest in _paths(ops, target, end):
                yield [(target, src), *rest]
