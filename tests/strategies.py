"""Hypothesis strategies and small helpers shared by the tests."""

from __future__ import annotations

from hypothesis import strategies as st

from optuna_nas import Architecture, BaseSpace, DartsSpace, NB201Space

# Spaces for the encoding tests (nothing is built, so the defaults are fine).
NB201_SPACES = [NB201Space(), NB201Space(channels=[8, 16], cells=[1, 2])]
DARTS_SPACES = [
    DartsSpace(nodes=1),
    DartsSpace(nodes=2),
    DartsSpace(nodes=3),
    DartsSpace(nodes=4),
    DartsSpace(channels=[8, 16], cells=[1, 2], nodes=3),
]
ALL_SPACES = NB201_SPACES + DARTS_SPACES

# Spaces whose networks are cheap to build on a small CPU.
SMALL_NB201_SPACES = [NB201Space(channels=4, cells=1), NB201Space(channels=[4, 6], cells=[1, 2])]
SMALL_DARTS_SPACES = [
    DartsSpace(channels=4, cells=1, nodes=2),
    DartsSpace(channels=[4, 6], cells=[1, 2], nodes=3),
]
SMALL_SPACES = SMALL_NB201_SPACES + SMALL_DARTS_SPACES


def space_id(space: BaseSpace) -> str:
    return repr(space).replace(" ", "")


def params_of(space: BaseSpace) -> st.SearchStrategy[dict]:
    """Optuna params of ``space``: one value from each distribution's choices."""
    return st.fixed_dictionaries(
        {name: st.sampled_from(dist.choices) for name, dist in space.distributions().items()}
    )


@st.composite
def architectures(draw: st.DrawFn, space: BaseSpace, shuffle: bool = True) -> Architecture:
    """An architecture of ``space`` drawn through its params.

    With ``shuffle`` the edges inside each node are permuted, so the encoding is
    not always the one ``from_params`` produces (same network, other edge order).
    """
    arch = space.from_params(draw(params_of(space)))
    if not shuffle:
        return arch
    cells = {
        name: tuple(tuple(draw(st.permutations(node))) for node in cell)
        for name, cell in arch.cells_by_name()
    }
    return arch.replace(**cells)


def swap_branches(arch: Architecture, cell: str, node: int) -> Architecture:
    """``arch`` with the two (input, op) branches of ``cell[node]`` swapped (DARTS)."""
    nodes = list(getattr(arch, cell))
    nodes[node] = tuple(reversed(nodes[node]))
    return arch.replace(**{cell: tuple(nodes)})


# ---------------------------------------------------------------------- independent oracles
def _live_nb201_edges(arch: Architecture) -> dict[tuple[int, int], str]:
    """``{(target, source): op}`` of the NB201 edges on an input-to-output path.

    Written independently of the library: plain fixpoint reachability.
    """
    edges = {(k + 1, src): op for k, node in enumerate(arch.normal) for op, src in node}
    real = {e for e, op in edges.items() if op != "none"}
    forward, backward = {0}, {3}
    changed = True
    while changed:
        changed = False
        for t, s in real:
            if s in forward and t not in forward:
                forward.add(t)
                changed = True
            if t in backward and s not in backward:
                backward.add(s)
                changed = True
    return {(t, s): edges[(t, s)] for t, s in real if s in forward and t in backward}


def _min_over_relabellings(edges: set[tuple[int, str, int]], movable: list[int]) -> tuple:
    """Smallest sorted edge list over all permutations of the ``movable`` nodes."""
    from itertools import permutations

    best = None
    for perm in permutations(movable):
        mapping = dict(zip(movable, perm, strict=True))
        relabelled = tuple(
            sorted((mapping.get(dst, dst), op, mapping.get(src, src)) for dst, op, src in edges)
        )
        if best is None or relabelled < best:
            best = relabelled
    return best


def isomorphism_key(arch: Architecture) -> tuple:
    """A complete invariant of "same network" computed by brute force.

    NB201: the labelled graph of live edges (dead ops dropped) up to swapping the
    intermediate nodes 1 and 2. DARTS: the labelled graph of non-``none`` edges of
    each cell up to any permutation of the intermediate nodes (every node is an
    output, and a ``none`` branch contributes nothing whatever its input).
    """
    head = (arch.space, arch.channels, arch.cells)
    if arch.space == "nb201":
        live = {(t, op, s) for (t, s), op in _live_nb201_edges(arch).items()}
        return (*head, _min_over_relabellings(live, [1, 2]))
    keys = []
    for _, cell in arch.cells_by_name():
        edges = {
            (k + 2, op, src) for k, node in enumerate(cell) for op, src in node if op != "none"
        }
        keys.append(_min_over_relabellings(edges, list(range(2, 2 + len(cell)))))
    return (*head, *keys)


@st.composite
def equivalent_darts(draw: st.DrawFn, arch: Architecture) -> Architecture:
    """Another encoding of the same DARTS network.

    Randomly relabels the intermediate nodes (any order that keeps edges pointing
    forward), swaps the branches of nodes and moves ``none`` branches to other inputs.
    """
    cells = {}
    for name, cell in arch.cells_by_name():
        n = len(cell)
        # a random topological order of the intermediate nodes 2 .. n+1
        order: list[int] = []
        while len(order) < n:
            ready = [
                2 + k
                for k in range(n)
                if 2 + k not in order
                and all(src < 2 or src in order for op, src in cell[k] if op != "none")
            ]
            order.append(draw(st.sampled_from(ready)))
        new_index = {old: 2 + pos for pos, old in enumerate(order)} | {0: 0, 1: 1}
        new_cell = []
        for old in order:
            target = new_index[old]
            node = []
            for op, src in cell[old - 2]:
                node.append((op, new_index[src] if op != "none" else None))
            for j, (op, src) in enumerate(node):
                if src is None:  # a none branch: any input distinct from the other branch
                    other = node[1 - j][1]
                    choices = [i for i in range(target) if i != other]
                    node[j] = (op, draw(st.sampled_from(choices)))
            if draw(st.booleans()):
                node.reverse()
            new_cell.append(tuple(node))
        cells[name] = tuple(new_cell)
    return arch.replace(**cells)
