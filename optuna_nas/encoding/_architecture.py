from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna_nas.encoding._canonical import (
    Cell,
    Edge,
    Node,  # noqa: F401 - exported from optuna_nas.encoding, as before
    canonical_cell,
    fingerprint_of,
    kill_dead_edges,
)
from optuna_nas.encoding._ops import CELL_RULES, CellRule


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
        fields = {
            "space": self.space,
            "normal": self.normal,
            "reduce": self.reduce,
            "channels": self.channels,
            "cells": self.cells,
        }
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
        return self.replace(normal=kill_dead_edges(self.space, self.normal))

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
        cells = {name: canonical_cell(self.space, cell) for name, cell in self.cells_by_name()}
        return Architecture(
            self.space, cells["normal"], cells.get("reduce"), self.channels, self.cells
        )

    @property
    def fingerprint(self) -> str:
        """A stable hex digest of the canonical form (identical across processes)."""
        if not self._fingerprint:
            digest = fingerprint_of(self.space, self.normal, self.reduce, self.channels, self.cells)
            object.__setattr__(self, "_fingerprint", digest)
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
    """The validated cell (tuples, NB201 edges by input); ``ValueError`` names the problem."""
    if (parsed := _tuple_cell(rule, cell)) is not None:
        return parsed
    return _checked_cell(rule, cell, name)


def _tuple_cell(rule: CellRule, cell: Any) -> Cell | None:
    """:func:`_checked_cell` of a cell of tuples and ints, or ``None`` for any other cell.

    Operators and params build many such cells per sampler call; they skip the general
    checks. ``None`` also where the cell breaks a rule: the general checks then name it.
    """
    if type(cell) is not tuple or not cell or rule.n_nodes not in (None, len(cell)):
        return None
    for k, node in enumerate(cell):
        index = rule.n_inputs + k
        if type(node) is not tuple:
            return None
        for edge in node:
            # Exact types: bool, float and numpy integers take the general path.
            if type(edge) is not tuple or len(edge) != 2 or type(edge[1]) is not int:
                return None
            if edge[0] not in rule.ops or not 0 <= edge[1] < index:
                return None
        if rule.fully_connected:
            if [inp for _, inp in node] != list(range(index)):
                return None  # unsorted: the general path sorts it
        elif len(node) != 2 or node[0][1] == node[1][1]:
            return None
    return cell


def _checked_cell(rule: CellRule, cell: Any, name: str) -> Cell:
    if not _is_sequence(cell) or len(cell) == 0:
        raise ValueError(f"Architecture.{name}: must be a non-empty list of nodes, got {cell!r}.")
    if rule.n_nodes is not None and len(cell) != rule.n_nodes:
        raise ValueError(
            f"Architecture.{name}: this cell kind has exactly {rule.n_nodes} intermediate nodes, "
            f"got {len(cell)}."
        )
    nodes = []
    for k, node in enumerate(cell):
        index = rule.n_inputs + k
        if not _is_sequence(node):
            raise ValueError(
                f"{_where(name, k, index)}: must be a list of (op, input) edges, got {node!r}."
            )
        edges = tuple(_parse_edge(rule, edge, index, (name, k, j)) for j, edge in enumerate(node))
        inputs = [inp for _, inp in edges]
        if rule.fully_connected:
            if sorted(inputs) != list(range(index)):
                raise ValueError(
                    f"{_where(name, k, index)}: needs exactly one edge from each of nodes "
                    f"{list(range(index))}, got inputs {inputs}."
                )
            # One edge per input: list them by input, the only order params, tokens
            # and arch strings can express, so every round trip is lossless.
            edges = tuple(sorted(edges, key=lambda edge: edge[1]))
        elif len(edges) != 2 or inputs[0] == inputs[1]:
            raise ValueError(
                f"{_where(name, k, index)}: needs exactly two edges from two distinct earlier "
                f"nodes, got {list(edges)}."
            )
        nodes.append(edges)
    return tuple(nodes)


def _is_sequence(value: Any) -> bool:
    # Lists and tuples first: the abstract-class check is slow on every edge of every cell.
    return type(value) in (tuple, list) or (
        isinstance(value, Sequence) and not isinstance(value, str)
    )


def _where(name: str, k: int, index: int) -> str:
    # Error messages are formatted only when raised.
    return f"Architecture.{name}[{k}] (node {index})"


def _parse_edge(rule: CellRule, edge: Any, index: int, at: tuple[str, int, int]) -> Edge:
    if not _is_sequence(edge) or len(edge) != 2:
        raise ValueError(f"{_edge_where(index, *at)}: must be an (op, input) pair, got {edge!r}.")
    op, inp = edge
    if op not in rule.ops:
        raise ValueError(
            f"{_edge_where(index, *at)}: unknown op {op!r}; expected one of {list(rule.ops)}."
        )
    if type(inp) is not int and (isinstance(inp, bool) or not isinstance(inp, int)):
        raise ValueError(
            f"{_edge_where(index, *at)}: input must be an int node index, got {inp!r}."
        )
    if not 0 <= inp < index:
        raise ValueError(
            f"{_edge_where(index, *at)}: input node {inp} is out of range; must be in [0, {index})."
        )
    return (op, inp)


def _edge_where(index: int, name: str, k: int, j: int) -> str:
    return f"{_where(name, k, index)} edge {j}"
