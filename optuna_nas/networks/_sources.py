"""Which parent tensor each child tensor inherits from, and how.

An op inherits the parent's op of its family (:attr:`OpSpec.family`: same op or
other kernel size) on the same edge; an op on an edge that held ``none`` in the
parent is silenced: its last BatchNorm gets gamma = beta = 0, so it outputs exactly
zero until trained; any other op starts fresh. A cell appended to a stage starts as
a copy of the stage's last parent cell; in NB201, when the genotype allows it (see
:func:`optuna_nas.encoding.identity_init_edges`), one op on every path that
bypasses the ``skip_connect`` 3<-0 is silenced, so the cell is the identity.
"""

from __future__ import annotations

import re

from torch import nn

from optuna_nas.encoding import OP_TABLE, Architecture, Cell, identity_init_edges

_CELL_KEY = re.compile(r"^(?P<cell>stages\.\d+\.(?P<index>\d+)|reductions\.\d+)\.(?P<rest>.+)$")
_EDGE_KEY = re.compile(r"^edges\.(?P<target>\d+)_(?P<source>\d+)\.")

Policies = dict[tuple[str, int, int], str]
"""``{(cell, target, source): "copy" | "zero" | "fresh"}`` for the child's ops."""


def source_key(
    key: str, parent: Architecture, child: Architecture, policies: Policies
) -> tuple[str, str, str]:
    """``(parent key, edge module or "", policy)`` of a child key.

    A cell beyond the parent's last cell of its stage reads that last cell, so an
    appended cell starts as a copy of its predecessor.
    """
    match = _CELL_KEY.match(key)
    if match is None:
        return key, "", "copy"
    cell, rest = match["cell"], match["rest"]
    if match["index"] is not None and int(match["index"]) >= parent.cells:
        cell_source = cell.rsplit(".", 1)[0] + f".{parent.cells - 1}"
    else:
        cell_source = cell
    edge = _EDGE_KEY.match(rest)
    if edge is None:
        return f"{cell_source}.{rest}", "", "copy"
    genotype = "reduce" if cell.startswith("reductions") else "normal"
    target, src = int(edge["target"]), int(edge["source"])
    policy = policies.get((genotype, target, src), "fresh")
    return f"{cell_source}.{rest}", f"{cell}.edges.{target}_{src}", policy


def edge_policies(parent: Architecture, child: Architecture) -> Policies:
    """What each op of the child starts from.

    A child branch is matched to the parent branch of its node with the same input,
    else to the parent branch left over (a ``none`` branch's input is irrelevant).
    It copies a parent op of its family on the same edge, is silenced where the
    parent had ``none`` (so the node's value is unchanged), and is fresh otherwise.
    """
    if parent.space != child.space:
        return {}
    policies = {}
    for name, cell in child.cells_by_name():
        parent_cell: Cell = getattr(parent, name)
        # NB201 builds live edges only: a dead parent op has no weights.
        live_cell = getattr(parent.without_dead_ops(), name)
        n_inputs = child.rule.n_inputs
        for k, node in enumerate(cell):
            parent_node = parent_cell[k] if k < len(parent_cell) else ()
            live = set(live_cell[k]) if k < len(live_cell) else set()
            for (op, src), match in _match_branches(node, parent_node):
                if op == "none":
                    continue
                if match is not None and match[0] == "none":
                    policy = "zero"
                elif (
                    match is not None
                    and match[1] == src
                    and match in live
                    and OP_TABLE[match[0]].family == OP_TABLE[op].family
                ):
                    policy = "copy"
                else:
                    policy = "fresh"
                policies[(name, n_inputs + k, src)] = policy
    return policies


def _match_branches(node: tuple, parent_node: tuple) -> list[tuple[tuple, tuple | None]]:
    """Pair each child branch with the parent branch on the same input, else a leftover."""
    left = list(parent_node)
    matches = []
    for _, src in node:
        same = [p for p in left if p[1] == src]
        matches.append(same[0] if same else None)
        if same:
            left.remove(same[0])
    # Branches without a same-input partner take the parent's leftover branches in order.
    matches = [m if m is not None or not left else left.pop(0) for m in matches]
    return list(zip(node, matches, strict=True))


def identity_cell_edges(parent: Architecture, child: Architecture) -> set[str]:
    """Edge modules to silence in NB201 cells the child appends to each stage."""
    if child.space != "nb201" or parent.space != "nb201" or child.cells <= parent.cells:
        return set()
    edges = identity_init_edges(child) or frozenset()
    return {
        f"stages.{s}.{i}.edges.{t}_{src}"
        for s in range(3)
        for i in range(parent.cells, child.cells)
        for t, src in edges
    }


def silence(module: nn.Module) -> list[str]:
    """Zero gamma and beta of the module's last BatchNorm: it then outputs exactly zero."""
    norms = [(name, m) for name, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return []
    name, norm = norms[-1]
    norm.weight.zero_()
    norm.bias.zero_()
    prefix = f"{name}." if name else ""
    return [f"{prefix}weight", f"{prefix}bias"]
