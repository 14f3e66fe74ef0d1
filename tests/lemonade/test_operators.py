"""LEMONADE's network operators: valid, different, trainable children."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from optuna_nas import DartsSpace, NB201Space
from optuna_nas.lemonade import (
    OPERATORS,
    activate_edge,
    add_cell,
    add_skip,
    cheapen,
    deepen,
    drop_cell,
    enlarge_kernel,
    prune,
    random_child,
    remove_op,
    widen,
)
from tests.morphisms import NB201, SHAPES, SPACES, inherited, random_network
from tests.strategies import architectures

ALL = [NB201, *SPACES["darts"], NB201Space(channels=4, cells=1), DartsSpace(4, 1, nodes=1)]
APPROXIMATE = [op for op in OPERATORS if not op.exact]


def _branches(arch) -> list:
    return [edge for _, cell in arch.cells_by_name() for node in cell for edge in node]


def test_operator_metadata() -> None:
    assert len({op.name for op in OPERATORS}) == len(OPERATORS)
    assert {op.name for op in OPERATORS if op.exact} == {
        "activate_edge",
        "widen",
        "enlarge_kernel",
        "deepen",
    }


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_child_is_valid_and_different(data) -> None:
    space = data.draw(st.sampled_from(ALL))
    parent = data.draw(architectures(space))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    for _ in range(5):
        result = random_child(parent, space, rng)
        if result is None:  # only in the fixed spaces, for degenerate parents
            assert len(space.channels) == 1
            continue
        child, operator = result
        assert operator in OPERATORS
        assert space.validate(child) is child
        assert child != parent
        # the encoding is edited in place: at most one branch changes, macro ops touch no edge
        changed = sum(a != b for a, b in zip(_branches(parent), _branches(child), strict=True))
        assert changed <= 1
        assert (changed == 0) == (operator in (widen, prune, deepen, add_cell, drop_cell))


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_operators_are_deterministic_given_the_rng(data) -> None:
    space = data.draw(st.sampled_from(ALL))
    parent = data.draw(architectures(space))
    seed = data.draw(st.integers(0, 2**16))
    for operator in OPERATORS:
        first = operator(parent, space, np.random.default_rng(seed))
        second = operator(parent, space, np.random.default_rng(seed))
        assert (first is None) == (second is None)
        assert first is None or first.to_json() == second.to_json()


def test_operators_that_cannot_apply_return_none() -> None:
    rng = np.random.default_rng(0)
    nb201 = NB201Space(channels=[4, 8], cells=[1, 2])
    convs = nb201.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    assert widen(convs.replace(channels=8), nb201, rng) is None  # at the largest width
    assert prune(convs, nb201, rng) is None  # at the smallest width
    assert drop_cell(convs, nb201, rng) is None
    assert activate_edge(convs, nb201, rng) is None  # no none edge
    assert add_skip(convs, nb201, rng) is None
    assert enlarge_kernel(convs, nb201, rng) is None  # every kernel is 3x3 already
    assert deepen(convs, nb201, rng) is None  # no skip 3<-0: no identity cell
    assert add_cell(convs, nb201, rng).cells == 2  # ... so it deepens approximately
    pools = nb201.from_nb201_string(
        "|avg_pool_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|none~2|"
    )
    assert cheapen(pools, nb201, rng) is None  # no conv
    # only live edges count: a conv on 2<-1 would be dead while 3<-2 is none
    for seed in range(10):
        child = activate_edge(pools, nb201, np.random.default_rng(seed))
        assert child.normal[1] == pools.normal[1]
        assert child.normal[2][2][0] in ("nor_conv_1x1", "nor_conv_3x3")
    only = nb201.from_nb201_string("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert remove_op(only, nb201, rng) is None  # would disconnect the cell
    assert deepen(only, nb201, rng).cells == 2 and add_cell(only, nb201, rng) is None

    darts = DartsSpace(channels=[4, 8], cells=[1, 2], nodes=2)
    arch = darts.sample(0)
    assert deepen(arch, darts, rng) is None  # a DARTS cell cannot start as the identity
    assert add_cell(arch.replace(cells=1), darts, rng).cells == 2
    fixed = NB201Space(channels=4, cells=1)
    assert random_child(fixed.sample(0), fixed, rng, [widen, prune, deepen, drop_cell]) is None


@pytest.mark.parametrize("kind", list(SPACES))
@pytest.mark.parametrize("operator", APPROXIMATE, ids=[op.name for op in APPROXIMATE])
def test_approximate_children_build_inherit_and_train(kind, operator) -> None:
    rng = np.random.default_rng(0)
    for attempt in range(100):  # a parent the operator applies to
        space = SPACES[kind][attempt % len(SPACES[kind])]
        parent_arch = space.sample(rng)
        child_arch = operator(parent_arch, space, rng)
        if child_arch is not None:
            break
    assert child_arch is not None and space.validate(child_arch) is child_arch
    shape = SHAPES[attempt % 2]
    parent = random_network(space, parent_arch, shape[1], seed=attempt)
    child, report = inherited(space, parent_arch, parent, child_arch, shape[1])
    assert report.copied or report.mapped
    child.train()
    optimizer = torch.optim.SGD(child.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, *shape[1:], generator=generator)
    y = torch.randint(0, 10, (8,), generator=generator)
    for _ in range(3):
        loss = F.cross_entropy(child(x), y)
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in child.parameters() if p.grad is not None)
        optimizer.step()
        assert torch.isfinite(loss)
    assert all(torch.isfinite(t).all() for t in child.state_dict().values())


def test_children_come_from_the_exact_encoding_not_an_equal_one() -> None:
    # Node 1 has no live input, so its out-edges are dead: the two parents are equal (==),
    # but reviving node 1 (activate_edge on 1<-0) must keep each parent's own 2<-1 op.
    space = NB201Space()
    cells = "|none~0|+|nor_conv_3x3~0|{}~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    conv, pool = (
        space.from_nb201_string(cells.format(op)) for op in ("nor_conv_1x1", "avg_pool_3x3")
    )
    assert conv == pool
    rng = np.random.default_rng(0)
    for parent, op in ((conv, "nor_conv_1x1"), (pool, "avg_pool_3x3")):
        for _ in range(20):
            child = activate_edge(parent, space, rng)
            assert space.nb201_string(child).split("+")[1].endswith(f"|{op}~1|")
