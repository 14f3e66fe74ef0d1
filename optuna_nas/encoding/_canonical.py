"""The canonical form of a cell and the fingerprint of an encoding: pure functions, memoised.

Two encodings of one network have one canonical form (see
:meth:`~optuna_nas.encoding.Architecture.canonical`), hence one fingerprint. Samplers
compare thousands of architectures per call, mostly the same ones again, so every
function here is memoised by its (hashable, already validated) arguments.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator

from optuna_nas.encoding._ops import CELL_RULES, CellRule

_MEMO_SIZE = 1 << 16
"""Entries per memo: more than the 15,625 NB201 cells, a few MB each."""

Edge = tuple[str, int]
"""One incoming edge of a node: ``(op, input_node)``, as in DARTS genotypes."""
Node = tuple[Edge, ...]
Cell = tuple[Node, ...]


@functools.lru_cache(maxsize=_MEMO_SIZE)
def fingerprint_of(space: str, normal: Cell, reduce: Cell | None, channels: int, cells: int) -> str:
    """Digest of the canonical form's :meth:`~Architecture.to_json`, for validated fields.

    The canonical cells are valid and already in parsed form, so they are serialised
    directly (JSON writes tuples as lists) instead of through a new Architecture.
    """
    canonical = {
        "space": space,
        "normal": canonical_cell(space, normal),
        "reduce": None if reduce is None else canonical_cell(space, reduce),
        "channels": channels,
        "cells": cells,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# Keyed by the cell kind's name, not its CellRule: a str hashes once, a rule per lookup.
@functools.lru_cache(maxsize=_MEMO_SIZE)
def canonical_cell(kind: str, cell: Cell) -> Cell:
    """The canonical form of a validated ``cell`` of cell kind ``kind`` (see ``canonical``)."""
    rule = CELL_RULES[kind]
    if rule.fully_connected:
        cell = kill_dead_edges(kind, cell)
    else:
        cell = tuple(_normalise_none_inputs(node) for node in cell)
    best: Cell | None = None
    identity = tuple(range(rule.n_inputs, rule.n_inputs + len(cell)))
    for order in _topological_orders(rule, cell):
        # Validated fully connected nodes list their edges by input: the identity's
        # relabelling is the cell itself.
        if rule.fully_connected and order == identity:
            candidate = cell
        else:
            candidate = _relabel(rule, cell, order)
        if best is None or candidate < best:
            best = candidate
    assert best is not None  # the identity order is always topological
    return best


@functools.lru_cache(maxsize=_MEMO_SIZE)
def kill_dead_edges(kind: str, cell: Cell) -> Cell:
    """Set to ``none`` every op not on an input-to-output path (single-output cells)."""
    first = CELL_RULES[kind].n_inputs
    n = first + len(cell)
    # Edges are listed by target, in topological order: one pass each way.
    from_input = [True] * first + [False] * len(cell)
    for k, node in enumerate(cell):
        from_input[first + k] = any(op != "none" and from_input[inp] for op, inp in node)
    to_output = [False] * (n - 1) + [True]
    for k in range(len(cell) - 1, -1, -1):
        if to_output[first + k]:
            for op, inp in cell[k]:
                if op != "none":
                    to_output[inp] = True
    # An op stays where its input is reached from the cell input and its node reaches
    # the output.
    if all(
        op == "none" or from_input[inp] and to_output[first + k]
        for k, node in enumerate(cell)
        for op, inp in node
    ):
        return cell  # nothing is dead (most cells)
    return tuple(
        tuple(
            (op if op != "none" and from_input[inp] and to_output[first + k] else "none", inp)
            for op, inp in node
        )
        for k, node in enumerate(cell)
    )


def _normalise_none_inputs(node: Node) -> Node:
    (op_a, in_a), (op_b, in_b) = node
    if op_a == "none" and op_b == "none":
        return (("none", 0), ("none", 1))
    if op_a == "none":
        in_a = 1 if in_b == 0 else 0
    elif op_b == "none":
        in_b = 1 if in_a == 0 else 0
    return ((op_a, in_a), (op_b, in_b))


def _topological_orders(rule: CellRule, cell: Cell) -> Iterator[tuple[int, ...]]:
    """All orders of the intermediate nodes that keep every real edge pointing forward."""
    first = rule.n_inputs
    nodes = range(first, first + len(cell))
    deps = {
        first + k: {inp for op, inp in node if op != "none" and inp >= first}
        for k, node in enumerate(cell)
    }
    last = first + len(cell) - 1
    # Nodes that may move (a single-output cell keeps its output last): where each
    # reads the one before it, the identity is their only order.
    free = range(first + 1, last + 1 if rule.concat_output else last)
    if all(v - 1 in deps[v] for v in free):
        yield tuple(nodes)
        return

    def extend(order: tuple[int, ...], placed: set[int]) -> Iterator[tuple[int, ...]]:
        if len(order) == len(cell):
            yield order
            return
        for v in nodes:
            if v in placed or not deps[v] <= placed:
                continue
            # A single-output cell keeps its output node last.
            if not rule.concat_output and v == last and len(order) < len(cell) - 1:
                continue
            yield from extend(order + (v,), placed | {v})

    yield from extend((), set())


def _relabel(rule: CellRule, cell: Cell, order: tuple[int, ...]) -> Cell:
    first = rule.n_inputs
    new_index = {old: first + pos for pos, old in enumerate(order)}
    new_index.update({i: i for i in range(first)})
    if rule.fully_connected:
        ops = {
            (new_index[inp], new_index[first + k]): op
            for k, node in enumerate(cell)
            for op, inp in node
            if op != "none"
        }
        return tuple(
            tuple((ops.get((src, dst), "none"), src) for src in range(dst))
            for dst in range(first, first + len(cell))
        )
    return tuple(
        tuple(sorted((op, new_index[inp]) for op, inp in cell[old - first])) for old in order
    )
