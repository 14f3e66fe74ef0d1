"""LEMONADE's network operators: pure functions from a parent to a child architecture.

Each operator maps ``(arch, space, rng)`` to a child in ``space`` that differs from
``arch`` (canonically), or to ``None`` where it does not apply. Operators change the
encoding in place (no relabelling), so module names of untouched parts stay the
same and :func:`optuna_nas.networks.inherit_weights` finds their weights; it needs
only the two architectures, never the operator.

Which op may replace which (larger kernel, cheaper op, zero-initialisable) is read
from :data:`optuna_nas.encoding.OP_TABLE`; the operators import only the encoding.

``exact`` operators are network morphisms: after ``inherit_weights`` the child
computes the parent's function in eval mode. The others are approximate: the child
gets a warm start and is meant to be distilled from the parent first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from optuna_nas.encoding import OP_TABLE, Architecture, BaseSpace, identity_init_edges

Candidates = Callable[[Architecture, BaseSpace], Iterator[Architecture]]


@dataclass(frozen=True)
class Operator:
    """A named network operator.

    Attributes
    ----------
    name:
        Stable name, stored in a child trial's lineage.
    exact:
        ``True`` for a network morphism (the child starts with the parent's
        function); ``False`` for an approximate one (distil the child first).
    candidates:
        Every child the operator can make from an architecture in a space,
        possibly including invalid or unchanged ones (the operator filters them).
    """

    name: str
    exact: bool
    candidates: Candidates

    def __call__(
        self, arch: Architecture, space: BaseSpace, rng: np.random.Generator
    ) -> Architecture | None:
        """A uniformly random applicable child of ``arch`` in ``space``, or ``None``."""
        encoding = (arch.space, arch.normal, arch.reduce, arch.channels, arch.cells)
        options = _applicable(self, encoding, space)
        return options[rng.integers(len(options))] if options else None


_Encoding = tuple[str, Any, Any, int, int]
"""An architecture's fields as given: ``(space, normal, reduce, channels, cells)``."""


@functools.lru_cache(maxsize=1 << 14)
def _applicable(
    operator: Operator, encoding: _Encoding, space: BaseSpace
) -> tuple[Architecture, ...]:
    """The valid children ``operator`` makes from the architecture of ``encoding``.

    Cached because LEMONADE proposes many children of the same few parents on every
    call; keyed by the exact encoding (not the canonical fingerprint that ``==`` uses),
    since operators edit the encoding as given.
    """
    arch = Architecture(*encoding)
    return tuple(c for c in operator.candidates(arch, space) if c in space and c != arch)


def random_child(
    arch: Architecture,
    space: BaseSpace,
    rng: np.random.Generator,
    operators: list[Operator] | tuple[Operator, ...] | None = None,
) -> tuple[Architecture, Operator] | None:
    """Apply a random applicable operator to ``arch``.

    Parameters
    ----------
    arch:
        The parent architecture (in ``space``).
    space:
        The space the child must belong to.
    rng:
        Source of randomness.
    operators:
        Operators to choose from (default :data:`OPERATORS`), tried in random order.

    Returns
    -------
    tuple of (Architecture, Operator) or None
        The child and the operator that made it, or ``None`` if none applies.
    """
    operators = OPERATORS if operators is None else tuple(operators)
    for i in rng.permutation(len(operators)):
        child = operators[i](arch, space, rng)
        if child is not None:
            return child, operators[i]
    return None


# ---------------------------------------------------------------------- helpers
def _branches(arch: Architecture) -> Iterator[tuple[str, int, int, str, int]]:
    """``(cell, node, branch, op, input)`` of every edge of the encoding."""
    for name, cell in arch.cells_by_name():
        for k, node in enumerate(cell):
            for j, (op, inp) in enumerate(node):
                yield name, k, j, op, inp


def _with_edge(
    arch: Architecture, cell: str, k: int, j: int, op: str, inp: int | None = None
) -> Architecture:
    nodes = [list(node) for node in getattr(arch, cell)]
    nodes[k][j] = (op, nodes[k][j][1] if inp is None else inp)
    return arch.replace(**{cell: tuple(tuple(node) for node in nodes)})


def _free_inputs(arch: Architecture, cell: str, k: int, j: int) -> list[int]:
    """Inputs a DARTS branch may read: any earlier node but its sibling's input."""
    node = getattr(arch, cell)[k]
    other = node[1 - j][1]
    return [i for i in range(arch.rule.n_inputs + k) if i != other]


def _step(values: tuple[int, ...], current: int, up: bool) -> int | None:
    """The next larger (``up``) or smaller allowed value, or ``None``."""
    beyond = [v for v in values if (v > current if up else v < current)]
    if not beyond:
        return None
    return min(beyond) if up else max(beyond)


def _macro(field: str, up: bool) -> Candidates:
    def candidates(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
        value = _step(getattr(space, field), getattr(arch, field), up)
        if value is not None:
            yield arch.replace(**{field: value})

    return candidates


def _add(allowed: Callable[[str], bool]) -> Candidates:
    """Candidates that put an ``allowed`` op of the cell kind's vocabulary on a ``none`` branch."""

    def candidates(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
        new_ops = [op for op in arch.rule.ops if allowed(op)]
        for cell, k, j, op, _ in _branches(arch):
            if op != "none":
                continue
            # NB201 edges have a fixed input; a DARTS none branch may read any free input.
            inputs = [None] if arch.rule.fully_connected else _free_inputs(arch, cell, k, j)
            for new_op in new_ops:
                for inp in inputs:
                    yield _with_edge(arch, cell, k, j, new_op, inp)

    return candidates


# ---------------------------------------------------------------------- exact operators
def _enlarge_kernel(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
    for cell, k, j, op, _ in _branches(arch):
        larger = OP_TABLE[op].larger
        if larger is not None:
            yield _with_edge(arch, cell, k, j, larger)


def _deepen(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
    if identity_init_edges(arch) is not None:
        yield from _macro("cells", up=True)(arch, space)


# ---------------------------------------------------------------------- approximate
def _add_cell(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
    if identity_init_edges(arch) is None:  # else `deepen` makes the same child exactly
        yield from _macro("cells", up=True)(arch, space)


def _remove_op(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
    for cell, k, j, op, _ in _branches(arch):
        if op == "none":
            continue
        child = _with_edge(arch, cell, k, j, "none")
        # Keep some signal: an NB201 cell needs a live path, a DARTS cell a live op.
        kept = getattr(child.without_dead_ops(), cell)
        if any(op != "none" for node in kept for op, _ in node):
            yield child


def _cheapen(arch: Architecture, space: BaseSpace) -> Iterator[Architecture]:
    for cell, k, j, op, _ in _branches(arch):
        for cheaper in OP_TABLE[op].cheaper:
            if cheaper in arch.rule.ops:
                yield _with_edge(arch, cell, k, j, cheaper)


activate_edge = Operator("activate_edge", True, _add(lambda op: OP_TABLE[op].zero_init))
"""A ``none`` edge becomes a conv whose output starts at zero (final BN gamma = beta = 0).
In DARTS the branch may also move to any free input (a ``none`` branch reads nothing)."""
widen = Operator("widen", True, _macro("channels", up=True))
"""``channels`` -> the next larger allowed value; new channels feed nothing at first."""
enlarge_kernel = Operator("enlarge_kernel", True, _enlarge_kernel)
"""1x1 -> 3x3 (NB201), 3x3 -> 5x5 sep/dil conv (DARTS), zero-padded around the old kernel."""
deepen = Operator("deepen", True, _deepen)
"""``cells`` -> the next larger value, appending identity-initialised NB201 cells.

Only NB201 cells whose 3<-0 edge is ``skip_connect`` and whose other paths each pass a
conv can be the identity. A DARTS cell cannot: its output concatenates nodes computed
from ReLU -> 1x1 conv -> BN of both inputs, and the next cell's inputs shift by one
cell. DARTS (and other NB201) genotypes deepen through the approximate :data:`add_cell`."""
add_skip = Operator("add_skip", False, _add(lambda op: op == "skip_connect"))
"""A ``none`` edge becomes ``skip_connect``. Approximate: a parameter-free identity cannot
start at zero, and the only such changes that keep the function leave the edge dead,
so the child would equal the parent. The exact way to add a connection is
:data:`activate_edge`, a zero-initialised conv on that edge. (A stride-2 DARTS skip is
a ``FactorizedReduce`` with a BatchNorm, which ``inherit_weights`` does silence; the
operator stays labelled approximate.)"""
add_cell = Operator("add_cell", False, _add_cell)
"""``cells`` -> the next larger value where :data:`deepen` does not apply; the new cell
starts as a copy of the stage's last cell."""
remove_op = Operator("remove_op", False, _remove_op)
"""A live op becomes ``none``, keeping a live path (NB201) or a live op (DARTS cell)."""
prune = Operator("prune", False, _macro("channels", up=False))
"""``channels`` -> the next smaller allowed value, keeping the filters of largest L1 norm."""
cheapen = Operator("cheapen", False, _cheapen)
"""A conv becomes a cheaper op: a smaller kernel (centre taps kept), skip or pooling."""
drop_cell = Operator("drop_cell", False, _macro("cells", up=False))
"""``cells`` -> the next smaller allowed value, dropping the last cells of each stage."""

OPERATORS: tuple[Operator, ...] = (
    activate_edge,
    widen,
    enlarge_kernel,
    deepen,
    add_skip,
    add_cell,
    remove_op,
    prune,
    cheapen,
    drop_cell,
)
"""Every operator, the network morphisms (``exact``) first."""
