from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna_nas.encoding._ops import CELL_RULES, CellRule

Edge = tuple[str, int]
"""One incoming edge of a node: ``(op, input_node)``, as in DARTS genotypes."""
Node = tuple[Edge, ...]
Cell = tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Architecture:
    """An immutable genotype of a cell-based network, shared by every search algorithm.

    A cell is a DAG. Nodes ``0 .. n_inputs-1`` are the cell inputs (one for NB201,
    the two previous cells for DARTS); ``cell[k]`` lists the incoming edges
    ``(op, input)`` of intermediate node ``n_inputs + k``.

    Equality and ``hash`` compare the canonical form (see :meth:`canonical`): two
    encodings of the same network are equal. :meth:`to_dict` keeps the encoding as
    given (except that an NB201 node lists its edges by input, the only order it
    has), so a round trip through JSON, Optuna params or tokens is lossless.

    Parameters
    ----------
    space:
        Cell kind: ``"nb201"`` or ``"darts"``.
    normal:
        The normal cell.
    reduce:
        The reduction cell (DARTS only; ``None`` for NB201).
    channels:
        Channels of the first stage (NB201 ``C``, DARTS ``init_channels``).
    cells:
        Normal cells per stage (NB201 ``N``; DARTS ``layers = 3 * cells + 2``).

    Raises
    ------
    ValueError
        If any field is malformed; the message names the field and the value.
    """

    space: str
    normal: Cell
    reduce: Cell | None = None
    channels: int = 16
    cells: int = 5
    _fingerprint: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rule = CELL_RULES.get(self.space) if isinstance(self.space, str) else None
        if rule is None:
            raise ValueError(
                f"Architecture.space: unknown space {self.space!r}; "
                f"expected one of {sorted(CELL_RULES)}."
            )
        object.__setattr__(self, "normal", _parse_cell(rule, self.normal, "normal"))
        if rule.has_reduce:
            if self.reduce is None:
                raise ValueError(
                    f"Architecture.reduce: a {self.space!r} architecture needs a reduction cell."
                )
            reduce = _parse_cell(rule, self.reduce, "reduce")
            if len(reduce) != len(self.normal):
                raise ValueError(
                    f"Architecture.reduce: has {len(reduce)} nodes but the normal cell has "
                    f"{len(self.normal)}; both cells need the same number of nodes."
                )
            object.__setattr__(self, "reduce", reduce)
        elif self.reduce is not None:
            raise ValueError(
                f"Architecture.reduce: a {self.space!r} architecture has no reduction cell; "
                f"got {self.reduce!r}. Pass reduce=None."
            )
        for name in ("channels", "cells"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Architecture.{name}: must be a positive int, got {value!r}.")

    @property
    def rule(self) -> CellRule:
        """The wiring rule of this architecture's cell kind."""
        return CELL_RULES[self.space]

    def cells_by_name(self) -> Iterator[tuple[str, Cell]]:
        """Yield ``("normal", cell)`` and, for DARTS, ``("reduce", cell)``."""
        yield "normal", self.normal
        if self.reduce is not None:
            yield "reduce", self.reduce

    def replace(self, **changes: Any) -> Architecture:
        """Return a copy with some fields replaced (validated like a new value)."""
        fields = self.to_dict()
        fields.update(changes)
        return Architecture(**fields)

    # ------------------------------------------------------------------ canonical form
    def without_dead_ops(self) -> Architecture:
        """The same encoding with every op that cannot affect the output set to ``none``.

        Unlike :meth:`canonical`, node labels and edge order are kept, so module
        names built from the result match those of ``self``.
        """
        if not self.rule.fully_connected:
            return self
        return self.replace(normal=_kill_dead_edges(self.rule, self.normal))

    def canonical(self) -> Architecture:
        """Return the canonical encoding of the same network.

        - the edges of every node are sorted (a node's swapped branches are equal);
        - an op that is not on a path from the cell input to the cell output
          (NB201) is ``none``: it cannot change the output's dependence on the input;
        - the input of a ``none`` branch (DARTS) is irrelevant and set to the smallest
          cell input the other branch does not use;
        - intermediate nodes are relabelled to the smallest topological order, so
          isomorphic cells are equal (for DARTS this permutes the output channels,
          which the next cell's 1x1 preprocessing absorbs).
        """
        cells = {name: _canonical_cell(self.rule, cell) for name, cell in self.cells_by_name()}
        return Architecture(
            self.space, cells["normal"], cells.get("reduce"), self.channels, self.cells
        )

    @property
    def fingerprint(self) -> str:
        """A stable hex digest of the canonical form (identical across processes)."""
        if not self._fingerprint:
            text = self.canonical().to_json()
            object.__setattr__(self, "_fingerprint", hashlib.sha256(text.encode()).hexdigest()[:20])
        return self._fingerprint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The encoding as plain JSON-compatible data, exactly as given."""
        return {
            "space": self.space,
            "normal": [[[op, inp] for op, inp in node] for node in self.normal],
            "reduce": None
            if self.reduce is None
            else [[[op, inp] for op, inp in node] for node in self.reduce],
            "channels": self.channels,
            "cells": self.cells,
        }

    def to_json(self) -> str:
        """Compact, key-sorted JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> Architecture:
        """Build from :meth:`to_dict` output; ``ValueError`` names a bad or missing key."""
        if not isinstance(data, dict):
            raise ValueError(f"Architecture JSON must be an object, got {type(data).__name__}.")
        known = {"space", "normal", "reduce", "channels", "cells"}
        unknown = sorted(set(data) - known, key=repr)  # JSON keys are str; a dict's may not be
        if unknown:
            raise ValueError(f"Architecture JSON: unknown keys {unknown}; allowed {sorted(known)}.")
        missing = sorted({"space", "normal"} - set(data))
        if missing:
            raise ValueError(f"Architecture JSON: missing keys {missing}.")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Architecture:
        """Parse :meth:`to_json` output; malformed JSON (or not text) raises ``ValueError``."""
        if not isinstance(text, str | bytes | bytearray):
            raise ValueError(f"Architecture JSON must be text, got {type(text).__name__}.")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"Architecture JSON is malformed: {exc}") from None
        return cls.from_dict(data)

    def __str__(self) -> str:
        head = f"{self.space}[C={self.channels},N={self.cells}]"
        if self.space == "nb201":
            stages = [
                "|" + "|".join(f"{op}~{inp}" for op, inp in node) + "|" for node in self.normal
            ]
            return f"{head} {'+'.join(stages)}"
        parts = [head]
        for name, cell in self.cells_by_name():
            nodes = " ".join(
                "(" + ",".join(f"{op}~{inp}" for op, inp in node) + ")" for node in cell
            )
            parts.append(f"{name}: {nodes}")
        return " ".join(parts)


def _parse_cell(rule: CellRule, cell: Any, name: str) -> Cell:
    if not isinstance(cell, Sequence) or isinstance(cell, str) or len(cell) == 0:
        raise ValueError(f"Architecture.{name}: must be a non-empty list of nodes, got {cell!r}.")
    if rule.n_nodes is not None and len(cell) != rule.n_nodes:
        raise ValueError(
            f"Architecture.{name}: this cell kind has exactly {rule.n_nodes} intermediate nodes, "
            f"got {len(cell)}."
        )
    nodes = []
    for k, node in enumerate(cell):
        index = rule.n_inputs + k
        where = f"Architecture.{name}[{k}] (node {index})"
        if not isinstance(node, Sequence) or isinstance(node, str):
            raise ValueError(f"{where}: must be a list of (op, input) edges, got {node!r}.")
        edges = tuple(
            _parse_edge(rule, edge, index, f"{where} edge {j}") for j, edge in enumerate(node)
        )
        inputs = [inp for _, inp in edges]
        if rule.fully_connected:
            if sorted(inputs) != list(range(index)):
                raise ValueError(
                    f"{where}: needs exactly one edge from each of nodes {list(range(index))}, "
                    f"got inputs {inputs}."
                )
            # One edge per input: list them by input, the only order params, tokens
            # and arch strings can express, so every round trip is lossless.
            edges = tuple(sorted(edges, key=lambda edge: edge[1]))
        elif len(edges) != 2 or inputs[0] == inputs[1]:
            raise ValueError(
                f"{where}: needs exactly two edges from two distinct earlier nodes, got {list(edges)}."
            )
        nodes.append(edges)
    return tuple(nodes)


def _parse_edge(rule: CellRule, edge: Any, index: int, where: str) -> Edge:
    if not isinstance(edge, Sequence) or isinstance(edge, str) or len(edge) != 2:
        raise ValueError(f"{where}: must be an (op, input) pair, got {edge!r}.")
    op, inp = edge
    if op not in rule.ops:
        raise ValueError(f"{where}: unknown op {op!r}; expected one of {list(rule.ops)}.")
    if isinstance(inp, bool) or not isinstance(inp, int):
        raise ValueError(f"{where}: input must be an int node index, got {inp!r}.")
    if not 0 <= inp < index:
        raise ValueError(f"{where}: input node {inp} is out of range; must be in [0, {index}).")
    return (op, inp)


# ---------------------------------------------------------------------- canonical form
def _canonical_cell(rule: CellRule, cell: Cell) -> Cell:
    if rule.fully_connected:
        cell = _kill_dead_edges(rule, cell)
    else:
        cell = tuple(_normalise_none_inputs(node) for node in cell)
    best: Cell | None = None
    for order in _topological_orders(rule, cell):
        candidate = _relabel(rule, cell, order)
        if best is None or candidate < best:
            best = candidate
    assert best is not None  # the identity order is always topological
    return best


def _kill_dead_edges(rule: CellRule, cell: Cell) -> Cell:
    """Set to ``none`` every op not on an input-to-output path (single-output cells)."""
    n = rule.n_inputs + len(cell)
    live_edges = [
        (inp, rule.n_inputs + k) for k, node in enumerate(cell) for op, inp in node if op != "none"
    ]
    from_input = set(range(rule.n_inputs))
    for src, dst in live_edges:  # edges are listed in topological order of dst
        if src in from_input:
            from_input.add(dst)
    to_output = {n - 1}
    for src, dst in reversed(live_edges):
        if dst in to_output:
            to_output.add(src)
    return tuple(
        tuple(
            (
                op
                if op != "none" and inp in from_input and rule.n_inputs + k in to_output
                else "none",
                inp,
            )
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
